#!/usr/bin/env python3
"""Serve the same GGUF with edgec's server (--serve) and llama.cpp's llama-server on this machine, load both
with 1 and 4 concurrent streaming clients in alternating rounds, and print generated tok/s, time to first
token, per-token latency and peak RSS per side, with ratios (edgec / llama-server).

    python examples/compare-llamacpp/serve_bench.py [MODEL] --llama-server PATH [--artifact DIR]
        [--slots 4] [--ctx 1024] [--threads 2] [--clients 1,4] [--requests 4] [--rounds 3]
        [--system-tokens 64] [--prompt-tokens 128] [--gen-tokens 128] [--text FILE] [--json FILE]

MODEL is a GGUF file or a known name (default smollm2-135m). Every request is a streamed /v1/completions
call with temperature 0 and ignore_eos, so both servers generate exactly --gen-tokens tokens after the
same prompt text: a shared "system" prefix of --system-tokens tokens and a distinct part taken from
--text, --prompt-tokens in all (counted with llama-server's /tokenize, checked against both servers'
usage). See README.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TEXT = REPO.parent / "shared" / "data" / "moby_dick.txt"
SIDES = ("edgec", "llama-server")


def die(message: str) -> None:
    print(f"serve_bench: error: {message}", file=sys.stderr)
    sys.exit(2)


# ---- pure helpers (tests/tools/test_serve_bench.py) ----

def sse_payloads(lines):
    """The JSON payloads of server-sent events, from an iterable of raw lines (bytes or str), up to
    `data: [DONE]`. Lines that are not `data:` fields (blank separators, comments, `event:`) are skipped."""
    for raw in lines:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        line = line.rstrip("\r\n")
        if not line.startswith("data:"):
            continue
        data = line[5:].lstrip(" ")
        if data == "[DONE]":
            return
        yield json.loads(data)


def event_text(event: dict) -> str:
    """The generated text a /v1/completions (or chat) chunk carries; '' for a usage-only chunk."""
    choices = event.get("choices") or []
    if not choices:
        return ""
    c = choices[0]
    return c.get("text") or (c.get("delta") or {}).get("content") or ""


def usage_counts(event: dict) -> dict:
    """Prompt, cached and generated token counts from a chunk's usage (and llama-server's timings)."""
    usage = event.get("usage")
    if not usage:
        return {}
    out = {"prompt_tokens": usage.get("prompt_tokens"), "completion_tokens": usage.get("completion_tokens")}
    details = usage.get("prompt_tokens_details") or {}
    if "cached_tokens" in details:
        out["cached_tokens"] = details["cached_tokens"]
    elif "timings" in event and out["prompt_tokens"] is not None:
        # llama-server's timings count only the prompt tokens it had to evaluate
        out["cached_tokens"] = out["prompt_tokens"] - event["timings"].get("prompt_n", out["prompt_tokens"])
    return out


def stream_stats(send_time: float, arrivals: list) -> dict:
    """TTFT and the gaps between consecutive text chunks (ms) from a request's send time and the
    arrival times of its text-bearing chunks."""
    if not arrivals:
        return {"ttft_ms": float("nan"), "gaps_ms": []}
    return {"ttft_ms": (arrivals[0] - send_time) * 1e3,
            "gaps_ms": [(b - a) * 1e3 for a, b in zip(arrivals, arrivals[1:])]}


# ---- servers ----

def free_ports(n: int) -> list:
    """n distinct free ports on 127.0.0.1 (all held open together while choosing, so none repeats)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_json(port: int, method: str, path: str, body=None, timeout: float = 60) -> tuple:
    """(status, parsed JSON or None) of one request to 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, None
    finally:
        conn.close()


class ServerProcess:
    """One server on 127.0.0.1:port; stdout and stderr go to a log file (its tail is shown on failure)."""

    def __init__(self, side: str, cmd: list, port: int, log_dir: Path):
        self.side, self.cmd, self.port = side, cmd, port
        self.log_path = log_dir / f"{side}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)

    def log_tail(self, lines: int = 8) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"{self.side} exited with status {self.proc.returncode} before answering /health:\n"
                    f"  {' '.join(self.cmd)}\n{self.log_tail()}")
            try:
                if http_json(self.port, "GET", "/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        die(f"{self.side} did not answer /health with 200 within {timeout:.0f} s:\n{self.log_tail()}")

    def peak_rss_kib(self) -> int:
        """VmHWM: the most resident memory the process has had."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        die(f"/proc/{self.proc.pid}/status of {self.side} has no VmHWM")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def edgec_command(binary: Path, port: int, threads: int, clients: int) -> list:
    # a queue as long as the most concurrent clients, so no request of the benchmark gets 429
    return [str(binary), "--serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads),
            "--max-queue", str(max(16, clients))]


