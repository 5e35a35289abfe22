"""`edgec compile`: load -> IR -> layout -> render -> build -> verify, into out/<name>-<target>/.

Everything is written into a temporary folder beside the destination and renamed into
place at the end, so a failed compile never leaves a half-written artifact.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgec import __version__
from edgec.build.artifact_dir import check_destination, file_hashes, make_staging_dir, remove_created, replace_artifact
from edgec.build.cmake_build import build_artifact, cc_workarounds, verify_binary
from edgec.build.firmware_image import build_firmware_image
from edgec.build.run_artifact import run_instructions
from edgec.build.run_firmware import verify_image
from edgec.codegen.artifact_sources import FIRMWARE, SourceOptions, weights_embedding, write_header, write_sources
from edgec.codegen.c_names import check_prefix, default_prefix
from edgec.codegen.tokenizer_blob import model_tokenizer_blob
from edgec.errors import EdgecError
from edgec.escaping import display_text
from edgec.frontends.load_model import load_model
from edgec.frontends.model_registry import resolve_model
from edgec.ir.ir_checks import validate_ir
from edgec.plan.autotune import AUTOTUNE_MIN_BYTES, autotune, quantized_bytes, tuned_summary
from edgec.plan.memory_plan import check_slots, plan_memory
from edgec.plan.quantize_model import quantize_ir
from edgec.plan.weights_blob import write_blob
from edgec.progress import Progress
from edgec.release.seal import seal_artifact, write_release_tarball
from edgec.targets import host_lacks, load_target
from edgec.verify.check import measure_stack


@dataclass
class CompileOptions:
    model: str
    target: str = "host"
    out: str | None = None
    name: str | None = None
    tokenizer: str | None = None
    quant: str | None = None
    output_quant: str | None = None   # token_embd/output format: a --quant choice, "same", or None (per --quant)
    ctx: int = 2048
    kv_cache: str = "f16"
    slots: int = 1            # KV caches: conversations the program's server decodes together
    prefix: str | None = None  # C name prefix of the core's exports (default from the program name)
    autotune: bool = True
    cc: str | None = None
    build: bool = True
    quiet: bool = False


@dataclass
class CompileResult:
    out_dir: Path
    binary: Path
    manifest: dict


def sanitize_name(name: str) -> str:
    s = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return s or "model"


def _manifest(ir, target, layout, arena, name, opts, embed, cc, cflags, tok_bytes, need) -> dict:
    cfg = ir.config
    by_fmt: dict = {}
    for e in layout.entries:
        f = by_fmt.setdefault(e.fmt, {"tensors": 0, "bytes": 0})
        f["tensors"] += 1
        f["bytes"] += e.n_bytes
    return {
        "edgec_version": __version__,
        "name": name,
        "source": {"file": display_text(Path(ir.source_path).name), "format": ir.source_format, "sha256": ir.source_sha256},
        "target": {"name": target.name, "isa": target.isa, "cc": cc, "cflags": cflags,
                   "weight_layout": target.weight_layout, "prefetch_bytes": target.prefetch_bytes},
        "model": {"arch": cfg.arch, "dim": cfg.dim, "hidden_dim": cfg.hidden_dim, "n_layers": cfg.n_layers,
                  "n_heads": cfg.n_heads, "n_kv_heads": cfg.n_kv_heads, "head_dim": cfg.head_dim,
                  "vocab_size": cfg.vocab_size, "rope_theta": cfg.rope_theta, "rope_layout": cfg.rope_layout,
                  "norm_eps": cfg.norm_eps, "tied_embeddings": cfg.tied_embeddings, "qkv_bias": cfg.qkv_bias,
                  "ffn_act": cfg.ffn_act, "sub_norms": cfg.sub_norms},
        "quant": opts.quant or "as stored",
        "output_quant": ir.metadata.get("output_quant") or "as stored",
        "max_ctx": opts.ctx, "max_batch": arena.max_batch, "kv_cache": arena.kv_cache, "n_slots": arena.n_slots,
        "formats": by_fmt,
        "sizes": {"weights_bytes": layout.total_bytes, "tokenizer_bytes": tok_bytes,
                  "arena_bytes": arena.total_bytes, "kv_cache_bytes": arena.kv_cache_bytes,
                  "memory_needed_bytes": need},
        "weights_embedding": embed,
        "tensors": [{"name": e.name, "format": e.fmt, "layout": e.layout, "shape": list(e.shape),
                     "offset": e.offset, "bytes": e.n_bytes} for e in layout.entries],
        "warnings": [display_text(w) for w in ir.metadata.get("warnings", [])],
    }


def compile_model(opts: CompileOptions) -> CompileResult:
    prog = Progress(6 if opts.build else 4, quiet=opts.quiet)
    try:
        return _compile(opts, prog)
    except BaseException:
        prog.fail()
        raise


def _compile(opts: CompileOptions, prog: Progress) -> CompileResult:
    target = load_target(opts.target)
    prog.n_stages += int(target.autotune and opts.autotune and opts.build)
    if opts.ctx < 1 or opts.ctx > 1 << 20:
        raise EdgecError(f"--ctx {opts.ctx} is out of range; give a context length between 1 and 1048576")
    check_slots(opts.slots)
    if opts.prefix is not None:
        check_prefix(opts.prefix)
    if opts.out:
        check_destination(Path(opts.out))   # before minutes of work, not after
    path, alias = resolve_model(opts.model)

    prog.stage(f"loading {display_text(Path(path).name)}")
    ir = load_model(path, tokenizer_path=opts.tokenizer)
    if opts.quant is not None or opts.output_quant is not None:
        ir = quantize_ir(ir, opts.quant, opts.output_quant)
        validate_ir(ir)
    if ir.tokenizer is None:
        raise EdgecError(f"{path} has no tokenizer; give one with --tokenizer")
    name = sanitize_name(opts.name or alias or ir.config.name)
    prefix = opts.prefix if opts.prefix is not None else default_prefix(name)
    cfg = ir.config
    prog.end_stage(f"{cfg.arch}, {cfg.n_layers} layers, dim {cfg.dim}, vocab {cfg.vocab_size}")

    max_ctx = opts.ctx
    if cfg.max_seq_len and max_ctx > cfg.max_seq_len:
        ir.metadata.setdefault("warnings", []).append(
            f"--ctx {max_ctx} is beyond the {cfg.max_seq_len} tokens the model was trained on; "
            "quality degrades past them")
    if opts.kv_cache not in ("f16", "f32"):
        raise EdgecError(f"--kv-cache {opts.kv_cache} is not supported; use f16 or f32")
    cc = target.find_cc(opts.cc)
    cflags = list(target.cflags) + ["-Wall", "-Wextra"] + cc_workarounds(cc)
    tune = target.autotune and opts.autotune and opts.build

    prog.stage("planning memory and weight layout")
    tok_blob = model_tokenizer_blob(ir)
    layout, arena, need = plan_memory(ir, target, max_ctx, opts.kv_cache, len(tok_blob), opts.slots)
    prog.end_stage(f"weights {layout.total_bytes / 2**20:.1f} MiB, arena {arena.total_bytes / 2**20:.1f} MiB")

    tuned = None
    if tune:
        prog.stage("autotuning kernels on this machine")
        if quantized_bytes(ir) < AUTOTUNE_MIN_BYTES:
            prog.end_stage("skipped: the weights fit in cache, profile defaults")
        else:
            tuned = autotune(ir, cc, cflags, target=target)
            if tuned:
                if tuned["layout"] is not None:
                    target.weight_layout, target.prefetch_bytes = tuned["layout"], tuned["prefetch_bytes"]
                if tuned.get("lut_formats") is not None:
                    target.lut_formats = list(tuned["lut_formats"])
                layout, arena, need = plan_memory(ir, target, max_ctx, opts.kv_cache, len(tok_blob), opts.slots)
            prog.end_stage(tuned_summary(tuned))
    out_dir = Path(opts.out or Path("out") / f"{name}-{target.name}")
    check_destination(out_dir)
    tmp, created = make_staging_dir(out_dir)
    try:
        prog.stage("writing weights")
        fw = tmp / FIRMWARE
        fw.mkdir()
        write_blob(ir, layout, fw / "weights.bin", max_ctx,
                   progress=lambda d, t: prog.bar(d, t, f"{d / 2**20:.0f}/{t / 2**20:.0f} MiB"))
        (fw / "tokenizer.bin").write_bytes(tok_blob)
        prog.end_stage()

        prog.stage("generating C")
        src_opts = SourceOptions(name=name, max_ctx=max_ctx, source_name=Path(path).name, cflags=cflags, cc=cc,
                                 prefix=prefix)
        model_c = write_sources(tmp, ir, target, layout, arena, src_opts, tok_blob)
        manifest = _manifest(ir, target, layout, arena, name, opts, weights_embedding(target, layout, tok_blob), cc, cflags, len(tok_blob), need)
        manifest["prefix"] = prefix
        (tmp / "manifest.json").write_text(json.dumps(manifest))   # what the stack measurement reads
        stack = record_stack_bound(tmp, ir, target, layout, arena, src_opts, len(tok_blob))
        manifest["sizes"]["stack_bytes"] = stack.bytes
        manifest["stack"] = {"method": stack.method, "deepest": [name for name, n, _ in stack.path if n]}
        manifest["files"] = file_hashes(tmp)
        if tuned:
            manifest["autotune"] = {k: v for k, v in tuned.items() if k != "cached"}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        prog.end_stage(f"model.c {len(model_c.read_text().splitlines())} lines")

        binary = tmp / "bin" / (f"{name}.elf" if target.kind == "mcu" else name)
        if opts.build and target.kind == "mcu":   # a firmware image (build/firmware_image.py), run on the emulated board
            prog.stage(f"building the firmware image with {cc}")
            prog.end_stage(build_firmware_image(tmp, target, cc, cflags, name))
            manifest = json.loads((tmp / "manifest.json").read_text())   # the build adds the image
            prog.stage("running it on the emulated board")
            prog.end_stage(verify_image(binary, target))
        elif opts.build:
            prog.stage(f"building with {cc}")
            build_artifact(tmp, cc, progress=lambda d, t: prog.bar(d, t))
            manifest = json.loads((tmp / "manifest.json").read_text())   # the build adds what it linked
            prog.end_stage(f"bin/{name} {binary.stat().st_size / 2**20:.1f} MiB")
            prog.stage("verifying the binary")
            lacks = host_lacks(target)
            prog.end_stage(f"not run: {lacks}" if lacks else verify_binary(binary, target.run_prefix))
        manifest = seal_artifact(tmp, out_dir, path, tarball=opts.build)   # every file's sha256 (bin/ too), the SBOM
        replace_artifact(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_created(created)
        raise
    if opts.build:
        tarball = write_release_tarball(out_dir, manifest)   # out/<name>-<target>.tar.gz beside the folder
    if opts.build and not opts.quiet:
        print_summary(prog, manifest, out_dir, name)
        prog.say(f"  release:  {display_text(tarball)} (sha256 of every file in manifest.json, SBOM in sbom.cdx.json; "
                 "edgec verify checks them)")
    if not opts.quiet:
        for w in manifest["warnings"]:
            prog.say(f"  warning: {w}")
    return CompileResult(out_dir, out_dir / "bin" / binary.name, manifest)


def record_stack_bound(folder: Path, ir, target, layout, arena, opts: SourceOptions, tokenizer_bytes: int):
    """Measures the core's worst-case stack (the verify stage) and writes it into model.h."""
    stack = measure_stack(folder)
    if stack.bytes is None:
        raise EdgecError(f"the generated core has no stack bound ({'; '.join(stack.problems)}); "
                         "this is a bug in edgec: please report it with the model and target")
    opts.stack_bytes, opts.stack_note = stack.bytes, stack.method
    write_header(folder, ir, target, layout, arena, opts, tokenizer_bytes)
    return stack


def print_summary(prog: Progress, m: dict, out_dir: Path, name: str) -> None:
    s = m["sizes"]
    mib = lambda b: f"{b / 2**20:.1f} MiB"  # noqa: E731
    fmts = ", ".join(f"{k} x{v['tensors']}" for k, v in sorted(m["formats"].items()))
    prog.say("")
    prog.say(f"compiled {m['source']['file']} for {m['target']['name']} in {prog.elapsed():.1f}s -> {display_text(out_dir)}/")
    prog.say(f"  weights   {mib(s['weights_bytes'])} ({fmts})")
    slots = f" x {m['n_slots']} slots" if m["n_slots"] > 1 else ""
    prog.say(f"  KV cache  {mib(s['kv_cache_bytes'])} (--ctx {m['max_ctx']}{slots}), arena {mib(s['arena_bytes'])} in all")
    prog.say(f"  device memory needed: {mib(s['memory_needed_bytes'])}")
    prog.say(f"  firmware/ the core for a firmware build: names {m['prefix']}_*, stack at most {s['stack_bytes']} bytes per call")
    for line in run_instructions(out_dir, name, m["target"]["name"], '-p "Once upon a time" -n 64'):
        prog.say(f"  {line}")
