"""The arena: every buffer the forward pass needs, at fixed 64-byte aligned offsets.

The sizes are decided here, at generation time, and written into model.h as
EDGEC_ARENA_BYTES, so a firmware build knows exactly how much memory to give the core.
"""
from __future__ import annotations

from dataclasses import dataclass

from edgec.errors import EdgecError
from edgec.ir.model_ir import ModelConfig
from edgec.plan.kernel_choice import plan_all
from edgec.plan.lut_layout import lut_table_bytes
from edgec.plan.weights_blob import plan_layout
from edgec.targets import Target

MAX_CTX = 1 << 20
MAX_SLOTS = 64

ALIGN = 64
Q8A_BLOCK_BYTES = 40   # edgec_block_q8a: float d, float s, int8 qs[32]


@dataclass
class ArenaBuffer:
    name: str
    offset: int
    n_bytes: int
    comment: str
    ctype: str = "float"   # element type the generated struct edgec_model points with


@dataclass
class ArenaPlan:
    buffers: list
    total_bytes: int
    kv_cache_bytes: int
    max_batch: int
    kv_cache: str = "f32"   # element type of the KV cache
    n_slots: int = 1        # KV caches, one per conversation held at once

    def buffer(self, name: str) -> ArenaBuffer:
        return next(b for b in self.buffers if b.name == name)


def default_max_batch(max_ctx: int) -> int:
    """Prompt tokens processed per matrix-matrix chunk."""
    return min(32, max_ctx)