def llama_server_command(binary: str, gguf: str, port: int, threads: int, parallel: int, ctx: int) -> list:
    # -c is the whole context, shared out to the --parallel slots: each slot gets ctx tokens, as edgec's
    return [binary, "-m", gguf, "--host", "127.0.0.1", "--port", str(port), "-t", str(threads), "-tb", str(threads),
            "--parallel", str(parallel), "-c", str(parallel * ctx), "--no-webui"]


# ---- edgec artifact ----

def compile_artifact(gguf: str, ctx: int, slots: int, out: Path) -> Path:
    """edgec compile GGUF for the host with --slots; an edgec without --slots compiles one slot (with a note)."""
    # the edgec of this Python, the one the script imports
    base = [sys.executable, "-m", "edgec.cli", "compile", gguf, "--target", "host", "--ctx", str(ctx),
            "--out", str(out), "-q"]
    print(f"compiling {Path(gguf).name} with edgec (--ctx {ctx} --slots {slots}) ...", file=sys.stderr)
    r = subprocess.run(base + ["--slots", str(slots)], capture_output=True, text=True)
    if r.returncode != 0 and "--slots" in r.stderr and "unrecognized" in r.stderr:
        print("note: this edgec has no `compile --slots`; compiling one slot (requests queue for it)", file=sys.stderr)
        r = subprocess.run(base, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"edgec compile failed (exit {r.returncode}): {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return out


def artifact_program(artifact: Path) -> tuple:
    """(program path, manifest) of an edgec artifact folder."""
    manifest_path = artifact / "manifest.json"
    if not manifest_path.is_file():
        die(f"--artifact {artifact} has no manifest.json; pass a folder made by `edgec compile --target host`")
    manifest = json.loads(manifest_path.read_text())
    program = artifact / "bin" / manifest["name"]
    if not program.is_file():
        die(f"{program} is missing; rebuild the artifact with `edgec compile` (not --no-build)")
    return program, manifest


def match_artifact(args, manifest: dict) -> None:
    """llama-server gets the artifact's context per slot; a slot count that differs is kept, with a note."""
    if manifest["max_ctx"] != args.ctx:
        print(f"note: the artifact has --ctx {manifest['max_ctx']}; llama-server gets the same per slot",
              file=sys.stderr)
        args.ctx = manifest["max_ctx"]
        if args.prompt_tokens + args.gen_tokens > args.ctx:
            die(f"the artifact's --ctx {args.ctx} is below --prompt-tokens + --gen-tokens; "
                "recompile it with a larger --ctx")
    if manifest.get("n_slots", 1) != args.slots:
        print(f"note: the artifact has {manifest.get('n_slots', 1)} slot(s); llama-server gets --parallel {args.slots}",
              file=sys.stderr)


# ---- prompts ----

def tokenize(port: int, text: str, add_special: bool = False) -> list:
    status, body = http_json(port, "POST", "/tokenize", {"content": text, "add_special": add_special})
    if status != 200 or not body or "tokens" not in body:
        die(f"llama-server's /tokenize answered {status}: {body}")
    return body["tokens"]


def detokenize(port: int, ids: list) -> str:
    status, body = http_json(port, "POST", "/detokenize", {"tokens": ids})
    if status != 200 or not body or "content" not in body:
        die(f"llama-server's /detokenize answered {status}: {body}")
    return body["content"]


def read_text(path: Path, chars: int) -> str:
    """The first `chars` characters of the text file, whitespace collapsed to single spaces (plain prose)."""
    if not path.is_file():
        die(f"--text {path}: no such file; pass any long plain-text file (e.g. a public-domain book)")
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8", errors="replace")[:chars]).strip()


def build_prompts(port: int, text: str, system_tokens: int, user_tokens: int, count: int) -> tuple:
    """A shared system text of system_tokens tokens and `count` prompts = system + a distinct, non-overlapping
    passage of user_tokens tokens. A passage is accepted only if the whole prompt re-tokenizes to exactly the
    system's ids followed by the passage's ids (so the cut falls between words)."""
    ids = tokenize(port, text)
    system_text = detokenize(port, ids[:system_tokens])
    system_ids = tokenize(port, system_text)
    if len(system_ids) != system_tokens:
        die(f"the first {system_tokens} tokens of the text re-tokenize to {len(system_ids)}; try another --text")
    prompts, i = [], system_tokens
    while len(prompts) < count and i + user_tokens <= len(ids):
        part = ids[i:i + user_tokens]
        prompt = system_text + detokenize(port, part)
        if tokenize(port, prompt) == system_ids + part:
            prompts.append(prompt)
            i += user_tokens
        else:
            i += 1
    if len(prompts) < count:
        die(f"the text gives only {len(prompts)} of the {count} prompts needed; pass a longer --text "
            f"or fewer --requests / --rounds")
    return system_text, prompts


# ---- load ----

def stream_completion(port: int, prompt: str, gen_tokens: int) -> dict:
    """One streamed completion: TTFT, chunk gaps, the usage counts and the number of text chunks."""
    body = json.dumps({"prompt": prompt, "max_tokens": gen_tokens, "temperature": 0, "ignore_eos": True,
                       "stream": True, "stream_options": {"include_usage": True}})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        send = time.perf_counter()
        conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            return {"error": f"HTTP {r.status}: {r.read()[:300]!r}"}
        arrivals, counts, text = [], {}, []
        for event in sse_payloads(iter(r.readline, b"")):
            now = time.perf_counter()
            if "error" in event:
                return {"error": f"error event: {event['error']}"}
            piece = event_text(event)
            if piece:
                arrivals.append(now)
                text.append(piece)
            counts.update(usage_counts(event))
        end = time.perf_counter()
    finally:
        conn.close()
    return {**stream_stats(send, arrivals), **counts, "chunks": len(arrivals), "start": send, "end": end,
            "text_chars": len("".join(text))}


def run_load(port: int, prompts: list, clients: int, requests: int, gen_tokens: int) -> dict:
    """`clients` threads, each streaming `requests` completions one after another, all starting together."""
    results = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients)

    def client(k: int) -> None:
        barrier.wait()
        for j in range(requests):
            results[k].append(stream_completion(port, prompts[k * requests + j], gen_tokens))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [r for rs in results for r in rs]
    ok = [r for r in done if "error" not in r]
    wall = max(r["end"] for r in ok) - min(r["start"] for r in ok) if ok else float("nan")
    generated = sum(r.get("completion_tokens") or r["chunks"] for r in ok)
    return {"requests": [{k: v for k, v in r.items() if k not in ("start", "end")} for r in done],
            "wall_s": wall, "generated_tokens": generated, "tok_s": generated / wall if ok else 0.0}


