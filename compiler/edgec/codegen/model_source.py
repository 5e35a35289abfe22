"""The data the generated sources (model.h, model.c, blobs, CMakeLists.txt) are rendered from.

Everything model-specific is decided here and handed to the Jinja2 templates as plain
data: shapes, blob offsets, arena offsets, which specialised matmul each layer calls.
"""
from __future__ import annotations

import math

from edgec import __version__
from edgec.codegen.c_names import generic_names
from edgec.ir.model_ir import ModelIR
from edgec.plan.memory_plan import ArenaPlan
from edgec.plan.weights_blob import WeightsLayout
from edgec.targets import Target

QUANTIZED = {"q8_0", "q4_0", "q4_1", "tq2", "tq2_0", "tq1_0", "q2", "q3"}   # formats whose kernels take int8 (q8a) activations


def _c_float(x: float) -> str:
    """A float literal that round-trips to the same float32."""
    return f"{float(x)!r}f" if "e" in repr(float(x)) or "." in repr(float(x)) else f"{float(x)!r}.0f"


_LAYOUT_DESC = {"rowmajor": "in GGUF row order", "lut": "in 32-row bit-plane tiles (T-MAC-style table lookup)"}


def _kernel_name(fmt: str, n: int, layout: str) -> str:
    return f"matmul_{'' if layout == 'rowmajor' else layout + '_'}{fmt}_{n}"


# Rows per unit of work a worker takes: a weight tile (i16: 16-row quarters of the tiles; lut: 32-row
# bit-plane tiles) or one row (row-major).
_UNIT_ROWS = {"i16": 16, "lut": 32, "rowmajor": 1}


def _matmul_kind(fmt: str, layout: str, act: str) -> dict:
    """The kernel a (format, layout) calls in model.c's matmul_rows: enum name, description, unit, call."""
    x = "(const edgec_block_q8a *)j->x" if act == "q8a" else "(const float *)j->x"
    if layout == "i16":
        call = f"edgec_matmul_i16_{fmt}(t->out, t->ldo, t->w, u0, u1, t->rows, {x}, j->n_tok, n)"
        where = "in 64-row ternary tiles" if fmt == "tq2" else "in 16-row interleaved tiles"
    elif layout == "lut":
        call = f"edgec_matmul_lut_{fmt}(t->out, t->ldo, t->w, u0, u1, t->rows, j->tables, {x}, j->n_tok, n)"
        where = _LAYOUT_DESC[layout]
    elif act == "q8a":
        call = f"edgec_matmul_{fmt}(t->out, t->ldo, t->w, u0, u1, {x}, j->n_tok, n)"
        where = _LAYOUT_DESC[layout]
    else:
        call = f"edgec_matmul_{fmt}(t->out, t->ldo, t->w, u0, u1, {x}, n, j->n_tok, n)"
        where = _LAYOUT_DESC[layout]
    return {"enum": f"{fmt}_{layout}".upper(), "unit": _UNIT_ROWS[layout], "call": call,
            "desc": f"{fmt} {where}, {'int8 q8a' if act == 'q8a' else 'f32'} activations"}


def _groups(what: str, mats: list, n: int, kernels: dict) -> list:
    """Split matrices (dicts with fmt, layout, shape, w, out, ldo, rows) into groups of one format and layout."""
    by_kind = {}
    for mat in mats:
        by_kind.setdefault((mat["fmt"], mat["layout"]), []).append(mat)
    groups = []
    for (fmt, layout), ms in by_kind.items():
        act = "q8a" if fmt in QUANTIZED else "f32"
        fname = _kernel_name(fmt, n, layout)
        kernels[(fmt, n, layout)] = {"fmt": fmt, "n": n, "fname": fname, "act": act, "layout": layout,
                                     **_matmul_kind(fmt, layout, act)}
        shapes = ", ".join(f"[{m['shape'][0]} x {m['shape'][1]}]" for m in ms)
        tiles = (" (64-row tiles)" if fmt == "tq2" else " (16-row tiles)") if layout == "i16" else \
            " (32-row bit-plane tiles, LUT kernel)" if layout == "lut" else ""
        groups.append({"what": what, "fmt": fmt + tiles, "act": act, "layout": layout,
                       "fname": fname, "shapes": shapes, "mats": ms})
    return groups


def _layer_kind(ir: ModelIR, i: int, kernels: dict, layout: WeightsLayout) -> dict:
    cfg = ir.config
    t = lambda n: ir.tensors[f"blk.{i}.{n}.weight"]  # noqa: E731
    mat = lambda n, out, ldo, rows: {"fmt": t(n).fmt, "shape": t(n).shape, "w": f"lw->{n}",  # noqa: E731
                                     "layout": layout.entry(f"blk.{i}.{n}.weight").layout,
                                     "out": out, "ldo": ldo, "rows": rows}
    return {
        "qkv": _groups("Q, K, V projections", [
            mat("attn_q", "m->q", "Q_DIM", "Q_DIM"),
            mat("attn_k", "m->k", "KV_DIM", "KV_DIM"),
            mat("attn_v", "m->v", "KV_DIM", "KV_DIM")], cfg.dim, kernels),
        "out": _groups("attention output projection", [mat("attn_output", "m->xb", "DIM", "DIM")],
                       cfg.n_heads * cfg.head_dim, kernels),
        "gate_up": _groups("FFN gate and up projections", [
            mat("ffn_gate", "m->hb", "HIDDEN_DIM", "HIDDEN_DIM"),
            mat("ffn_up", "m->hb2", "HIDDEN_DIM", "HIDDEN_DIM")], cfg.dim, kernels),
        "down": _groups("FFN down projection", [mat("ffn_down", "m->xb", "DIM", "DIM")], cfg.hidden_dim, kernels),
    }


