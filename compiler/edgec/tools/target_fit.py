"""`edgec targets --model MODEL`: will it fit and how fast, for every target, without building."""
from __future__ import annotations

from edgec.tools.inspect_model import tokenizer_blob_bytes
from edgec.errors import EdgecError
from edgec.frontends.load_model import load_model
from edgec.frontends.model_registry import resolve_model
from edgec.plan.fit_estimate import FitEstimate, estimate_fit
from edgec.plan.memory_plan import check_ctx, check_slots


def fit_every_target(model: str, targets: list, ctx: int, kv_cache: str, slots: int, tokenizer: str | None) -> list:
    """An estimate per target, as edgec compile with the same --ctx, --kv-cache and --slots would plan it."""
    check_ctx(ctx)
    check_slots(slots)
    path, _ = resolve_model(model)
    ir = load_model(path, tokenizer_path=tokenizer)
    if ir.tokenizer is None:
        raise EdgecError(f"{path} has no tokenizer; give one with --tokenizer")
    tok_bytes = tokenizer_blob_bytes(ir)
    return [estimate_fit(ir, t, ctx, kv_cache, tok_bytes, slots) for t in targets]


def describe_fits(fits: list, ctx: int) -> list:
    """The table's lines; a target that does not fit says why (compile's own refusal)."""
    mib = lambda b: f"{b / 2**20:.1f} MiB"  # noqa: E731
    lines = [f"{'target':<12} {'kernels':<12} {'weights':>10} {'memory':>10} {'RAM':>11} {'fits':<4} {'est. decode':>12}"]
    for f in fits:
        est = f"{f.decode_tok_s:.0f} tok/s" if f.decode_tok_s else "-"
        ram = mib(f.ram_bytes) if f.ram_bytes else "-"
        lines.append(f"{f.target:<12} {f.isa:<12} {mib(f.weights_bytes):>10} {mib(f.memory_needed_bytes):>10} {ram:>11} "
                     f"{'yes' if f.fits else 'no':<4} {est:>12}")
    lines.append(f"memory at --ctx {ctx}; est. decode = weight bytes per token against the profile's memory bandwidth "
                 "(an estimate: edgec bench measures)")
    for f in fits:
        if not f.fits:
            lines.append(f"  {f.target}: {f.why_not}")
    return lines


__all__ = ["FitEstimate", "describe_fits", "fit_every_target"]