def check_counts(side: str, clients: int, load: dict, prompt_tokens: int, gen_tokens: int) -> list:
    """One line per request that failed or did not take exactly prompt_tokens / produce gen_tokens tokens."""
    bad = []
    for n, r in enumerate(load["requests"]):
        where = f"{side}, {clients} client(s), request {n + 1}"
        if "error" in r:
            bad.append(f"{where}: {r['error']}")
            continue
        generated = r.get("completion_tokens")
        if generated is None:
            generated = r["chunks"]  # no usage in the stream: count the text chunks instead
        if generated != gen_tokens:
            bad.append(f"{where}: generated {generated} tokens, not {gen_tokens}")
        if r.get("prompt_tokens") not in (None, prompt_tokens):
            bad.append(f"{where}: prompt was {r['prompt_tokens']} tokens, not {prompt_tokens}")
    return bad


# ---- summary ----

def summarize(rounds: list, rss_kib: dict) -> dict:
    """Per client count and side: median and best tok/s over the rounds, TTFT and chunk-gap percentiles over
    every request of every round; peak RSS; ratios edgec / llama-server."""
    from edgec.tools.bench import percentile  # linear interpolation, as `edgec bench` reports its latencies
    out = {}
    for clients in rounds[0]:
        row = {}
        for side in SIDES:
            loads = [r[clients][side] for r in rounds]
            reqs = [q for load in loads for q in load["requests"] if "error" not in q]
            ttft = [q["ttft_ms"] for q in reqs]
            gaps = [g for q in reqs for g in q["gaps_ms"]]
            row[side] = {"tok_s": statistics.median(l["tok_s"] for l in loads),
                         "tok_s_best": max(l["tok_s"] for l in loads),
                         "ttft_p50_ms": percentile(ttft, 50), "ttft_p99_ms": percentile(ttft, 99),
                         "token_p50_ms": percentile(gaps, 50), "token_p99_ms": percentile(gaps, 99),
                         "peak_rss_mib": rss_kib[side] / 1024,
                         "cached_prompt_tokens": sorted({q.get("cached_tokens") for q in reqs} - {None})}
        e, l = row["edgec"], row["llama-server"]
        row["ratio"] = {k: e[k] / l[k] if l[k] else float("nan")
                        for k in ("tok_s", "tok_s_best", "ttft_p50_ms", "ttft_p99_ms", "token_p50_ms", "token_p99_ms",
                                  "peak_rss_mib")}
        out[clients] = row
    return out


