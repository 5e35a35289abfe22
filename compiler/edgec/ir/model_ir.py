"""The model IR: what every front end produces and every later stage consumes.

A front end (gguf_reader, hf_reader, llama2c_reader) turns a file into a ModelIR.
Weights stay in their storage format (raw GGUF-style block bytes), so GGUF inputs
reach the kernels bit-exactly.  Tensor names use GGUF's naming scheme.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from edgec.ir.block_formats import FORMATS, dequantize, row_bytes  # noqa: F401  (FORMATS, row_bytes: part of the IR)


@dataclass
class Tensor:
    """One weight tensor.  shape is (rows, cols) for matrices, (n,) for vectors;
    cols is the contiguous (GGUF ne[0]) dimension.  data holds the raw bytes in fmt."""
    name: str
    shape: tuple
    fmt: str
    data: bytes

    @property
    def n_bytes(self) -> int:
        return len(self.data)


@dataclass
class ModelConfig:
    arch: str                 # "llama" or "qwen2"
    dim: int                  # embedding width
    hidden_dim: int           # FFN width
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab_size: int
    norm_eps: float
    rope_theta: float
    rope_dim: int             # rotated dims per head (== head_dim for supported models)
    rope_layout: str          # "interleaved": pairs (2i, 2i+1) (GGUF llama, llama2.c); "neox": pairs (i, i+d/2) (HF llama, qwen2)
    rope_freq_factors: Optional[list] = None   # Llama-3 rope scaling: theta_i is divided by factor i (len rope_dim/2)
    qkv_bias: bool = False    # qwen2
    tied_embeddings: bool = False  # output projection reuses token_embd
    max_seq_len: int = 2048   # what the model was trained for (informational)
    ffn_act: str = "silu"     # "silu": silu(gate) * up (SwiGLU); "relu2": relu(gate)^2 * up (BitNet b1.58)
    sub_norms: bool = False   # BitNet b1.58: RMSNorm of the attention output before Wo, of the FFN product before W_down
    name: str = "model"


@dataclass
class TokenizerIR:
    """A tokenizer, normalised so the C runtime needs one encoder per kind.

    kind "gpt2": byte-level BPE. tokens are in GPT-2 byte-to-unicode form (as in tokenizer.json
        and GGUF); merges are "a b" strings in rank order; pre is the pre-tokenizer name
        ("smollm", "gpt2", "llama3", "qwen2", ...).
    kind "sentencepiece": BPE by score with byte fallback. tokens use "▁" for space and
        "<0xNN>" for byte tokens (as in GGUF/tokenizer.model); scores drive merges.
    token_types use GGUF's enum: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    """
    kind: str
    tokens: list                       # list[str]
    token_types: list                  # list[int]
    scores: Optional[list] = None      # list[float] (sentencepiece)
    merges: Optional[list] = None      # list[str] (gpt2)
    pre: str = "default"
    bos_id: int = -1
    eos_id: int = -1
    eot_id: int = -1                   # end-of-turn, if different from eos
    unk_id: int = -1
    add_bos: bool = False
    add_space_prefix: bool = False     # sentencepiece "add_dummy_prefix"
    chat_template: Optional[str] = None  # Jinja2 source, as in tokenizer_config.json / GGUF


@dataclass
class ModelIR:
    config: ModelConfig
    tensors: dict                      # name -> Tensor, GGUF names (token_embd.weight, blk.N.attn_q.weight, ...)
    tokenizer: Optional[TokenizerIR]
    source_path: str = ""
    source_sha256: str = ""
    source_format: str = ""            # "gguf", "hf", "llama2c"
    metadata: dict = field(default_factory=dict)

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]


# GGUF names of the tensors of one layer, in the order the forward pass uses them.
LAYER_TENSORS = [
    "attn_norm.weight",
    "attn_q.weight", "attn_k.weight", "attn_v.weight",
    "attn_output.weight",
    "ffn_norm.weight",
    "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
]
QKV_BIAS_TENSORS = ["attn_q.bias", "attn_k.bias", "attn_v.bias"]
SUB_NORM_TENSORS = ["attn_sub_norm.weight", "ffn_sub_norm.weight"]   # BitNet's extra norms


def layer_tensor_names(cfg: "ModelConfig") -> list:
    """The tensor names of one layer (without the blk.N. prefix), in forward-pass order."""
    names = list(LAYER_TENSORS)
    if cfg.qkv_bias:
        names[4:4] = QKV_BIAS_TENSORS
    if cfg.sub_norms:
        names.insert(names.index("attn_output.weight"), "attn_sub_norm.weight")
        names.insert(names.index("ffn_down.weight"), "ffn_sub_norm.weight")
    return names


def expected_shapes(cfg: ModelConfig) -> dict:
    """name -> (rows, cols) or (n,) for every tensor the forward pass reads."""
    d, h, kv = cfg.dim, cfg.hidden_dim, cfg.n_kv_heads * cfg.head_dim
    q = cfg.n_heads * cfg.head_dim
    shapes = {"token_embd.weight": (cfg.vocab_size, d), "output_norm.weight": (d,)}
    if not cfg.tied_embeddings:
        shapes["output.weight"] = (cfg.vocab_size, d)
    for i in range(cfg.n_layers):
        p = f"blk.{i}."
        shapes.update({
            p + "attn_norm.weight": (d,),
            p + "attn_q.weight": (q, d), p + "attn_k.weight": (kv, d), p + "attn_v.weight": (kv, d),
            p + "attn_output.weight": (d, q),
            p + "ffn_norm.weight": (d,),
            p + "ffn_gate.weight": (h, d), p + "ffn_up.weight": (h, d), p + "ffn_down.weight": (d, h),
        })
        if cfg.qkv_bias:
            shapes.update({p + "attn_q.bias": (q,), p + "attn_k.bias": (kv,), p + "attn_v.bias": (kv,)})
        if cfg.sub_norms:
            shapes.update({p + "attn_sub_norm.weight": (q,), p + "ffn_sub_norm.weight": (h,)})
    return shapes


def tensor_to_f32(t: Tensor) -> np.ndarray:
    """Dequantize a tensor to float32 with its IR shape (uses the gguf package's reference code)."""
    return dequantize(t.data, t.fmt, t.shape)