def plan_arena(cfg: ModelConfig, max_ctx: int, max_batch: int, kv_cache: str = "f32", lut: bool = False,
               n_slots: int = 1) -> ArenaPlan:
    """kv_cache: element type of the KV cache, "f32" or "f16".  lut: some matrix uses the LUT kernels,
    which need a table buffer for the activations of a batch.  n_slots: KV caches (conversations)."""
    B, f = max_batch, 4
    kv_el = 2 if kv_cache == "f16" else 4
    kv_shape = f"[{n_slots}][{cfg.n_layers}][{cfg.n_kv_heads}][{max_ctx}][{cfg.head_dim}] {kv_cache}"
    q_dim, kv_dim = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
    widest = max(cfg.dim, q_dim, cfg.hidden_dim)
    sizes = [
        ("x", B * cfg.dim * f, f"residual stream [{B}][{cfg.dim}] f32"),
        ("xb", B * cfg.dim * f, f"normalised input of a sublayer [{B}][{cfg.dim}] f32"),
        ("q", B * q_dim * f, f"queries [{B}][{q_dim}] f32"),
        ("k", B * kv_dim * f, f"new keys before they enter the cache [{B}][{kv_dim}] f32"),
        ("v", B * kv_dim * f, f"new values before they enter the cache [{B}][{kv_dim}] f32"),
        ("att", B * q_dim * f, f"attention output [{B}][{q_dim}] f32"),
        ("hb", B * cfg.hidden_dim * f, f"FFN gate [{B}][{cfg.hidden_dim}] f32"),
        ("hb2", B * cfg.hidden_dim * f, f"FFN up [{B}][{cfg.hidden_dim}] f32"),
        ("xq", B * ((widest + 31) // 32) * Q8A_BLOCK_BYTES, f"int8 activations [{B}][{(widest + 31) // 32}] q8a blocks"),
        *([("lut", lut_table_bytes(widest, B), f"LUT kernel tables of [{B}] activation vectors of up to {widest}")]
          if lut else []),
        ("logits", cfg.vocab_size * f, f"logits of the last token [{cfg.vocab_size}] f32"),
        ("key_cache", n_slots * cfg.n_layers * max_ctx * kv_dim * kv_el, f"K caches {kv_shape}"),
        ("value_cache", n_slots * cfg.n_layers * max_ctx * kv_dim * kv_el, f"V caches {kv_shape}"),
    ]
    buffers, off = [], 0
    ctypes = {"xq": "void", "lut": "void", "key_cache": "uint16_t" if kv_cache == "f16" else "float"}
    ctypes["value_cache"] = ctypes["key_cache"]
    for name, n, comment in sizes:
        buffers.append(ArenaBuffer(name, off, n, comment, ctypes.get(name, "float")))
        off = (off + n + ALIGN - 1) // ALIGN * ALIGN
    kv = 2 * n_slots * cfg.n_layers * max_ctx * kv_dim * kv_el
    return ArenaPlan(buffers, off, kv, B, kv_cache, n_slots)


def check_ctx(ctx: int) -> None:
    if ctx < 1 or ctx > MAX_CTX:
        raise EdgecError(f"--ctx {ctx} is out of range; give a context length between 1 and {MAX_CTX}")


def check_slots(n_slots: int) -> None:
    if n_slots < 1 or n_slots > MAX_SLOTS:
        raise EdgecError(f"--slots {n_slots} is out of range; give between 1 and {MAX_SLOTS} conversations")


MCU_RAM_ALLOWANCE = 64 << 10     # a microcontroller's RAM besides the arena: stack, the tokenizer's tables, libc
MCU_CODE_ALLOWANCE = 256 << 10   # its flash besides the blobs: the core's and the firmware's code


def memory_needed(weights_bytes: int, arena_bytes: int, tokenizer_bytes: int, target: Target | None = None) -> int:
    """RAM the device needs.  A Linux device: weights + arena + tokenizer + a fixed allowance for code,
    stack and runtime tables.  A microcontroller (a profile with flash_bytes): arena + an allowance; its
    weights stay in flash (flash_needed)."""
    if target is not None and target.flash_bytes:
        return arena_bytes + MCU_RAM_ALLOWANCE
    return weights_bytes + arena_bytes + 3 * tokenizer_bytes + (4 << 20)


def flash_needed(weights_bytes: int, tokenizer_bytes: int) -> int:
    """A microcontroller's flash: the weights and tokenizer blobs read in place, and the code."""
    return weights_bytes + tokenizer_bytes + MCU_CODE_ALLOWANCE


def check_flash(target: Target, weights_bytes: int, tokenizer_bytes: int) -> None:
    need = flash_needed(weights_bytes, tokenizer_bytes)
    if target.flash_bytes and need > target.flash_bytes:
        kib = lambda b: f"{b / 1024:.0f} KiB"  # noqa: E731
        raise EdgecError(f"model needs {kib(need)} of flash (weights {kib(weights_bytes)} + tokenizer "
                         f"{kib(tokenizer_bytes)} + code) but target '{target.name}' has {kib(target.flash_bytes)}; "
                         "use fewer bits (--quant q4_0, q3 or q2) or a smaller model")


def check_fits(target: Target, need: int, weights_bytes: int, kv_bytes: int, ctx: int, n_slots: int = 1) -> None:
    if target.ram_bytes and need > target.ram_bytes:
        mib = lambda b: f"{b / 2**20:.1f} MiB"  # noqa: E731
        per_tok = kv_bytes / (ctx * n_slots)
        fit_ctx = int((target.ram_bytes - (need - kv_bytes)) // (per_tok * n_slots)) if per_tok else 0
        fewer = " or fewer --slots" if n_slots > 1 else ""
        hint = (f"use --ctx {fit_ctx // 64 * 64}{fewer}" if fit_ctx >= 64
                else f"use a smaller model or fewer bits (--quant q4_0){fewer}")
        slots = f" x {n_slots} slots" if n_slots > 1 else ""
        weights = "" if target.flash_bytes else f"weights {mib(weights_bytes)} + "   # a microcontroller's are in flash
        raise EdgecError(f"model needs {mib(need)} of RAM ({weights}KV cache {mib(kv_bytes)} at "
                         f"--ctx {ctx}{slots} + buffers) but target '{target.name}' has {mib(target.ram_bytes)}; {hint}")


def plan_device_memory(ir, target: Target, max_ctx: int, kv_cache: str, tok_bytes: int, n_slots: int = 1) -> tuple:
    """(weights layout, arena, bytes needed) for the target's kernel choices: the one memory figure that
    `edgec compile` records and `edgec inspect` reports."""
    plans = plan_all(ir, target)
    layout = plan_layout(ir, max_ctx, {n: p.layout for n, p in plans.items()})
    arena = plan_arena(ir.config, max_ctx, default_max_batch(max_ctx), kv_cache,
                       lut=any(p.layout == "lut" for p in plans.values()), n_slots=n_slots)
    return layout, arena, memory_needed(layout.total_bytes, arena.total_bytes, tok_bytes, target)


def plan_memory(ir, target: Target, max_ctx: int, kv_cache: str, tok_bytes: int, n_slots: int = 1) -> tuple:
    """plan_device_memory(), refusing a model that does not fit the target."""
    layout, arena, need = plan_device_memory(ir, target, max_ctx, kv_cache, tok_bytes, n_slots)
    check_flash(target, layout.total_bytes, tok_bytes)   # first: no --ctx helps a model too big for flash
    check_fits(target, need, layout.total_bytes, arena.kv_cache_bytes, max_ctx, n_slots)
    return layout, arena, need
