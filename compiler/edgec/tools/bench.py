"""`edgec bench`: prompt and decode speed, latency percentiles, memory and bandwidth of an artifact.

Each repetition is a fresh run of the artifact's program with a fixed synthetic prompt and
`-n GEN --ignore-eos -t 0 --timings-json`; one warm-up run comes first and is not counted.
Rates and TTFT are medians over the repetitions; latency percentiles pool every decode token
of every repetition. The achieved bandwidth counts the weight bytes one decode step reads
(weight_bytes_per_token) and compares it with what runtime/tools/bandwidth.c measures on this
machine with the same thread count.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from edgec.build.run_artifact import Artifact, explain_start_failure, open_artifact, run_captured
from edgec.errors import EdgecError
from edgec.paths import runtime_dir

# Public-domain English (Moby-Dick, ch. 1) whose token ids make the synthetic prompt: real text
# keeps the ids away from control tokens and gives the attention a realistic spread.
PROMPT_TEXT = ("Call me Ishmael. Some years ago, never mind how long precisely, having little or no money "
               "in my purse, and nothing particular to interest me on shore, I thought I would sail about a "
               "little and see the watery part of the world. It is a way I have of driving off the spleen "
               "and regulating the circulation.")

BANDWIDTH_MIB = 512   # large enough that no cache holds it
BANDWIDTH_CFLAGS = ("-std=c11", "-O2", "-pthread")


@dataclass
class BenchOptions:
    artifact: str
    prompt_tokens: int = 128
    gen_tokens: int = 128
    reps: int = 5
    threads: Optional[int] = None      # default: the machine's CPUs (the program's own default)
    warmup: int = 1
    bandwidth_mib: int = BANDWIDTH_MIB
    json_path: Optional[str] = None


# ---- the artifact ----

def weight_bytes_per_token(manifest: dict) -> int:
    """Weight bytes one decode step reads: every tensor but the RoPE tables and the token-embedding
    table, plus the embedding table when it is also the classifier (tied), else one embedding row."""
    tensors = manifest["tensors"]
    names = {t["name"] for t in tensors}
    tied = manifest["model"].get("tied_embeddings", "output.weight" not in names)
    total = 0
    for t in tensors:
        if t["name"].startswith("rope."):
            continue
        if t["name"] == "token_embd.weight":
            rows = t["shape"][0] if t["shape"] else 1
            total += t["bytes"] if tied else t["bytes"] // rows
            continue
        total += t["bytes"]
    return total


def kv_bytes_per_token(manifest: dict, prompt_tokens: int, gen_tokens: int) -> int:
    """KV-cache bytes an average decode step reads: K and V of every layer for each cached position
    (not part of bandwidth_gbs, which counts weights only)."""
    per_position = manifest["sizes"]["kv_cache_bytes"] / manifest["max_ctx"]
    return round(per_position * (prompt_tokens + (gen_tokens + 1) / 2))


def program_info(art: Artifact) -> dict:
    """The `key: value` lines of `PROGRAM --info`."""
    r = run_captured(art, ["--info"], text=True)
    if r.returncode != 0:
        raise EdgecError(f"{art.binary} --info failed: {_last_line(r.stderr)}; rebuild it with `edgec compile`")
    return dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no error message"


def synthetic_prompt(art: Artifact, n_tokens: int, n_vocab: int, tmp: Path) -> list:
    """n_tokens ids: PROMPT_TEXT as the program tokenizes it, repeated and cut to length."""
    text = tmp / "prompt.txt"
    text.write_text(PROMPT_TEXT + "\n")
    r = run_captured(art, ["--tokenize", "-f", text], text=True)
    if r.returncode != 0:
        raise EdgecError(f"{art.binary} --tokenize failed: {_last_line(r.stderr)}")
    ids = [int(x) for x in r.stdout.split()]
    if not ids:  # a tokenizer that drops all of it: spread ids over the vocabulary instead
        ids = [(i * 7919) % n_vocab for i in range(1, 257)]
    return (ids * (n_tokens // len(ids) + 1))[:n_tokens]


# ---- running ----

def run_program(art: Artifact, args: list, tmp: Path) -> tuple:
    """Runs the program once in a fresh process; returns (exit code, stderr text, peak RSS bytes)
    (under emulation the RSS is the emulator's)."""
    err_path = tmp / "stderr.txt"
    with open(err_path, "wb") as err:
        try:
            proc = subprocess.Popen(art.command(*args), stdout=subprocess.DEVNULL, stderr=err)
        except OSError as e:
            raise explain_start_failure(art, e) from None
        # wait4 gives this child's own peak RSS (getrusage(RUSAGE_CHILDREN) keeps the max of all children)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err_path.read_text(errors="replace"), usage.ru_maxrss * 1024


def run_timed(art: Artifact, prompt: list, gen: int, threads: int, tmp: Path) -> tuple:
    """One benchmark run: (timings dict from --timings-json, peak RSS bytes)."""
    timings = tmp / "timings.json"
    if timings.exists():
        timings.unlink()
    args = ["--prompt-ids", ",".join(map(str, prompt)), "-n", gen, "-t", 0, "--ignore-eos",
            "--seed", 1, "--threads", threads, "--timings-json", timings]
    code, err, rss = run_program(art, args, tmp)
    if code != 0:
        raise EdgecError(f"{art.binary.name} failed (exit {code}): {_last_line(err)}")
    return json.loads(timings.read_text()), rss


# ---- statistics ----

def percentile(values: list, q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between order statistics."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median(values: list) -> float:
    return percentile(values, 50.0)


def _rate(tokens: int, ms: float) -> float:
    return tokens * 1000.0 / ms if ms > 0 else float("nan")


# ---- bandwidth probe ----

def build_bandwidth_tool(cache_dir: Optional[Path] = None, cc: Optional[str] = None) -> Path:
    """Compiles runtime/tools/bandwidth.c once per (source, compiler) into cache_dir; returns the binary."""
    cc = cc or os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        raise EdgecError(f"C compiler {cc!r} not found for the bandwidth probe; install it or set CC")
    source = runtime_dir() / "tools" / "bandwidth.c"
    cache_dir = Path(cache_dir or Path(tempfile.gettempdir()) / "edgec-tools")
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(source.read_bytes() + cc.encode() + " ".join(BANDWIDTH_CFLAGS).encode()).hexdigest()[:16]
    tool = cache_dir / f"bandwidth-{key}"
    if tool.exists():
        return tool
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:  # build aside, then rename: safe in parallel
        built = Path(tmp) / "bandwidth"
        errors = ""
        for arch in (["-march=native"], []):  # some compilers or targets lack -march=native
            r = subprocess.run([cc, *BANDWIDTH_CFLAGS, *arch, "-o", str(built), str(source)],
                               capture_output=True, text=True)
            if r.returncode == 0:
                os.replace(built, tool)
                return tool
            errors = r.stderr
        raise EdgecError(f"building the bandwidth probe with {cc} failed: {_last_line(errors)}")


def measure_bandwidth(threads: int, mib: int = BANDWIDTH_MIB, cache_dir: Optional[Path] = None) -> float:
    """GB/s that `threads` threads reach summing a mib-MiB buffer (best of 5 passes)."""
    tool = build_bandwidth_tool(cache_dir)
    r = subprocess.run([str(tool), str(threads), str(mib)], capture_output=True, text=True)
    if r.returncode != 0:
        raise EdgecError(f"the bandwidth probe failed: {_last_line(r.stderr)}")
    for line in r.stdout.splitlines():
        if line.startswith("bandwidth_gbs: "):
            return float(line.split(": ", 1)[1])
    raise EdgecError(f"the bandwidth probe printed no bandwidth_gbs line: {r.stdout.strip()!r}")


# ---- the benchmark ----

def check_options(o: BenchOptions, max_ctx: int) -> None:
    if o.prompt_tokens < 1 or o.gen_tokens < 1:
        raise EdgecError("--prompt-tokens and --gen-tokens must be at least 1")
    if o.reps < 1:
        raise EdgecError("--reps must be at least 1")
    if o.threads is not None and o.threads < 1:
        raise EdgecError("--threads must be at least 1")
    if o.prompt_tokens + o.gen_tokens > max_ctx:
        raise EdgecError(f"--prompt-tokens {o.prompt_tokens} + --gen-tokens {o.gen_tokens} do not fit the "
                         f"artifact's context of {max_ctx}; bench fewer tokens or recompile with a larger --ctx")


def check_output_path(path: Optional[str], flag: str) -> None:
    """Refuses, before any work, an output file that cannot be written (a folder, a missing parent)."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise EdgecError(f"{flag} {p} is a folder; give a file name for the results")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise EdgecError(f"{flag} {p}: folder {parent} does not exist; create it or write elsewhere")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise EdgecError(f"{flag} {p} cannot be written (permission denied); write elsewhere")


def write_json(path: str, result: dict, flag: str = "--json") -> None:
    try:
        Path(path).write_text(json.dumps(result, indent=2) + "\n")
    except OSError as e:
        raise EdgecError(f"{flag} {path} could not be written ({e.strerror}); write elsewhere") from None


def warn_threads_beyond_cpus(threads: Optional[int]) -> None:
    """One warning line when --threads asks for more threads than CPUs are online: they then take turns
    on the CPUs and every step waits for the slowest (many times slower). The program's own warning
    goes to the stderr edgec captures, so this is the only one the user sees."""
    online = os.cpu_count() or 1
    if threads is not None and threads > online:
        print(f"edgec: warning: --threads {threads} is more than the {online} CPUs online; expect much slower "
              f"runs (use --threads {online} or fewer)", file=sys.stderr)


def run_bench(o: BenchOptions) -> dict:
    """Benchmarks the artifact; returns the flat result (also written to o.json_path when given)."""
    art = open_artifact(o.artifact, "bench")
    manifest, binary = art.manifest, art.binary
    check_options(o, int(manifest["max_ctx"]))
    check_output_path(o.json_path, "--json")
    warn_threads_beyond_cpus(o.threads)
    threads = o.threads or min(os.cpu_count() or 1, 64)
    info = program_info(art)
    n_vocab = int(manifest["model"]["vocab_size"])
    with tempfile.TemporaryDirectory(prefix="edgec-bench-") as d:
        tmp = Path(d)
        prompt = synthetic_prompt(art, o.prompt_tokens, n_vocab, tmp)
        for _ in range(o.warmup):
            run_timed(art, prompt, o.gen_tokens, threads, tmp)
        runs = [run_timed(art, prompt, o.gen_tokens, threads, tmp) for _ in range(o.reps)]
    timings = [t for t, _ in runs]
    token_ms = [ms for t in timings for ms in t["token_ms"]]
    decode_tok_s = median([_rate(t["gen_tokens"], t["decode_ms"]) for t in timings])
    per_token = weight_bytes_per_token(manifest)
    achieved = per_token * decode_tok_s / 1e9
    measured = measure_bandwidth(threads, o.bandwidth_mib)
    result = {
        "model": manifest["name"],
        "target": manifest["target"]["name"],
        "isa": info.get("kernels", manifest["target"].get("isa", "")),
        "weight_layout": manifest["target"].get("weight_layout", "rowmajor"),
        "threads": threads,
        "reps": o.reps,
        "prompt_tokens": o.prompt_tokens,
        "gen_tokens": o.gen_tokens,
        "prompt_tok_s": median([_rate(t["prompt_tokens"], t["prefill_ms"]) for t in timings]),
        "decode_tok_s": decode_tok_s,
        "ttft_ms": median([t["ttft_ms"] for t in timings]),
        "p50_ms": percentile(token_ms, 50),
        "p90_ms": percentile(token_ms, 90),
        "p99_ms": percentile(token_ms, 99),
        "max_ms": max(token_ms) if token_ms else float("nan"),
        "jitter_ms": percentile(token_ms, 99) - percentile(token_ms, 50),
        "peak_rss_bytes": max(rss for _, rss in runs),
        "binary_bytes": binary.stat().st_size,
        "weight_bytes": int(manifest["sizes"]["weights_bytes"]),
        "weight_bytes_per_token": per_token,
        "kv_bytes_per_token": kv_bytes_per_token(manifest, o.prompt_tokens, o.gen_tokens),
        "bandwidth_gbs": achieved,
        "measured_bandwidth_gbs": measured,
        "bandwidth_fraction": achieved / measured if measured > 0 else float("nan"),
        "emulated": art.emulated,   # the emulator command when timed under qemu-user, else null
    }
    if o.json_path:
        write_json(o.json_path, result)
    return result


def format_table(r: dict) -> str:
    """The result as a small terminal table."""
    mib = lambda b: f"{b / 2**20:.1f} MiB"  # noqa: E731
    rows = [
        f"{r['model']} on {r['target']} ({r['isa']}, {r['weight_layout']} weights), "
        f"{r['threads']} thread{'s' * (r['threads'] != 1)}, prompt {r['prompt_tokens']} + gen {r['gen_tokens']} "
        f"tokens, median of {r['reps']} run{'s' * (r['reps'] != 1)}",
        *([f"  EMULATED under {r['emulated']}: these timings are this machine's emulation, not the device's"]
          if r.get("emulated") else []),
        f"  {'prompt':<14}{r['prompt_tok_s']:>10.1f} tok/s",
        f"  {'decode':<14}{r['decode_tok_s']:>10.1f} tok/s",
        f"  {'ttft':<14}{r['ttft_ms']:>10.2f} ms",
        f"  {'token latency':<14}   p50 {r['p50_ms']:.2f}  p90 {r['p90_ms']:.2f}  p99 {r['p99_ms']:.2f}  "
        f"max {r['max_ms']:.2f} ms  (jitter {r['jitter_ms']:.2f} ms)",
        f"  {'peak RSS':<14}{mib(r['peak_rss_bytes']):>14}",
        f"  {'binary':<14}{mib(r['binary_bytes']):>14}   weights {mib(r['weight_bytes'])}, "
        f"{mib(r['weight_bytes_per_token'])} read per token (+ {mib(r['kv_bytes_per_token'])} KV cache)",
        f"  {'bandwidth':<14}{r['bandwidth_gbs']:>10.2f} GB/s achieved of {r['measured_bandwidth_gbs']:.2f} GB/s "
        f"measured ({100 * r['bandwidth_fraction']:.0f}%)",
    ]
    return "\n".join(rows)
