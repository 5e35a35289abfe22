"""Shared pieces of the HTTP server tests (tests/test_server*.py): the compiled programs, a running
server on a free port of 127.0.0.1 with its stderr collected, and raw HTTP for what a client library
would never send.

Artifacts are compiled once per test process (a test file runs in one process) and servers run with
one thread each, so two test files can run side by side on a 2-core machine.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import STORIES, compile_artifact

_ARTIFACTS: dict = {}


def stories_binary(tmp_path_factory) -> Path:
    """stories260K (plain-text model, no chat template: the plain User/Assistant transcript)."""
    if "stories" not in _ARTIFACTS:
        out = tmp_path_factory.mktemp("server_stories") / "art"
        _ARTIFACTS["stories"] = compile_artifact(STORIES / "stories260K.bin", out, target="host",
                                                 tokenizer=str(STORIES / "tok512.bin"), ctx=256).binary
    return _ARTIFACTS["stories"]


def chat_binary(tmp_path_factory) -> Path:
    """A tiny random llama with the ChatML template (tests/tiny_models.py): the chat format path."""
    if "chat" not in _ARTIFACTS:
        from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf
        folder = tmp_path_factory.mktemp("server_chat")
        # big enough that a long reply takes about a second (~1.5 ms a token): room to hang up mid-stream
        cfg = make_tiny_config(dim=256, hidden_dim=768, n_layers=6, n_heads=8, n_kv_heads=4, max_seq_len=1024)
        tok, _ = tiny_tokenizer_gpt2()
        gguf = folder / "tiny-chat.gguf"
        write_gguf(gguf, cfg, random_weights(cfg, seed=7), "f32", tok)
        _ARTIFACTS["chat"] = compile_artifact(gguf, folder / "art", target="host", ctx=1024, name="tiny-chat").binary
    return _ARTIFACTS["chat"]


@pytest.fixture(scope="module", name="stories")
def stories_fixture(tmp_path_factory) -> Path:
    """The stories260K program: a test module binds `stories = stories_fixture`."""
    return stories_binary(tmp_path_factory)


class Server:
    """The program under --serve on a free port; stderr lines are kept in .log."""

    def __init__(self, binary: Path, *args, env: dict | None = None):
        self.binary = binary
        cmd = [str(binary), "--serve", "--host", "127.0.0.1", "--port", "0", "--threads", "1", *map(str, args)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env={**os.environ, **(env or {})})
        self.log: list = []
        self._ready = threading.Event()
        self.port = None
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self._ready.wait(20):
            self.stop()
            raise AssertionError(f"the server did not start: {self.log}")

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.log.append(line)
            m = re.search(r"listening on http://\S+:(\d+) ", line)
            if m:
                self.port = int(m.group(1))
                self._ready.set()
        self._ready.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, api_key: str = "none", timeout: float = 30):
        from openai import OpenAI
        return OpenAI(base_url=self.url + "/v1", api_key=api_key, max_retries=0, timeout=timeout)

    def rss_kib(self) -> int:
        """VmRSS of the server process."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def request_lines(self) -> list:
        """The per-request log lines (they start with a timestamp)."""
        return [l for l in self.log if re.match(r"\d{4}-\d\d-\d\dT", l)]

    def wait_for_log(self, count: int, timeout: float = 10) -> list:
        """Waits until count request lines are logged; returns them."""
        end = time.monotonic() + timeout
        while len(self.request_lines()) < count and time.monotonic() < end:
            time.sleep(0.02)
        return self.request_lines()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---- raw HTTP ----

def raw_request(port: int, data: bytes, timeout: float = 10) -> tuple:
    """Sends data as it is and reads the whole answer; returns (status, headers text, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
    return parse_response(b"".join(chunks))


def parse_response(raw: bytes) -> tuple:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = "\r\n".join(lines[1:]).lower()
    if "transfer-encoding: chunked" in headers:
        body = dechunk(body)
    return status, headers, body


def dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def post(port: int, path: str, body, headers: dict | None = None, timeout: float = 30) -> tuple:
    """POST body (bytes, or an object sent as JSON) with Connection: close; returns (status, headers, body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    req = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(data)}\r\nConnection: close\r\n{extra}\r\n").encode() + data
    return raw_request(port, req, timeout)


def get(port: int, path: str, headers: dict | None = None) -> tuple:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return raw_request(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n".encode())


def error_of(status_headers_body: tuple) -> dict:
    """The OpenAI error object of an answer, checked to have its four fields."""
    body = json.loads(status_headers_body[2])
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, body
    return err


def sse_events(body: bytes) -> list:
    """The data: payloads of a server-sent event stream, in order."""
    return [line[len(b"data: "):].decode() for line in body.split(b"\n") if line.startswith(b"data: ")]


# ---- metrics ----

def parse_metrics(text: str) -> dict:
    """Prometheus text -> {(name, labels as a sorted tuple): value}; checks every sample line's shape and
    that each name has its # TYPE line first."""
    typed, samples = set(), {}
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*\})? (\S+)$')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            typed.add(name)
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = sample.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, f"{name} has no # TYPE line before it"
        pairs = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', labels)))
        samples[(name, pairs)] = float(value)
    return samples


def metric(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# ---- the CLI, for comparisons ----

def cli_greedy(binary: Path, prompt: str, n: int) -> str:
    """The program's own greedy continuation of prompt (stdout without the newline it ends with)."""
    r = subprocess.run([str(binary), "-p", prompt, "-n", str(n), "-t", "0", "--threads", "1"], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return as_served(r.stdout[:-1] if r.stdout.endswith(b"\n") else r.stdout)


def as_served(raw: bytes) -> str:
    """Bytes as the server sends text: invalid UTF-8 and NUL replaced by U+FFFD."""
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def cli_tokenize(binary: Path, text: str, tmp: Path) -> list:
    f = tmp / "line.txt"
    f.write_text(text + "\n")
    r = subprocess.run([str(binary), "--tokenize", "-f", str(f)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [int(x) for x in r.stdout.split()]

