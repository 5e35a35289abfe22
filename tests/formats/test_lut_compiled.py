"""The LUT kernels inside compiled programs: which matrices a target puts in bit-plane tiles, the table
buffer in the arena, and whole programs against the reference (tied embedding read from LUT tiles,
two threads).  Kernel-level checks are in tests/kernels/test_kernels_lut.py."""
from __future__ import annotations

import dataclasses

import pytest

from conftest import compile_artifact, load_ir
from edgec.errors import EdgecError
from edgec.plan.kernel_choice import plan_all
from edgec.plan.lut_layout import lut_table_bytes
from edgec.plan.memory_plan import plan_arena
from edgec.targets import load_target
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf
from test_compile_tiny import check_against_reference
from test_lowbit_formats import reference_loads_with_output_quant


def _tiny_gguf(tmp_path, tied: bool, seed: int):
    cfg = make_tiny_config(dim=128, hidden_dim=192, tied_embeddings=tied)
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "m.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=seed), "f32", tok)
    return path


def test_plan_puts_lut_formats_in_bit_plane_tiles(tmp_path):
    path = _tiny_gguf(tmp_path, tied=False, seed=40)
    ir = load_ir(str(path), quant="q3")
    host = load_target("host")
    plans = plan_all(ir, host)
    assert plans["blk.0.ffn_down.weight"].layout == "lut"
    assert plans["blk.0.ffn_down.weight"].kernel == "edgec_matmul_lut_q3"
    assert plans["token_embd.weight"].layout == "rowmajor"   # untied: a row lookup only
    generic = plan_all(ir, load_target("generic"))
    assert {p.layout for p in generic.values()} == {"rowmajor"}
    q4 = plan_all(load_ir(str(path), quant="q4_1"), dataclasses.replace(host, lut_formats=["q4_1"]))
    assert q4["blk.1.attn_q.weight"].kernel == "edgec_matmul_lut_q4_1"


def test_arena_reserves_tables_only_for_lut():
    cfg = make_tiny_config(dim=128, hidden_dim=192)
    without, with_lut = plan_arena(cfg, 64, 8), plan_arena(cfg, 64, 8, lut=True)
    assert "lut" not in {b.name for b in without.buffers}
    assert with_lut.buffer("lut").n_bytes == lut_table_bytes(192, 8)
    assert with_lut.total_bytes >= without.total_bytes + lut_table_bytes(192, 8)


def test_unknown_lut_format_in_a_profile_is_refused(tmp_path, monkeypatch):
    (tmp_path / "odd.toml").write_text(
        'name = "odd"\ndescription = "x"\narch = "native"\nisa = "native"\ncores = 1\nram_bytes = 0\n'
        'l2_bytes = 0\nl3_bytes = 0\ncc = ["cc"]\ncflags = []\nlut_formats = ["q8_0"]\n')
    monkeypatch.setattr("edgec.targets.targets_dir", lambda: tmp_path)
    with pytest.raises(EdgecError, match="no LUT kernel"):
        load_target("odd")


@pytest.mark.parametrize("quant", ["q2", "q3"])
def test_tied_lut_model_two_threads_matches_reference(tmp_path, monkeypatch, quant):
    """The tied embedding is both the classifier (LUT matmul) and the lookup table (get_row from tiles);
    --output-quant same puts it in quant (the default would keep it q8_0)."""
    path = _tiny_gguf(tmp_path, tied=True, seed=43)
    res = compile_artifact(path, tmp_path / "out", target="host", ctx=96, quant=quant, output_quant="same")
    layouts = {t["name"]: t["layout"] for t in res.manifest["tensors"] if t["format"] == quant}
    assert set(layouts.values()) == {"lut"} and "token_embd.weight" in layouts
    model_c = (res.out_dir / "firmware" / "model.c").read_text()
    assert f"edgec_get_row_lut_{quant}(" in model_c and "edgec_lut_build_tables(" in model_c
    reference_loads_with_output_quant(monkeypatch, "same")
    check_against_reference(path, res.binary, tmp_path, quant=quant, threads=2)
