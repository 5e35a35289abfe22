"""RoPE scaling in GGUF metadata is applied, never silently dropped (issue 8).

Twins of one tiny model, unscaled and with `llama.rope.scaling.type = linear`, `factor = 4`, are
compiled; the scaled program must match the numpy reference with every rotary frequency divided
by 4 (a reference built from the unscaled twin's weights, so the reader's own answer is not what
it is checked against), and must differ from the unscaled program.  Tolerances as in
test_compile_tiny.py.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from gguf import GGUFValueType as VT

from conftest import compile_artifact, greedy_logits
from edgec.errors import EdgecError
from edgec.frontends.load_model import load_model
from edgec.ir.reference import Reference
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf
from test_compile_tiny import assert_greedy_matches, assert_logits_close

PROMPT = [5, 17, 42, 99, 3, 250, 7, 120]
N_GEN = 40   # positions up to 47: every pair's angle is far from the unscaled one by then
FACTOR = 4.0
LINEAR = {"llama.rope.scaling.type": ("linear", VT.STRING), "llama.rope.scaling.factor": (FACTOR, VT.FLOAT32)}


def write_twins(tmp_path, cfg, scaling: dict) -> tuple:
    """(unscaled path, scaled path) of one tiny model whose files differ only in the scaling keys."""
    tok, _ = tiny_tokenizer_gpt2()
    weights = random_weights(cfg, seed=11)
    plain, scaled = tmp_path / "plain.gguf", tmp_path / "scaled.gguf"
    write_gguf(plain, cfg, weights, "q8_0", tok)
    write_gguf(scaled, cfg, weights, "q8_0", tok, metadata=scaling)
    return plain, scaled


def reference_with_factors(path, factors: list) -> Reference:
    """The reference of the model at path with its rope frequencies divided by factors."""
    ir = load_model(str(path))
    ir.config = dataclasses.replace(ir.config, rope_freq_factors=list(factors))
    return Reference(ir, mimic_kernels=True)


def program_logits(path, tmp_path, name: str) -> np.ndarray:
    res = compile_artifact(path, tmp_path / name, ctx=128)
    return greedy_logits(res.binary, PROMPT, N_GEN, 300, tmp_path)[:len(PROMPT) + N_GEN - 1]


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_linear_scaling_is_applied(tmp_path, arch):
    cfg = make_tiny_config(arch=arch)
    scaling = {k.replace("llama.", f"{arch}."): v for k, v in LINEAR.items()}
    plain, scaled = write_twins(tmp_path, cfg, scaling)
    assert load_model(str(scaled)).config.rope_freq_factors == [FACTOR] * (cfg.rope_dim // 2)

    got = program_logits(scaled, tmp_path, "scaled")
    ids = [int(i) for i in got[len(PROMPT) - 1:].argmax(axis=1)]
    want = reference_with_factors(plain, [FACTOR] * (cfg.rope_dim // 2)).forward(PROMPT + ids[:-1])
    assert_greedy_matches(ids, want[len(PROMPT) - 1:], np.abs(want).max())
    assert_logits_close(got, want)

    unscaled = program_logits(plain, tmp_path, "plain")
    # From position 1 on the two programs rotate by different angles: the logits must show it.
    differs = np.abs(unscaled[1:] - got[1:]).max(axis=1) / np.abs(got).max()
    assert differs.min() > 1e-3, f"scaled and unscaled programs agree at some position: {differs.min():.2e}"
    assert np.abs(unscaled[0] - got[0]).max() <= 1e-4 * np.abs(got).max()   # position 0 is not rotated


def test_linear_scaling_multiplies_llama3_factors(tmp_path):
    """A rope_freqs.weight tensor (Llama-3) and a linear factor both apply, as in llama.cpp."""
    factors = [1.0 + i / 4 for i in range(8)]
    cfg = make_tiny_config(rope_freq_factors=factors)
    _, scaled = write_twins(tmp_path, cfg, LINEAR)
    assert load_model(str(scaled)).config.rope_freq_factors == [f * FACTOR for f in factors]


@pytest.mark.parametrize("metadata, expected", [
    ({"llama.rope.scaling.type": ("none", VT.STRING), "llama.rope.scaling.factor": (4.0, VT.FLOAT32)}, None),
    ({"llama.rope.scaling.factor": (2.0, VT.FLOAT32)}, [2.0] * 8),        # llama.cpp's default type: linear
    ({"llama.rope.scale_linear": (2.0, VT.FLOAT32)}, [2.0] * 8),          # the older key
    ({"llama.rope.scaling.type": ("linear", VT.STRING), "llama.rope.scaling.factor": (0.0, VT.FLOAT32)}, None),
    ({"llama.rope.scaling.type": ("linear", VT.STRING), "llama.rope.scaling.factor": (1.0, VT.FLOAT32)}, None),
])
def test_scaling_variants(tmp_path, metadata, expected):
    cfg = make_tiny_config()
    _, scaled = write_twins(tmp_path, cfg, metadata)
    assert load_model(str(scaled)).config.rope_freq_factors == expected


@pytest.mark.parametrize("kind", ["yarn", "longrope", "dynamic"])
def test_unimplemented_scaling_type_is_refused(tmp_path, kind):
    cfg = make_tiny_config()
    _, scaled = write_twins(tmp_path, cfg, {"llama.rope.scaling.type": (kind, VT.STRING),
                                            "llama.rope.scaling.factor": (4.0, VT.FLOAT32)})
    with pytest.raises(EdgecError) as info:
        load_model(str(scaled))
    assert repr(kind) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("factor", [float("nan"), float("inf"), -2.0])
def test_bad_scaling_factor_is_refused(tmp_path, factor):
    cfg = make_tiny_config()
    _, scaled = write_twins(tmp_path, cfg, {"llama.rope.scaling.factor": (factor, VT.FLOAT32)})
    with pytest.raises(EdgecError) as info:
        load_model(str(scaled))
    assert "rope scaling factor" in str(info.value)
