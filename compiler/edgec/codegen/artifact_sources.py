"""Write an artifact's sources: the firmware bundle (firmware/: model.h, model.c, the kernel headers they
include, the weights and tokenizer units, a README), a copy of the program's runtime, and the
CMakeLists.txt that rebuilds the program on its own from both."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgec import __version__
from edgec.codegen.model_source import build_context
from edgec.codegen.mcu_program import write_mcu_program
from edgec.errors import EdgecError
from edgec.ir.model_ir import ModelIR
from edgec.paths import RUNTIME_GROUPS, runtime_dir
from edgec.plan.memory_plan import ArenaPlan
from edgec.plan.weights_blob import WeightsLayout
from edgec.render import render
from edgec.targets import Target

C_ARRAY_LIMIT = 4 << 20   # below this the blobs are C arrays (portable); above, .incbin (compilers choke on big literals)
FIRMWARE = "firmware"     # the bundle's folder in an artifact
PROGRAM_GROUPS = tuple(g for g in RUNTIME_GROUPS if g != "core")   # core goes into the bundle, the rest is the program's


@dataclass
class SourceOptions:
    name: str           # the program's (sanitized) name
    max_ctx: int
    source_name: str    # the model file's name, for comments only (escaped by the templates)
    cflags: list
    cc: str             # the target's compiler: it says which kernel headers the core includes
    prefix: str = "edgec"
    stack_bytes: int = 0
    stack_note: str = "not measured"


def weights_embedding(target: Target, layout: WeightsLayout, tok_blob: bytes) -> str:
    """"incbin" or "c-array": the profile's choice, else by size."""
    if target.weights_embed != "auto":
        return target.weights_embed
    return "incbin" if layout.total_bytes + len(tok_blob) > C_ARRAY_LIMIT else "c-array"


def runtime_sources() -> list:
    """Program files an artifact needs, relative to runtime/: every .c/.h of each program group (not core/, not tools/)."""
    rt = runtime_dir()
    return sorted(p.relative_to(rt).as_posix() for g in PROGRAM_GROUPS for p in (rt / g).rglob("*.[ch]"))


def write_sources(folder: Path, ir: ModelIR, target: Target, layout: WeightsLayout, arena: ArenaPlan,
                  opts: SourceOptions, tok_blob: bytes) -> Path:
    """Everything but the blobs themselves (folder/firmware/weights.bin and tokenizer.bin, written before);
    returns the path of model.c."""
    fw = folder / FIRMWARE
    embed = weights_embedding(target, layout, tok_blob)
    ctx = write_header(folder, ir, target, layout, arena, opts, len(tok_blob))
    (fw / "model.c").write_text(render("model.c.j2", ctx))
    units = _write_blob_units(fw, embed, opts.prefix, {"weights": "the weights", "tokenizer_blob": "the tokenizer"})
    kernels = copy_used_headers(fw, opts.cc, opts.cflags)
    (fw / "README.md").write_text(render("firmware_README.md.j2", {
        "version": __version__, "name": opts.name, "target": target, "p": opts.prefix, "P": opts.prefix.upper(),
        "embed": embed, "units": units, "kernels": kernels, "arena": arena, "layout": layout,
        "tokenizer_bytes": len(tok_blob)}))
    if target.kind == "mcu":   # a firmware image: its own program, linker script and Makefile
        write_mcu_program(folder, target, opts.name, opts.cc, opts.cflags, ["model.c", *units], arena.total_bytes)
        return fw / "model.c"
    rt_files = runtime_sources()
    for f in rt_files:
        (folder / "runtime" / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(runtime_dir() / f, folder / "runtime" / f)
    (folder / "CMakeLists.txt").write_text(render("CMakeLists.txt.j2", {
        "version": __version__, "name": opts.name, "cmake_name": opts.name.replace("-", "_"),
        "source_name": opts.source_name, "target": target, "embed": embed, "cflags": opts.cflags,
        "core_sources": ["model.c", *units],
        "runtime_sources": [f for f in rt_files if f.endswith(".c")], "runtime_groups": PROGRAM_GROUPS}))
    return fw / "model.c"


def write_header(folder: Path, ir: ModelIR, target: Target, layout: WeightsLayout, arena: ArenaPlan,
                 opts: SourceOptions, tokenizer_bytes: int) -> dict:
    """firmware/model.h; returns the template context.  Written again once the stack bound is measured."""
    ctx = build_context(ir, target, layout, arena, opts.name, opts.max_ctx, opts.source_name, prefix=opts.prefix,
                        tokenizer_bytes=tokenizer_bytes, stack_bytes=opts.stack_bytes, stack_note=opts.stack_note)
    (folder / FIRMWARE / "model.h").write_text(render("model.h.j2", ctx))
    return ctx


def _write_blob_units(fw: Path, embed: str, prefix: str, blobs: dict) -> list:
    """One source per blob (weights.bin -> weights.c or .S defining <prefix>_weights, ...); returns their names.
    The .bin files stay beside them: .incbin reads them, and firmware may load them from storage instead."""
    units = []
    for stem, what in blobs.items():
        bin_file = "tokenizer.bin" if stem == "tokenizer_blob" else f"{stem}.bin"
        data = (fw / bin_file).read_bytes()
        info = {"version": __version__, "what": what, "n_bytes": len(data), "symbol": f"{prefix}_{stem}"}
        if embed == "incbin":
            unit = f"{stem}.S"
            (fw / unit).write_text(render("blob.S.j2", {**info, "file": unit, "bin_file": bin_file}))
        else:
            unit = f"{stem}.c"
            (fw / unit).write_text(render("blob.c.j2", {**info, "file": unit, "hex": c_hex(data)}))
        units.append(unit)
    return units


def c_hex(data: bytes) -> str:
    return ",\n".join(",".join(f"0x{x:02x}" for x in data[i:i + 24]) for i in range(0, len(data), 24))


def copy_used_headers(fw: Path, cc: str, cflags: list) -> list:
    """Copies the runtime/core headers model.c includes under the target's compiler and flags (its ISA
    picks a kernel folder) into the bundle; returns them, relative to the bundle."""
    core = runtime_dir() / "core"
    cmd = [*shlex.split(cc), *cflags, f"-I{core}", "-E", "-H", "-o", os.devnull, str(fw / "model.c")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise EdgecError(f"{cc} could not list the headers of the generated model.c: "
                         f"{(r.stderr.strip().splitlines() or ['no output'])[-1]}")
    deps = [Path(m.group(1)) for m in re.finditer(r"^\.+ (.+)$", r.stderr, re.MULTILINE)]   # -H: '. path' per header
    used = sorted({d.resolve().relative_to(core.resolve()).as_posix() for d in deps
                   if d.resolve().is_relative_to(core.resolve())})
    for rel in used:
        (fw / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(core / rel, fw / rel)
    return used
