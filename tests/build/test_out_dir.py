"""--out: edgec replaces only artifacts it wrote, refuses everything else in one line, and an interrupted
compile leaves the previous artifact as it was."""
import os
import subprocess
import sys

import pytest

from conftest import STORIES

MODEL = [STORIES / "stories260K.bin", "--tokenizer", STORIES / "tok512.bin"]


def edgec(*args, cwd):
    return subprocess.run([sys.executable, "-m", "edgec.cli", "compile", *map(str, MODEL), "--no-build", "-q",
                           *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


def snapshot(root):
    """path -> bytes of every file under root (the state a refused compile must leave untouched)."""
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_refused(r, *words):
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgec: error:"), r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_existing_user_folder_is_refused_and_kept(tmp_path):
    fw = tmp_path / "myfw"
    fw.mkdir()
    (fw / "main.c").write_text("precious\n")
    before = snapshot(tmp_path)
    assert_refused(edgec("--out", "myfw", cwd=tmp_path), "myfw", "not an edgec artifact")
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["myfw"], "temp folder left behind"


@pytest.mark.parametrize("out, words", [
    ("afile", ["afile", "existing file"]),
    ("afile/sub", ["afile", "is a file"]),
    (".", ["current folder"]),
    ("..", ["current folder"]),
    ("/proc/edgec-no-such/x", ["cannot write"]),
])
def test_bad_destinations_touch_nothing(tmp_path, out, words):
    work = tmp_path / "work"
    work.mkdir()
    (work / "afile").write_text("keep me\n")
    before = snapshot(tmp_path)
    assert_refused(edgec("--out", out, cwd=work), *words)
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in work.iterdir()) == ["afile"]


def test_artifact_is_replaced_and_readable(tmp_path):
    assert edgec("--out", "art", "--ctx", 64, cwd=tmp_path).returncode == 0
    assert edgec("--out", "art", "--ctx", 128, cwd=tmp_path).returncode == 0
    assert '"max_ctx": 128' in (tmp_path / "art" / "manifest.json").read_text()
    assert oct((tmp_path / "art").stat().st_mode & 0o777) != oct(0o700), "artifact folder is private (mkdtemp mode)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"], "a temp or old folder was left behind"


@pytest.mark.parametrize("change, words", [
    (lambda art: (art / "notes.txt").write_text("mine"), ["notes.txt", "did not write"]),
    (lambda art: (art / "firmware" / "model.c").write_text("edited"), ["firmware/model.c", "changed"]),
    (lambda art: (art / "bin").mkdir() or (art / "bin" / "other").write_text("x"), ["bin/other"]),
    (lambda art: (art / "manifest.json").write_text('{"name": "x"}'), ["not written by edgec"]),
])
def test_artifact_with_user_changes_is_refused(tmp_path, change, words):
    assert edgec("--out", "art", "--ctx", 64, cwd=tmp_path).returncode == 0
    change(tmp_path / "art")
    before = snapshot(tmp_path)
    assert_refused(edgec("--out", "art", "--ctx", 128, cwd=tmp_path), *words)
    assert snapshot(tmp_path) == before


def test_user_build_folder_does_not_block_a_recompile(tmp_path):
    assert edgec("--out", "art", "--ctx", 64, cwd=tmp_path).returncode == 0
    (tmp_path / "art" / "build").mkdir()
    (tmp_path / "art" / "build" / "CMakeCache.txt").write_text("cmake's own\n")
    assert edgec("--out", "art", "--ctx", 128, cwd=tmp_path).returncode == 0


def test_interrupt_at_every_stage_keeps_previous_artifact(tmp_path, monkeypatch):
    """Ctrl-C (KeyboardInterrupt) raised inside each stage of the compile: the earlier artifact is intact
    and nothing is left beside it."""
    from edgec import compile as compile_mod
    from conftest import compile_artifact
    out = tmp_path / "art"
    compile_artifact(STORIES / "stories260K.bin", out, tokenizer=str(STORIES / "tok512.bin"), ctx=64)
    before = snapshot(out)
    tarball = tmp_path / "stories260k-host.tar.gz"   # the release tarball beside it
    tarball_before = tarball.read_bytes()

    def interrupt(*_a, **_k):
        raise KeyboardInterrupt

    for stage in ("write_blob", "write_sources", "build_artifact", "verify_binary", "seal_artifact", "replace_artifact"):
        with monkeypatch.context() as m:
            m.setattr(compile_mod, stage, interrupt)
            with pytest.raises(KeyboardInterrupt):
                compile_artifact(STORIES / "stories260K.bin", out, tokenizer=str(STORIES / "tok512.bin"), ctx=128)
        assert snapshot(out) == before, stage
        assert sorted(p.name for p in tmp_path.iterdir()) == ["art", tarball.name], stage
        assert tarball.read_bytes() == tarball_before, stage


def test_killed_compile_keeps_previous_artifact(tmp_path):
    """SIGKILL in the middle of a compile (no cleanup at all): the previous artifact is untouched."""
    assert edgec("--out", "art", "--ctx", 64, cwd=tmp_path).returncode == 0
    before = snapshot(tmp_path / "art")
    code = ("import os, signal, sys\n"
            "from edgec import compile as c\n"
            "def die(*a, **k): os.kill(os.getpid(), signal.SIGKILL)\n"
            "c.write_sources = die\n"
            "from edgec.cli import main\n"
            f"main(['compile', {str(MODEL[0])!r}, '--tokenizer', {str(MODEL[2])!r}, '--out', 'art', '--ctx', '128'])\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, timeout=300,
                       env={**os.environ})
    assert r.returncode == -9
    assert snapshot(tmp_path / "art") == before
    assert [p for p in tmp_path.iterdir() if ".tmp-" in p.name], "the killed compile's staging folder is gone?"
    assert edgec("--out", "art", "--ctx", 128, cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"], "the stale staging folder was not cleaned"
