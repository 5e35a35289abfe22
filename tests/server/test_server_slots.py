"""Several conversations at once: a program compiled with --slots 4 decodes the busy slots together
(one forward pass per step) and prefills new prompts between decode steps.

The rule (tests/runtime/test_model_slots.py checks it on the core): a token's logits do not depend on
what else is in its forward pass, so each greedy reply over HTTP equals the CLI's greedy output for
its prompt, however the requests overlap.  The metrics prove the passes really were shared.
"""
from __future__ import annotations

import subprocess
import threading

import pytest

from conftest import compile_artifact
from server_harness import Server, as_served, get, metric, parse_metrics

pytestmark = pytest.mark.timeout(180)

PROMPTS = ["The old ship sailed", "A whale is a", "Call me Ishmael. Some years ago", "In the morning the sea",
           "He said that the captain", "Down in the hold", "The harpoon flew"]


@pytest.fixture(scope="module")
def slots_binary(tmp_path_factory):
    """A tiny random llama slow enough (~1.5 ms a token) that concurrent requests overlap for sure."""
    from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf
    folder = tmp_path_factory.mktemp("server_slots")
    cfg = make_tiny_config(dim=256, hidden_dim=768, n_layers=6, n_heads=8, n_kv_heads=4, max_seq_len=512)
    tok, _ = tiny_tokenizer_gpt2()
    gguf = folder / "tiny.gguf"
    write_gguf(gguf, cfg, random_weights(cfg, seed=9), "q8_0", tok)
    return compile_artifact(gguf, folder / "art", target="host", ctx=512, slots=4, name="tiny4").binary


@pytest.fixture(scope="module")
def server(slots_binary):
    with Server(slots_binary, "-t", "0", "--max-queue", "8") as s:
        yield s


def cli_greedy(binary, prompt: str, n: int) -> str:
    """The program's greedy continuation of prompt run alone, past end-of-text as the requests ask."""
    r = subprocess.run([str(binary), "-p", prompt, "-n", str(n), "-t", "0", "--ignore-eos", "--threads", "1"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return as_served(r.stdout[:-1] if r.stdout.endswith(b"\n") else r.stdout)


def completion(server, prompt, n, **kw):
    """server: the Server, or an openai client made beforehand (making one takes longer than a reply)."""
    client = server.client(timeout=60) if isinstance(server, Server) else server
    return client.completions.create(
        model="tiny4", prompt=prompt, max_tokens=n, temperature=0, extra_body={"ignore_eos": True}, **kw)


def streamed_text(server, prompt, n) -> str:
    return "".join(c.choices[0].text for c in completion(server, prompt, n, stream=True) if c.choices)


def run_together(fn, args: list) -> list:
    """Calls fn(*a) for every a at once (released together by a barrier); returns the results in order."""
    barrier, results, errors = threading.Barrier(len(args)), [None] * len(args), []

    def work(i, a):
        try:
            barrier.wait()
            results[i] = fn(*a)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(args)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def passes(server) -> tuple:
    m = parse_metrics(get(server.port, "/metrics")[2].decode())
    return metric(m, "edgec_forward_passes_total"), metric(m, "edgec_forward_pass_slots_total")


def test_metrics_count_the_slots(server):
    m = parse_metrics(get(server.port, "/metrics")[2].decode())
    assert metric(m, "edgec_slots_total") == 4
    assert "4 slots" in server.log[0]


def test_four_busy_slots_equal_cli_greedy(server, slots_binary):
    """4 streams at once, of different lengths (so prefills land between other slots' decode steps)."""
    cases = [(server.client(timeout=60), PROMPTS[i], n) for i, n in enumerate((90, 60, 75, 45))]
    p0, s0 = passes(server)
    got = run_together(streamed_text, cases)
    p1, s1 = passes(server)
    for (_, prompt, n), text in zip(cases, got):
        assert text == cli_greedy(slots_binary, prompt, n), prompt
    assert (s1 - s0) / (p1 - p0) >= 2, "the busy slots were not decoded together"   # 3 when they all overlap


def test_more_requests_than_slots_queue_and_all_equal(server, slots_binary):
    """7 requests on 4 slots, streaming and not: the extra 3 wait for a free slot; every reply is right."""
    cases = [(server.client(timeout=60), p, 30 + 5 * i, i % 2 == 0) for i, p in enumerate(PROMPTS)]

    def one(client, prompt, n, stream):
        return streamed_text(client, prompt, n) if stream else completion(client, prompt, n).choices[0].text
    got = run_together(one, cases)
    for (_, prompt, n, _), text in zip(cases, got):
        assert text == cli_greedy(slots_binary, prompt, n), prompt


def test_a_client_leaving_does_not_disturb_the_others(server, slots_binary):
    def leaver(client):
        stream = completion(client, PROMPTS[4], 400, stream=True)
        for i, _ in enumerate(stream):
            if i == 5:
                stream.close()   # hangs up mid-stream
                return "left"
        return "finished"
    cases = [(server.client(timeout=60),), (server.client(timeout=60), PROMPTS[0], 80),
             (server.client(timeout=60), PROMPTS[1], 70)]
    got = run_together(lambda *a: leaver(*a) if len(a) == 1 else streamed_text(*a), cases)
    assert got[0] == "left"
    for (_, prompt, n), text in zip(cases[1:], got[1:]):
        assert text == cli_greedy(slots_binary, prompt, n)


def test_prefix_reuse_keeps_each_conversation_in_its_slot(server):
    """Turns of 3 conversations interleaved: each next turn finds its own earlier turn in some slot."""
    first = [PROMPTS[i] + " and then" * 8 for i in range(3)]
    for p in first:
        completion(server, p, 8)
    for p in first:
        r = completion(server, p + " once more", 8)
        longer = completion(server, p, 1)  # the prompt alone: the slot holds it and more
        assert r.usage.prompt_tokens_details.cached_tokens >= longer.usage.prompt_tokens - 1, p