def build_context(ir: ModelIR, target: Target, layout: WeightsLayout, arena: ArenaPlan,
                  name: str, max_ctx: int, source_name: str, prefix: str = "edgec", tokenizer_bytes: int = 0,
                  stack_bytes: int = 0, stack_note: str = "not measured") -> dict:
    cfg = ir.config
    kernels: dict = {}
    kinds, layer_kind_ids, layers = [], [], []
    for i in range(cfg.n_layers):
        kind = _layer_kind(ir, i, kernels, layout)
        sig = repr([(g["fmt"]) for part in kind.values() for g in part])
        for k in kinds:
            if k["sig"] == sig:
                k["layers"].append(i)
                break
        else:
            kinds.append({"sig": sig, "id": len(kinds), "layers": [i], **kind})
        layer_kind_ids.append(next(k["id"] for k in kinds if k["sig"] == sig))
        off = {n: layout.entry(f"blk.{i}.{n}.weight").offset for n in
               ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")}
        if cfg.qkv_bias:
            off.update({f"{n}_bias": layout.entry(f"blk.{i}.{n}.bias").offset for n in ("attn_q", "attn_k", "attn_v")})
        if cfg.sub_norms:
            off.update({n: layout.entry(f"blk.{i}.{n}.weight").offset for n in ("attn_sub_norm", "ffn_sub_norm")})
        layers.append({"index": i, **off})
    for k in kinds:
        fmts = sorted({g["fmt"] for part in ("qkv", "out", "gate_up", "down") for g in k[part]})
        k["desc"] = "weights " + "/".join(fmts)
        k["layer_list"] = _ranges(k["layers"])
    embd = layout.entry("token_embd.weight")
    out = embd if cfg.tied_embeddings else layout.entry("output.weight")
    classifier = _groups("classifier", [{"fmt": out.fmt, "shape": out.shape, "w": "OUTPUT", "layout": out.layout,
                                         "out": "logits", "ldo": "N_VOCAB",
                                         "rows": "N_VOCAB"}], cfg.dim, kernels)
    return {
        "version": __version__, "name": name, "source_name": source_name, "target": target, "cfg": cfg,
        "p": prefix, "P": prefix.upper(), "generic_names": generic_names(prefix), "tokenizer_bytes": tokenizer_bytes,
        "stack_bytes": stack_bytes, "stack_note": stack_note,
        "max_ctx": max_ctx, "max_batch": arena.max_batch, "arena": arena, "layout": layout,
        "q_dim": cfg.n_heads * cfg.head_dim, "kv_dim": cfg.n_kv_heads * cfg.head_dim,
        "gqa": cfg.n_heads // cfg.n_kv_heads, "rope_half": cfg.rope_dim // 2,
        "rope_pairs_desc": "(i, i + HEAD_DIM/2)" if cfg.rope_layout == "neox" else "(2i, 2i+1)",
        "norm_eps": _c_float(cfg.norm_eps), "att_scale": _c_float(1.0 / math.sqrt(cfg.head_dim)),
        "signature": layout.signature,
        "kv16": arena.kv_cache == "f16", "kv_ctype": "uint16_t" if arena.kv_cache == "f16" else "float",
        "embd": embd, "output": out, "output_norm_offset": layout.entry("output_norm.weight").offset,
        "rope_cos_offset": layout.entry("rope.cos").offset, "rope_sin_offset": layout.entry("rope.sin").offset,
        "layers": layers, "layer_kinds": kinds, "layer_kind_list": ", ".join(map(str, layer_kind_ids)),
        "matmul_kernels": [kernels[k] for k in sorted(kernels)], "classifier": classifier,
        "uses_q8a": any(k["act"] == "q8a" for k in kernels.values()),
        "matmul_kinds": sorted({k["enum"]: k for k in kernels.values()}.values(), key=lambda k: k["enum"]),
        "uses_i16": any(k["layout"] == "i16" and k["fmt"] != "tq2" for k in kernels.values())
                    or (embd.layout == "i16" and embd.fmt != "tq2"),
        "uses_ternary_i16": any(k["layout"] == "i16" and k["fmt"] == "tq2" for k in kernels.values())
                            or (embd.layout == "i16" and embd.fmt == "tq2"),
        "uses_lut": any(k["layout"] == "lut" for k in kernels.values()),
    }


def _ranges(ids: list) -> str:
    if len(ids) > 1 and ids == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}-{ids[-1]}"
    return ",".join(map(str, ids))
