"""The worst-case stack of the core's API: the compiler's frame sizes (-fstack-usage) summed along the
deepest path of the call graph, from every exported function.

The graph comes from gcc's -fcallgraph-info=su (the calls that survived inlining, with each frame) when
the compiler has it, else from the libclang walk (every call in the source: inlined callees then count
twice, which only over-estimates). A call through a pointer is the caller's parallel-for or the core
calling a task function directly: it is modelled as a call of any function whose address the core takes
(the task functions), the conservative bound. Added where -fstack-usage leaves them out: x86's return
address in clang's frames, x86-64's 128-byte red zone under the deepest frame, and LIBRARY_LEAF_BYTES for
the library leaves the core calls (memset, sqrtf: listed in the result), whose frames no .su file holds.
Not counted: the caller's parallel-for's own frame."""
from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgec.errors import EdgecError
from edgec.targets import first_error_line
from edgec.verify.core_ast import CoreAst
from edgec.verify.core_files import CoreFiles
from edgec.verify.freestanding import is_intrinsic_header

INDIRECT = "<through a pointer>"   # the node a call through a pointer goes to

# file:line[:col]:name <tab> bytes <tab> qualifiers (gcc writes the column, clang does not)
SU_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?:(?P<col>\d+):)?(?P<name>[^\t:]+)\t(?P<bytes>\d+)\t(?P<qual>[\w,]+)\s*$")
CI_NODE = re.compile(r'^node: \{ title: "(?P<title>[^"]*)" label: "(?P<label>[^"]*)"')
CI_EDGE = re.compile(r'^edge: \{ sourcename: "(?P<src>[^"]*)" targetname: "(?P<dst>[^"]*)"')
CI_BYTES = re.compile(r"^(?P<bytes>\d+) bytes \((?P<qual>[\w,]+)\)$")


@dataclass(frozen=True)
class Frame:
    name: str          # as the compiler emitted it: a clone is "name.constprop"
    file: str          # real path of the definition
    line: int
    bytes: int
    qualifier: str     # "static", "dynamic,bounded" (bytes is the maximum) or "dynamic" (no bound)

    @property
    def key(self) -> tuple:
        """What names the source function behind a compiled one: a clone keeps the place and the base name."""
        return self.file, self.line, self.name.split(".")[0]

    @property
    def loose_key(self) -> tuple:
        """The same without the line, which a function made by a macro may report differently."""
        return self.file, self.name.split(".")[0]

    @property
    def bounded(self) -> bool:
        return self.qualifier != "dynamic"


@dataclass
class StackGraph:
    frames: dict = field(default_factory=dict)     # node -> Frame, or None for a function outside the core
    edges: dict = field(default_factory=dict)      # node -> callee nodes (INDIRECT for a call through a pointer)
    entries: list = field(default_factory=list)    # the API's exported functions
    tasks: list = field(default_factory=list)      # what a call through a pointer may reach


@dataclass
class StackBound:
    bytes: int | None                              # None when there is no bound (see problems)
    path: list = field(default_factory=list)       # [(function, frame bytes, reached through a pointer)]
    per_entry: dict = field(default_factory=dict)  # exported function -> its bound
    method: str = ""
    largest_frame: Frame | None = None
    red_zone: int = 0                              # bytes below the deepest frame a leaf may use (x86-64)
    library_calls: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    def describe(self) -> str:
        if self.bytes is None:
            return "stack: no bound (" + "; ".join(self.problems) + ")"
        # frames of 0 bytes are functions inlined into their caller: the path reads better without them
        steps = " -> ".join(f"{'[task] ' if task else ''}{name} {n}" for name, n, task in self.path if n or task)
        zone = f" + red zone {self.red_zone}" if self.red_zone else ""
        zone += f" + {LIBRARY_LEAF_BYTES} for library leaves ({', '.join(self.library_calls)})" if self.library_calls else ""
        return f"stack: at most {self.bytes} bytes per call, deepest {steps}{zone} ({self.method})"

    def as_json(self) -> dict:
        return {"bytes": self.bytes, "method": self.method, "problems": self.problems, "red_zone": self.red_zone,
                "path": [{"function": n, "frame_bytes": b, "through_pointer": t} for n, b, t in self.path],
                "per_entry": self.per_entry, "library_calls": self.library_calls,
                "largest_frame": None if self.largest_frame is None else
                {"function": self.largest_frame.name, "bytes": self.largest_frame.bytes}}