def print_table(summary: dict) -> None:
    cols = [("tok/s", "tok_s", ".1f"), ("best tok/s", "tok_s_best", ".1f"), ("TTFT p50", "ttft_p50_ms", ".1f"),
            ("TTFT p99", "ttft_p99_ms", ".1f"), ("tok p50", "token_p50_ms", ".2f"), ("tok p99", "token_p99_ms", ".2f"),
            ("peak RSS MiB", "peak_rss_mib", ".1f")]
    print(f"{'clients':>7} {'side':>12} | " + " ".join(f"{c[0]:>12}" for c in cols))
    for clients, row in summary.items():
        for side in (*SIDES, "ratio"):
            fmt = [(c[1], ".2f" if side == "ratio" else c[2]) for c in cols]
            print(f"{clients:>7} {side:>12} | " + " ".join(f"{row[side][k]:>12{f}}" for k, f in fmt))
    print("(ms; ratio = edgec / llama-server: above 1 is better for tok/s, below 1 for TTFT, token latency and RSS)")


# ---- main ----

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default="smollm2-135m", help="GGUF file or known name (default smollm2-135m)")
    p.add_argument("--llama-server", required=True, help="path to llama.cpp's llama-server binary")
    p.add_argument("--artifact", help="an edgec artifact of MODEL (compiled for host) instead of compiling one")
    p.add_argument("--slots", type=int, default=4,
                   help="edgec compile --slots and llama-server --parallel (default 4)")
    p.add_argument("--ctx", type=int, default=1024, help="context per slot on both sides (default 1024)")
    p.add_argument("--threads", type=int, default=2, help="threads of both servers (default 2)")
    p.add_argument("--clients", default="1,4", help="comma-separated concurrent client counts (default 1,4)")
    p.add_argument("--requests", type=int, default=4, help="requests each client streams per round (default 4)")
    p.add_argument("--rounds", type=int, default=3, help="alternating edgec / llama-server rounds (default 3)")
    p.add_argument("--system-tokens", type=int, default=64, help="shared prefix of every prompt (default 64)")
    p.add_argument("--prompt-tokens", type=int, default=128, help="whole prompt, system included (default 128)")
    p.add_argument("--gen-tokens", type=int, default=128)
    p.add_argument("--text", default=str(DEFAULT_TEXT), help="text the prompts are cut from (default Moby-Dick)")
    p.add_argument("--json", help="write the settings, every request and the summary to this file")
    args = p.parse_args(argv)
    if not 0 < args.system_tokens < args.prompt_tokens:
        die("--system-tokens must be above 0 and below --prompt-tokens")
    if args.prompt_tokens + args.gen_tokens > args.ctx:
        die(f"--prompt-tokens + --gen-tokens ({args.prompt_tokens + args.gen_tokens}) exceed --ctx {args.ctx}")
    if not (Path(args.llama_server).is_file() and os.access(args.llama_server, os.X_OK)):
        die(f"--llama-server {args.llama_server} is not an executable file; build llama.cpp's llama-server "
            "(see README.md)")
    return args


def run_rounds(args, servers: dict, prompts: list, client_counts: list, expected_prompt: int) -> dict:
    """A warm-up request per side, then per round and client count: edgec, llama-server (which goes first
    alternates by round, so neither always runs right after the other). Each side gets the same prompts."""
    from edgec.tools.bench import measure_bandwidth
    # memory bandwidth moves with the host's other tenants, and decode follows it: probe it before and after
    bandwidth = [measure_bandwidth(args.threads)]
    mismatches = []
    for side in SIDES:
        warm = run_load(servers[side].port, prompts[:1], 1, 1, args.gen_tokens)
        mismatches += check_counts(side, 1, warm, expected_prompt, args.gen_tokens)
    rounds = []
    for i in range(args.rounds):
        rounds.append({})
        offset = 1 + i * sum(client_counts) * args.requests
        for clients in client_counts:
            row = {}
            order = SIDES if i % 2 == 0 else SIDES[::-1]
            for side in order:
                print(f"round {i + 1}/{args.rounds}, {clients} client(s): {side} ...", file=sys.stderr)
                load = run_load(servers[side].port, prompts[offset:], clients, args.requests, args.gen_tokens)
                mismatches += check_counts(side, clients, load, expected_prompt, args.gen_tokens)
                row[side] = load
            rounds[-1][clients] = row
            offset += clients * args.requests
    rss = {side: servers[side].peak_rss_kib() for side in SIDES}
    bandwidth.append(measure_bandwidth(args.threads))
    return {"rounds": rounds, "peak_rss_kib": rss, "mismatches": mismatches, "bandwidth_gbs_before_after": bandwidth}


