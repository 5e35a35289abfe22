"""The stack bound: an exact sum on a hand-written chain, the task functions behind a call through a
pointer, and at least the deepest frame of the generated core on every target and compiler."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from edgec.verify.core_ast import clang_args, parse_core
from edgec.verify.core_files import CoreFiles, artifact_build_flags, core_files
from edgec.verify.stack_bound import parse_su, stack_bound, stack_extras, supports_callgraph_info
from verify_helpers import TARGETS, stories_core

# a -> b -> c with local arrays of 100, 200 and 300 bytes; noinline keeps three frames.
CHAIN_C = """\
#define KEEP __attribute__((noinline))

KEEP int chain_c(int x) {
    volatile unsigned char buf[300];
    for (int i = 0; i < 300; i++) buf[i] = (unsigned char)(x + i);
    return buf[x % 300];
}

KEEP int chain_b(int x) {
    volatile unsigned char buf[200];
    for (int i = 0; i < 200; i++) buf[i] = (unsigned char)(x * i);
    return buf[x % 200] + chain_c(x + 1);
}

int chain_a(int x) {
    volatile unsigned char buf[100];
    for (int i = 0; i < 100; i++) buf[i] = (unsigned char)(x - i);
    return buf[x % 100] + chain_b(x + 2);
}
"""

# The core's shape: an entry hands task functions to the caller's parallel-for through a pointer.
TASKS_C = """\
typedef void (*task_fn)(void *arg, int ith, int nth);
typedef void (*parallel_fn)(void *pool, task_fn fn, void *arg);

static void small_task(void *arg, int ith, int nth) {
    volatile float buf[16];
    for (int i = 0; i < 16; i++) buf[i] = (float)(ith + nth + i);
    *(float *)arg = buf[ith % 16];
}

static void big_task(void *arg, int ith, int nth) {
    volatile float buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (float)(ith * nth + i);
    *(float *)arg = buf[ith % 1000];
}

float run_tasks(parallel_fn parallel, void *pool) {
    float out = 0.0f;
    parallel(pool, small_task, &out);
    parallel(pool, big_task, &out);
    return out;
}
"""


def bundle_of(tmp_path: Path, code: str) -> CoreFiles:
    (tmp_path / "core.c").write_text(code)
    return CoreFiles(tmp_path, (tmp_path / "core.c",), (tmp_path,))


def bound_for(files: CoreFiles, cc: str, cflags=("-O2",)):
    ast = parse_core(files, clang_args(cc, list(cflags)))
    return stack_bound(files, cc, list(cflags), ast)


def su_frames(files: CoreFiles, cc: str, tmp_path: Path) -> dict:
    """The .su frame of each function, compiled here the same way."""
    obj = tmp_path / "probe.o"
    subprocess.run([cc, "-O2", "-fstack-usage", "-c", str(files.sources[0]), "-o", str(obj)], check=True)
    return {f.name: f.bytes for f in parse_su(obj.with_suffix(".su").read_text())}


@pytest.mark.parametrize("cc", ["gcc", "clang", "aarch64-linux-gnu-gcc"])
def test_a_chain_sums_its_three_frames_exactly(tmp_path, cc):
    files = bundle_of(tmp_path, CHAIN_C)
    bound = bound_for(files, cc)
    frames = su_frames(files, cc, tmp_path)
    extras = stack_extras(cc, ["-O2"])
    expected = sum(frames[f] + extras.per_frame for f in ("chain_a", "chain_b", "chain_c")) + extras.red_zone
    assert bound.problems == []
    assert bound.bytes == expected, (bound.describe(), frames)
    assert bound.bytes >= 100 + 200 + 300   # the arrays themselves
    assert [name for name, _, _ in bound.path] == ["chain_a", "chain_b", "chain_c"]
    assert bound.per_entry["chain_c"] < bound.per_entry["chain_b"] < bound.per_entry["chain_a"] == bound.bytes


def test_gcc_measures_from_its_call_graph_and_clang_from_the_ast(tmp_path):
    files = bundle_of(tmp_path, CHAIN_C)
    assert supports_callgraph_info("gcc") and not supports_callgraph_info("clang")
    assert "-fcallgraph-info" in bound_for(files, "gcc").method
    assert "libclang call graph" in bound_for(files, "clang").method


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_a_call_through_a_pointer_reaches_the_largest_task(tmp_path, cc):
    files = bundle_of(tmp_path, TASKS_C)
    bound = bound_for(files, cc)
    names = [name for name, _, _ in bound.path]
    assert names == ["run_tasks", "big_task"], bound.describe()
    assert bound.path[1][2] is True   # reached through the pointer
    assert bound.bytes >= 4000 and "[task] big_task" in bound.describe()


@pytest.fixture(scope="module")
def cores(tmp_path_factory):
    return {t: stories_core(tmp_path_factory.mktemp("core") / t, t) for t in TARGETS}


@pytest.mark.parametrize("target", TARGETS)
def test_the_generated_core_has_a_bound_above_its_deepest_frame(cores, target):
    """host: clang (frames over the libclang graph); generic: gcc's call graph; pi-zero: aarch64-linux-gnu-gcc."""
    art = cores[target]
    files, build = core_files(art), artifact_build_flags(art)
    ast = parse_core(files, clang_args(build.cc, build.cflags))
    bound = stack_bound(files, build.cc, build.cflags, ast)
    assert bound.problems == [] and bound.bytes is not None, bound.problems
    assert bound.bytes >= bound.largest_frame.bytes > 0
    prefix = json.loads((art / "manifest.json").read_text())["prefix"]
    api = {f"{prefix}_model_feed", f"{prefix}_model_step", f"{prefix}_model_feed_slots", f"{prefix}_model_init"}
    assert api <= set(bound.per_entry), sorted(bound.per_entry)
    assert bound.path[0][0] in api and max(bound.per_entry.values()) == bound.bytes
    # the forward pass runs its matrix and attention work as task functions: the deepest path goes through one
    assert any(through for _, _, through in bound.path), bound.describe()
