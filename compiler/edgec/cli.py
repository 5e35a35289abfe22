"""The `edgec` command line: compile, inspect, targets, run, serve, tokenize, bench, eval, check, verify."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from edgec import __version__
from edgec.errors import EdgecError
from edgec.escaping import display_text

QUANTS = ["f32", "f16", "q8_0", "q4_0", "q4_1", "tq2", "q2", "q3"]


def cmd_compile(a) -> int:
    from edgec.compile import CompileOptions, compile_model
    from edgec.compile_many import is_multi_target
    opts = CompileOptions(model=a.model, target=a.target, out=a.out, name=a.name, tokenizer=a.tokenizer,
                          quant=a.quant, output_quant=a.output_quant, ctx=a.ctx, kv_cache=a.kv_cache, slots=a.slots,
                          prefix=a.prefix, autotune=not a.no_autotune, cc=a.cc, build=not a.no_build, quiet=a.quiet)
    if is_multi_target(a.target):
        return compile_several(opts, a.summary_json)
    if a.summary_json:
        raise EdgecError("--summary-json is for several targets (--target a,b or all-linux); drop it for one")
    compile_model(opts)
    return 0


def compile_several(opts, summary_json) -> int:
    """One artifact per target and the summary table; exit status 1 when any target failed."""
    from edgec.compile_many import compile_many, summary_table, write_summary_json
    outcomes = compile_many(opts, say=(lambda line: None) if opts.quiet else print)
    print()
    print("\n".join(summary_table(outcomes)))
    if summary_json:
        write_summary_json(outcomes, Path(summary_json))
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def cmd_inspect(a) -> int:
    from edgec.tools.inspect_model import describe, inspect_model
    info = inspect_model(a.model, tokenizer=a.tokenizer, ctx=a.ctx, kv_cache=a.kv_cache, target=a.target,
                         slots=a.slots)
    print(json.dumps(info, indent=2) if a.json else describe(info))
    return 0


def cmd_targets(a) -> int:
    from edgec.targets import load_target, target_names
    rows = [load_target(n) for n in target_names()]
    if a.model:
        from edgec.tools.target_fit import describe_fits, fit_every_target
        fits = fit_every_target(a.model, rows, a.ctx, a.kv_cache, a.slots, a.tokenizer)
        print(json.dumps([f.as_dict() for f in fits], indent=2) if a.json else "\n".join(describe_fits(fits, a.ctx)))
        return 0
    from edgec.compile_many import toolchain_missing
    if a.json:
        print(json.dumps([{**t.__dict__, "toolchain_missing": toolchain_missing(t)} for t in rows], indent=2))
        return 0
    print(f"{'target':<12} {'isa':<12} {'cores':>5} {'RAM':>8} {'bandwidth':>10}  {'toolchain':<40} description")
    for t in rows:
        bw = f"{t.bandwidth_gbs:g} GB/s" if t.bandwidth_gbs else "-"
        missing = toolchain_missing(t)
        tools = f"missing: {missing}" if missing else "installed"
        print(f"{t.name:<12} {t.isa:<12} {t.cores:>5} {t.ram_bytes / 2**30:>7.1f}G {bw:>10}  {tools:<40} {t.description}")
    return 0


def cmd_run(a) -> int:
    """Runs an artifact's program with the given flags (under its emulator for a cross-compiled one);
    this process becomes the program, so its streams and exit code are the program's."""
    from edgec.build.run_artifact import exec_program, open_artifact
    exec_program(open_artifact(a.artifact), a.args)


def cmd_serve(a) -> int:
    """Runs an artifact's program as its OpenAI-compatible HTTP server (--serve and the given flags, under
    the emulator for a cross-compiled one); this process becomes the server."""
    from edgec.build.run_artifact import exec_program, open_artifact
    exec_program(open_artifact(a.artifact, "serve"), ["--serve", *a.args])


