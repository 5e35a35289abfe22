"""Will it fit, and how fast: a target's memory verdict and a decode-speed estimate from its bandwidth.

Decode is memory-bound on every target edgec serves: each generated token streams every weight matrix
once (the token embedding only as one row, unless it doubles as the classifier). So the estimate is
bandwidth / bytes streamed per token: an upper bound that ignores the KV cache and compute, labelled
as an estimate wherever it is shown.
"""
from __future__ import annotations

from dataclasses import dataclass

from edgec.errors import EdgecError
from edgec.plan.memory_plan import check_fits, check_flash, plan_device_memory

EMBEDDING = "token_embd.weight"   # read one row per token, unless tied (then it is also the classifier)


@dataclass
class FitEstimate:
    target: str
    isa: str
    weights_bytes: int
    memory_needed_bytes: int
    ram_bytes: int
    fits: bool
    why_not: str               # compile's refusal when it does not fit, else ""
    bytes_per_token: int
    decode_tok_s: float | None  # None: the profile gives no bandwidth

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def streamed_bytes_per_token(tensors, tied_embeddings: bool) -> int:
    """Bytes of weights one decode step reads: every matrix, the embedding table only when tied.
    tensors: (name, bytes) pairs."""
    return sum(n for name, n in tensors if name != EMBEDDING or tied_embeddings)


def decode_estimate(bandwidth_gbs: float, bytes_per_token: int) -> float | None:
    return bandwidth_gbs * 1e9 / bytes_per_token if bandwidth_gbs > 0 and bytes_per_token > 0 else None


def estimate_fit(ir, target, ctx: int, kv_cache: str, tokenizer_bytes: int, slots: int = 1) -> FitEstimate:
    """The memory edgec compile would plan for this target, whether it fits, and the decode estimate."""
    layout, arena, need = plan_device_memory(ir, target, ctx, kv_cache, tokenizer_bytes, slots)
    try:
        check_flash(target, layout.total_bytes, tokenizer_bytes)
        check_fits(target, need, layout.total_bytes, arena.kv_cache_bytes, ctx, slots)
        why = ""
    except EdgecError as e:
        why = str(e)
    per_token = streamed_bytes_per_token(((e.name, e.n_bytes) for e in layout.entries), ir.config.tied_embeddings)
    return FitEstimate(target.name, target.isa, layout.total_bytes, need, target.ram_bytes, not why, why,
                       per_token, decode_estimate(target.bandwidth_gbs, per_token))
