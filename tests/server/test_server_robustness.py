"""The HTTP server under bad input and bad clients: every case gets the right status with OpenAI's error JSON
(or a clean close), never a 500, and a normal request still succeeds afterwards.  Also API keys: 401 without
a good one, and no key string in any log line, error body or metric.
"""
from __future__ import annotations

import json
import socket
import struct
import threading
import time

import openai
import pytest

from server_harness import (Server, chat_binary, error_of, get, metric, parse_metrics, parse_response, post,
                            raw_request, sse_events, stories_fixture)

stories = stories_fixture   # the stories260K program, compiled once per test process

pytestmark = pytest.mark.timeout(120)

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
HELLO = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}


@pytest.fixture(scope="module")
def server(stories):
    with Server(stories, "--timeout", "2") as s:
        yield s
        m = parse_metrics(get(s.port, "/metrics")[2].decode())
        assert not [k for k, v in m.items() if k[0] == "edgec_requests_total" and ("status", "500") in k[1] and v]


def still_serving(server):
    status, _, body = post(server.port, CHAT, HELLO)
    assert status == 200, body
    assert json.loads(body)["choices"][0]["message"]["role"] == "assistant"


def expect_error(answer, status, param=None, code=None, words=()):
    assert answer[0] == status, answer
    assert "application/json" in answer[1]
    err = error_of(answer)
    if param is not None:
        assert err["param"] == param, err
    if code is not None:
        assert err["code"] == code, err
    for w in words:
        assert w.lower() in err["message"].lower(), err
    return err


# ---- malformed and invalid bodies ----

@pytest.mark.parametrize("body, words", [
    (b"{", ["not valid JSON"]),
    (b'{"messages": [}', ["not valid JSON"]),
    (b"", ["no body"]),
    (b"[1, 2]", ["JSON object"]),
    (b'"just a string"', ["JSON object"]),
    (b'{"prompt": "x"} trailing', ["not valid JSON"]),
])
def test_malformed_json(server, body, words):
    expect_error(post(server.port, CHAT, body), 400, words=words)
    still_serving(server)


@pytest.mark.parametrize("field, value", [
    ("temperature", "hot"), ("temperature", -1), ("temperature", 1000), ("top_p", 1.5), ("top_k", 2.5),
    ("min_p", "x"), ("max_tokens", -1), ("max_tokens", "10"), ("max_completion_tokens", 1.5), ("stream", "yes"),
    ("seed", 1.5), ("stop", 5), ("stop", ["ok", 3]), ("stop", [""]), ("presence_penalty", 3),
    ("frequency_penalty", "x"), ("repeat_penalty", 0), ("ignore_eos", 1), ("n", 2), ("n", "1"), ("logprobs", True),
    ("tools", [{"type": "function"}]), ("response_format", {"type": "json_object"}), ("stream_options", 1),
    ("model", 7),
])
def test_wrong_field_types_name_the_field(server, field, value):
    err = expect_error(post(server.port, CHAT, {**HELLO, field: value}), 400)
    assert err["param"].startswith(field) or (field == "stop" and err["param"].startswith("stop")), err
    still_serving(server)


@pytest.mark.parametrize("messages, param", [
    (None, "messages"), ("hello", "messages"), ([], "messages"), ([1], "messages[0]"),
    ([{"role": "wizard", "content": "hi"}], "messages[0].role"),
    ([{"role": "user"}], "messages[0].content"), ([{"content": "hi"}], "messages[0].role"),
    ([{"role": "user", "content": 5}], "messages[0].content"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "messages[0].content"),
    ([{"role": "user", "content": "a"}, {"role": "system", "content": "late"}], "messages[1]"),
])
def test_bad_messages(server, messages, param):
    body = {"max_tokens": 2} if messages is None else {"messages": messages, "max_tokens": 2}
    expect_error(post(server.port, CHAT, body), 400, param=param)
    still_serving(server)


