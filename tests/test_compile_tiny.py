"""Tiny random models, every weight format x target: the compiled program against the numpy reference.

Tolerance: logits of the compiled program are compared with the reference run in kernel-mimicking
mode (int8 activations exactly as the kernels quantize them), so they differ only by float
summation order: 95% of positions within 1e-4 * max |logit|, and every position within 1.5e-2
(a summation-order difference can flip the int8 rounding of an activation sitting on a .5 tie,
which moves a tiny model's logits by up to ~1e-2).  Greedy token sequences must be identical
for 32 tokens, except at a near-tie (the reference's top two logits within 1.5e-2 * max |logit|),
checked by teacher-forcing the reference on the program's own tokens.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import compile_artifact, greedy_logits, load_ir
from edgec.frontends.load_model import load_model
from edgec.ir.reference import Reference
from tiny_models import (make_tiny_config, random_weights, tiny_tokenizer_gpt2, tiny_tokenizer_sentencepiece,
                         write_hf_folder, write_llama2c, write_llama2c_tokenizer, write_tiny_gguf)

FORMATS = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"]
PROMPT = [5, 17, 42, 99, 3, 250, 7, 120]
N_GEN = 32
TIGHT_TOL, TIGHT_SHARE, MAX_TOL = 1e-4, 0.95, 1.5e-2


def assert_logits_close(got, want):
    err = np.abs(got - want).max(axis=1) / np.abs(want).max()
    tight = float((err <= TIGHT_TOL).mean())
    assert tight >= TIGHT_SHARE, f"only {tight:.0%} of positions within {TIGHT_TOL}: {np.round(err, 6)}"
    assert err.max() <= MAX_TOL, f"max logit error {err.max():.2e} of max |logit| exceeds {MAX_TOL}"
    return err.max()


def check_against_reference(model_path, binary, tmp_path, tokenizer_path=None, n_gen=N_GEN, threads=1,
                            quant=None, kv_cache="f32"):
    """Greedy run of the program vs the reference, teacher-forced on the program's own tokens.

    kv_cache: what the program was compiled with (conftest.compile_artifact defaults to f32)."""
    ir = load_ir(str(model_path), tokenizer_path=tokenizer_path, quant=quant)
    vocab = ir.config.vocab_size
    got = greedy_logits(binary, PROMPT, n_gen, vocab, tmp_path, threads=threads)
    assert got.shape[0] >= len(PROMPT) + n_gen - 1, got.shape
    got = got[:len(PROMPT) + n_gen - 1]
    c_ids = [int(i) for i in got[len(PROMPT) - 1:].argmax(axis=1)]
    want = Reference(ir, mimic_kernels=True, kv_cache=kv_cache).forward(PROMPT + c_ids[:-1])
    assert_greedy_matches(c_ids, want[len(PROMPT) - 1:], np.abs(want).max())
    return assert_logits_close(got, want)


def assert_greedy_matches(c_ids, ref_rows, scale):
    """Each greedy token of the program is the reference's argmax at that step; the only exception
    allowed is a near-tie (the reference's top two within MAX_TOL * max |logit|), where summation
    order may pick either."""
    for step, (tok, row) in enumerate(zip(c_ids, ref_rows)):
        if tok != int(row.argmax()):
            gap = float(row.max() - row[tok]) / scale
            assert gap <= MAX_TOL, f"step {step}: program chose {tok}, reference {int(row.argmax())} (gap {gap:.2e})"


@pytest.mark.parametrize("target", ["host", "generic"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_gguf_format_target(tmp_path, fmt, target):
    cfg = make_tiny_config()
    path = write_tiny_gguf(tmp_path / f"tiny-{fmt}.gguf", cfg, fmt, seed=1)
    res = compile_artifact(path, tmp_path / "out", target=target, ctx=128)
    check_against_reference(path, res.binary, tmp_path)


def test_gguf_mixed_formats_two_threads(tmp_path):
    """Q8_0 embedding + Q4_1 layers with one F16 layer (two specialised layer kinds), run on 2 threads."""
    cfg = make_tiny_config(n_layers=3)
    weights = random_weights(cfg, seed=2)
    fmts = {n: ("f32" if a.ndim == 1 else "q8_0" if n == "token_embd.weight" else
                "f16" if n.startswith("blk.1.") else "q4_1") for n, a in weights.items()}
    path = write_tiny_gguf(tmp_path / "mixed.gguf", cfg, fmts, weights=weights)
    res = compile_artifact(path, tmp_path / "out", ctx=128)
    assert "attention_1" in (res.out_dir / "firmware" / "model.c").read_text()
    check_against_reference(path, res.binary, tmp_path, threads=2)


def test_gguf_qwen2_bias_neox(tmp_path):
    cfg = make_tiny_config(arch="qwen2", qkv_bias=True, rope_layout="neox")
    path = write_tiny_gguf(tmp_path / "qwen.gguf", cfg, "q8_0", seed=3)
    res = compile_artifact(path, tmp_path / "out", ctx=128)
    check_against_reference(path, res.binary, tmp_path)


@pytest.mark.parametrize("target", ["host", "generic"])
def test_kv_cache_f16(tmp_path, target):
    """The default --kv-cache f16 halves the cache; K/V are rounded to f16 as the reference models.
    Tolerance: every position within 1.5e-2 of max |logit| (f16 rounding turns summation-order
    differences into 5e-4 steps), greedy identical except at near-ties."""
    cfg = make_tiny_config()
    path = write_tiny_gguf(tmp_path / "kv.gguf", cfg, "q4_1", seed=8)
    res = compile_artifact(path, tmp_path / "out", target=target, ctx=128, kv_cache="f16")
    assert res.manifest["kv_cache"] == "f16"
    assert res.manifest["sizes"]["kv_cache_bytes"] == 2 * cfg.n_layers * 128 * cfg.n_kv_heads * cfg.head_dim * 2
    ir = load_model(str(path))
    got = greedy_logits(res.binary, PROMPT, N_GEN, cfg.vocab_size, tmp_path)[:len(PROMPT) + N_GEN - 1]
    c_ids = [int(i) for i in got[len(PROMPT) - 1:].argmax(axis=1)]
    want = Reference(ir, mimic_kernels=True, kv_cache="f16").forward(PROMPT + c_ids[:-1])
    assert_greedy_matches(c_ids, want[len(PROMPT) - 1:], np.abs(want).max())
    assert np.abs(got - want).max() / np.abs(want).max() <= MAX_TOL


def test_long_prompt_crosses_batches(tmp_path):
    """A prompt longer than one prefill chunk (32) must equal the reference too."""
    cfg = make_tiny_config()
    path = write_tiny_gguf(tmp_path / "t.gguf", cfg, "q4_0", seed=4)
    res = compile_artifact(path, tmp_path / "out", ctx=128)
    ir = load_model(str(path))
    prompt = [(i * 37 + 11) % cfg.vocab_size for i in range(75)]
    got = greedy_logits(res.binary, prompt, 1, cfg.vocab_size, tmp_path)[:len(prompt)]
    want = Reference(ir, mimic_kernels=True).forward(prompt)
    assert_logits_close(got, want)


@pytest.mark.parametrize("dtype,quant", [("f32", None), ("bf16", None), ("f16", "q4_1"), ("f32", "q8_0")])
def test_hf_folder(tmp_path, dtype, quant):
    cfg = make_tiny_config(rope_layout="neox")
    tok, tok_json = tiny_tokenizer_gpt2()
    folder = tmp_path / "hf"
    write_hf_folder(folder, cfg, random_weights(cfg, seed=5), dtype, tok_json, shards=2)
    res = compile_artifact(folder, tmp_path / "out", ctx=128, quant=quant)
    if quant:
        assert set(res.manifest["formats"]) >= {quant}
    ir_path = folder
    ir = load_ir(str(ir_path), quant=quant)
    got = greedy_logits(res.binary, PROMPT, N_GEN, cfg.vocab_size, tmp_path)[:len(PROMPT) + N_GEN - 1]
    c_ids = [int(i) for i in got[len(PROMPT) - 1:].argmax(axis=1)]
    want = Reference(ir, mimic_kernels=True).forward(PROMPT + c_ids[:-1])
    assert_greedy_matches(c_ids, want[len(PROMPT) - 1:], np.abs(want).max())


@pytest.mark.parametrize("version", [0, 1])
def test_llama2c_checkpoint(tmp_path, version):
    tok = tiny_tokenizer_sentencepiece()
    cfg = make_tiny_config(tied_embeddings=version == 0, vocab_size=len(tok.tokens))
    path, tpath = tmp_path / "m.bin", tmp_path / "tok.bin"
    write_llama2c(path, cfg, random_weights(cfg, seed=6), version)
    write_llama2c_tokenizer(tpath, tok)
    res = compile_artifact(path, tmp_path / "out", ctx=128, tokenizer=str(tpath))
    check_against_reference(path, res.binary, tmp_path, tokenizer_path=str(tpath))
