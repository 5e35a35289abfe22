"""Generated code is correct under both gcc and clang, not only under the compiler a target prefers.

gcc 12 once deleted an activation-quantize call (an IPA pure/const misjudgement; compile.py adds
-fno-ipa-pure-const -fno-ipa-modref for gcc) and turns some scalar int8 loops into vpdpbusd with
the wrong signedness, so each kernel family the host uses (i16 dot-product tiles, 64-row ternary
tiles, LUT bit-plane tiles) is built with each compiler and compared with the reference.
"""
from __future__ import annotations

import shutil

import pytest

from conftest import compile_artifact
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf
from test_compile_tiny import check_against_reference


@pytest.mark.parametrize("cc", ["gcc", "clang"])
# seed 52 for q3: with its default q8_0 embedding/classifier, seed 50 puts an activation 2e-5 from an
# int8 rounding tie (the program and the reference may round it either way)
@pytest.mark.parametrize("fmt,quant,layout,seed", [("q4_1", None, "i16", 50), ("f32", "tq2", "i16", 51),
                                                   ("f32", "q3", "lut", 52)])
def test_host_kernels_under_each_compiler(tmp_path, cc, fmt, quant, layout, seed):
    assert shutil.which(cc), f"{cc} is not installed: run examples/setup.sh"
    cfg = make_tiny_config(dim=128, hidden_dim=192, n_heads=4)
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "m.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=seed), fmt, tok)
    res = compile_artifact(path, tmp_path / "out", target="host", ctx=96, quant=quant, cc=cc, autotune=False)
    assert res.manifest["target"]["cc"].split()[0] == cc
    layouts = {t["layout"] for t in res.manifest["tensors"] if t["name"].startswith("blk.")
               and len(t["shape"]) == 2}
    assert layouts == {layout}, layouts
    check_against_reference(path, res.binary, tmp_path, quant=quant, threads=2)
