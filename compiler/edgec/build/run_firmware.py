"""Running a microcontroller artifact's firmware image (bin/<name>.elf) on this machine: under the profile's
qemu-system-arm board, the program's flags passed as semihosting's command line, its output (semihosting,
to stdout) and exit status (SYS_EXIT_EXTENDED) those of qemu.

`edgec run ARTIFACT [flags]` reaches open_firmware from run_artifact.open_artifact; `edgec compile`
checks a fresh image with verify_image."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgec.build.firmware_image import SETUP_HINT, image_path
from edgec.build.run_artifact import Artifact
from edgec.codegen.mcu_program import emulated_machine
from edgec.errors import EdgecError
from edgec.escaping import shell_word
from edgec.targets import Target, load_target, target_names

SEMIHOSTING_OPTION = "-semihosting-config"
VERIFY_TOKENS = 4          # what `edgec compile` generates to check a fresh image
VERIFY_TIMEOUT_S = 120     # an image that faults in a loop never exits by itself


@dataclass
class FirmwareArtifact(Artifact):
    """An artifact whose program is a firmware image: command() is its qemu-system-arm command line."""

    def command(self, *args) -> list:
        return qemu_command(self.emulator, self.binary, [str(a) for a in args])


def is_firmware(manifest: dict) -> bool:
    """Whether an artifact's program is a firmware image: its build says so, or its target is a microcontroller."""
    program = manifest.get("program")
    if isinstance(program, dict) and program.get("kind") == "firmware-image":
        return True
    target = manifest.get("target", {}).get("name")
    return target in target_names() and load_target(target).kind == "mcu"


def open_firmware(folder: Path, manifest: dict) -> FirmwareArtifact:
    """The artifact at folder (manifest already read) as a firmware image this machine can run."""
    name, target = manifest["name"], manifest["target"]["name"]
    image = image_path(folder, name)
    if not image.is_file():
        raise EdgecError(f"{folder} has no bin/{name}.elf (compiled with --no-build?); build it with "
                         f"`make -C {shlex.quote(str(folder))}` or recompile it with `edgec compile`")
    if target not in target_names():
        raise EdgecError(f"{folder} is a firmware image for target '{target}', which this edgec does not know; "
                         "recompile it with `edgec compile`")
    profile = load_target(target)
    check_emulator(profile)
    return FirmwareArtifact(folder, manifest, image, list(profile.run_prefix))


def check_emulator(profile: Target) -> None:
    if not profile.run_prefix:
        raise EdgecError(f"target {profile.name} names no emulator (run_prefix); flash the image to the board instead")
    if shutil.which(profile.run_prefix[0]) is None:
        raise EdgecError(f"{profile.run_prefix[0]} is not installed, so the {profile.name} firmware image cannot run "
                         f"here; {SETUP_HINT}")


def qemu_option_value(text: str) -> str:
    """text inside a qemu -option key=value list: a comma is written twice."""
    return text.replace(",", ",,")


def qemu_command(run_prefix: list, image: Path, args: list) -> list:
    """run_prefix (ending in -kernel) with the image and the program's flags.  The flags travel as
    semihosting's command line, "<image name> <flags, shell-quoted>": the firmware splits it as a shell
    would (runtime/mcu/cmdline.c), whatever spaces the image's path has."""
    words = [w for w in run_prefix if w != "-kernel"]
    line = shlex.join([image.name, *args])
    if SEMIHOSTING_OPTION in words[:-1]:
        i = words.index(SEMIHOSTING_OPTION) + 1
        words[i] = f"{words[i]},arg={qemu_option_value(line)}"
        return [*words, "-kernel", str(image)]
    return [*words, "-kernel", str(image), "-append", shlex.join(args)]


def run_image(image: Path, profile: Target, args: list, timeout: float = VERIFY_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Runs the image to its end, capturing what it writes; a run past timeout is an EdgecError."""
    cmd = qemu_command(profile.run_prefix, image, [str(a) for a in args])
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EdgecError(f"the firmware image ran past {timeout:.0f}s under {profile.run_prefix[0]} "
                         "(a fault loop?); this is an edgec bug, please report it") from None


STACK_REPORT = re.compile(r"stack used: (\d+) bytes by generation .*?, (\d+) of (\d+) bytes in all")


def verify_image(image: Path, profile: Target) -> str:
    """The fresh image starts on the emulated board, loads the model and the tokenizer and generates a few
    tokens; returns a note (what it used of the stack), or why it was not run."""
    if not profile.run_prefix or shutil.which(profile.run_prefix[0]) is None:
        return f"not run: {profile.run_prefix[0] if profile.run_prefix else 'no emulator'} is not installed ({SETUP_HINT})"
    r = run_image(image, profile, ["-n", VERIFY_TOKENS, "--print-ids"])
    report = STACK_REPORT.search(r.stdout)
    if r.returncode != 0 or report is None:
        last = (r.stdout.strip().splitlines() or r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
        raise EdgecError(f"the firmware image failed its self-check under {profile.run_prefix[0]} ({last[:200]}); "
                         "this is an edgec bug, please report it")
    return (f"under {profile.run_prefix[0]} -M {emulated_machine(profile)}: stack {report.group(1)} bytes by the model, "
            f"{report.group(2)} of {report.group(3)} in all")


def firmware_run_instructions(out_dir: Path, name: str, profile: Target, example: str) -> list:
    """The "run it:" lines `edgec compile` prints for a firmware image: here on the emulated board, and
    on a real one."""
    board = f"{profile.run_prefix[0]} -M {emulated_machine(profile)}" if profile.run_prefix else "no emulator"
    return [f"run it:   edgec run {shell_word(out_dir)} {example}   (here on {board})",
            f"          on a board: flash {shell_word(f'{out_dir}/bin/{name}.elf')} with its debug probe; "
            "the output comes over semihosting"]
