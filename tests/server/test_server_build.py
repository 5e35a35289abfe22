"""The server's build: runtime/server compiles with -Wall -Wextra -Werror under gcc and clang with and without
its libraries; a program built without them says how to get a server (exit 2); the server built around the
fake model core (tests/c/fake_model) with ASan + UBSan survives bad input, streams and hang-ups and exits
cleanly (no leak, no sanitizer report); the CLI flags; and `edgec serve ARTIFACT`.
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from server_harness import Server, get, post, raw_request
from fake_program import CFLAGS, FAKE, GROUPS, RUNTIME, SANITIZE, compile_c, tokenizer_blob, write_blob_inc

pytestmark = pytest.mark.timeout(180)

SERVER_LIBS = ["-lmicrohttpd", "-lcjson"]


def program_sources() -> list:
    return sorted(p for g in GROUPS for p in g.glob("*.c")) + [FAKE / "model.c", FAKE / "blobs.c"]


@pytest.fixture(scope="module")
def blob_dir(tmp_path_factory):
    return write_blob_inc(tokenizer_blob(), tmp_path_factory.mktemp("server_blob"))


def build_fake(tmp: Path, blob_dir: Path, cc: str, flags: list, server: bool) -> Path:
    sources = program_sources()
    if server:
        sources += SERVER_LIBS
        flags = [*flags, "-DEDGEC_WITH_SERVER"]
    return compile_c(cc, sources, tmp / f"fake-{cc}-{'server' if server else 'plain'}", flags, [*GROUPS, FAKE, blob_dir])


@pytest.mark.parametrize("cc", ["gcc", "clang"])
@pytest.mark.parametrize("with_server", [True, False])
def test_server_sources_compile_cleanly(cc, with_server, tmp_path):
    defines = ["-DEDGEC_WITH_SERVER"] if with_server else []
    for src in sorted((RUNTIME / "server").glob("*.c")) + [RUNTIME / "program" / "cli_main.c"]:
        cmd = [cc, *CFLAGS, "-O2", *defines, *[f"-I{d}" for d in [*GROUPS, FAKE]], "-c", str(src),
               "-o", str(tmp_path / (src.stem + ".o"))]
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"


@pytest.fixture(scope="module")
def plain(tmp_path_factory, blob_dir):
    """The program around the fake core, built without the server's libraries."""
    return build_fake(tmp_path_factory.mktemp("server_plain"), blob_dir, "gcc", ["-O1"], server=False)


def test_without_the_libraries_serve_says_how_to_get_them(plain):
    r = subprocess.run([str(plain), "--serve", "--port", "0"], capture_output=True, timeout=30)
    err = r.stderr.decode().strip().splitlines()
    assert r.returncode == 2 and len(err) == 1, r.stderr
    assert "without the HTTP server" in err[0] and "libmicrohttpd-dev" in err[0] and "libcjson-dev" in err[0]
    info = subprocess.run([str(plain), "--info"], capture_output=True, text=True, timeout=30).stdout
    assert "server: no" in info


@pytest.mark.parametrize("args, words", [
    (["--port", "8080"], "add --serve"), (["--serve", "-p", "hi"], "over HTTP"), (["--serve", "--chat"], "over HTTP"),
    (["--serve", "--port", "70000"], "--port"), (["--serve", "--max-queue", "-1"], "--max-queue"),
    (["--serve", "--timeout", "0"], "--timeout"), (["--serve", "--host", ""], "--host"),
    (["--serve", "--dump-logits", "x"], "--dump-logits"),
])
def test_server_flags(plain, args, words):
    r = subprocess.run([str(plain), *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


# ---- the server around the fake core, under the sanitizers ----

@pytest.fixture(scope="module")
def sanitized(tmp_path_factory, blob_dir):
    return build_fake(tmp_path_factory.mktemp("server_asan"), blob_dir, "gcc", SANITIZE, server=True)


def test_sanitized_server_survives_everything(sanitized):
    """Good and bad requests, streams, hang-ups and a full queue under ASan + UBSan, then SIGTERM: exit 0 with
    no sanitizer report (LeakSanitizer checks that everything was freed)."""
    s = Server(sanitized, "--timeout", "2", "--max-queue", "2", "-t", "0",
               env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"})
    try:
        chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
        assert post(s.port, "/v1/chat/completions", chat)[0] == 200
        assert post(s.port, "/v1/chat/completions", {**chat, "stream": True,
                                                     "stream_options": {"include_usage": True}})[0] == 200
        assert post(s.port, "/v1/completions", {"prompt": "Once upon", "max_tokens": 8, "stop": ["a", "b"]})[0] == 200
        for bad in (b"{", b'{"messages": 5}', b'{"messages": [{"role": "x", "content": "y"}]}', b"\xff",
                    b'{"prompt": "' + b"word " * 400 + b'"}', b'{"prompt": "a\\u0000"}'):
            assert post(s.port, "/v1/chat/completions", bad)[0] == 400
        assert get(s.port, "/nowhere")[0] == 404
        assert get(s.port, "/metrics")[0] == 200
        head = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
        assert raw_request(s.port, head)[0] == 413
        hang_up_mid_stream(s.port)
        idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(20)]
        assert post(s.port, "/v1/completions", {"prompt": "x", "max_tokens": 3})[0] == 200
        for sock in idle:
            sock.close()
        s.wait_for_log(14)
    finally:
        code = s.stop()
    report = [l for l in s.log if "Sanitizer" in l or "runtime error" in l]
    assert code == 0 and not report, "\n".join(s.log[-40:])


def hang_up_mid_stream(port: int):
    body = json.dumps({"prompt": "Once", "max_tokens": 60, "stream": True, "ignore_eos": True}).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    sock.recv(100)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# ---- edgec serve ----

def fake_artifact(folder: Path, binary: Path) -> Path:
    """An artifact folder around a fake program: what `edgec serve` needs (manifest.json, bin/NAME)."""
    (folder / "bin").mkdir(parents=True)
    shutil.copy(binary, folder / "bin" / "fake")
    manifest = {"name": "fake", "max_ctx": 64, "model": {"vocab_size": 512}, "target": {"name": "host"},
                "sizes": {"weights_bytes": 64, "kv_cache_bytes": 0}, "tensors": []}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_edgec_serve(sanitized, plain, tmp_path):
    art = fake_artifact(tmp_path / "art", sanitized)
    proc = subprocess.Popen([sys.executable, "-m", "edgec.cli", "serve", str(art), "--port", "0", "--threads", "1"],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        port = int(line.split("127.0.0.1:")[1].split()[0])
        assert get(port, "/health")[0] == 200
        assert json.loads(get(port, "/v1/models")[2])["data"][0]["id"] == "fake"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "serve", str(fake_artifact(tmp_path / "plain", plain)),
                        "--port", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "libmicrohttpd-dev" in r.stderr
