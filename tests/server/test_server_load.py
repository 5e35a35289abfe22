"""The HTTP server under load: 8 concurrent openai clients x 25 requests, streaming and not, each answered
with the right text (or refused with 429), none lost or duplicated, and the server's memory flat; then a
small queue that must refuse with 429 and answer the rest."""
from __future__ import annotations

import json
import threading

import openai
import pytest

from server_harness import Server, cli_greedy, get, metric, parse_metrics, post, stories_fixture

stories = stories_fixture   # the stories260K program, compiled once per test process

pytestmark = pytest.mark.timeout(180)

PROMPTS = ["Once upon a time", "Tom had a red ball", "The sun was", "Lily and her mom went to the park",
           "One day, a little dog"]
N_CLIENTS, N_REQUESTS = 8, 25


@pytest.fixture(scope="module")
def expected(stories):
    """The CLI's greedy text for each (prompt, max_tokens) the load uses."""
    return {(p, n): cli_greedy(stories, p, n) for p in PROMPTS for n in (8, 24)}


def one_request(client, prompt: str, n: int, stream: bool, chat: bool) -> tuple:
    """(text, id, finish_reason) of one completion, read whole or from its stream."""
    if chat:
        args = dict(model="stories260k", messages=[{"role": "user", "content": prompt}], max_tokens=n, temperature=0)
        if not stream:
            r = client.chat.completions.create(**args)
            return r.choices[0].message.content, r.id, r.choices[0].finish_reason
        chunks = list(client.chat.completions.create(**args, stream=True))
        return ("".join(c.choices[0].delta.content or "" for c in chunks), chunks[0].id,
                chunks[-1].choices[0].finish_reason)
    args = dict(model="stories260k", prompt=prompt, max_tokens=n, temperature=0)
    if not stream:
        r = client.completions.create(**args)
        return r.choices[0].text, r.id, r.choices[0].finish_reason
    chunks = list(client.completions.create(**args, stream=True))
    return "".join(c.choices[0].text for c in chunks), chunks[0].id, chunks[-1].choices[0].finish_reason


def run_clients(server, plan_for, n_clients: int, n_requests: int) -> list:
    """Runs n_clients threads of n_requests each; returns (client, i, plan, outcome) rows, outcome being
    (text, id, finish) or "429"."""
    rows, lock = [], threading.Lock()
    barrier = threading.Barrier(n_clients)

    def client_thread(c):
        client = server.client(timeout=60)
        barrier.wait()
        for i in range(n_requests):
            plan = plan_for(c, i)
            try:
                outcome = one_request(client, *plan)
            except openai.RateLimitError:
                outcome = "429"
            with lock:
                rows.append((c, i, plan, outcome))

    threads = [threading.Thread(target=client_thread, args=(c,)) for c in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    return rows


def mixed_plan(c: int, i: int) -> tuple:
    k = c * N_REQUESTS + i
    return PROMPTS[k % len(PROMPTS)], (8, 24)[k % 2], k % 3 == 0, k % 4 == 1


def test_concurrent_clients(stories, expected):
    chat_expected = {}
    with Server(stories) as s:
        warm = s.client()
        for p in PROMPTS:   # warm-up: every code path once, and the chat answers to compare with later
            for n in (8, 24):
                chat_expected[(p, n)] = one_request(warm, p, n, False, True)[0]
                one_request(warm, p, n, True, False)
        rss_before = s.rss_kib()
        rows = run_clients(s, mixed_plan, N_CLIENTS, N_REQUESTS)
        rss_after = s.rss_kib()
        lines = s.wait_for_log(4 * len(PROMPTS) + N_CLIENTS * N_REQUESTS + 0)
        m = parse_metrics(get(s.port, "/metrics")[2].decode())
    assert len(rows) == N_CLIENTS * N_REQUESTS, "a request was lost"
    assert len({(c, i) for c, i, _, _ in rows}) == len(rows)
    answered = [r for r in rows if r[3] != "429"]
    assert len({r[3][1] for r in answered}) == len(answered), "two answers share an id"
    for c, i, (prompt, n, stream, chat), outcome in answered:
        text, _, finish = outcome
        want = chat_expected[(prompt, n)] if chat else expected[(prompt, n)]
        assert text == want, (c, i, prompt, n, stream, chat)
        assert finish in ("stop", "length")
    total = 4 * len(PROMPTS) + N_CLIENTS * N_REQUESTS
    assert len(lines) == total, "one log line per request"
    served = sum(v for k, v in m.items() if k[0] == "edgec_requests_total" and k[1][0][1].startswith("/v1/c"))
    assert served == total
    assert metric(m, "edgec_queue_depth") == 0 and metric(m, "edgec_slots_busy") == 0
    assert abs(rss_after - rss_before) <= 2048, f"RSS {rss_before} KiB -> {rss_after} KiB"


def test_full_queue_answers_429(stories):
    """--max-queue 1: of 8 simultaneous long requests, one runs, one waits, the rest get 429 at once;
    nothing is lost and the server serves normally afterwards."""
    body = {"prompt": "Once", "max_tokens": 240, "temperature": 0, "ignore_eos": True}
    with Server(stories, "--max-queue", "1") as s:
        results, lock = [], threading.Lock()
        barrier = threading.Barrier(8)

        def fire():
            barrier.wait()
            r = post(s.port, "/v1/completions", body)
            with lock:
                results.append(r)

        threads = [threading.Thread(target=fire) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        statuses = sorted(r[0] for r in results)
        assert len(results) == 8 and set(statuses) <= {200, 429} and statuses.count(200) >= 2, statuses
        assert 429 in statuses, statuses
        for status, _, raw in results:
            if status == 429:
                err = json.loads(raw)["error"]
                assert err["code"] == "queue_full" and err["type"] == "rate_limit_error"
            else:
                assert json.loads(raw)["usage"]["completion_tokens"] == 240
        assert post(s.port, "/v1/completions", {"prompt": "Tom", "max_tokens": 4})[0] == 200
        m = parse_metrics(get(s.port, "/metrics")[2].decode())
    assert metric(m, "edgec_requests_total", endpoint="/v1/completions", status="429") == statuses.count(429)
