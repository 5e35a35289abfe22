"""The HTTP server in a cross-compiled program: stories260K compiled for pi-zero links the arm64 builds of
libmicrohttpd and cJSON (Debian multiarch, so the program links dynamically), `edgec serve` runs it under
qemu-aarch64, and its greedy replies over HTTP equal the same artifact's CLI output (`edgec run`).
"""
from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import STORIES, compile_artifact
from server_harness import Server, as_served, cli_greedy, get

pytestmark = pytest.mark.timeout(300)

# what examples/setup.sh installs for the Pi targets' server: the arm64 libraries and the arm64 loader
ARM64_FILES = ["/usr/lib/aarch64-linux-gnu/pkgconfig/libmicrohttpd.pc", "/usr/lib/aarch64-linux-gnu/pkgconfig/libcjson.pc",
               "/lib/ld-linux-aarch64.so.1"]
PROMPT = "Once upon a time, there was a little girl named Lily."


def check_cross_tools() -> None:
    for tool in ("qemu-aarch64", "aarch64-linux-gnu-gcc"):
        assert shutil.which(tool), f"{tool} is missing: run examples/setup.sh"
    missing = [f for f in ARM64_FILES if not Path(f).exists()]
    assert not missing, (f"the arm64 builds of the server's libraries are not installed ({', '.join(missing)} missing): "
                         "run examples/setup.sh (it installs libmicrohttpd-dev:arm64 libcjson-dev:arm64 libc6:arm64)")


@pytest.fixture(scope="module")
def pi_zero(tmp_path_factory):
    check_cross_tools()
    out = tmp_path_factory.mktemp("server_pi_zero") / "art"
    return compile_artifact(STORIES / "stories260K.bin", out, target="pi-zero",
                            tokenizer=str(STORIES / "tok512.bin"), ctx=256)


def edgec_command(folder: Path, art: Path, subcommand: str, drop_first: bool = False) -> Path:
    """A script that runs `edgec SUBCOMMAND ART ARGS...`, so the harness (which runs a program with its flags)
    drives the artifact through edgec and its emulator. drop_first drops the harness's own --serve, which
    `edgec serve` adds itself."""
    script = folder / f"edgec-{subcommand}"
    shift = "shift\n" if drop_first else ""
    script.write_text(f"#!/bin/sh\n{shift}exec {shlex.quote(sys.executable)} -m edgec.cli {subcommand} "
                      f"{shlex.quote(str(art))} \"$@\"\n")
    script.chmod(0o755)
    return script


def test_pi_zero_program_has_the_server_and_links_dynamically(pi_zero):
    manifest = json.loads((pi_zero.out_dir / "manifest.json").read_text())
    assert manifest["program"] == {
        "server": True, "linking": "dynamic", "device_packages": ["libmicrohttpd12", "libcjson1"]}
    kind = subprocess.run(["file", str(pi_zero.binary)], capture_output=True, text=True).stdout
    assert "ARM aarch64" in kind and "dynamically linked" in kind, kind
    info = subprocess.run([sys.executable, "-m", "edgec.cli", "run", str(pi_zero.out_dir), "--info"],
                          capture_output=True, text=True, timeout=60)
    assert info.returncode == 0 and "server: yes" in info.stdout, info.stdout + info.stderr


def test_server_under_qemu_answers_as_the_cli(pi_zero, tmp_path):
    """/health, then greedy completions and a greedy chat reply over HTTP, each equal to the CLI's text."""
    serve = edgec_command(tmp_path, pi_zero.out_dir, "serve", drop_first=True)
    run = edgec_command(tmp_path, pi_zero.out_dir, "run")
    s = Server(serve, "-t", "0")
    try:
        status, _, body = get(s.port, "/health")
        assert status == 200 and b'"ok"' in body
        client = s.client(timeout=60)
        for prompt, n in [(PROMPT, 24), ("Tom had a red ball", 12)]:
            r = client.completions.create(model="stories260k", prompt=prompt, max_tokens=n, temperature=0)
            assert r.choices[0].text == cli_greedy(run, prompt, n), prompt
        chat = client.chat.completions.create(model="stories260k", temperature=0, max_tokens=16,
                                              messages=[{"role": "user", "content": "Hello there"}])
        cli = subprocess.run([str(run), "--chat", "-n", "16", "-t", "0", "--threads", "1"], input=b"Hello there\n",
                             capture_output=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        assert chat.choices[0].message.content == as_served(cli.stdout[:-1])
    finally:
        code = s.stop()
    assert code == 0, "\n".join(s.log[-20:])
