"""`edgec check ARTIFACT`: what it checked and the stack bound on a good core (exit 0), each problem on a
line of its own on a bad one (exit 1), the same as JSON, and one line for a folder that is no artifact."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from verify_helpers import edited_copy, stories_core


def edgec(*args):
    return subprocess.run([sys.executable, "-m", "edgec.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def generic_core(tmp_path_factory):
    return stories_core(tmp_path_factory.mktemp("core") / "generic", "generic")


def test_check_passes_and_says_what_it_checked(generic_core):
    r = edgec("check", generic_core)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"core of {generic_core} (target generic): firmware/model.c")
    assert any(l.startswith("freestanding (-std=c11 -DEDGEC_SCALAR): checked ") and l.endswith(": freestanding")
               for l in lines), r.stdout
    assert any(l.startswith("stack: at most ") and "bytes per call" in l for l in lines), r.stdout


def test_check_fails_with_one_line_per_problem(generic_core, tmp_path):
    code = ("#include <stdio.h>\n#include <stdlib.h>\n"
            "void *edgec_test_grab(size_t n) { printf(\"%zu\\n\", n); return malloc(n); }\n")
    art, first = edited_copy(generic_core, tmp_path / "bad", code)
    r = edgec("check", art)
    assert r.returncode == 1, r.stdout + r.stderr
    problems = [l for l in r.stdout.splitlines() if l.startswith("firmware/model.c:")]
    assert len(problems) == 4, r.stdout
    assert any(l.startswith(f"firmware/model.c:{first}: #include <stdio.h>") for l in problems)
    assert any(l.startswith(f"firmware/model.c:{first + 1}: #include <stdlib.h>") for l in problems)
    assert any(l.startswith(f"firmware/model.c:{first + 2}: calls printf()") for l in problems)
    assert any(l.startswith(f"firmware/model.c:{first + 2}: calls malloc()") for l in problems)
    assert ": 4 problem(s)" in r.stdout


def test_check_json(generic_core, tmp_path):
    r = edgec("check", generic_core, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] is True and report["target"] == "generic"
    [fs] = report["freestanding"]
    assert fs["ok"] and fs["functions"] > 0 and fs["violations"] == []
    assert report["stack"]["bytes"] >= report["stack"]["largest_frame"]["bytes"] > 0
    art, _ = edited_copy(generic_core, tmp_path / "bad", "static int edgec_test_state;\nint edgec_test_bump(void) { return ++edgec_test_state; }\n")
    bad = json.loads(edgec("check", art, "--json").stdout)
    assert bad["ok"] is False and len(bad["freestanding"][0]["violations"]) == 1


def test_check_of_a_folder_that_is_no_artifact(tmp_path):
    r = edgec("check", tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().startswith("edgec: error: ") and "no firmware/model.c" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
