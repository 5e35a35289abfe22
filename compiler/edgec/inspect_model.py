"""`edgec inspect`: what a model is and what compiling it would need."""
from __future__ import annotations

from pathlib import Path

from .load_model import load_model
from .memory_plan import default_max_batch, plan_arena
from .model_registry import resolve_model
from .weights_blob import plan_layout


def inspect_model(spec: str, tokenizer: str | None = None, ctx: int = 2048) -> dict:
    path, _ = resolve_model(spec)
    ir = load_model(path, tokenizer_path=tokenizer)
    cfg = ir.config
    layout = plan_layout(ir, ctx)
    arena = plan_arena(cfg, ctx, default_max_batch(ctx))
    formats: dict = {}
    for t in ir.tensors.values():
        f = formats.setdefault(t.fmt, {"tensors": 0, "bytes": 0})
        f["tensors"] += 1
        f["bytes"] += t.n_bytes
    tok = ir.tokenizer
    return {
        "file": Path(path).name, "format": ir.source_format, "sha256": ir.source_sha256,
        "architecture": cfg.arch,
        "shapes": {"dim": cfg.dim, "hidden_dim": cfg.hidden_dim, "n_layers": cfg.n_layers, "n_heads": cfg.n_heads,
                   "n_kv_heads": cfg.n_kv_heads, "head_dim": cfg.head_dim, "vocab_size": cfg.vocab_size},
        "rope": {"theta": cfg.rope_theta, "layout": cfg.rope_layout, "scaled": cfg.rope_freq_factors is not None},
        "tied_embeddings": cfg.tied_embeddings, "qkv_bias": cfg.qkv_bias, "trained_context": cfg.max_seq_len,
        "formats": formats,
        "tensors": [{"name": t.name, "format": t.fmt, "shape": list(t.shape), "bytes": t.n_bytes}
                    for t in ir.tensors.values()],
        "tokenizer": None if tok is None else {"kind": tok.kind, "vocab": len(tok.tokens), "pre": tok.pre,
                                               "bos": tok.bos_id, "eos": tok.eos_id,
                                               "chat_template": tok.chat_template is not None},
        "memory": {"ctx": ctx, "weights_bytes": layout.total_bytes, "kv_cache_bytes": arena.kv_cache_bytes,
                   "arena_bytes": arena.total_bytes, "total_bytes": layout.total_bytes + arena.total_bytes},
    }


def describe(info: dict) -> str:
    mib = lambda b: f"{b / 2**20:.1f} MiB"  # noqa: E731
    s, m = info["shapes"], info["memory"]
    lines = [
        f"{info['file']} ({info['format']}, sha256 {info['sha256'][:16]}...)",
        f"  architecture  {info['architecture']}{' (tied embeddings)' if info['tied_embeddings'] else ''}"
        f"{' (QKV bias)' if info['qkv_bias'] else ''}",
        f"  shapes        dim {s['dim']}, FFN {s['hidden_dim']}, {s['n_layers']} layers, {s['n_heads']} heads "
        f"({s['n_kv_heads']} KV) of {s['head_dim']}, vocab {s['vocab_size']}",
        f"  rope          theta {info['rope']['theta']:g}, {info['rope']['layout']} pairs"
        f"{', llama3 scaling' if info['rope']['scaled'] else ''}; trained context {info['trained_context']}",
        "  formats       " + ", ".join(f"{k}: {v['tensors']} tensors, {mib(v['bytes'])}"
                                       for k, v in sorted(info["formats"].items())),
    ]
    if info["tokenizer"]:
        t = info["tokenizer"]
        lines.append(f"  tokenizer     {t['kind']} ({t['pre']}), {t['vocab']} tokens, bos {t['bos']}, eos {t['eos']}"
                     f"{', chat template' if t['chat_template'] else ''}")
    lines.append(f"  memory        weights {mib(m['weights_bytes'])} + KV cache {mib(m['kv_cache_bytes'])} "
                 f"(ctx {m['ctx']}) + buffers = {mib(m['total_bytes'])}")
    return "\n".join(lines)
