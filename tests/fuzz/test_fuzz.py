"""The fuzz suite (tests/fuzz/): every harness runs briefly on its committed seed corpus, and every
committed crash file is replayed, so each bug a campaign found stays fixed.  Long campaigns:
tests/fuzz/run.sh --minutes N.  EDGEC_FUZZ_SECONDS sets the per-harness time here (default 15)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harnesses import CORPUS, CRASHES, LIBFUZZER_FLAGS, all_names, command  # noqa: E402

SECONDS = int(os.environ.get("EDGEC_FUZZ_SECONDS", "15"))
NAMES = all_names()
WITH_CRASHES = [n for n in NAMES if any(p.is_file() for p in (CRASHES / n).glob("*"))]


def finding(r) -> str:
    """The part of a harness's output that explains a failure."""
    out = r.stdout + r.stderr
    keep = [l for l in out.splitlines() if "ERROR" in l or "SUMMARY" in l or "Traceback" in l or "Error" in l
            or "written to" in l or l.startswith("    ")]
    return "\n".join(keep[-40:]) or out[-3000:]


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    if not shutil.which("clang"):
        pytest.fail("clang is not installed: examples/setup.sh installs it")
    return tmp_path_factory.mktemp("fuzz_bin")


def test_every_harness_has_seeds():
    assert NAMES, "no harnesses in tests/fuzz"
    for name in NAMES:
        seeds = list((CORPUS / name).glob("*"))
        assert seeds, f"{name} has no seed corpus: run python tests/fuzz/make_corpus.py"
        assert all(p.stat().st_size < 64 << 10 for p in seeds), f"{name}: seed over 64 KiB"


@pytest.mark.timeout(SECONDS + 600)
@pytest.mark.parametrize("name", NAMES)
def test_fuzz_briefly(name, build_dir, tmp_path):
    """A short, bounded campaign: no exception other than EdgecError, no sanitizer report, no hang."""
    cmd = command(name, build_dir)
    new = tmp_path / "new"
    new.mkdir()
    r = subprocess.run([*cmd, f"-max_total_time={SECONDS}", *LIBFUZZER_FLAGS, f"-artifact_prefix={tmp_path}/",
                        str(new), str(CORPUS / name)], capture_output=True, text=True, timeout=SECONDS + 300,
                       cwd=tmp_path)
    found = [p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-", "leak-"))]
    assert r.returncode == 0 and not found, f"{name} found {found}:\n{finding(r)}"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", WITH_CRASHES)
def test_replay_committed_crashes(name, build_dir, tmp_path):
    files = sorted(p for p in (CRASHES / name).glob("*") if p.is_file())
    r = subprocess.run([*command(name, build_dir), *LIBFUZZER_FLAGS, *map(str, files)], capture_output=True,
                       text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, f"{name}: a committed crash input fails again:\n{finding(r)}"