def cmd_tokenize(a) -> int:
    """Token ids of each line of --file, from an artifact's binary or from a model's tokenizer."""
    from edgec.build.run_artifact import looks_like_artifact
    from edgec.tools.tokenizer_tool import check_text_file
    text = check_text_file(a.file, "--file")
    path = Path(a.model)
    if looks_like_artifact(path):
        return tokenize_with_artifact(path, text)
    from edgec.frontends.load_model import load_model
    from edgec.frontends.model_registry import resolve_model
    from edgec.codegen.tokenizer_blob import build_tokenizer_blob
    from edgec.tools.tokenizer_tool import build_tokenize_tool, tokenize_lines
    model_path, _ = resolve_model(a.model)
    tok = load_model(model_path, a.tokenizer).tokenizer
    if tok is None:
        raise EdgecError(f"{model_path} has no tokenizer; give one with --tokenizer")
    cache = Path(tempfile.gettempdir()) / "edgec-tools"
    tool = build_tokenize_tool(cache)
    with tempfile.TemporaryDirectory() as d:
        blob = Path(d) / "tokenizer.bin"
        blob.write_bytes(build_tokenizer_blob(tok))
        for ids in tokenize_lines(tool, blob, text):
            print(" ".join(map(str, ids)))
    return 0


def tokenize_with_artifact(folder: Path, text: Path) -> int:
    """The artifact's own `--tokenize -f FILE` (under emulation for a cross-compiled one)."""
    from edgec.build.run_artifact import open_artifact, run_captured
    art = open_artifact(folder, "tokenize")
    r = run_captured(art, ["--tokenize", "-f", text])
    if r.returncode != 0:
        lines = r.stderr.decode(errors="replace").strip().splitlines()
        raise EdgecError(f"{art.binary.name} --tokenize failed: {lines[-1] if lines else f'exit {r.returncode}'}")
    sys.stdout.buffer.write(r.stdout)
    return 0


def cmd_bench(a) -> int:
    from edgec.tools.bench import BenchOptions, format_table, run_bench
    result = run_bench(BenchOptions(artifact=a.artifact, prompt_tokens=a.prompt_tokens, gen_tokens=a.gen_tokens,
                                    reps=a.reps, threads=a.threads, json_path=a.json))
    print(format_table(result))
    return 0


def cmd_eval(a) -> int:
    from edgec.tools.evaluate import EvalOptions, format_report, run_eval
    result = run_eval(EvalOptions(artifact=a.artifact, text=a.text, ctx_window=a.ctx_window, stride=a.stride,
                                  max_tokens=a.max_tokens, reference=a.reference,
                                  reference_tokenizer=a.reference_tokenizer, threads=a.threads, json_path=a.json))
    print(format_report(result))
    return 0


def cmd_check(a) -> int:
    """Checks the core with libclang (calls, state, VLAs, recursion, headers) and bounds its stack;
    exit 1 with each problem on a line."""
    from edgec.verify.check import check_artifact
    report = check_artifact(Path(a.artifact))
    print(json.dumps(report.as_json(), indent=2) if a.json else "\n".join(report.lines()))
    return 0 if report.ok else 1