def resolve_gguf(model: str) -> str:
    """The GGUF file of MODEL (a path or a known name), or an exit that says why not."""
    try:
        from edgec.errors import EdgecError
        from edgec.frontends.model_registry import resolve_model
    except ImportError:
        die("the edgec package is not importable; run `pip install -e .` in the repository first")
    try:
        gguf = resolve_model(model)[0]
    except EdgecError as e:
        die(str(e))
    if not gguf.endswith(".gguf"):
        die(f"{gguf} is not a GGUF file; llama-server reads only GGUF")
    return gguf


def print_report(args, report: dict) -> None:
    before, after = report["bandwidth_gbs_before_after"]
    print(f"\n{Path(report['model']).name}: prompts of {report['expected_prompt_tokens']} tokens "
          f"({args.system_tokens} shared), {args.gen_tokens} generated, {args.threads} threads each; "
          f"edgec {report['edgec_slots']} slot(s) x {report['edgec_max_ctx']}, llama-server --parallel {args.slots} "
          f"-c {args.slots * args.ctx}; {args.rounds} alternating rounds x {args.requests} requests per client "
          f"(medians of the rounds' tok/s; percentiles over all requests); memory bandwidth probe "
          f"{before:.1f} GB/s before, {after:.1f} after")
    print_table(report["summary"])
    sizes = report["edgec_sizes"]
    if "weights_bytes" in sizes and "kv_cache_bytes" in sizes:
        bound = (sizes["weights_bytes"] + sizes["kv_cache_bytes"]) / 2**20 + 16
        print(f"edgec peak RSS {report['peak_rss_kib']['edgec'] / 1024:.1f} MiB against weights + KV caches + 16 MiB "
              f"= {bound:.1f} MiB")
    split = [q for r in report["rounds"] for row in r.values() for load in row.values() for q in load["requests"]
             if "error" not in q and q.get("completion_tokens") not in (None, q["chunks"])]
    if split:
        print(f"note: {len(split)} stream(s) sent fewer text chunks than tokens, so some chunk gaps span two tokens")


def main(argv=None) -> int:
    args = parse_args(argv)
    gguf = resolve_gguf(args.model)
    client_counts = [int(c) for c in args.clients.split(",")]
    needed = 1 + args.rounds * sum(client_counts) * args.requests  # one warm-up request per side first

    with tempfile.TemporaryDirectory(prefix="edgec-serve-bench-") as d:
        tmp = Path(d)
        artifact = Path(args.artifact) if args.artifact else compile_artifact(gguf, args.ctx, args.slots, tmp / "art")
        program, manifest = artifact_program(artifact)
        match_artifact(args, manifest)
        edgec_port, port = free_ports(2)
        servers = {"edgec": ServerProcess("edgec", edgec_command(program, edgec_port, args.threads, max(client_counts)),
                                          edgec_port, tmp),
                   "llama-server": ServerProcess("llama-server", llama_server_command(
                       args.llama_server, gguf, port, args.threads, args.slots, args.ctx), port, tmp)}
        try:
            for s in servers.values():
                s.wait_healthy()
            user_tokens = args.prompt_tokens - args.system_tokens
            text = read_text(Path(args.text), 12 * needed * user_tokens)
            system_text, prompts = build_prompts(port, text, args.system_tokens, user_tokens, needed)
            expected_prompt = len(tokenize(port, prompts[0], add_special=True))
            report = run_rounds(args, servers, prompts, client_counts, expected_prompt)
        finally:
            for s in servers.values():
                s.stop()
    report.update(model=gguf, settings={k: v for k, v in vars(args).items() if k != "json"},
                  edgec_slots=manifest.get("n_slots", 1), edgec_max_ctx=manifest["max_ctx"],
                  edgec_sizes=manifest.get("sizes", {}), commands={side: s.cmd for side, s in servers.items()},
                  system_prompt=system_text, expected_prompt_tokens=expected_prompt,
                  summary=summarize(report["rounds"], report["peak_rss_kib"]))
    print_report(args, report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    if report["mismatches"]:
        print(f"\n!!! {len(report['mismatches'])} request(s) did not match the expected token counts:", file=sys.stderr)
        for line in report["mismatches"]:
            print(f"!!! {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
