"""The generated core is freestanding for every kind of target, and each kind of edit that would break
firmware use is caught with its own message at its own line."""
from __future__ import annotations

import shutil

import pytest

from edgec.verify.core_ast import clang_args, parse_core
from edgec.verify.core_files import artifact_build_flags, core_files
from edgec.verify.freestanding import ALLOWED_CALLS, check_freestanding
from edgec.verify.stack_bound import stack_bound
from verify_helpers import TARGETS, edited_copy, stories_core


@pytest.fixture(scope="module")
def cores(tmp_path_factory):
    return {t: stories_core(tmp_path_factory.mktemp("core") / t, t) for t in TARGETS}


def check(artifact):
    files, build = core_files(artifact), artifact_build_flags(artifact)
    return check_freestanding(files, clang_args(build.cc, build.cflags))


@pytest.mark.parametrize("target", TARGETS)
def test_generated_core_is_freestanding(cores, target):
    result = check(cores[target])
    assert result.ok, "\n".join(map(str, result.violations))
    assert result.functions >= 13 and result.calls > 50 and result.headers >= 5, result.summary()
    assert result.indirect_calls >= 1   # the caller's parallel-for and the task functions
    assert result.summary().endswith(": freestanding")


def test_x86_core_is_checked_on_its_intrinsics_path(cores):
    """The host core (x86-64, where the suite runs) under -march=native walks the x86 kernels: more
    functions than the scalar path, and their _mm* calls accepted as intrinsics."""
    native, scalar = check(cores["host"]), check(cores["generic"])
    assert native.ok and scalar.ok
    assert native.functions > scalar.functions and native.calls > scalar.calls
    files, build = core_files(cores["host"]), artifact_build_flags(cores["host"])
    ast = parse_core(files, clang_args(build.cc, build.cflags))
    assert any(c.callee and c.callee.startswith("_mm") for fn in ast.functions.values() for c in fn.calls)


def test_the_bundle_is_the_fallback_layout_too(cores, tmp_path):
    """An artifact from before firmware/ (src/model.c with runtime/core/) is read the same way."""
    old = tmp_path / "old"
    (old / "src").mkdir(parents=True)
    shutil.copy(cores["generic"] / "firmware" / "model.c", old / "src" / "model.c")
    shutil.copy(cores["generic"] / "firmware" / "model.h", old / "src" / "model.h")
    shutil.copytree(cores["generic"] / "firmware" / "kernels", old / "runtime" / "core" / "kernels")
    files = core_files(old)
    assert [p.name for p in files.sources] == ["model.c"]
    result = check_freestanding(files, ["-std=c11", "-DEDGEC_SCALAR"])
    assert result.ok, "\n".join(map(str, result.violations))


EDITS = {
    "malloc": ("call", "calls malloc(), which allocates", "firmware has no heap",
               "#include <stddef.h>\nvoid *malloc(size_t n);\n"
               "void *edgec_test_grab(size_t n) { return malloc(n); }\n", 3),
    "printf": ("call", "calls printf(), which does I/O", "firmware has no stdio",
               "int printf(const char *fmt, ...);\n"
               "void edgec_test_say(int x) { printf(\"%d\\n\", x); }\n", 2),
    "mutable-global": ("mutable-global", "mutable global 'edgec_test_calls'", "two models or two instances in one image",
                       "static int edgec_test_calls;\n"
                       "int edgec_test_count(void) { return ++edgec_test_calls; }\n", 1),
    "mutable-static": ("mutable-static", "mutable function-static 'n'", "shared by every model instance",
                       "int edgec_test_count(void) {\n    static int n;\n    return ++n;\n}\n", 2),
    "vla": ("vla", "variable-length array 'buf'", "no stack bound exists",
            "float edgec_test_sum(int n) {\n    float buf[n];\n    for (int i = 0; i < n; i++) buf[i] = (float)i;\n"
            "    return n > 0 ? buf[n - 1] : 0.0f;\n}\n", 2),
    "recursion": ("recursion", "recursion edgec_test_down -> edgec_test_down", "no stack bound",
                  "static int edgec_test_down(int n) { return n > 0 ? edgec_test_down(n - 1) : 0; }\n"
                  "int edgec_test_entry(int n) { return edgec_test_down(n); }\n", 1),
    "mutual-recursion": ("recursion", "edgec_test_ping -> edgec_test_pong -> edgec_test_ping", "no stack bound",
                         "static int edgec_test_pong(int n);\n"
                         "static int edgec_test_ping(int n) { return n > 0 ? edgec_test_pong(n - 1) : 0; }\n"
                         "static int edgec_test_pong(int n) { return n > 0 ? edgec_test_ping(n - 1) : 1; }\n"
                         "int edgec_test_entry(int n) { return edgec_test_ping(n); }\n", 2),
    "include-stdio": ("header", "#include <stdio.h> is outside the bundle", "a firmware toolchain has only the freestanding headers", "#include <stdio.h>\n", 1),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edited_core_fails_with_its_own_message(cores, tmp_path, edit):
    kind, what, why, code, line_in_edit = EDITS[edit]
    art, first = edited_copy(cores["generic"], tmp_path / "edited", code)
    result = check(art)
    assert not result.ok
    assert {v.kind for v in result.violations} == {kind}, "\n".join(map(str, result.violations))
    [v] = result.violations
    assert what in v.message and why in v.message, str(v)
    assert str(v).startswith(f"firmware/model.c:{first + line_in_edit - 1}: "), str(v)


# Recursion the compiler cannot turn into a loop (a tail call it would): two calls, one not in tail position.
TREE_RECURSION = ("static int edgec_test_fib(int n) { return n < 2 ? n : edgec_test_fib(n - 1) + edgec_test_fib(n - 2); }\n"
                  "int edgec_test_entry(int n) { return edgec_test_fib(n); }\n")


@pytest.mark.parametrize("code, problem", [(EDITS["vla"][3], "dynamic"), (TREE_RECURSION, "recursion")],
                         ids=["vla", "recursion"])
def test_an_unbounded_stack_is_refused_by_the_stack_bound_too(cores, tmp_path, code, problem):
    """A VLA shows as a "dynamic" frame in -fstack-usage, recursion as a cycle: no bound either way."""
    art, _ = edited_copy(cores["generic"], tmp_path / "edited", code)
    files, build = core_files(art), artifact_build_flags(art)
    ast = parse_core(files, clang_args(build.cc, build.cflags))
    bound = stack_bound(files, build.cc, build.cflags, ast)
    assert bound.bytes is None and bound.path == []
    assert any(problem in p for p in bound.problems), bound.problems
    assert "no bound" in bound.describe()


def test_a_profile_can_restrict_the_math_it_allows(cores):
    """The allowlist is a parameter: a profile without libm's sqrtf sees the core's sqrtf calls."""
    files, build = core_files(cores["generic"]), artifact_build_flags(cores["generic"])
    result = check_freestanding(files, clang_args(build.cc, build.cflags), ALLOWED_CALLS - {"sqrtf"})
    assert result.violations and all(v.kind == "call" and "sqrtf()" in v.message for v in result.violations)