def cmd_verify(a) -> int:
    """Re-hashes an artifact folder or its tarball against manifest.json and sbom.cdx.json; a line per difference."""
    from edgec.release.verify_artifact import verify_artifact
    report = verify_artifact(Path(a.artifact))
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgec", description="Compile language models into specialised C for edge devices.")
    p.add_argument("--version", action="version", version=f"edgec {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("compile", help="compile a model into a C inference program")
    c.add_argument("model", help="GGUF file, Hugging Face folder, llama2.c checkpoint, or a known name (smollm2-135m)")
    c.add_argument("--target", default="host",
                   help="device profile (see `edgec targets`), default host; several separated by commas, or "
                        "all-linux (every Linux profile whose compiler is installed)")
    c.add_argument("--out", help="output folder (default out/<name>-<target>); with several targets the folder "
                                 "that holds one <name>-<target> folder each")
    c.add_argument("--name", help="program name (default from the model)")
    c.add_argument("--tokenizer", help="tokenizer.bin for llama2.c checkpoints")
    c.add_argument("--quant", choices=QUANTS, help="re-encode the weight matrices (default: keep the stored format)")
    c.add_argument("--output-quant", choices=QUANTS + ["same"],
                   help="format of the embedding and classifier (token_embd, output): default q8_0 under "
                        "--quant q2/q3, else the same as --quant; without --quant only these are re-encoded")
    c.add_argument("--ctx", type=int, default=2048, help="maximum context (KV cache length), default 2048")
    c.add_argument("--kv-cache", choices=["f16", "f32"], default="f16",
                   help="KV cache element type, default f16 (half the memory of f32)")
    c.add_argument("--slots", type=int, default=1,
                   help="KV caches in the arena: conversations the program's --serve decodes together, default 1")
    c.add_argument("--prefix", help="C name prefix of everything the core exports (firmware/model.h), so several "
                                    "models link into one image; default: the program name with - as _")
    c.add_argument("--cc", help="C compiler (default: the target's first installed one)")
    c.add_argument("--no-build", action="store_true", help="generate the sources only")
    c.add_argument("--no-autotune", action="store_true",
                   help="use the target profile's layout and prefetch distance instead of measuring them")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    c.add_argument("--summary-json", help="with several targets: also write the summary table as JSON to this file")
    c.set_defaults(fn=cmd_compile)

    i = sub.add_parser("inspect", help="architecture, shapes, formats, sizes and memory of a model")
    i.add_argument("model")
    i.add_argument("--tokenizer", help="tokenizer.bin for llama2.c checkpoints")
    i.add_argument("--ctx", type=int, default=2048, help="context (KV cache length) the memory is planned for, "
                                                         "default 2048 as `edgec compile`")
    i.add_argument("--kv-cache", choices=["f16", "f32"], default="f16", help="KV cache element type, default f16")
    i.add_argument("--slots", type=int, default=1, help="KV caches (conversations) the memory is planned for, default 1")
    i.add_argument("--target", default="host", help="device profile whose weight layout is planned, default host")
    i.add_argument("--json", action="store_true")
    i.set_defaults(fn=cmd_inspect)

    t = sub.add_parser("targets", help="list the device profiles; with --model, whether it fits each and how fast")
    t.add_argument("--json", action="store_true")
    t.add_argument("--model", help="a model (as for compile): memory needed, fits?, estimated decode tok/s per target")
    t.add_argument("--tokenizer", help="tokenizer.bin for llama2.c checkpoints")
    t.add_argument("--ctx", type=int, default=2048, help="context the memory is planned for, default 2048")
    t.add_argument("--kv-cache", choices=["f16", "f32"], default="f16", help="KV cache element type, default f16")
    t.add_argument("--slots", type=int, default=1, help="KV caches (conversations), default 1")
    t.set_defaults(fn=cmd_targets)

    r = sub.add_parser("run", help="run an artifact's program (under qemu-user when it is for another machine)",
                       usage="edgec run ARTIFACT [program flags ...]")
    r.add_argument("artifact", help="a compiled artifact folder (out/<name>-<target>)")
    r.add_argument("args", nargs=argparse.REMAINDER, help="the program's flags, passed as they are (-p TEXT -n N ...)")
    r.set_defaults(fn=cmd_run)

    v = sub.add_parser("serve", help="serve an artifact over HTTP with the OpenAI API (docs/server.md)",
                       usage="edgec serve ARTIFACT [--port N] [--host ADDR] [--api-key-file FILE] [program flags ...]")
    v.add_argument("artifact", help="a compiled artifact folder (out/<name>-<target>)")
    v.add_argument("args", nargs=argparse.REMAINDER,
                   help="the program's flags, passed as they are (--port 8080 --host 0.0.0.0 --max-queue 16 -t 0.7 ...)")
    v.set_defaults(fn=cmd_serve)

    k = sub.add_parser("tokenize", help="token ids of each line of a file (one output line per input line)")
    k.add_argument("model", help="a compiled artifact folder, or a model")
    k.add_argument("--file", "-f", required=True)
    k.add_argument("--tokenizer")
    k.set_defaults(fn=cmd_tokenize)

    b = sub.add_parser("bench", help="prompt/decode speed, latency percentiles, memory and bandwidth of an artifact")
    b.add_argument("artifact", help="a compiled artifact folder (out/<name>-<target>)")
    b.add_argument("--prompt-tokens", type=int, default=128, help="synthetic prompt length (default 128)")
    b.add_argument("--gen-tokens", type=int, default=128, help="tokens to decode per run (default 128)")
    b.add_argument("--reps", type=int, default=5, help="measured runs after one warm-up (default 5)")
    b.add_argument("--threads", type=int, help="threads (default: all CPUs)")
    b.add_argument("--json", help="also write the results as a flat JSON object to this file")
    b.set_defaults(fn=cmd_bench)

    e = sub.add_parser("eval", help="perplexity of an artifact on a text, and agreement with a reference model")
    e.add_argument("artifact", help="a compiled artifact folder (out/<name>-<target>)")
    e.add_argument("--text", required=True, help="UTF-8 text file, scored as one sequence")
    e.add_argument("--ctx-window", type=int, help="tokens per window (default and maximum: the artifact's --ctx)")
    e.add_argument("--stride", type=int, help="tokens between window starts (default: half the window)")
    e.add_argument("--max-tokens", type=int, default=4096, help="score at most this many tokens (default 4096)")
    e.add_argument("--reference", help="model file/folder whose float forward pass is compared (top-1, KL)")
    e.add_argument("--reference-tokenizer", help="tokenizer.bin when --reference is a llama2.c checkpoint")
    e.add_argument("--threads", type=int, help="threads for the program (default: all CPUs)")
    e.add_argument("--json", help="also write the results as JSON to this file")
    e.set_defaults(fn=cmd_eval)

    x = sub.add_parser("check", help="prove an artifact's core fit for firmware: freestanding, and its stack bound")
    x.add_argument("artifact", help="a compiled artifact folder (out/<name>-<target>)")
    x.add_argument("--json", action="store_true", help="print the report as JSON")
    x.set_defaults(fn=cmd_check)

    y = sub.add_parser("verify", help="re-check every file of an artifact or its .tar.gz against its manifest and SBOM")
    y.add_argument("artifact", help="an artifact folder (out/<name>-<target>) or its tarball (out/<name>-<target>.tar.gz)")
    y.set_defaults(fn=cmd_verify)
    return p


def split_program_args(argv: list) -> tuple:
    """`edgec run|serve ARTIFACT ...`: everything after ARTIFACT is the program's, verbatim (argparse would
    drop a `--` and read flags of its own); one leading `--` (`edgec run ART -- -p Hi`) is the shell habit of
    ending edgec's own flags, not the program's. Returns (argv for edgec, the program's args or None)."""
    if len(argv) >= 2 and argv[0] in ("run", "serve") and not argv[1].startswith("-"):
        rest = argv[2:]
        return argv[:2], rest[1:] if rest[:1] == ["--"] else rest
    return argv, None


def main(argv=None) -> int:
    edgec_argv, program_args = split_program_args(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(edgec_argv)
    if program_args is not None:
        args.args = program_args
    try:
        return args.fn(args)
    except EdgecError as e:
        print(f"edgec: error: {display_text(e)}", file=sys.stderr)   # one line, no terminal escapes
        return 1
    except KeyboardInterrupt:
        print("edgec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
