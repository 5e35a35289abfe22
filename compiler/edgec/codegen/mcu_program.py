"""The program half of a microcontroller artifact (a target profile of kind "mcu"): beside the firmware
bundle, runtime/mcu/ (startup code, semihosting output, the generating main) and runtime/tokenizer/, the
linker script that keeps code and weights in flash and puts data, arena, heap and stack in RAM, and the
Makefile that builds bin/<name>.elf from them (build/firmware_image.py runs it; a user reruns `make`)."""
from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgec import __version__
from edgec.errors import EdgecError
from edgec.escaping import shell_word
from edgec.paths import runtime_dir
from edgec.render import render
from edgec.targets import Target

MCU_GROUPS = ("mcu", "tokenizer")   # runtime/ groups the firmware image's program is built from
LINKER_SCRIPT = "mcu_link.ld"
MAKEFILE = "Makefile"
STACK_BYTES = 16 << 10       # the program's stack: the core's bound (a few KiB) plus main, the tokenizer, libc
HEAP_MIN_BYTES = 32 << 10    # the least heap the linker script accepts: the tokenizer's tables of a small vocabulary


@dataclass(frozen=True)
class Board:
    """Where an emulated board's flash and RAM start (their sizes are the profile's)."""
    flash_origin: int
    ram_origin: int


# qemu-system-arm machines by -M name; memory maps from qemu's hw/arm/mps2.c (`info mtree`): ZBT SSRAM1
# at 0 is the code memory the board boots from, ZBT SSRAM2&3 at 0x20000000 the data RAM.
BOARDS = {
    "mps2-an385": Board(0x00000000, 0x20000000),   # Cortex-M3
    "mps2-an386": Board(0x00000000, 0x20000000),   # Cortex-M4
    "mps2-an500": Board(0x00000000, 0x20000000),   # Cortex-M7
}


def emulated_machine(target: Target) -> str:
    """The -M machine of the profile's qemu-system-arm command ("" when it names none)."""
    words = target.run_prefix
    return next((words[i + 1] for i, w in enumerate(words[:-1]) if w == "-M"), "")


def board_of(target: Target) -> Board:
    machine = emulated_machine(target)
    if machine not in BOARDS:
        raise EdgecError(f"target {target.name} runs on machine '{machine}', whose memory map edgec does not know; "
                         f"use one of {', '.join(sorted(BOARDS))} in its run_prefix or add the board to "
                         "BOARDS in compiler/edgec/codegen/mcu_program.py")
    return BOARDS[machine]


def tool_beside(cc: str, tool: str) -> str:
    """A binutils program of the compiler's toolchain: arm-none-eabi-gcc -> arm-none-eabi-size."""
    program = shlex.split(cc)[-1]
    return program[:-3] + tool if program.endswith("gcc") else tool


def make_words(words) -> str:
    """Words for a Makefile recipe or variable: shell-quoted, with make's $ doubled."""
    return " ".join(shell_word(w).replace("$", "$$") for w in words)


def mcu_sources() -> list:
    """The program's files, relative to runtime/: every .c/.h of the MCU groups."""
    rt = runtime_dir()
    return sorted(p.relative_to(rt).as_posix() for g in MCU_GROUPS for p in (rt / g).rglob("*.[ch]"))


def write_mcu_program(folder: Path, target: Target, name: str, cc: str, cflags: list, bundle_units: list,
                      arena_bytes: int) -> None:
    """runtime/ (the MCU groups), the linker script and the Makefile of an artifact for a microcontroller."""
    files = mcu_sources()
    for f in files:
        (folder / "runtime" / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(runtime_dir() / f, folder / "runtime" / f)
    board = board_of(target)
    context = {"version": __version__, "name": name, "target": target, "script": LINKER_SCRIPT,
               "flash_origin": board.flash_origin, "ram_origin": board.ram_origin, "arena_bytes": arena_bytes,
               "stack_bytes": STACK_BYTES, "heap_min_bytes": HEAP_MIN_BYTES}
    (folder / LINKER_SCRIPT).write_text(render("mcu_link.ld.j2", context))
    run_prefix = target.run_prefix[:-1] if target.run_prefix[-1:] == ["-kernel"] else target.run_prefix
    (folder / MAKEFILE).write_text(render("mcu_Makefile.j2", {
        **context, "cc": make_words(shlex.split(cc)), "size": make_words([tool_beside(cc, "size")]),
        "cflags": make_words(cflags), "ldflags": make_words(target.ldflags),
        "emulator": f"{run_prefix[0]} -M {emulated_machine(target)}", "run_command": make_words([*run_prefix, "-kernel"]),
        "sources": [f"firmware/{u}" for u in bundle_units] + [f"runtime/{f}" for f in files if f.endswith(".c")]}))
