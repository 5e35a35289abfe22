"""`edgec compile MODEL --target a,b,c` / `--target all-linux`: one artifact per target and one summary table.

Each target is compiled as `edgec compile --target T` would (compile.compile_model), into
out/<name>-<target>/ (or DIR/<name>-<target>/ under --out DIR). A target whose compiler is not installed
is listed as skipped with the packages to install; a target that fails (too big, build error) is listed
with its one-line error and the rest go on; the exit status is non-zero when any failed.
"""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from edgec.build.run_artifact import emulator_command
from edgec.errors import EdgecError
from edgec.plan.fit_estimate import decode_estimate, streamed_bytes_per_token
from edgec.targets import Target, load_target, target_names

ALL_LINUX = "all-linux"   # every Linux device profile (not host: it is this machine, under another name)


@dataclass
class TargetOutcome:
    target: str
    status: str                 # "built", "failed", "skipped"
    detail: str = ""            # the error, or the packages to install
    out_dir: str = ""
    kernels: str = ""
    weights_bytes: int = 0
    memory_needed_bytes: int = 0
    ram_bytes: int = 0
    binary_bytes: int = 0
    decode_tok_s_estimate: float | None = None
    build_seconds: float = 0.0


def expand_targets(spec: str) -> list:
    """The target names a --target value stands for: a comma list, or all-linux."""
    if spec == ALL_LINUX:
        return [n for n in target_names() if n != "host" and load_target(n).kind == "linux"]
    names = [n.strip() for n in spec.split(",")]
    if any(not n for n in names):
        raise EdgecError(f"--target '{spec}' has an empty name; give names separated by commas, e.g. pi-zero,pi5")
    for n in names:
        if n != ALL_LINUX:
            load_target(n)   # an unknown name fails here, before any work
    return list(dict.fromkeys(names))


def is_multi_target(spec: str) -> bool:
    return spec == ALL_LINUX or "," in spec


def toolchain_missing(target: Target) -> str:
    """"" when the profile's compiler builds here, else what to install."""
    try:
        target.find_cc()
    except EdgecError:
        return f"apt-get install {' '.join(target.packages or ['gcc'])}"
    return ""


def compile_many(opts, say=print) -> list:
    """Compiles opts.model for every target opts.target names; returns a TargetOutcome per target."""
    from edgec.compile import compile_model
    names = expand_targets(opts.target)
    outcomes = []
    for k, name in enumerate(names, 1):
        target = load_target(name)
        missing = toolchain_missing(target)
        if missing:
            say(f"[{k}/{len(names)}] {name}: skipped, its compiler is not installed ({missing})")
            outcomes.append(TargetOutcome(name, "skipped", missing, ram_bytes=target.ram_bytes))
            continue
        say(f"[{k}/{len(names)}] {name}: compiling")
        start = time.monotonic()
        try:
            one = dataclasses.replace(opts, target=name, quiet=True,
                                      out=str(Path(opts.out) / artifact_folder(opts, name)) if opts.out else None)
            result = compile_model(one)
        except EdgecError as e:
            say(f"[{k}/{len(names)}] {name}: failed: {e}")
            outcomes.append(TargetOutcome(name, "failed", str(e), ram_bytes=target.ram_bytes,
                                          build_seconds=time.monotonic() - start))
            continue
        outcomes.append(built_outcome(target, result, time.monotonic() - start))
    return outcomes


def artifact_folder(opts, target_name: str) -> str:
    """<name>-<target> as a single compile names its default folder (the model's name needs loading it,
    so --name or the model argument's stem stands in under --out DIR)."""
    from edgec.compile import sanitize_name
    from edgec.frontends.model_registry import resolve_model
    _, alias = resolve_model(opts.model)
    name = sanitize_name(opts.name or alias or Path(opts.model).stem)
    return f"{name}-{target_name}"


def built_outcome(target: Target, result, seconds: float) -> TargetOutcome:
    m = result.manifest
    sizes = m["sizes"]
    per_token = streamed_bytes_per_token(((t["name"], t["bytes"]) for t in m["tensors"]), m["model"]["tied_embeddings"])
    binary = Path(result.binary)
    kernels = kernels_report(binary, target) or m["target"]["isa"]
    return TargetOutcome(target.name, "built", "", str(result.out_dir), kernels, sizes["weights_bytes"],
                         sizes["memory_needed_bytes"], target.ram_bytes,
                         binary.stat().st_size if binary.exists() else 0,
                         decode_estimate(target.bandwidth_gbs, per_token), seconds)


def kernels_report(binary: Path, target: Target) -> str:
    """The kernel path the built program reports (`--info`, under its emulator); "" where it cannot run here."""
    if target.kind != "linux" or not binary.is_file() or (target.run_prefix and not shutil.which(target.run_prefix[0])):
        return ""
    try:
        r = subprocess.run([*emulator_command(target.run_prefix), str(binary), "--info"], capture_output=True,
                           text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return ""
    found = re.search(r"^kernels: (\S+)", r.stdout, re.M)
    return found.group(1) if found else ""


def mib(b: int) -> str:
    return f"{b / 2**20:.1f} MiB" if b else "-"


def summary_table(outcomes: list) -> list:
    """The lines of the table edgec compile prints after several targets."""
    head = f"{'target':<12} {'kernels':<13} {'weights':>10} {'memory':>10} {'fits':<4} {'binary':>10} {'est. decode':>12} {'build':>7}"
    lines = [head]
    for o in outcomes:
        if o.status != "built":
            lines.append(f"{o.target:<12} {o.status}: {o.detail}")
            continue
        est = f"{o.decode_tok_s_estimate:.0f} tok/s" if o.decode_tok_s_estimate else "-"
        fits = "yes" if not o.ram_bytes or o.memory_needed_bytes <= o.ram_bytes else "no"
        lines.append(f"{o.target:<12} {o.kernels:<13} {mib(o.weights_bytes):>10} {mib(o.memory_needed_bytes):>10} "
                     f"{fits:<4} {mib(o.binary_bytes):>10} {est:>12} {o.build_seconds:>6.1f}s")
    lines.append("est. decode: weight bytes per token against the profile's memory bandwidth (an estimate, "
                 "not a measurement; edgec bench measures)")
    return lines


def write_summary_json(outcomes: list, path: Path) -> None:
    """The table as JSON for CI (written through a temporary file, then renamed)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps([dataclasses.asdict(o) for o in outcomes], indent=2) + "\n")
    tmp.replace(path)
