"""`edgec bench` and `edgec eval` on stories260K (f32, tied) compiled with a small context."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import FIXTURES, STORIES, compile_artifact, greedy_logits, run_binary
from edgec.tools.bench import percentile, weight_bytes_per_token
from edgec.cli import main
from edgec.errors import EdgecError
from edgec.tools.evaluate import plan_windows

MOBY = FIXTURES / "moby_dick_head.txt"
TOKENIZER = STORIES / "tok512.bin"
CTX = 128

BENCH_KEYS = {"threads", "prompt_tokens", "gen_tokens", "prompt_tok_s", "decode_tok_s", "ttft_ms", "p50_ms",
              "p90_ms", "p99_ms", "max_ms", "jitter_ms", "peak_rss_bytes", "binary_bytes", "weight_bytes",
              "bandwidth_gbs", "measured_bandwidth_gbs", "bandwidth_fraction", "model", "target", "isa"}


@pytest.fixture(scope="module")
def stories(tmp_path_factory):
    return compile_artifact(STORIES / "stories260K.bin", tmp_path_factory.mktemp("bench") / "art", target="host",
                            tokenizer=str(TOKENIZER), ctx=CTX, kv_cache="f32")


def run_cli(args, capsys) -> tuple:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def stories_param_bytes() -> int:
    """f32 bytes of every stories260K weight a decode step reads, from its published shapes
    (dim 64, hidden 172, 5 layers, 8 heads / 4 kv heads of 8, vocab 512, tied classifier)."""
    dim, hidden, layers, kv_dim, vocab = 64, 172, 5, 32, 512
    per_layer = 2 * dim + 2 * dim * dim + 2 * dim * kv_dim + 3 * dim * hidden
    return 4 * (layers * per_layer + vocab * dim + dim)


# ---- bench ----

def test_bench_json_has_sane_values(stories, tmp_path, capsys):
    out = tmp_path / "bench.json"
    code, text, err = run_cli(["bench", stories.out_dir, "--prompt-tokens", 24, "--gen-tokens", 20, "--reps", 2,
                               "--threads", 1, "--json", out], capsys)
    assert code == 0, err
    r = json.loads(out.read_text())
    assert BENCH_KEYS <= set(r)
    assert all(not isinstance(v, (dict, list)) for v in r.values()), "the JSON must be flat"
    assert (r["threads"], r["prompt_tokens"], r["gen_tokens"]) == (1, 24, 20)
    assert r["model"] == "stories260k" and r["target"] == "host" and r["isa"] and r["weight_layout"]
    assert r["decode_tok_s"] > 0 and r["prompt_tok_s"] > 0 and r["ttft_ms"] > 0
    assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"]
    assert r["jitter_ms"] == pytest.approx(r["p99_ms"] - r["p50_ms"])
    assert r["weight_bytes"] == stories.manifest["sizes"]["weights_bytes"]
    assert r["weight_bytes_per_token"] == stories_param_bytes()
    # K and V (f32) of 5 layers x 32 kv dims per cached position, at the mean decode position 24 + 21/2
    assert r["kv_bytes_per_token"] == round(5 * 2 * 32 * 4 * (24 + 21 / 2))
    assert r["binary_bytes"] == (stories.out_dir / "bin" / "stories260k").stat().st_size
    assert 1 << 20 < r["peak_rss_bytes"] < 1 << 30  # bytes, not KiB
    assert r["measured_bandwidth_gbs"] > 0 and math.isfinite(r["bandwidth_fraction"]) and r["bandwidth_fraction"] > 0
    assert r["bandwidth_gbs"] == pytest.approx(r["weight_bytes_per_token"] * r["decode_tok_s"] / 1e9)
    assert r["bandwidth_fraction"] == pytest.approx(r["bandwidth_gbs"] / r["measured_bandwidth_gbs"])
    assert "decode" in text and "tok/s" in text and "GB/s" in text
    assert r["emulated"] is None and "EMULATED" not in text   # a native run


def test_bench_refuses_more_tokens_than_the_context(stories, capsys):
    code, _, err = run_cli(["bench", stories.out_dir, "--prompt-tokens", 100, "--gen-tokens", 29], capsys)
    assert code == 1
    assert "--ctx" in err and len(err.strip().splitlines()) == 1


def test_bench_needs_an_artifact(tmp_path, capsys):
    code, _, err = run_cli(["bench", tmp_path], capsys)
    assert code == 1 and "manifest.json" in err


# ---- a cross-compiled artifact: run under qemu-aarch64, labelled as emulated ----

EMULATED = "qemu-aarch64 -cpu cortex-a53"   # targets/pi-zero.toml's run_prefix


@pytest.fixture(scope="module")
def stories_pi_zero(tmp_path_factory):
    return compile_artifact(STORIES / "stories260K.bin", tmp_path_factory.mktemp("bench") / "pz", target="pi-zero",
                            tokenizer=str(TOKENIZER), ctx=CTX, kv_cache="f32")


def test_bench_of_a_cross_artifact_runs_emulated(stories_pi_zero, tmp_path, capsys):
    out = tmp_path / "bench.json"
    code, text, err = run_cli(["bench", stories_pi_zero.out_dir, "--prompt-tokens", 8, "--gen-tokens", 4,
                               "--reps", 1, "--threads", 1, "--json", out], capsys)
    assert code == 0, err
    r = json.loads(out.read_text())
    assert BENCH_KEYS <= set(r) and all(not isinstance(v, (dict, list)) for v in r.values())
    assert r["emulated"] == EMULATED and r["target"] == "pi-zero" and r["isa"]
    assert r["decode_tok_s"] > 0 and r["prompt_tok_s"] > 0 and (r["prompt_tokens"], r["gen_tokens"]) == (8, 4)
    assert f"EMULATED under {EMULATED}" in text


def test_eval_of_a_cross_artifact_runs_emulated(stories, stories_pi_zero, tmp_path, capsys):
    """The emulated aarch64 program scores the text as the native one does (same f32 model, other kernels)."""
    results = {}
    for name, art in [("host", stories), ("pi-zero", stories_pi_zero)]:
        out = tmp_path / f"{name}.json"
        code, text, err = run_cli(["eval", art.out_dir, "--text", MOBY, "--max-tokens", 60, "--json", out], capsys)
        assert code == 0, err
        results[name] = json.loads(out.read_text()), text
    (native, _), (emulated, text) = results["host"], results["pi-zero"]
    assert native["emulated"] is None and emulated["emulated"] == EMULATED and f"emulated under {EMULATED}" in text
    assert emulated["tokens"] == native["tokens"] == 60
    assert emulated["perplexity"] == pytest.approx(native["perplexity"], rel=1e-3)


# ---- options checked before any run ----

@pytest.mark.parametrize("cmd", ["bench", "eval"])
def test_threads_beyond_the_cpus_warn_once(stories, cmd, capsys):
    import os
    too_many = (os.cpu_count() or 1) + 1
    args = (["bench", stories.out_dir, "--prompt-tokens", 4, "--gen-tokens", 2, "--reps", 1] if cmd == "bench" else
            ["eval", stories.out_dir, "--text", MOBY, "--max-tokens", 20])
    code, _, err = run_cli([*args, "--threads", too_many], capsys)
    assert code == 0, err
    warnings = [ln for ln in err.splitlines() if "warning" in ln.lower()]
    assert len(warnings) == 1 and f"--threads {too_many}" in warnings[0] and "CPUs online" in warnings[0], err
    code, _, err = run_cli([*args, "--threads", 1], capsys)
    assert code == 0 and "warning" not in err.lower()


@pytest.mark.parametrize("cmd", ["bench", "eval"])
def test_unwritable_json_is_refused_before_running(stories, tmp_path, cmd, capsys):
    args = ["bench", stories.out_dir, "--prompt-tokens", 4, "--gen-tokens", 2] if cmd == "bench" else \
        ["eval", stories.out_dir, "--text", MOBY]
    for path, words in [(tmp_path, "is a folder"), (tmp_path / "no" / "r.json", "does not exist")]:
        code, out, err = run_cli([*args, "--json", path], capsys)
        assert code == 1 and len(err.strip().splitlines()) == 1 and words in err and f"--json {path}" in err
        assert out == ""   # nothing ran


def test_eval_names_a_missing_or_wrong_text(stories, tmp_path, capsys):
    for path, words in [(tmp_path / "none.txt", "no such file"), (tmp_path, "is a folder")]:
        code, _, err = run_cli(["eval", stories.out_dir, "--text", path], capsys)
        assert code == 1 and len(err.strip().splitlines()) == 1 and f"--text {path}" in err and words in err


def test_weight_bytes_per_token_counts_the_embedding_once():
    tensors = [{"name": "token_embd.weight", "bytes": 1000, "shape": [10, 25]},
               {"name": "blk.0.attn_q.weight", "bytes": 300, "shape": [5, 5]},
               {"name": "output_norm.weight", "bytes": 20, "shape": [5]},
               {"name": "rope.cos", "bytes": 4000, "shape": [100, 10]},
               {"name": "rope.sin", "bytes": 4000, "shape": [100, 10]}]
    tied = {"tensors": tensors, "model": {"tied_embeddings": True}}
    assert weight_bytes_per_token(tied) == 1000 + 300 + 20
    untied = {"tensors": tensors + [{"name": "output.weight", "bytes": 500, "shape": [10, 25]}],
              "model": {"tied_embeddings": False}}
    assert weight_bytes_per_token(untied) == 100 + 300 + 20 + 500  # one embedding row + the classifier


def test_percentile_matches_numpy():
    values = list(np.random.default_rng(3).exponential(size=37))
    for q in (0, 50, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))


# ---- eval ----

@pytest.mark.parametrize("bos", [None, 1])
def test_windows_score_every_token_once(bos):
    ids = list(range(100, 197))
    for window, stride in [(16, 7), (16, 15), (200, 10), (3, 1)]:
        windows = plan_windows(ids, window, stride, bos)
        scored = []
        for w in windows:
            assert len(w.tokens) <= window and w.first_row >= 0
            assert (w.tokens[0] == bos) if bos is not None else True
            scored += w.tokens[w.first_row + 1: w.first_row + 1 + w.n_scored]
        assert scored == (ids if bos is not None else ids[1:])
    with pytest.raises(EdgecError, match="--stride"):
        plan_windows(ids, 16, 16, bos)  # would leave a token without context or unscored


def test_eval_same_source_agrees(stories, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code, text, err = run_cli(["eval", stories.out_dir, "--text", MOBY, "--max-tokens", 400, "--reference",
                               STORIES / "stories260K.bin", "--reference-tokenizer", TOKENIZER, "--json", out], capsys)
    assert code == 0, err
    r = json.loads(out.read_text())
    assert r["tokens"] == 400 and r["scored_tokens"] == 400  # BOS in front: every text token is scored
    assert r["windows"] > 1 and r["window"] == CTX
    assert math.isfinite(r["perplexity"]) and r["perplexity"] > 1
    assert r["top1_agreement"] >= 0.99
    assert 0 <= r["kl_divergence"] < 1e-3
    assert r["reference_perplexity"] == pytest.approx(r["perplexity"], rel=1e-3)
    assert "perplexity" in text


def test_eval_different_reference_disagrees(stories, tmp_path, capsys):
    from tiny_models import make_tiny_config, random_weights, write_llama2c
    cfg = make_tiny_config(vocab_size=512, dim=64, n_heads=8, n_kv_heads=4)
    other = tmp_path / "other.bin"
    write_llama2c(str(other), cfg, random_weights(cfg, seed=11))
    results = {}
    for name, ref in [("same", STORIES / "stories260K.bin"), ("other", other)]:
        out = tmp_path / f"{name}.json"
        code, _, err = run_cli(["eval", stories.out_dir, "--text", MOBY, "--max-tokens", 200, "--reference", ref,
                                "--reference-tokenizer", TOKENIZER, "--json", out], capsys)
        assert code == 0, err
        results[name] = json.loads(out.read_text())
    assert results["other"]["kl_divergence"] > 0.05
    assert results["other"]["kl_divergence"] > 100 * results["same"]["kl_divergence"]
    assert results["other"]["top1_agreement"] < 0.9
    assert results["other"]["perplexity"] == results["same"]["perplexity"]  # the artifact's side is unchanged


def test_eval_perplexity_matches_a_direct_computation(stories, tmp_path, capsys):
    """One window over a one-line text: the perplexity from the program's own logits, computed here."""
    line = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
    text = tmp_path / "line.txt"
    text.write_text(line)
    tok = run_binary(stories.binary, "--tokenize", "-f", text)
    assert tok.returncode == 0
    ids = [int(x) for x in tok.stdout.split()]
    tokens = [1] + ids  # tok512's BOS
    logits = greedy_logits(stories.binary, tokens, 0, 512, tmp_path).astype(np.float64)
    logp = logits - logits.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    expect = math.exp(-np.mean([logp[i, tokens[i + 1]] for i in range(len(ids))]))
    out = tmp_path / "eval.json"
    code, _, err = run_cli(["eval", stories.out_dir, "--text", text, "--json", out], capsys)
    assert code == 0, err
    r = json.loads(out.read_text())
    assert (r["tokens"], r["windows"], r["kl_divergence"], r["top1_agreement"]) == (len(ids), 1, None, None)
    assert r["perplexity"] == pytest.approx(expect, rel=1e-6)
    assert 1 < r["perplexity"] < 50  # the model's own kind of text is easy for it