def parse_su(text: str) -> list:
    frames = []
    for line in text.splitlines():
        m = SU_LINE.match(line)
        if m:
            frames.append(Frame(m["name"], os.path.realpath(m["file"]), int(m["line"]), int(m["bytes"]), m["qual"]))
    return frames


def parse_ci(text: str, graph: StackGraph) -> None:
    """Adds the nodes and edges of one gcc .ci (VCG) file; a function defined here replaces the bare
    node another unit's call made for it."""
    for line in text.splitlines():
        node, edge = CI_NODE.match(line), CI_EDGE.match(line)
        if node and node["title"] != "__indirect_call":
            frame = ci_frame(node["label"])
            if frame is not None or node["title"] not in graph.frames:
                graph.frames[node["title"]] = frame
            graph.edges.setdefault(node["title"], [])
        elif edge:
            dst = INDIRECT if edge["dst"] == "__indirect_call" else edge["dst"]
            graph.edges.setdefault(edge["src"], []).append(dst)


def ci_frame(label: str) -> Frame | None:
    """name\\nfile:line:col\\nN bytes (qualifier) -> Frame; None for a function compiled elsewhere."""
    parts = label.split("\\n")
    if len(parts) < 3 or not CI_BYTES.match(parts[2]):
        return None
    size = CI_BYTES.match(parts[2])
    place = re.match(r"^(?P<file>.+?):(?P<line>\d+)(?::\d+)?$", parts[1])
    if place is None:
        return None
    return Frame(parts[0], os.path.realpath(place["file"]), int(place["line"]), int(size["bytes"]), size["qual"])


@functools.lru_cache(maxsize=None)
def supports_callgraph_info(cc: str) -> bool:
    """gcc >= 10 writes the call graph with frame sizes (-fcallgraph-info=su); clang does not."""
    with tempfile.TemporaryDirectory(prefix="edgec-ci-") as d:
        src = Path(d) / "probe.c"
        src.write_text("int probe(int x) { return x + 1; }\n")
        try:
            r = subprocess.run([*shlex.split(cc), "-fcallgraph-info=su", "-c", str(src), "-o", str(Path(d) / "probe.o")],
                               capture_output=True, text=True, timeout=120)
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            raise EdgecError(f"cannot run the target's compiler '{cc}' to measure the stack ({e}); install it") from None
        return r.returncode == 0 and (Path(d) / "probe.ci").is_file()


@dataclass(frozen=True)
class StackExtras:
    """Stack a call uses that -fstack-usage does not report."""
    per_frame: int     # x86's return address, which clang's frames leave out (gcc counts it)
    red_zone: int      # x86-64 SysV: a leaf may use 128 bytes below the stack pointer


