"""The numpy reference forward pass: the ground truth every generated model is compared with.

Float32 math on weights dequantized once at construction.  With mimic_kernels=True, every
matmul with a q8_0/q4_0/q4_1, low-bit (q2/q3) or ternary (tq2/tq2_0/tq1_0) weight first quantizes its activations
per block of 32 the way the C kernels do (int8, float32 scale, round half away from zero) and sums
integer block dot products, so generated code can be checked with tight tolerances.
"""
from __future__ import annotations

import math

import numpy as np

from edgec.ir.block_formats import LOWBIT_LEVELS, TERNARY_FORMATS, lowbit_codes, ternary_codes
from edgec.ir.model_ir import FORMATS, ModelIR, tensor_to_f32

QUANT_BLOCK = 32
QUANT_FORMATS = ("q8_0", "q4_0", "q4_1") + TERNARY_FORMATS + tuple(LOWBIT_LEVELS)


def round_half_away(v: np.ndarray) -> np.ndarray:
    """C's roundf: halves go away from zero (numpy's round goes to even).  float64 so x.5 stays exact."""
    v = np.asarray(v, dtype=np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantize_activations(x: np.ndarray) -> tuple:
    """Per block of 32: d = amax/127 (float32), q = roundf(x / d) as int8.

    x: [T, n] float32 with n a multiple of 32.  Returns (q [T, n/32, 32] int8, d [T, n/32] float32).
    """
    x = np.asarray(x, dtype=np.float32)
    blocks = x.reshape(x.shape[0], -1, QUANT_BLOCK)
    d = (np.abs(blocks).max(axis=-1) / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv_d = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    scaled = blocks * inv_d[:, :, None]  # float32 product, as in C
    return round_half_away(scaled).astype(np.int8), d


class QuantMatrix:
    """A q8_0/q4_0/q4_1/ternary matrix split into integer weights and per-32-block scales, for
    kernel-exact matmuls.  A ternary block of 64 or 256 weights is its 2 or 8 blocks of 32 with
    the block's d each: the kernels add (d_w*d_x) * sum((code-1)*qx) per 32 activations too."""

    def __init__(self, data: bytes, fmt: str, shape: tuple):
        rows, cols = shape
        nb = cols // QUANT_BLOCK
        self.fmt = fmt
        self.m = None
        if fmt in TERNARY_FORMATS:
            codes, d = ternary_codes(data, fmt, shape)
            self.d = np.repeat(d, FORMATS[fmt][0] // QUANT_BLOCK, axis=1).T.copy()  # [nb, rows]
            q = codes.reshape(rows, nb, QUANT_BLOCK).astype(np.int8) - np.int8(1)
            self.q = np.ascontiguousarray(q.transpose(1, 0, 2))  # [nb, rows, 32] int8 in {-1, 0, 1} (2: code 3)
            return
        if fmt in LOWBIT_LEVELS:  # as q4_1: d_w*d_x*sum(q*qx) + m_w*s_x per block, q in 0..3 / 0..7
            codes, d, m = lowbit_codes(data, fmt, shape)
            self.d, self.m = d.T.copy(), m.T.copy()  # [nb, rows]
            self.q = np.ascontiguousarray(codes.reshape(rows, nb, QUANT_BLOCK).astype(np.int8).transpose(1, 0, 2))
            return
        raw = np.frombuffer(data, dtype=np.uint8).reshape(rows, nb, -1)
        self.d = raw[:, :, 0:2].copy().view(np.float16)[:, :, 0].astype(np.float32).T.copy()  # [nb, rows]
        if fmt == "q8_0":
            q = raw[:, :, 2:34].view(np.int8)
        else:
            packed = raw[:, :, 4:20] if fmt == "q4_1" else raw[:, :, 2:18]
            # element j is the low nibble of byte j, element j+16 the high nibble.
            q = np.concatenate([packed & 0x0F, packed >> 4], axis=-1).astype(np.int8)
            if fmt == "q4_0":
                q = q - np.int8(8)
            else:
                self.m = raw[:, :, 2:4].copy().view(np.float16)[:, :, 0].astype(np.float32).T.copy()
        self.q = np.ascontiguousarray(q.transpose(1, 0, 2))  # [nb, rows, 32] int8

    def matmul(self, x: np.ndarray) -> np.ndarray:
        """x [T, cols] float32 -> [T, rows] float32, computed as the C kernels do."""
        qx, dx = quantize_activations(x)
        # Integer block sums are exact in float32 (|sum| <= 127*127*32 < 2^24).
        isum = np.matmul(self.q.astype(np.float32), qx.transpose(1, 2, 0).astype(np.float32))  # [nb, rows, T]
        dxt = dx.T[:, None, :]  # [nb, 1, T]
        out = (self.d[:, :, None] * dxt) * isum
        if self.m is not None:
            sx = dx * qx.astype(np.float32).sum(axis=-1, dtype=np.float32)  # [T, nb]
            out = out + self.m[:, :, None] * sx.T[:, None, :]
        return out.sum(axis=0, dtype=np.float32).T.copy()


def rmsnorm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    ms = np.mean(x * x, axis=-1, keepdims=True, dtype=np.float32)
    return (x * (np.float32(1) / np.sqrt(ms + np.float32(eps)))) * w


def silu(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return x / (np.float32(1) + np.exp(-x))


class Reference:
    """Forward pass of a ModelIR with a KV cache.

    forward(tokens, start_pos) feeds tokens at positions start_pos.. and returns their logits
    [len(tokens), vocab] (float32).  The cache keeps what was fed before; start_pos must be <= the
    number of cached positions, and positions from start_pos on are forgotten first.  So
    forward(prompt) then forward([t], start_pos=len(prompt)) continues, and start_pos=0 restarts.

    Tolerance with mimic_kernels=True: activation quantization and integer block sums are
    reproduced exactly; what remains is float32 summation order, which now and then moves an x/d
    across a rounding boundary.  On the tiny test models C kernels agree to about 1e-4 * max|logit|;
    compare with atol = 2e-3 * max|logit|.  Deep models with activation outliers amplify such flips:
    on SmolLM2-135M a 1e-6 relative change of the inputs (or batch vs token-by-token here) moves the
    logits by up to ~3e-2 * max|logit| in mimic mode, so compare real models with ~6e-2 and top-1
    agreement.  Without mimic_kernels, quantized models differ from the kernels by the activation
    quantization error (~2e-2 * max|logit| on SmolLM2).
    """

    def __init__(self, ir: ModelIR, mimic_kernels: bool = False, kv_cache: str = "f32"):
        """kv_cache "f16" rounds K (after RoPE) and V to float16 as they enter the cache, as a
        program compiled with --kv-cache f16 stores them."""
        cfg = self.cfg = ir.config
        self.mimic_kernels = mimic_kernels
        self.kv_round = (lambda a: a.astype(np.float16).astype(np.float32)) if kv_cache == "f16" else (lambda a: a)
        self.weights, self.quant = {}, {}
        self.output_name = "token_embd.weight" if cfg.tied_embeddings else "output.weight"
        for name, t in ir.tensors.items():
            if mimic_kernels and t.fmt in QUANT_FORMATS and len(t.shape) == 2:
                self.quant[name] = QuantMatrix(t.data, t.fmt, t.shape)
                if name != "token_embd.weight":
                    continue  # the embedding is also read row by row as floats
            self.weights[name] = tensor_to_f32(t)
        # Per pair i: theta^(-2i/rope_dim) / factor_i, in float64 so the angles are exact to float32.
        i = np.arange(cfg.rope_dim // 2, dtype=np.float64)
        freqs = cfg.rope_theta ** (-2.0 * i / cfg.rope_dim)
        if cfg.rope_freq_factors is not None:
            freqs = freqs / np.asarray(cfg.rope_freq_factors, dtype=np.float64)
        self.rope_freqs = freqs
        self.reset()

    def reset(self) -> None:
        """Forget the KV cache."""
        shape = (0, self.cfg.n_kv_heads, self.cfg.head_dim)
        self.k_cache = [np.zeros(shape, np.float32) for _ in range(self.cfg.n_layers)]
        self.v_cache = [np.zeros(shape, np.float32) for _ in range(self.cfg.n_layers)]

    @property
    def pos(self) -> int:
        """Number of positions in the KV cache."""
        return self.k_cache[0].shape[0] if self.k_cache else 0

    def matmul(self, name: str, x: np.ndarray) -> np.ndarray:
        """x [T, cols] @ weight[name].T -> [T, rows]."""
        if name in self.quant:
            return self.quant[name].matmul(x)
        return x @ self.weights[name].T

    def rope(self, x: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Rotate x [T, heads, head_dim] at the given positions (interleaved or neox pairs)."""
        angles = positions[:, None].astype(np.float64) * self.rope_freqs[None, :]
        cos = np.cos(angles).astype(np.float32)[:, None, :]
        sin = np.sin(angles).astype(np.float32)[:, None, :]
        half = self.cfg.rope_dim // 2
        out = x.copy()
        if self.cfg.rope_layout == "interleaved":
            a, b = x[..., 0:2 * half:2], x[..., 1:2 * half:2]
            out[..., 0:2 * half:2], out[..., 1:2 * half:2] = a * cos - b * sin, a * sin + b * cos
        else:
            a, b = x[..., :half], x[..., half:2 * half]
            out[..., :half], out[..., half:2 * half] = a * cos - b * sin, a * sin + b * cos
        return out

    def forward(self, tokens: list, start_pos: int = 0) -> np.ndarray:
        cfg = self.cfg
        tokens = [int(t) for t in tokens]
        if not tokens or min(tokens) < 0 or max(tokens) >= cfg.vocab_size:
            raise ValueError(f"tokens must be a non-empty list of ids in [0, {cfg.vocab_size})")
        if not 0 <= start_pos <= self.pos:
            raise ValueError(f"start_pos {start_pos} is past the {self.pos} cached positions")
        n_tok, hd = len(tokens), cfg.head_dim
        positions = np.arange(start_pos, start_pos + n_tok)
        x = self.weights["token_embd.weight"][tokens].astype(np.float32)
        for layer in range(cfg.n_layers):
            p = f"blk.{layer}."
            h = rmsnorm(x, self.weights[p + "attn_norm.weight"], cfg.norm_eps)
            q, k, v = (self.matmul(p + f"attn_{n}.weight", h) for n in "qkv")
            if cfg.qkv_bias:
                q, k, v = q + self.weights[p + "attn_q.bias"], k + self.weights[p + "attn_k.bias"], \
                    v + self.weights[p + "attn_v.bias"]
            q = self.rope(q.reshape(n_tok, cfg.n_heads, hd), positions)
            k = self.rope(k.reshape(n_tok, cfg.n_kv_heads, hd), positions)
            self.k_cache[layer] = np.concatenate([self.k_cache[layer][:start_pos], self.kv_round(k)])
            self.v_cache[layer] = np.concatenate([self.v_cache[layer][:start_pos],
                                                  self.kv_round(v.reshape(n_tok, -1, hd))])
            att = self.attention(q, self.k_cache[layer], self.v_cache[layer], positions)
            if cfg.sub_norms:
                att = rmsnorm(att, self.weights[p + "attn_sub_norm.weight"], cfg.norm_eps)
            x = x + self.matmul(p + "attn_output.weight", att)
            h = rmsnorm(x, self.weights[p + "ffn_norm.weight"], cfg.norm_eps)
            gate = self.matmul(p + "ffn_gate.weight", h)
            act = np.square(np.maximum(gate, np.float32(0))) if cfg.ffn_act == "relu2" else silu(gate)
            ffn = act * self.matmul(p + "ffn_up.weight", h)
            if cfg.sub_norms:
                ffn = rmsnorm(ffn, self.weights[p + "ffn_sub_norm.weight"], cfg.norm_eps)
            x = x + self.matmul(p + "ffn_down.weight", ffn)
        x = rmsnorm(x, self.weights["output_norm.weight"], cfg.norm_eps)
        return self.matmul(self.output_name, x).astype(np.float32)

    def attention(self, q: np.ndarray, keys: np.ndarray, values: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Causal GQA attention: q [T, heads, hd], keys/values [S, kv_heads, hd] -> [T, heads*hd]."""
        cfg = self.cfg
        group = cfg.n_heads // cfg.n_kv_heads  # head h reads kv head h // group
        n_tok = q.shape[0]
        qg = q.reshape(n_tok, cfg.n_kv_heads, group, cfg.head_dim)
        scores = np.einsum("tkgd,skd->kgts", qg, keys) * np.float32(1 / math.sqrt(cfg.head_dim))
        future = np.arange(keys.shape[0])[None, :] > positions[:, None]  # [T, S]
        scores = np.where(future[None, None], np.float32(-np.inf), scores)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        out = np.einsum("kgts,skd->tkgd", probs, values)
        return out.reshape(n_tok, cfg.n_heads * cfg.head_dim).astype(np.float32)

    def greedy(self, prompt: list, n: int) -> list:
        """Reset, feed prompt, then pick the argmax n times; returns the n generated ids (not the prompt)."""
        self.reset()
        logits = self.forward(prompt, 0)[-1]
        out = []
        for i in range(n):
            out.append(int(np.argmax(logits)))
            if i + 1 < n:
                logits = self.forward([out[-1]], self.pos)[-1]
        return out
