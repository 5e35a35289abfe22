#!/usr/bin/env python3
"""Benchmark edgec and llama.cpp on the same GGUF, same threads, same prompt and generation lengths,
in alternating rounds, and print medians, best rounds and ratios (edgec / llama.cpp; above 1 means edgec
is faster). On a shared machine the best round is the least disturbed one.

    python examples/compare-llamacpp/compare.py [MODEL] [--llama-bench PATH] [--threads 1,2]
        [--prompt-tokens 128] [--gen-tokens 128] [--reps 5] [--rounds 3] [--artifact DIR] [--json FILE]

MODEL is a GGUF file or a known name (default smollm2-135m). llama.cpp runs either as a llama-bench
binary (--llama-bench, `-o json`; its decode test runs at a depth of --prompt-tokens, like edgec's
decode after the prompt) or through the llama-cpp-python package when it is installed. See README.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def die(message: str) -> None:
    print(f"compare: error: {message}", file=sys.stderr)
    sys.exit(2)


# ---- edgec ----

def edgec_artifact(model_path: str, ctx: int, artifact, tmp: Path) -> Path:
    """An artifact of the model for the host: the one given, or a fresh compile into tmp."""
    if artifact:
        return Path(artifact)
    from edgec.compile import CompileOptions, compile_model
    print(f"compiling {model_path} with edgec (--ctx {ctx}) ...", file=sys.stderr)
    return compile_model(CompileOptions(model=model_path, target="host", out=str(tmp / "edgec-art"), ctx=ctx,
                                        quiet=True)).out_dir


def edgec_round(artifact: Path, threads: int, prompt: int, gen: int, reps: int) -> dict:
    from edgec.tools.bench import BenchOptions, run_bench
    r = run_bench(BenchOptions(artifact=str(artifact), prompt_tokens=prompt, gen_tokens=gen, reps=reps,
                               threads=threads))
    return {"prompt_tok_s": r["prompt_tok_s"], "decode_tok_s": r["decode_tok_s"],
            "bandwidth_gbs": r["bandwidth_gbs"], "measured_bandwidth_gbs": r["measured_bandwidth_gbs"]}


# ---- llama.cpp: llama-bench ----

def llama_bench_has_depth(binary: str) -> bool:
    r = subprocess.run([binary, "--help"], capture_output=True, text=True)
    return "--n-depth" in r.stdout + r.stderr


def llama_bench_round(binary: str, gguf: str, threads: int, prompt: int, gen: int, reps: int) -> dict:
    """Prompt speed (pp at depth 0) and decode speed (tg at depth `prompt` when supported) from llama-bench."""
    depth = llama_bench_has_depth(binary)
    cmd = [binary, "-m", gguf, "-p", str(prompt), "-n", str(gen), "-t", str(threads), "-r", str(reps), "-o", "json"]
    if depth:
        cmd += ["-d", f"0,{prompt}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"{' '.join(cmd)} failed (exit {r.returncode}): {r.stderr.strip().splitlines()[-1:]}")
    entries = json.loads(r.stdout)
    pick = lambda p, n, d: [e for e in entries if e["n_prompt"] == p and e["n_gen"] == n  # noqa: E731
                            and e.get("n_depth", 0) == d]
    pp, tg = pick(prompt, 0, 0), pick(0, gen, prompt if depth else 0)
    if not pp or not tg:
        die(f"llama-bench printed no pp{prompt}/tg{gen} results: {r.stdout[:300]!r}")
    return {"prompt_tok_s": pp[0]["avg_ts"], "decode_tok_s": tg[0]["avg_ts"], "decode_depth": prompt if depth else 0}


# ---- llama.cpp: llama-cpp-python ----

def llama_cpp_python_round(gguf: str, threads: int, prompt: int, gen: int, reps: int) -> dict:
    """The same measurement through llama-cpp-python: prefill of `prompt` tokens, then `gen` single-token steps."""
    import llama_cpp
    llm = llama_cpp.Llama(model_path=gguf, n_ctx=prompt + gen, n_threads=threads, n_threads_batch=threads,
                          n_batch=max(prompt, 32), verbose=False)
    text = b"Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse."
    ids = llm.tokenize(text, add_bos=False)
    ids = (ids * (prompt // len(ids) + 1))[:prompt]
    pp, tg = [], []
    for _ in range(reps + 1):  # the first is a warm-up
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids)
        t1 = time.perf_counter()
        for i in range(gen):
            # decode speed does not depend on which token is fed, and llama-cpp-python keeps no
            # logits without logits_all (which would slow the prefill), so feed the prompt's ids again
            llm.eval([ids[i % len(ids)]])
        t2 = time.perf_counter()
        pp.append(prompt / (t1 - t0))
        tg.append(gen / (t2 - t1))
    return {"prompt_tok_s": statistics.median(pp[1:]), "decode_tok_s": statistics.median(tg[1:]),
            "decode_depth": prompt}


def llama_runner(args):
    """The llama.cpp runner to use, or an exit that says what is missing."""
    if args.llama_bench:
        if not (Path(args.llama_bench).is_file() or shutil.which(args.llama_bench)):
            die(f"--llama-bench {args.llama_bench} does not exist; build llama.cpp's llama-bench (see README.md)")
        return "llama-bench", lambda t: llama_bench_round(args.llama_bench, args.gguf, t, args.prompt_tokens,
                                                          args.gen_tokens, args.reps)
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        die("llama.cpp is missing: pass --llama-bench PATH to a llama-bench binary, or "
            "`pip install llama-cpp-python` (it builds llama.cpp from source); see README.md")
    return "llama-cpp-python", lambda t: llama_cpp_python_round(args.gguf, t, args.prompt_tokens, args.gen_tokens,
                                                                args.reps)


# ---- summary ----

def summarize(rows: dict, pick) -> dict:
    """Per thread count: pick (median, or max for best-of on a noisy machine) of each side's rates
    over the rounds, and their ratios (edgec / llama.cpp)."""
    out = {}
    for t, rounds in rows.items():
        s = {f"{side}_{k}": pick([r[side][k] for r in rounds]) for side in ("edgec", "llama.cpp")
             for k in ("prompt_tok_s", "decode_tok_s")}
        s["prompt_ratio"] = s["edgec_prompt_tok_s"] / s["llama.cpp_prompt_tok_s"]
        s["decode_ratio"] = s["edgec_decode_tok_s"] / s["llama.cpp_decode_tok_s"]
        s["edgec_bandwidth_gbs"] = pick([r["edgec"]["bandwidth_gbs"] for r in rounds])
        s["measured_bandwidth_gbs"] = pick([r["edgec"]["measured_bandwidth_gbs"] for r in rounds])
        out[t] = s
    return out


def print_table(title: str, table: dict) -> None:
    print(f"{title}:")
    print(f"{'threads':>7} | {'prompt tok/s: edgec':>20} {'llama.cpp':>10} {'ratio':>6} | "
          f"{'decode tok/s: edgec':>20} {'llama.cpp':>10} {'ratio':>6} | {'edgec GB/s (probe)':>18}")
    for t, s in table.items():
        print(f"{t:>7} | {s['edgec_prompt_tok_s']:>20.1f} {s['llama.cpp_prompt_tok_s']:>10.1f} "
              f"{s['prompt_ratio']:>6.2f} | {s['edgec_decode_tok_s']:>20.1f} {s['llama.cpp_decode_tok_s']:>10.1f} "
              f"{s['decode_ratio']:>6.2f} | {s['edgec_bandwidth_gbs']:>9.1f} ({s['measured_bandwidth_gbs']:.1f})")


# ---- main ----

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default="smollm2-135m", help="GGUF file or known name (default smollm2-135m)")
    p.add_argument("--llama-bench", help="path to llama.cpp's llama-bench binary")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--gen-tokens", type=int, default=128)
    p.add_argument("--reps", type=int, default=5, help="repetitions per round for each side (default 5)")
    p.add_argument("--rounds", type=int, default=3, help="alternating edgec / llama.cpp rounds (default 3)")
    p.add_argument("--artifact", help="an edgec artifact of MODEL to reuse instead of compiling one")
    p.add_argument("--json", help="write every round and the medians to this file")
    args = p.parse_args(argv)

    try:
        from edgec.errors import EdgecError
        from edgec.frontends.model_registry import resolve_model
    except ImportError:
        die("the edgec package is not importable; run `pip install -e .` in the repository first")
    try:
        args.gguf = resolve_model(args.model)[0]
        if not args.gguf.endswith(".gguf"):
            die(f"{args.gguf} is not a GGUF file; llama.cpp reads only GGUF")
        threads = [int(t) for t in args.threads.split(",")]
        name, llama_round = llama_runner(args)
        rows = {}
        with tempfile.TemporaryDirectory(prefix="edgec-compare-") as d:
            artifact = edgec_artifact(args.gguf, args.prompt_tokens + args.gen_tokens, args.artifact, Path(d))
            for t in threads:
                rounds = []
                for i in range(args.rounds):
                    print(f"threads {t}, round {i + 1}/{args.rounds}: edgec ...", file=sys.stderr)
                    ours = edgec_round(artifact, t, args.prompt_tokens, args.gen_tokens, args.reps)
                    print(f"threads {t}, round {i + 1}/{args.rounds}: {name} ...", file=sys.stderr)
                    theirs = llama_round(t)
                    rounds.append({"edgec": ours, "llama.cpp": theirs})
                rows[t] = rounds
    except EdgecError as e:
        die(str(e))

    summary = {"median": summarize(rows, statistics.median), "best": summarize(rows, max)}
    print(f"\n{Path(args.gguf).name}: prompt {args.prompt_tokens}, gen {args.gen_tokens} tokens; "
          f"{args.rounds} alternating rounds x {args.reps} reps; llama.cpp via {name}")
    for how, table in summary.items():
        print_table(f"{how} of the rounds", table)
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.gguf, "llama_runner": name, "rounds": rows,
                                               "summary": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