@functools.lru_cache(maxsize=None)
def compiler_identity(cc: str) -> tuple:
    """(whether cc is clang, the machine it compiles for)."""
    def ask(flag):
        try:
            return subprocess.run([*shlex.split(cc), flag], capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            return ""
    return "clang" in ask("--version"), ask("-dumpmachine").strip()


def stack_extras(cc: str, cflags) -> StackExtras:
    is_clang, machine = compiler_identity(cc)
    x86_64, x86_32 = machine.startswith("x86_64"), bool(re.match(r"i\d86", machine))
    per_frame = (8 if x86_64 else 4 if x86_32 else 0) if is_clang else 0
    return StackExtras(per_frame, 128 if x86_64 and "-mno-red-zone" not in cflags else 0)


def compile_for_stack(files: CoreFiles, sources, cc: str, cflags, out: Path, callgraph: bool) -> list:
    """Compiles each source -c with -fstack-usage (and -fcallgraph-info=su) into out; the .su/.ci paths."""
    written = []
    for i, src in enumerate(sources):
        obj = out / f"{i}-{Path(src).stem}.o"
        cmd = [*shlex.split(cc), *cflags, *(f"-I{Path(d).resolve()}" for d in files.include_dirs),
               "-fstack-usage", *(["-fcallgraph-info=su"] if callgraph else []), "-c", str(Path(src).resolve()),
               "-o", str(obj)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=out, timeout=900)
        except (OSError, subprocess.SubprocessError) as e:
            raise EdgecError(f"cannot run {cc} to measure the stack ({e}); install it or check the artifact's target") from None
        if r.returncode != 0:
            raise EdgecError(f"{cc} cannot compile {files.display(src)} to measure the stack: "
                             f"{first_error_line(r.stderr)}")
        written.append((obj.with_suffix(".su"), obj.with_suffix(".ci") if callgraph else None))
    return written


def graph_from_callgraph_info(ci_files, ast: CoreAst) -> StackGraph:
    graph = StackGraph()
    for ci in ci_files:
        parse_ci(ci.read_text(), graph)
    by_key = {}
    for node, frame in graph.frames.items():
        if frame is not None:
            by_key.setdefault(frame.key, []).append(node)
            by_key.setdefault(frame.loose_key, []).append(node)
    graph.entries = nodes_of([f for f in ast.functions.values() if f.exported], by_key)
    graph.tasks = nodes_of([ast.functions[u] for u in sorted(ast.address_taken) if u in ast.functions], by_key)
    return graph


def lookup(fn, by_key: dict):
    """What by_key holds for a source function: by place and name, else by file and name."""
    exact = by_key.get((fn.site.file, fn.site.line, fn.name))
    return exact if exact is not None else by_key.get((fn.site.file, fn.name))


def nodes_of(functions, by_key: dict) -> list:
    return sorted({node for fn in functions for node in (lookup(fn, by_key) or [])})


def graph_from_ast(frames, ast: CoreAst, extra_bytes: int) -> StackGraph:
    """The libclang call graph with .su frame sizes; a function without a frame was inlined everywhere."""
    by_key = {}
    for f in frames:
        for key in (f.key, f.loose_key):   # the largest of a function's clones
            best = by_key.get(key)
            if best is None or f.bytes > best.bytes or not f.bounded:
                by_key[key] = f
    graph = StackGraph()
    for usr, fn in ast.functions.items():
        su = lookup(fn, by_key)
        graph.frames[usr] = (Frame(fn.name, fn.site.file, fn.site.line, 0, "inlined") if su is None else
                             Frame(su.name, su.file, su.line, su.bytes + extra_bytes, su.qualifier))
        graph.edges[usr] = []
        for call in fn.calls:
            if call.callee is None:
                graph.edges[usr].append(INDIRECT)
            elif call.callee_usr in ast.functions:
                graph.edges[usr].append(call.callee_usr)
            elif not compiled_inline(call):
                graph.frames.setdefault(f"lib:{call.callee}", None)
                graph.edges[usr].append(f"lib:{call.callee}")
        graph.edges[usr] = sorted(set(graph.edges[usr]))
    graph.entries = [u for u, fn in ast.functions.items() if fn.exported]
    graph.tasks = sorted(u for u in ast.address_taken if u in ast.functions)
    return graph


def compiled_inline(call) -> bool:
    """Builtins and intrinsics become instructions in the caller's frame, not calls."""
    return call.callee.startswith("__builtin_") or (call.declared_in is not None and is_intrinsic_header(call.declared_in))


class Recursion(Exception):
    def __init__(self, cycle):
        super().__init__(" -> ".join(cycle))
        self.cycle = cycle


class DeepestPath:
    """The costliest path from each node (frame + deepest callee), memoised; raises Recursion on a cycle."""

    def __init__(self, graph: StackGraph):
        self.graph, self.memo, self.active = graph, {}, []

    def name(self, node) -> str:
        frame = self.graph.frames.get(node)
        return frame.name if frame is not None else str(node).removeprefix("lib:")

    def cost(self, node) -> tuple:
        """(bytes, [(name, frame bytes, through a pointer)]) of the deepest path from node."""
        if node in self.memo:
            return self.memo[node]
        if node in self.active:
            cycle = self.active[self.active.index(node):] + [node]
            raise Recursion([self.name(n) for n in cycle])
        self.active.append(node)
        frame = self.graph.frames.get(node)
        own = frame.bytes if frame is not None else 0
        best = (0, [])
        for callee in self.graph.edges.get(node, []):
            for target, task in ([(t, True) for t in self.graph.tasks] if callee == INDIRECT else [(callee, False)]):
                below, path = self.cost(target)
                if below > best[0] or not best[1]:
                    best = (below, [(p[0], p[1], task if i == 0 else p[2]) for i, p in enumerate(path)])
        self.active.pop()
        self.memo[node] = (own + best[0], [(self.name(node), own, False)] + best[1])
        return self.memo[node]


LIBRARY_LEAF_BYTES = 64   # a libc/libm leaf the core calls (memset, sqrtf): newlib-nano's memset pushes 12 on Cortex-M


def bound_of(graph: StackGraph, method: str, frames, display=str, red_zone: int = 0) -> StackBound:
    result = StackBound(None, method=method, red_zone=red_zone,
                        largest_frame=max(frames, key=lambda f: f.bytes, default=None),
                        library_calls=sorted({n.removeprefix("lib:") for n, f in graph.frames.items()
                                              if f is None and n != INDIRECT}))
    result.problems = [f"{display(f.file)}:{f.line}: {f.name} uses a run-time amount of stack (-fstack-usage: dynamic): "
                       "no bound exists; remove its variable-length array or alloca" for f in frames if not f.bounded]
    if not graph.entries:
        result.problems.append("no exported function (API entry point) was found in the compiled core")
    walker = DeepestPath(graph)
    leaf = LIBRARY_LEAF_BYTES if result.library_calls else 0   # their frames are not in the .su files
    try:
        for entry in graph.entries:
            size, path = walker.cost(entry)
            result.per_entry[walker.name(entry)] = size + red_zone + leaf
            if result.bytes is None or size + red_zone + leaf > result.bytes:
                result.bytes, result.path = size + red_zone + leaf, path
    except Recursion as r:
        result.problems.append(f"recursion {r}: a call cycle has no stack bound")
    if result.problems:
        result.bytes, result.path = None, []
    return result


def stack_bound(files: CoreFiles, cc: str, cflags, ast: CoreAst) -> StackBound:
    """Compiles the core's units that hold code with the target's compiler and flags and returns the
    worst-case stack of any exported function (bytes None, with the problems, when there is none)."""
    sources = ast.sources_with_code or list(files.sources)
    callgraph = supports_callgraph_info(cc)
    extras = stack_extras(cc, list(cflags))
    with tempfile.TemporaryDirectory(prefix="edgec-stack-") as d:
        written = compile_for_stack(files, sources, cc, list(cflags), Path(d), callgraph)
        frames = [f for su, _ in written if su.is_file() for f in parse_su(su.read_text())]
        if not frames and not any(su.is_file() for su, _ in written):
            raise EdgecError(f"{cc} wrote no -fstack-usage file; use a gcc or clang that supports -fstack-usage")
        if callgraph:
            graph = graph_from_callgraph_info([ci for _, ci in written if ci.is_file()], ast)
            method = f"{cc} -fstack-usage -fcallgraph-info=su"
        else:
            graph = graph_from_ast(frames, ast, extras.per_frame)
            method = f"{cc} -fstack-usage over the libclang call graph"
    return bound_of(graph, method, frames, files.display, extras.red_zone)