def test_bad_prompt_and_model(server):
    expect_error(post(server.port, COMPLETIONS, {"max_tokens": 2}), 400, param="prompt")
    expect_error(post(server.port, COMPLETIONS, {"prompt": 12}), 400, param="prompt")
    expect_error(post(server.port, COMPLETIONS, {"prompt": ["a", "b"]}), 400, param="prompt")
    expect_error(post(server.port, CHAT, {**HELLO, "model": "gpt-4o"}), 404, param="model", code="model_not_found")
    with pytest.raises(openai.BadRequestError) as e:
        server.client().chat.completions.create(model="stories260k", messages=HELLO["messages"], n=2)
    assert e.value.status_code == 400 and e.value.body["param"] == "n"
    still_serving(server)


def test_paths_and_methods(server):
    expect_error(get(server.port, "/v2/nothing"), 404, code="not_found")
    err405 = raw_request(server.port, b"GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    expect_error(err405, 405)
    assert "allow: post" in err405[1]
    expect_error(post(server.port, "/v1/models", {}), 405)
    expect_error(get(server.port, "/v1/models/other-model"), 404, code="model_not_found")
    still_serving(server)


# ---- sizes ----

def test_huge_body_announced(server):
    """A Content-Length past 1 MiB is refused before the body is read."""
    head = (f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {64 << 20}\r\nConnection: close\r\n\r\n").encode()
    expect_error(raw_request(server.port, head + b'{"messages": ['), 413, code="body_too_large")
    still_serving(server)


def test_huge_body_chunked(server):
    """A chunked body that grows past 1 MiB gets 413 once it ends."""
    piece = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(20)) + b"0\r\n\r\n"
    head = (f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    expect_error(raw_request(server.port, head + chunks), 413)
    still_serving(server)


def test_prompt_longer_than_the_context(server):
    long_text = "the cat sat on the mat and " * 200
    expect_error(post(server.port, COMPLETIONS, {"prompt": long_text}), 400, param="prompt",
                 code="context_length_exceeded", words=["context"])
    msgs = [{"role": "user", "content": long_text}]
    expect_error(post(server.port, CHAT, {"messages": msgs}), 400, param="messages", code="context_length_exceeded")
    still_serving(server)


# ---- bytes a prompt cannot hold ----

def test_invalid_utf8_is_refused(server):
    """JSON is UTF-8: a body that is not is a 400 naming the byte, never tokenized."""
    for bad in (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"):
        body = b'{"messages": [{"role": "user", "content": "ab' + bad + b'cd"}]}'
        expect_error(post(server.port, CHAT, body), 400, words=["UTF-8"])
    still_serving(server)


def test_nul_bytes_are_refused(server):
    expect_error(post(server.port, CHAT, b'{"messages": [{"role": "user", "content": "a\x00b"}]}'), 400,
                 words=["NUL"])
    expect_error(post(server.port, CHAT, {"messages": [{"role": "user", "content": "a\u0000b"}]}), 400,
                 words=["\\u0000"])
    ok = post(server.port, CHAT, {"messages": [{"role": "user", "content": "a\\u0000b"}], "max_tokens": 2})
    assert ok[0] == 200, "an escaped backslash before u0000 is ordinary text"
    still_serving(server)


# ---- bad clients ----

def test_slow_client_is_closed(server):
    """A client sending a byte every 0.2 s is cut off after --timeout (2 s); others are served meanwhile."""
    closed_after = []

    def trickle():
        s = socket.create_connection(("127.0.0.1", server.port))
        s.settimeout(0.05)
        start = time.monotonic()
        req = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + b"{" * 500
        for byte in req:
            try:
                s.send(bytes([byte]))
                if s.recv(4096) == b"":
                    break
            except socket.timeout:
                pass
            except OSError:
                break
            if time.monotonic() - start > 10:
                break
            time.sleep(0.2)
        closed_after.append(time.monotonic() - start)
        s.close()

    t = threading.Thread(target=trickle)
    t.start()
    time.sleep(0.5)
    still_serving(server)
    t.join(15)
    assert closed_after and 1.5 < closed_after[0] < 4.5, closed_after


def test_idle_connections_do_not_stop_service(server):
    """200 connections that send nothing: requests are still answered, and the idle ones are closed at
    the timeout.  (1000 was checked by hand: see docs/server.md.)"""
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(200)]
    try:
        for _ in range(3):
            still_serving(server)
        time.sleep(3)
        for s in idle[:20]:
            s.settimeout(2)
            assert s.recv(1) == b"", "the server closes an idle connection at the timeout"
        still_serving(server)
    finally:
        for s in idle:
            s.close()


def test_headers_only_then_silence(server):
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    s.settimeout(5)
    start = time.monotonic()
    data = s.recv(4096)
    assert time.monotonic() - start < 4.5 and (data == b"" or data.startswith(b"HTTP/1.1 "))
    s.close()
    still_serving(server)


# ---- hanging up mid-stream ----

def test_disconnect_mid_stream_frees_the_slot(tmp_path_factory):
    """A streaming client that resets its connection stops its generation (the log shows it ended early)
    and the next request is answered at once."""
    with Server(chat_binary(tmp_path_factory)) as s:
        body = json.dumps({"messages": [{"role": "user", "content": "Go on"}], "max_tokens": 900, "stream": True,
                           "ignore_eos": True}).encode()
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall((f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
        got = b""
        while got.count(b"data: ") < 3:
            got += sock.recv(4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()                                      # RST: an abrupt disconnect
        start = time.monotonic()
        status, _, answer = post(s.port, CHAT, {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3})
        elapsed = time.monotonic() - start
        assert status == 200, answer
        lines = s.wait_for_log(2)
    first = lines[0]
    assert "client-closed" in first, lines
    gen = int(first.split(" gen=")[1].split()[0])
    assert gen < 600, f"generation went on after the client left: {first}"
    assert elapsed < 1.0, f"the next request waited {elapsed:.2f} s"


def test_disconnect_while_queued(tmp_path_factory):
    """Clients that leave while their request waits in the queue are dropped without generating."""
    with Server(chat_binary(tmp_path_factory)) as s:
        long = json.dumps({"messages": [{"role": "user", "content": "Go"}], "max_tokens": 500,
                           "ignore_eos": True}).encode()
        socks = []
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", s.port))
            sock.sendall((f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(long)}\r\n\r\n").encode() + long)
            socks.append(sock)
        time.sleep(0.2)
        for sock in socks[1:]:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        status, _, body = parse_response(recv_all(socks[0]))
        assert status == 200 and json.loads(body)["usage"]["completion_tokens"] == 500
        socks[0].close()
        lines = s.wait_for_log(3)
    gens = sorted(int(l.split(" gen=")[1].split()[0]) for l in lines)
    assert gens[:2] == [0, 0] and gens[2] == 500, lines


def recv_all(sock) -> bytes:
    sock.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < content_length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def content_length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 1 << 30


# ---- keys ----

KEYS = {"alice": "sk-alice-5f3a9c1e77", "bob": "sk-bob-0d2e4b6a88"}
ENV_KEY = "sk-env-91c7e3d2aa"


@pytest.fixture(scope="module")
def keyed(stories, tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.txt"
    path.write_text("# name:key\n" + "".join(f"{n}:{k}\n" for n, k in KEYS.items()) + "\n")
    with Server(stories, "--api-key-file", path, env={"EDGEC_API_KEY": ENV_KEY}) as s:
        yield s


def test_keys_required(keyed):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer " + KEYS["alice"] + "x"},
                    {"Authorization": KEYS["alice"]}, {"Authorization": "Bearer " + KEYS["alice"][:-1]}):
        err = expect_error(post(keyed.port, CHAT, HELLO, headers), 401)
        assert all(k not in json.dumps(err) for k in [*KEYS.values(), ENV_KEY])
    with pytest.raises(openai.AuthenticationError):
        keyed.client(api_key="not-a-key").chat.completions.create(model="stories260k", messages=HELLO["messages"])
    expect_error(get(keyed.port, "/metrics"), 401)
    expect_error(get(keyed.port, "/v1/models"), 401)
    assert get(keyed.port, "/health")[0] == 200, "health needs no key"


def test_keys_accepted_and_counted_by_name(keyed):
    for name, key in [("alice", KEYS["alice"]), ("alice", KEYS["alice"]), ("bob", KEYS["bob"]),
                      ("default", ENV_KEY)]:
        r = keyed.client(api_key=key).chat.completions.create(model="stories260k", messages=HELLO["messages"],
                                                              max_tokens=3, extra_body={"ignore_eos": True})
        assert r.usage.completion_tokens == 3
    status, _, body = get(keyed.port, "/metrics", {"Authorization": "Bearer " + KEYS["bob"]})
    assert status == 200
    m = parse_metrics(body.decode())
    assert metric(m, "edgec_key_requests_total", key="alice") == 2
    assert metric(m, "edgec_key_generated_tokens_total", key="alice") == 6
    assert metric(m, "edgec_key_requests_total", key="default") == 1
    text = body.decode()
    lines = keyed.wait_for_log(6)
    assert any(" key=alice " in l for l in lines) and any(" key=default " in l for l in lines)
    for secret in [*KEYS.values(), ENV_KEY]:
        assert secret not in text, "a key in /metrics"
        assert not [l for l in keyed.log if secret in l], "a key in the log"


def test_no_key_on_an_open_address_warns(stories):
    with Server(stories, "--host", "0.0.0.0") as s:
        end = time.monotonic() + 5
        while not any(l.startswith("warning: no API key") for l in s.log) and time.monotonic() < end:
            time.sleep(0.02)
        assert any(l.startswith("warning: no API key") for l in s.log), s.log
        assert get(s.port, "/health")[0] == 200
    with Server(stories) as s:
        assert not any("warning" in l for l in s.log)


def test_bad_key_file(stories, tmp_path):
    import subprocess
    bad = tmp_path / "keys.txt"
    bad.write_text("alice:sk-good-1\nthis line has sk-secret-2 but no colon\n")
    r = subprocess.run([str(stories), "--serve", "--port", "0", "--api-key-file", str(bad)], capture_output=True,
                       timeout=30)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "line 2" in err and "sk-secret-2" not in err and "sk-good-1" not in err
    missing = subprocess.run([str(stories), "--serve", "--port", "0", "--api-key-file", str(tmp_path / "none")],
                             capture_output=True, timeout=30)
    assert missing.returncode == 1 and b"cannot open" in missing.stderr


def test_sse_error_shape_is_not_used_for_good_streams(server):
    """A good stream has only chunk objects and ends with [DONE]."""
    status, headers, body = post(server.port, CHAT, {**HELLO, "stream": True})
    events = sse_events(body)
    assert status == 200 and "text/event-stream" in headers and events[-1] == "[DONE]"
    assert all(json.loads(e)["object"] == "chat.completion.chunk" for e in events[:-1])


def test_stopping_answers_what_is_running_and_queued(tmp_path_factory):
    """SIGTERM mid-generation: the running stream ends with a 503 error event and [DONE], a queued request
    gets 503, and the program exits 0."""
    s = Server(chat_binary(tmp_path_factory))
    try:
        long = {"messages": [{"role": "user", "content": "Go"}], "max_tokens": 900, "ignore_eos": True}
        streaming = socket.create_connection(("127.0.0.1", s.port))
        body = json.dumps({**long, "stream": True}).encode()
        streaming.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        got = b""
        while got.count(b"data: ") < 2:
            got += streaming.recv(4096)
        queued = socket.create_connection(("127.0.0.1", s.port))
        body = json.dumps(long).encode()
        queued.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(0.2)
        s.proc.send_signal(__import__("signal").SIGTERM)
        streaming.settimeout(10)
        while not got.endswith(b"0\r\n\r\n"):
            chunk = streaming.recv(65536)
            if not chunk:
                break
            got += chunk
        events = sse_events(parse_response(got)[2])
        assert events[-1] == "[DONE]" and json.loads(events[-2])["error"]["code"] == "shutting_down", events[-3:]
        status, _, answer = parse_response(recv_all(queued))
        assert status == 503 and json.loads(answer)["error"]["code"] == "shutting_down"
        assert s.proc.wait(15) == 0
    finally:
        s.stop()
