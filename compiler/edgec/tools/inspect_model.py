"""`edgec inspect`: what a model is and what compiling it would need."""
from __future__ import annotations

from pathlib import Path

from edgec.codegen.tokenizer_blob import model_tokenizer_blob
from edgec.errors import EdgecError
from edgec.frontends.load_model import load_model
from edgec.frontends.model_registry import resolve_model
from edgec.plan.memory_plan import check_ctx, check_fits, check_slots, plan_device_memory
from edgec.targets import load_target


def tokenizer_blob_bytes(ir) -> int:
    """Size of the tokenizer blob `edgec compile` embeds (0 without a tokenizer)."""
    return 0 if ir.tokenizer is None else len(model_tokenizer_blob(ir))


def inspect_model(spec: str, tokenizer: str | None = None, ctx: int = 2048, kv_cache: str = "f16",
                  target: str = "host", slots: int = 1) -> dict:
    """What the model is and the memory `edgec compile` with the same --ctx, --kv-cache and --target
    would record (with the profile's weight layout: host autotune may choose another)."""
    check_ctx(ctx)
    check_slots(slots)
    if kv_cache not in ("f16", "f32"):
        raise EdgecError(f"--kv-cache {kv_cache} is not supported; use f16 or f32")
    profile = load_target(target)
    path, _ = resolve_model(spec)
    ir = load_model(path, tokenizer_path=tokenizer)
    cfg = ir.config
    tok_bytes = tokenizer_blob_bytes(ir)
    layout, arena, need = plan_device_memory(ir, profile, ctx, kv_cache, tok_bytes, slots)
    warnings = list(ir.metadata.get("warnings", []))
    try:
        check_fits(profile, need, layout.total_bytes, arena.kv_cache_bytes, ctx, slots)
    except EdgecError as e:   # what `edgec compile` would refuse with, reported rather than raised
        warnings.append(f"edgec compile would refuse this: {e}")
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
        "memory": {"target": profile.name, "ctx": ctx, "kv_cache": kv_cache, "slots": slots, "weights_bytes": layout.total_bytes,
                   "kv_cache_bytes": arena.kv_cache_bytes, "arena_bytes": arena.total_bytes,
                   "tokenizer_bytes": tok_bytes, "memory_needed_bytes": need, "total_bytes": need,
                   "target_ram_bytes": profile.ram_bytes, "fits": not profile.ram_bytes or need <= profile.ram_bytes},
        "warnings": warnings,
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
    fits = "fits" if m["fits"] else "does NOT fit"
    slots = f" x {m['slots']} slots" if m["slots"] > 1 else ""
    lines.append(f"  memory        weights {mib(m['weights_bytes'])} + KV cache {mib(m['kv_cache_bytes'])} "
                 f"({m['kv_cache']}, ctx {m['ctx']}{slots}) + buffers + tokenizer = {mib(m['memory_needed_bytes'])} "
                 f"on {m['target']} ({fits} its {mib(m['target_ram_bytes'])})")
    lines += [f"  warning: {w}" for w in info["warnings"]]
    return "\n".join(lines)
