"""The names a generated core exports: every one carries the model's prefix (edgec compile --prefix), so
two models link into one firmware image; edgec's own program maps its generic edgec_ names onto them."""
from __future__ import annotations

import re

from edgec.errors import EdgecError

PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,31}")

# What model.h declares, by the part after the prefix: types and functions (lower case) and macros (upper).
API_NAMES = ("model", "model_info", "slot_feed", "task_fn", "parallel_fn",
             "model_get_info", "model_init", "model_set_parallel", "model_reset", "model_rewind", "model_pos",
             "model_feed", "model_begin", "model_step", "model_logits", "model_slot_pos", "model_slot_rewind",
             "model_feed_slots", "weights", "weights_size", "tokenizer_blob", "tokenizer_blob_size")
API_MACROS = ("MODEL_NAME", "TARGET_NAME", "DIM", "HIDDEN_DIM", "N_LAYERS", "N_HEADS", "N_KV_HEADS", "HEAD_DIM",
              "N_VOCAB", "MAX_CTX", "MAX_BATCH", "N_SLOTS", "STEP_SLICES", "WEIGHTS_BYTES", "KV_CACHE_BYTES",
              "ARENA_BYTES", "ARENA_ALIGN", "STACK_BYTES", "TOKENIZER_BYTES")


def default_prefix(program_name: str) -> str:
    """The program name (compile.sanitize_name: [a-z0-9_-]) as a C identifier."""
    p = program_name.replace("-", "_")[:32]
    return p if PREFIX.fullmatch(p) else f"m_{p}"[:32]


def check_prefix(prefix: str) -> str:
    if not PREFIX.fullmatch(prefix) or prefix.startswith("__"):
        raise EdgecError(f"--prefix {prefix!r} is not usable as a C name prefix; give 1-32 lower-case letters, "
                         "digits or underscores, not starting with a digit or '__' (for example --prefix smollm2)")
    return prefix


def generic_names(prefix: str) -> list:
    """(edgec_ name, this model's name) for everything model.h exports; identity pairs when prefix is edgec."""
    lower = [(f"edgec_{n}", f"{prefix}_{n}") for n in API_NAMES]
    upper = [(f"EDGEC_{n}", f"{prefix.upper()}_{n}") for n in API_MACROS]
    return [(g, s) for g, s in lower + upper if g != s]
