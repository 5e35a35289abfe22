"""`edgec check`: the freestanding check and the stack bound of an artifact's core, as one report."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from edgec.verify.core_ast import clang_args, parse_core
from edgec.verify.core_files import artifact_build_flags, core_files
from edgec.verify.freestanding import ALLOWED_CALLS, check_freestanding
from edgec.verify.stack_bound import StackBound, stack_bound


@dataclass
class CheckReport:
    artifact: Path
    target: str
    sources: list                                   # the core's units, relative to the artifact
    freestanding: list = field(default_factory=list)   # a FreestandingResult per set of flags checked
    stack: StackBound | None = None                 # None when the core does not compile

    @property
    def ok(self) -> bool:
        return (all(r.ok for r in self.freestanding) and self.stack is not None and self.stack.bytes is not None)

    def lines(self) -> list:
        """What was checked, the stack bound, then each problem on a line of its own."""
        out = [f"core of {self.artifact} (target {self.target}): {', '.join(self.sources)}"]
        for r in self.freestanding:
            out.append(f"freestanding ({' '.join(r.clang_args)}): {r.summary()}")
        out.append(self.stack.describe() if self.stack is not None else
                   "stack: not measured: the core does not compile (see above)")
        for r in self.freestanding:
            out.extend(str(v) for v in r.violations)
        if self.stack is not None:
            out.extend(self.stack.problems)
        return out

    def as_json(self) -> dict:
        return {"ok": self.ok, "artifact": str(self.artifact), "target": self.target, "sources": self.sources,
                "freestanding": [r.as_json() for r in self.freestanding],
                "stack": None if self.stack is None else self.stack.as_json()}


def check_artifact(artifact: Path, extra_flag_sets=(), allowed_calls=ALLOWED_CALLS) -> CheckReport:
    """Checks the core as the artifact's target compiles it, and once more per extra flag set (for
    example ["-DEDGEC_SCALAR"], the portable kernels); measures the stack with the target's compiler."""
    files, build = core_files(artifact), artifact_build_flags(artifact)
    report = CheckReport(Path(artifact), build.target, [files.display(s) for s in files.sources])
    base = clang_args(build.cc, build.cflags)
    target_ast = None
    for extra in [(), *extra_flag_sets]:
        args = base + [f for f in extra if f not in base]
        ast = parse_core(files, args)
        target_ast = target_ast or ast
        report.freestanding.append(check_freestanding(files, args, allowed_calls, ast=ast))
    if not target_ast.errors:
        report.stack = stack_bound(files, build.cc, build.cflags, target_ast)
    return report


def measure_stack(artifact: Path) -> StackBound:
    """The stack bound alone, as `edgec compile` records it (model.h's <PREFIX>_STACK_BYTES, the manifest):
    model.c only, since the blob units hold no code (and parsing megabytes of array literal is slow)."""
    files, build = core_files(artifact), artifact_build_flags(artifact)
    files = dataclasses.replace(files, sources=tuple(s for s in files.sources if s.name == "model.c"))
    ast = parse_core(files, clang_args(build.cc, build.cflags))
    return stack_bound(files, build.cc, build.cflags, ast)
