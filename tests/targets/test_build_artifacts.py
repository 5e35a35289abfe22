"""examples/ci/build-artifacts.sh, the script the CI example runs per target: compiled, smoke-tested
under emulation, verified and collected with checksums, for two targets."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from conftest import REPO, STORIES, STORIES_TEXT


def test_two_targets_built_tested_and_collected(tmp_path):
    dist = tmp_path / "dist"
    env = {**os.environ, "SMOKE_PROMPT": "Once upon a time", "SMOKE_TOKENS": "16"}
    bin_dir = Path(sys.executable).parent   # the edgec console script of this Python
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    r = subprocess.run(["bash", str(REPO / "examples" / "ci" / "build-artifacts.sh"), str(STORIES / "stories260K.bin"),
                        "generic,pi-zero", str(dist), "--", "--tokenizer", str(STORIES / "tok512.bin"), "--ctx", "256"],
                       capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    names = ["stories260k-generic", "stories260k-pi-zero"]
    sums = dict(reversed(line.split("  ")) for line in (dist / "SHA256SUMS").read_text().splitlines())
    assert sorted(sums) == [f"{n}.tar.gz" for n in names]
    for name in names:
        tarball = dist / f"{name}.tar.gz"
        assert hashlib.sha256(tarball.read_bytes()).hexdigest() == sums[tarball.name]
        with tarfile.open(tarball) as tf:
            assert f"{name}/bin/stories260k" in tf.getnames() and f"{name}/manifest.json" in tf.getnames()
        smoke = "Once upon a time" + (dist / f"{name}.smoke.txt").read_text().rstrip()   # the prompt's continuation
        assert len(smoke) > 40 and STORIES_TEXT.startswith(smoke), smoke
    assert {o["target"]: o["status"] for o in json.loads((dist / "summary.json").read_text())} == \
        {"generic": "built", "pi-zero": "built"}
