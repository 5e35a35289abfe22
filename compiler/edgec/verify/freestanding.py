"""Is the core freestanding? Judges the libclang walk (core_ast) against what a firmware image offers: no
heap, no stdio, no OS, no libc beyond mem* and libm, and a stack that must have a bound."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from edgec.verify.core_ast import CoreAst, Site, parse_core
from edgec.verify.core_files import CoreFiles

# What the core may call without defining it: memory primitives every firmware libc has, and the float
# math of libm (or edgec's approximations where a profile has none; a profile may pass a shorter list).
ALLOWED_CALLS = frozenset({
    "memcpy", "memset", "memmove", "memcmp",
    "expf", "exp2f", "logf", "log2f", "powf", "sqrtf", "fabsf", "floorf", "ceilf", "roundf",
    "fmaxf", "fminf", "sinf", "cosf", "tanhf",
})
# Headers a freestanding toolchain has (C11 4p6's freestanding set with string.h and math.h, which every
# firmware libc ships), and the compilers' intrinsic headers.
FREESTANDING_HEADERS = frozenset({
    "stddef.h", "stdint.h", "string.h", "math.h", "float.h", "limits.h", "stdbool.h", "stdalign.h",
})
ARM_INTRINSIC_HEADERS = frozenset({"arm_neon.h", "arm_acle.h", "arm_mve.h", "arm_fp16.h", "arm_bf16.h"})
# Builtins that are not compute: a run-time stack size.
FORBIDDEN_BUILTINS = frozenset({"__builtin_alloca", "__builtin_alloca_with_align"})

# Why a known kind of call breaks firmware use, by the names that make it.
CALL_REASONS = [
    ({"malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign", "_mm_malloc", "_mm_free"},
     "allocates: firmware has no heap; the core's memory is the caller's arena"),
    ({"alloca", "__builtin_alloca", "__builtin_alloca_with_align"},
     "grows the stack by a run-time amount: no stack bound exists"),
    ({"printf", "fprintf", "sprintf", "snprintf", "vprintf", "vfprintf", "vsnprintf", "puts", "fputs", "putchar",
      "fputc", "perror", "fopen", "fclose", "fread", "fwrite", "fflush", "getchar", "fgets", "scanf"},
     "does I/O: firmware has no stdio; return a status to the caller instead"),
    ({"exit", "_Exit", "abort", "__assert_fail", "quick_exit", "atexit"},
     "ends the process: firmware has no process to end; return an error code"),
    ({"time", "clock", "clock_gettime", "gettimeofday", "nanosleep", "usleep", "sleep"},
     "needs an OS clock: firmware has none; the caller times the calls"),
]
THREAD_PREFIXES = ("pthread_", "thrd_", "mtx_", "cnd_", "sem_", "atomic_")


@dataclass(frozen=True)
class Violation:
    kind: str          # "call", "mutable-global", "mutable-static", "vla", "recursion", "header", "parse"
    where: str         # "file:line" relative to the artifact, or "" when libclang gave no place
    message: str       # what, and why it breaks firmware use

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass
class FreestandingResult:
    violations: list = field(default_factory=list)
    functions: int = 0          # functions the bundle defines (the kernels' inline ones included)
    calls: int = 0              # call sites in them
    globals: int = 0            # file-scope and function-static variables
    headers: int = 0            # distinct headers the bundle's files include
    indirect_calls: int = 0     # calls through a pointer (the caller's parallel-for, task functions)
    ignored_header_errors: int = 0
    clang_args: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        verdict = "freestanding" if self.ok else f"{len(self.violations)} problem(s)"
        return (f"checked {self.functions} functions, {self.calls} calls, {self.globals} globals, "
                f"{self.headers} headers: {verdict}")

    def as_json(self) -> dict:
        return {"ok": self.ok, "functions": self.functions, "calls": self.calls, "globals": self.globals,
                "headers": self.headers, "indirect_calls": self.indirect_calls,
                "clang_args": self.clang_args, "violations": [str(v) for v in self.violations]}


def is_intrinsic_header(name: str) -> bool:
    base = os.path.basename(name)
    return base.endswith("intrin.h") or base in ARM_INTRINSIC_HEADERS


def call_reason(name: str) -> str:
    for names, why in CALL_REASONS:
        if name in names:
            return why
    if name.startswith(THREAD_PREFIXES):
        return "needs OS threads or atomics: firmware has none; the caller's parallel-for runs the work"
    return "is neither defined in the core nor on the allowlist (mem*, float math): a firmware image links only the core and libm"


class FreestandingJudge:
    """Applies the rules to one CoreAst; each rule adds Violations."""

    def __init__(self, files: CoreFiles, ast: CoreAst, allowed_calls):
        self.files, self.ast, self.allowed = files, ast, frozenset(allowed_calls)
        self.result = FreestandingResult(functions=len(ast.functions), ignored_header_errors=ast.ignored_header_errors,
                                         clang_args=list(ast.clang_args))

    def where(self, site: Site | None) -> str:
        return f"{self.files.display(site.file)}:{site.line}" if site is not None else ""

    def add(self, kind: str, site, message: str) -> None:
        v = Violation(kind, self.where(site), message)
        if v not in self.result.violations:
            self.result.violations.append(v)

    def judge(self) -> FreestandingResult:
        self.parse_errors()
        self.calls()
        self.state()
        self.recursion()
        self.headers()
        return self.result

    def parse_errors(self) -> None:
        for site, message in self.ast.errors:
            self.add("parse", site, f"does not compile for these flags ({message}): the check needs a core that compiles")

    def calls(self) -> None:
        defined = {fn.usr for fn in self.ast.functions.values()}
        for fn in self.ast.functions.values():
            for call in fn.calls:
                self.result.calls += 1
                if call.callee is None:
                    self.result.indirect_calls += 1
                elif call.callee_usr not in defined and not self.call_allowed(call):
                    self.add("call", call.site, f"calls {call.callee}(), which {call_reason(call.callee)}")

    def call_allowed(self, call) -> bool:
        if call.callee in FORBIDDEN_BUILTINS:
            return False
        if call.callee.startswith("__builtin_") or call.callee in self.allowed:
            return True
        return call.declared_in is not None and is_intrinsic_header(call.declared_in)

    def state(self) -> None:
        for var in self.ast.variables:
            if var.scope != "local":
                self.result.globals += 1
            if var.variable_length:
                self.add("vla", var.site, f"variable-length array '{var.name}': its stack size is known only at "
                                          "run time, so no stack bound exists; give it a constant size or use the arena")
            elif var.scope == "global" and not var.const:
                self.add("mutable-global", var.site, f"mutable global '{var.name}': state outside the model struct "
                                                     "makes two models or two instances in one image share it and the "
                                                     "core non-reentrant; make it const or a field of the model struct")
            elif var.scope == "static" and not var.const:
                self.add("mutable-static", var.site, f"mutable function-static '{var.name}': hidden state shared by "
                                                     "every model instance and call; make it const or a field of the model struct")

    def recursion(self) -> None:
        for cycle in call_cycles(self.ast):
            names = " -> ".join(self.ast.functions[u].name for u in cycle + [cycle[0]])
            self.add("recursion", self.ast.functions[cycle[0]].site,
                     f"recursion {names}: a call cycle has no stack bound; write it as a loop")

    def headers(self) -> None:
        seen = set()
        for inc in self.ast.includes:
            seen.add(inc.resolved or inc.spelled)
            if inc.resolved is None:
                self.add("header", inc.site, f"#include \"{inc.spelled}\" is found nowhere: the bundle must hold "
                                             "every header it includes")
            elif not self.in_bundle(inc.resolved) and not self.platform_header(inc.spelled):
                self.add("header", inc.site, f"#include <{inc.spelled}> is outside the bundle ({inc.resolved}): "
                                             "a firmware toolchain has only the freestanding headers "
                                             f"({', '.join(sorted(FREESTANDING_HEADERS))}) and the intrinsic ones")
        self.result.headers = len(seen)

    def in_bundle(self, path: str) -> bool:
        return any(path.startswith(os.path.realpath(d) + os.sep) for d in self.files.include_dirs)

    @staticmethod
    def platform_header(spelled: str) -> bool:
        return spelled in FREESTANDING_HEADERS or ("/" not in spelled and is_intrinsic_header(spelled))


def call_edges(ast: CoreAst) -> dict:
    """usr -> the usrs of the defined functions it may call: its direct calls, and for a call through a
    pointer every function whose address the core takes (the task functions the parallel-for runs)."""
    tasks = sorted(u for u in ast.address_taken if u in ast.functions)
    edges = {}
    for usr, fn in ast.functions.items():
        out = set()
        for call in fn.calls:
            if call.callee is None:
                out.update(tasks)
            elif call.callee_usr in ast.functions:
                out.add(call.callee_usr)
        edges[usr] = sorted(out)
    return edges


def call_cycles(ast: CoreAst) -> list:
    """One cycle (a list of usrs) per strongly connected group of the call graph that can recurse."""
    edges = call_edges(ast)
    cycles = []
    for group in strongly_connected(edges):
        start = min(group)
        if len(group) > 1 or start in edges[start]:
            cycles.append(cycle_through(start, set(group), edges))
    return cycles


def strongly_connected(edges: dict) -> list:
    """Tarjan's algorithm, iterative (a deep kernel call chain must not hit Python's recursion limit)."""
    index, low, on_stack, stack, groups, counter = {}, {}, set(), [], [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def cycle_through(start: str, group: set, edges: dict) -> list:
    """A shortest path start -> ... -> start inside group (breadth first), without the final start."""
    parent, frontier = {}, [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in edges[node]:
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1]
                if child in group and child not in parent:
                    parent[child] = node
                    nxt.append(child)
        frontier = nxt
    return [start]


def check_freestanding(files: CoreFiles, clang_args: list, allowed_calls=ALLOWED_CALLS,
                       ast: CoreAst | None = None) -> FreestandingResult:
    """Walks the core as compiled with clang_args (core_ast.clang_args of the target's compiler and flags)
    and reports every call, state, VLA, recursion and header that breaks firmware use."""
    ast = ast if ast is not None else parse_core(files, clang_args)
    return FreestandingJudge(files, ast, allowed_calls).judge()
