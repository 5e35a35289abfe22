"""The build stage of a microcontroller artifact: runs its generated Makefile (codegen/mcu_program.py) with
the target's arm-none-eabi-gcc into bin/<name>.elf, reads the image's flash and RAM use from
arm-none-eabi-size, and records both, with the kernels the core was built with, in manifest.json."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgec.codegen.mcu_program import board_of, emulated_machine, tool_beside
from edgec.errors import EdgecError
from edgec.targets import Target

SETUP_HINT = ("run examples/setup_firmware_tools.sh "
              "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)")
DSP_FLAG = "-DEDGEC_ARM_DSP"   # the core's q8_0 dot product on the DSP extension (kernels/arm/dsp/q8_dot.h)

# the linker script's sections (templates/mcu_link.ld.j2): what is loaded into flash, and what only takes RAM
FLASH_SECTIONS = (".isr_vector", ".text", ".rodata", ".ARM.extab", ".ARM.exidx", ".init_array", ".data")
RAM_SECTIONS = (".data", ".bss")


@dataclass
class ImageUsage:
    flash_bytes: int      # code, weights, tokenizer, .data's initial values
    ram_bytes: int        # .data + .bss: the arena, the model struct, the program's buffers
    stack_bytes: int      # reserved at the top of RAM
    heap_bytes: int       # what is left between .bss and the stack: the tokenizer's malloc

    def describe(self, target: Target) -> str:
        kib = lambda b: f"{b / 1024:.0f} KiB"  # noqa: E731
        return (f"flash {kib(self.flash_bytes)} of {kib(target.flash_bytes)}, RAM {kib(self.ram_bytes)} static "
                f"+ {kib(self.stack_bytes)} stack of {kib(target.ram_bytes)}")


def image_path(art: Path, name: str) -> Path:
    return art / "bin" / f"{name}.elf"


def kernels_of(cflags) -> str:
    """Which q8_0 dot product the core was built with: "dsp" (the DSP extension) or "scalar"."""
    return "dsp" if DSP_FLAG in cflags else "scalar"


def build_firmware_image(art: Path, target: Target, cc: str, cflags, name: str, jobs: int = 2) -> str:
    """make in art/ -> bin/<name>.elf; records the image in the manifest; returns a one-line summary."""
    for tool in ("make", tool_beside(cc, "size")):
        if shutil.which(tool) is None:
            raise EdgecError(f"{tool} is not installed; {SETUP_HINT}, or pass --no-build")
    r = subprocess.run(["make", "-C", str(art), f"-j{jobs}", "--no-print-directory"], capture_output=True, text=True)
    if r.returncode != 0:
        raise EdgecError(f"the firmware image did not build: {first_problem(r.stdout + r.stderr)}")
    shutil.rmtree(art / "build", ignore_errors=True)   # objects: `make` in the artifact rebuilds them
    image = image_path(art, name)
    usage = image_usage(image, tool_beside(cc, "size"))
    record_image(art, image, target, usage, kernels_of(cflags))
    return f"bin/{image.name}: {usage.describe(target)}"


def first_problem(log: str) -> str:
    """The first error of a make log (a compiler error, or the linker's region overflow), on one line."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower() or "overflowed" in ln or "undefined reference" in ln:
            return ln[:300]
    return lines[-1][:300] if lines else "no output"


def image_usage(image: Path, size_tool: str) -> ImageUsage:
    """Section sizes from `size -A` (System V format: name, size, address per line)."""
    out = subprocess.run([size_tool, "-A", "-d", str(image)], capture_output=True, text=True, check=True).stdout
    sections = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)\s+\d+\s*$", out, re.MULTILINE)}
    return ImageUsage(flash_bytes=sum(sections.get(s, 0) for s in FLASH_SECTIONS),
                      ram_bytes=sum(sections.get(s, 0) for s in RAM_SECTIONS),
                      stack_bytes=sections.get(".stack", 0), heap_bytes=sections.get(".heap", 0))


def record_image(art: Path, image: Path, target: Target, usage: ImageUsage, kernels: str) -> None:
    """manifest.json's "program" for a firmware image, and the image among the files edgec wrote (so a
    later compile into the same folder may replace it)."""
    path = art / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    board = board_of(target)
    manifest["program"] = {
        "kind": "firmware-image", "image": f"bin/{image.name}", "machine": emulated_machine(target),
        "kernels": kernels, "flash_origin": board.flash_origin, "ram_origin": board.ram_origin,
        "flash_bytes_used": usage.flash_bytes, "ram_bytes_static": usage.ram_bytes,
        "stack_bytes_reserved": usage.stack_bytes, "heap_bytes": usage.heap_bytes}
    manifest.setdefault("files", {})[f"bin/{image.name}"] = hashlib.sha256(image.read_bytes()).hexdigest()
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
