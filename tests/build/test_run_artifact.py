"""`edgec run ARTIFACT [program flags]`: the program natively or under its target's emulator, with the
program's flags, streams and exit code; one-line errors for anything that is not a runnable artifact."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import STORIES, compile_artifact

TOKENIZER = STORIES / "tok512.bin"
EMULATOR = ["qemu-aarch64", "-cpu", "cortex-a53"]   # targets/pi-zero.toml's run_prefix
GREEDY = ["-p", "Once upon a time", "-n", 6, "-t", 0, "--seed", 1, "--threads", 1]


def edgec(*args, env=None, input=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgec.cli", *map(str, args)], capture_output=True, env=env,
                          input=input, cwd=cwd, timeout=300)


def direct(*cmd, input=None):
    return subprocess.run([*map(str, cmd)], capture_output=True, input=input, timeout=300)


def assert_one_line_error(r, *words):
    """Exit 1 and one `edgec: error:` line, the last one (compile's progress lines may come before it)."""
    err = r.stderr.decode(errors="replace") if isinstance(r.stderr, bytes) else r.stderr
    lines = err.strip().splitlines()
    errors = [ln for ln in lines if "error" in ln.lower()]
    assert r.returncode == 1 and errors == lines[-1:] and errors[0].startswith("edgec: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w.lower() in errors[0].lower(), (w, errors[0])
    return errors[0]


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    """stories260K for this machine and for pi-zero (cross-compiled, run under qemu-aarch64)."""
    assert shutil.which("qemu-aarch64") and shutil.which("aarch64-linux-gnu-gcc"), \
        "qemu-aarch64 and aarch64-linux-gnu-gcc are needed: run examples/setup.sh"
    base = tmp_path_factory.mktemp("run")
    return {t: compile_artifact(STORIES / "stories260K.bin", base / t, target=t, tokenizer=str(TOKENIZER), ctx=64)
            for t in ("host", "pi-zero")}


@pytest.mark.parametrize("target", ["host", "pi-zero"])
def test_run_is_the_program(arts, target):
    """Same stdout, stderr and exit code as the program run directly (under qemu for pi-zero)."""
    art = arts[target]
    prefix = EMULATOR if target == "pi-zero" else []
    ours, theirs = edgec("run", art.out_dir, *GREEDY), direct(*prefix, art.binary, *GREEDY)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout and len(ours.stdout) > len("Once upon a time")
    assert edgec("run", art.out_dir, "--", *GREEDY).stdout == ours.stdout   # a leading -- ends edgec's flags
    bad_ours, bad_theirs = edgec("run", art.out_dir, "--no-such-flag", "--", "x"), \
        direct(*prefix, art.binary, "--no-such-flag", "--", "x")
    assert bad_ours.returncode == bad_theirs.returncode != 0
    assert bad_ours.stderr == bad_theirs.stderr and b"--no-such-flag" in bad_ours.stderr


def test_run_passes_stdin(arts):
    art = arts["pi-zero"]
    from_stdin = edgec("run", art.out_dir, "-f", "/dev/stdin", *GREEDY[2:], input=b"Once upon a time")
    from_flag = edgec("run", art.out_dir, *GREEDY)
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_flag.stdout


def test_run_without_the_emulator_names_the_package(arts, tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}   # nothing on PATH: no qemu-aarch64
    line = assert_one_line_error(edgec("run", arts["pi-zero"].out_dir, "-n", 2, env=env), "qemu-aarch64", "qemu-user")
    assert "apt-get install qemu-user" in line


def test_run_refuses_what_is_not_an_artifact(arts, tmp_path):
    host = arts["host"].out_dir
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    no_bin = tmp_path / "no_bin"
    no_bin.mkdir()
    shutil.copy(host / "manifest.json", no_bin)
    bad_json = tmp_path / "bad_json"
    shutil.copytree(host, bad_json)
    (bad_json / "manifest.json").write_text("{not json")
    escape = tmp_path / "escape"
    shutil.copytree(host, escape)
    manifest = json.loads((escape / "manifest.json").read_text())
    (escape / "manifest.json").write_text(json.dumps({**manifest, "name": "../../../bin/sh"}))
    no_ctx = tmp_path / "no_ctx"
    shutil.copytree(host, no_ctx)
    (no_ctx / "manifest.json").write_text(json.dumps({k: v for k, v in manifest.items() if k != "max_ctx"}))
    cases = {tmp_path / "missing": "does not exist", tmp_path / "file": "is a file", tmp_path / "empty": "manifest.json",
             no_bin: "bin/stories260k", bad_json: "not valid JSON", escape: "program name", no_ctx: "max_ctx"}
    # tokenize takes a model too: these three are read as model paths (and refused by the loaders)
    model_paths = {tmp_path / "missing", tmp_path / "file", tmp_path / "empty"}
    for folder, words in cases.items():
        assert_one_line_error(edgec("run", folder, "-n", 1), str(folder), words)
        assert_one_line_error(edgec("bench", folder), str(folder), words)
        assert_one_line_error(edgec("eval", folder, "--text", TOKENIZER), str(folder), words)
        if folder not in model_paths:
            assert_one_line_error(edgec("tokenize", folder, "--file", TOKENIZER), str(folder), words)
    no_manifest = tmp_path / "no_manifest"
    shutil.copytree(host, no_manifest)
    (no_manifest / "manifest.json").unlink()
    assert_one_line_error(edgec("tokenize", no_manifest, "--file", TOKENIZER), "not an edgec artifact")


def test_compile_shows_how_to_run_a_cross_artifact(tmp_path):
    out = tmp_path / "pz"
    r = edgec("compile", STORIES / "stories260K.bin", "--tokenizer", TOKENIZER, "--target", "pi-zero",
              "--ctx", 32, "--out", out)
    assert r.returncode == 0, r.stderr
    text = r.stderr.decode()
    assert f"run it:   edgec run {out} -p" in text
    assert f"scp {out}/bin/stories260k pi@raspberrypi.local:" in text
    assert "ssh pi@raspberrypi.local './stories260k -p \"Once upon a time\" -n 64'" in text
    # the printed command works as printed
    assert edgec("run", out, "-p", "Once upon a time", "-n", 2, "-t", 0).returncode == 0


def test_compile_shows_the_program_for_a_native_artifact(tmp_path):
    out = tmp_path / "h"
    r = edgec("compile", STORIES / "stories260K.bin", "--tokenizer", TOKENIZER, "--ctx", 32, "--out", out)
    assert r.returncode == 0, r.stderr
    text = r.stderr.decode()
    assert f"run it:   {out}/bin/stories260k -p \"Once upon a time\" -n 64" in text
    assert "edgec run" not in text and "scp" not in text


def test_tokenize_a_cross_artifact(arts, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("Once upon a time\nthere was a cat.\n")
    from_model = edgec("tokenize", STORIES / "stories260K.bin", "--tokenizer", TOKENIZER, "--file", text)
    from_artifact = edgec("tokenize", arts["pi-zero"].out_dir, "--file", text)
    assert from_model.returncode == 0 and from_artifact.returncode == 0, from_artifact.stderr
    assert from_artifact.stdout == from_model.stdout and len(from_model.stdout.splitlines()) == 2


@pytest.mark.parametrize("where", ["model", "artifact"])
def test_tokenize_names_a_missing_or_wrong_file(arts, tmp_path, where):
    src = [STORIES / "stories260K.bin", "--tokenizer", TOKENIZER] if where == "model" else [arts["host"].out_dir]
    for path, words in [(tmp_path / "nope.txt", "no such file"), (tmp_path, "is a folder")]:
        line = assert_one_line_error(edgec("tokenize", *src, "--file", path), f"--file {path}", words)
        assert "edgec-tools" not in line and "tokenizer.bin" not in line   # no internal temp paths


def test_cc_not_found_or_not_working(tmp_path):
    model = [STORIES / "stories260K.bin", "--tokenizer", TOKENIZER, "--ctx", 32]
    line = assert_one_line_error(edgec("compile", *model, "--cc", "nonexistent", "--out", tmp_path / "a"))
    assert line == "edgec: error: C compiler 'nonexistent' not found on PATH; install it or drop --cc"
    assert_one_line_error(edgec("compile", *model, "--cc", "false", "--out", tmp_path / "b"),
                          "C compiler 'false' cannot build", "--cc")
    assert_one_line_error(edgec("compile", *model, "--cc", "gcc", "--target", "pi-zero", "--out", tmp_path / "c"),
                          "C compiler 'gcc' cannot build C for target pi-zero", "armv8-a")
    assert not any(p.name in ("a", "b", "c") for p in tmp_path.iterdir())


def test_cc_not_found_before_autotune(tmp_path):
    """SmolLM2 is large enough to autotune on the host, where --cc nonexistent used to end in a traceback."""
    assert_one_line_error(edgec("compile", "smollm2-135m", "--cc", "nonexistent", "--out", tmp_path / "o"),
                          "'nonexistent' not found on PATH")


@pytest.mark.parametrize("cmd", ["compile", "inspect"])
def test_target_must_be_a_profile_name(tmp_path, cmd):
    for bad in ["../../etc/passwd", "../targets/host", "host/", "/etc/hostname"]:
        extra = ["--out", tmp_path / "o"] if cmd == "compile" else []
        assert_one_line_error(edgec(cmd, STORIES / "stories260K.bin", "--tokenizer", TOKENIZER, "--target", bad,
                                    *extra), f"unknown target '{bad}'", "pi-zero", "x86-avx2")


@pytest.mark.parametrize("content,mode,words", [(b"\x7fELF not really a program", 0o755, "not a program for this machine"),
                                                (None, 0o644, "not executable")])
def test_a_program_that_cannot_start(arts, tmp_path, content, mode, words):
    art = tmp_path / "art"
    shutil.copytree(arts["host"].out_dir, art)
    binary = art / "bin" / "stories260k"
    if content is not None:
        binary.write_bytes(content)
    binary.chmod(mode)
    assert_one_line_error(edgec("run", art, "-n", 1), words)
    assert_one_line_error(edgec("bench", art, "--prompt-tokens", 2, "--gen-tokens", 2), words)


def test_emulation_only_where_the_machine_differs(arts, monkeypatch):
    """On an aarch64 machine the pi-zero program runs natively, and an x86 one has no emulator to run under."""
    import edgec.build.run_artifact as ra
    pz = arts["pi-zero"]
    monkeypatch.setattr(ra, "host_arch", lambda: "x86_64")
    assert ra.open_artifact(pz.out_dir).emulated == "qemu-aarch64 -cpu cortex-a53"
    monkeypatch.setattr(ra, "host_arch", lambda: "aarch64")
    assert ra.open_artifact(pz.out_dir).emulator == []
    manifest = {**pz.manifest, "target": {**pz.manifest["target"], "name": "x86-avx2"}}
    with pytest.raises(ra.EdgecError, match="copy bin/stories260k to the device"):
        ra.emulator_for(pz.out_dir, manifest)