def test_eval_rejects_a_reference_with_another_vocabulary(stories, tmp_path, capsys):
    from tiny_models import make_tiny_config, random_weights, write_gguf
    cfg = make_tiny_config()  # vocab 300
    other = tmp_path / "other.gguf"
    write_gguf(str(other), cfg, random_weights(cfg, seed=2))
    code, _, err = run_cli(["eval", stories.out_dir, "--text", MOBY, "--max-tokens", 50, "--reference", other],
                           capsys)
    assert code == 1 and "vocabulary" in err and len(err.strip().splitlines()) == 1


def test_eval_rejects_a_window_too_small(stories, capsys):
    code, _, err = run_cli(["eval", stories.out_dir, "--text", MOBY, "--ctx-window", 1], capsys)
    assert code == 1 and "--ctx-window" in err and len(err.strip().splitlines()) == 1


def test_eval_names_its_own_reference_flags(stories, tmp_path, capsys):
    code, _, err = run_cli(["eval", stories.out_dir, "--text", MOBY, "--reference", STORIES / "stories260K.bin"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "--reference-tokenizer" in err
    code, _, err = run_cli(["eval", stories.out_dir, "--text", MOBY, "--reference", STORIES / "stories260K.bin",
                            "--reference-tokenizer", tmp_path / "none.bin"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "none.bin" in err and "--reference-tokenizer" in err
