"""Write an artifact's sources: model.h and model.c, the blob source (assembler .incbin or C arrays),
a copy of the runtime, and the CMakeLists.txt that rebuilds the program on its own."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from edgec import __version__
from edgec.codegen.model_source import build_context
from edgec.ir.model_ir import ModelIR
from edgec.paths import RUNTIME_GROUPS, runtime_dir
from edgec.plan.memory_plan import ArenaPlan
from edgec.plan.weights_blob import WeightsLayout
from edgec.render import render
from edgec.targets import Target

C_ARRAY_LIMIT = 4 << 20   # below this the blobs are C arrays (portable); above, .incbin (compilers choke on big literals)


@dataclass
class SourceOptions:
    name: str           # the program's (sanitized) name
    max_ctx: int
    source_name: str    # the model file's name, for comments only (escaped by the templates)
    cflags: list


def weights_embedding(target: Target, layout: WeightsLayout, tok_blob: bytes) -> str:
    """"incbin" or "c-array": the profile's choice, else by size."""
    if target.weights_embed != "auto":
        return target.weights_embed
    return "incbin" if layout.total_bytes + len(tok_blob) > C_ARRAY_LIMIT else "c-array"


def runtime_sources() -> list:
    """Runtime files an artifact needs, relative to runtime/: every .c/.h of each group (not tools/)."""
    rt = runtime_dir()
    return sorted(p.relative_to(rt).as_posix() for g in RUNTIME_GROUPS for p in (rt / g).rglob("*.[ch]"))


def write_sources(folder: Path, ir: ModelIR, target: Target, layout: WeightsLayout, arena: ArenaPlan,
                  opts: SourceOptions, tok_blob: bytes) -> Path:
    """Everything but the blobs themselves (folder/src/weights.bin and tokenizer.bin, written before);
    returns the path of model.c."""
    src = folder / "src"
    embed = weights_embedding(target, layout, tok_blob)
    ctx = build_context(ir, target, layout, arena, opts.name, opts.max_ctx, opts.source_name)
    (src / "model.h").write_text(render("model.h.j2", ctx))
    (src / "model.c").write_text(render("model.c.j2", ctx))
    _write_blobs_source(src, embed, src / "weights.bin", tok_blob)
    rt_files = runtime_sources()
    for f in rt_files:
        (folder / "runtime" / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(runtime_dir() / f, folder / "runtime" / f)
    (folder / "CMakeLists.txt").write_text(render("CMakeLists.txt.j2", {
        "version": __version__, "name": opts.name, "cmake_name": opts.name.replace("-", "_"),
        "source_name": opts.source_name, "target": target, "embed": embed, "cflags": opts.cflags,
        "runtime_sources": [f for f in rt_files if f.endswith(".c")], "runtime_groups": RUNTIME_GROUPS}))
    return src / "model.c"


def _write_blobs_source(src: Path, embed: str, weights_path: Path, tok_blob: bytes) -> None:
    info = {"version": __version__, "weights_bytes": weights_path.stat().st_size, "tokenizer_bytes": len(tok_blob)}
    if embed == "incbin":
        (src / "blobs.S").write_text(render("blobs.S.j2", {**info, "size_directive": ".quad"}))
    else:
        hexify = lambda b: ",\n".join(",".join(f"0x{x:02x}" for x in b[i:i + 24]) for i in range(0, len(b), 24))  # noqa: E731
        (src / "blobs.c").write_text(render("blobs.c.j2", {**info, "weights_hex": hexify(weights_path.read_bytes()),
                                                           "tokenizer_hex": hexify(tok_blob)}))
