"""The pure helpers of examples/compare-llamacpp/serve_bench.py: server-sent event parsing, usage counts of both
servers' chunks, stream timings and the token-count check. The benchmark itself stays out of the tests."""
from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import REPO

SCRIPT = REPO / "examples" / "compare-llamacpp" / "serve_bench.py"


@pytest.fixture(scope="module")
def sb():
    spec = importlib.util.spec_from_file_location("serve_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sse(*events) -> list:
    """Raw SSE lines as a server sends them: `data: JSON`, blank separators, then [DONE]."""
    lines = []
    for e in events:
        lines += [f"data: {json.dumps(e)}\r\n".encode(), b"\r\n"]
    return lines + [b"data: [DONE]\n", b"\n", b"data: {\"after\": \"done\"}\n"]


def test_sse_payloads_stop_at_done_and_skip_other_fields(sb):
    lines = [b": keep-alive comment\n", b"event: message\n"] + sse({"a": 1}, {"b": 2})
    assert list(sb.sse_payloads(lines)) == [{"a": 1}, {"b": 2}]
    assert list(sb.sse_payloads(["data:{\"c\":3}\n"])) == [{"c": 3}]   # no space after the colon


def test_event_text_of_completion_chat_and_usage_chunks(sb):
    assert sb.event_text({"choices": [{"text": " whale", "index": 0}]}) == " whale"
    assert sb.event_text({"choices": [{"delta": {"content": "Ahab"}}]}) == "Ahab"
    assert sb.event_text({"choices": [{"delta": {"role": "assistant"}}]}) == ""
    assert sb.event_text({"choices": [], "usage": {"completion_tokens": 3}}) == ""


def test_usage_counts_of_edgec_and_llama_server(sb):
    edgec = {"choices": [], "usage": {"prompt_tokens": 128, "completion_tokens": 128, "total_tokens": 256,
                                      "prompt_tokens_details": {"cached_tokens": 64}}}
    assert sb.usage_counts(edgec) == {"prompt_tokens": 128, "completion_tokens": 128, "cached_tokens": 64}
    llama = {"choices": [{"text": "", "finish_reason": "length"}],
             "usage": {"prompt_tokens": 128, "completion_tokens": 127}, "timings": {"prompt_n": 65}}
    assert sb.usage_counts(llama) == {"prompt_tokens": 128, "completion_tokens": 127, "cached_tokens": 63}
    assert sb.usage_counts({"choices": [{"text": "x"}]}) == {}


def test_stream_stats(sb):
    s = sb.stream_stats(10.0, [10.25, 10.26, 10.29])
    assert s["ttft_ms"] == pytest.approx(250.0)
    assert s["gaps_ms"] == pytest.approx([10.0, 30.0])
    assert sb.stream_stats(1.0, [])["gaps_ms"] == []


def test_check_counts_names_every_bad_request(sb):
    load = {"requests": [
        {"completion_tokens": 128, "prompt_tokens": 128, "chunks": 128},
        {"completion_tokens": 120, "prompt_tokens": 128, "chunks": 120},
        {"chunks": 127},                                   # no usage: the chunks are counted
        {"completion_tokens": 128, "prompt_tokens": 129, "chunks": 128},
        {"error": "HTTP 429: queue full"},
    ]}
    bad = sb.check_counts("edgec", 4, load, 128, 128)
    assert bad == ["edgec, 4 client(s), request 2: generated 120 tokens, not 128",
                   "edgec, 4 client(s), request 3: generated 127 tokens, not 128",
                   "edgec, 4 client(s), request 4: prompt was 129 tokens, not 128",
                   "edgec, 4 client(s), request 5: HTTP 429: queue full"]
    assert sb.check_counts("edgec", 1, {"requests": load["requests"][:1]}, 128, 128) == []
