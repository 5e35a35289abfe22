"""Artifacts and edited copies of their core for the verify tests."""
from __future__ import annotations

import shutil
from pathlib import Path

from conftest import STORIES, compile_artifact

# The targets whose generated core must pass: the x86 intrinsics path, the portable one, NEON, Cortex-M (DSP).
TARGETS = ("host", "generic", "pi-zero", "cortex-m7")


def stories_core(out: Path, target: str) -> Path:
    """stories260K compiled for target, sources only (the check needs no program)."""
    return compile_artifact(STORIES / "stories260K.bin", out, target=target, tokenizer=str(STORIES / "tok512.bin"),
                            ctx=64, build=False, autotune=False).out_dir


def edited_copy(artifact: Path, dest: Path, appended_c: str) -> tuple:
    """A copy of the artifact's bundle and manifest whose model.c ends with appended_c; returns
    (the copy, the line of model.c where appended_c starts)."""
    dest.mkdir(parents=True)
    shutil.copytree(artifact / "firmware", dest / "firmware")
    shutil.copy(artifact / "manifest.json", dest / "manifest.json")
    model_c = dest / "firmware" / "model.c"
    text = model_c.read_text()
    if not text.endswith("\n"):
        text += "\n"
    first_line = text.count("\n") + 1
    model_c.write_text(text + appended_c)
    return dest, first_line
