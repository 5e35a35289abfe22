"""llama2.c front end: a run.c checkpoint (legacy v0 or version 1 fp32) + tokenizer.bin -> ModelIR.

llama2.c's model.py applies rotary embeddings to interleaved pairs, so the layout is "interleaved".
"""
from __future__ import annotations

import os
import struct

from edgec.errors import EdgecError
from edgec.ir.model_ir import ModelConfig, ModelIR, Tensor, TokenizerIR

LLAMA2C_MAGIC = 0x616B3432  # "ak42" read as a little-endian uint32
V1_HEADER_BYTES = 256
LEGACY_HEADER_BYTES = 28


def read_llama2c(path: str, tokenizer_path: str) -> ModelIR:
    """Parse a llama2.c checkpoint and its tokenizer.bin (name/sha256 are set by load_model)."""
    with open(path, "rb") as f:
        blob = f.read()
    version, params, shared, header_bytes = _read_header(blob, path)
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = params
    expected = header_bytes + 4 * checkpoint_floats(params, version, shared)
    if len(blob) != expected:  # before anything is built from the header's numbers
        raise EdgecError(f"{path}: llama2.c checkpoint (version {version}) should be {expected} bytes for its "
                         f"header {params} but is {len(blob)} bytes; the file is truncated or not a llama2.c model")
    cfg = ModelConfig(arch="llama", dim=dim, hidden_dim=hidden, n_layers=n_layers, n_heads=n_heads,
                      n_kv_heads=n_kv_heads, head_dim=dim // n_heads, vocab_size=vocab, norm_eps=1e-5,
                      rope_theta=10000.0, rope_dim=dim // n_heads, rope_layout="interleaved",
                      tied_embeddings=shared, max_seq_len=seq_len,
                      name=os.path.splitext(os.path.basename(path))[0])
    tensors, offset = {}, header_bytes
    for name, shape in llama2c_layout(cfg, version):
        n_bytes = 4 * _numel(shape)
        if name is not None:
            tensors[name] = Tensor(name=name, shape=shape, fmt="f32", data=blob[offset:offset + n_bytes])
        offset += n_bytes
    tokenizer = read_llama2c_tokenizer(tokenizer_path, vocab)
    return ModelIR(config=cfg, tensors=tensors, tokenizer=tokenizer, source_path=path, source_format="llama2c",
                   metadata={"llama2c_version": version})


def checkpoint_floats(params: tuple, version: int, shared: bool) -> int:
    """How many float32 values follow the header (the sum of llama2c_layout's sizes, by formula)."""
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = params
    kv_dim = n_kv_heads * (dim // n_heads)
    per_layer = 2 * dim + 2 * dim * dim + 2 * dim * kv_dim + 3 * dim * hidden
    floats = n_layers * per_layer + dim + vocab * dim
    if version == 0:
        floats += seq_len * (dim // n_heads)  # freq_cis real and imaginary halves, unused
    return floats + (0 if shared else vocab * dim)


def _read_header(blob: bytes, path: str) -> tuple:
    """(version, 7 params with vocab made positive, shared classifier, header bytes); checks plausibility."""
    not_llama2c = (f"{path}: not a GGUF file, a Hugging Face model folder or a llama2.c checkpoint "
                   "(unrecognised header); pass one of those")
    if len(blob) < LEGACY_HEADER_BYTES:
        raise EdgecError(not_llama2c)
    if struct.unpack_from("<I", blob, 0)[0] == LLAMA2C_MAGIC:
        version = struct.unpack_from("<i", blob, 4)[0]
        if version == 2:
            raise EdgecError(f"{path}: llama2.c version 2 (Q8_0 export) checkpoints are unsupported; "
                             "export with version 0 or 1 (fp32) or convert the model to GGUF")
        if version != 1 or len(blob) < V1_HEADER_BYTES:
            raise EdgecError(f"{path}: llama2.c checkpoint version {version} is unsupported "
                             "(supported: legacy v0 and version 1 fp32)")
        params = list(struct.unpack_from("<7i", blob, 8))
        shared, header_bytes = blob[36] != 0, V1_HEADER_BYTES
    else:
        version, header_bytes = 0, LEGACY_HEADER_BYTES
        params = list(struct.unpack_from("<7i", blob, 0))
        shared = params[5] > 0  # a negative vocab_size marks an untied classifier
        params[5] = abs(params[5])
    if not _plausible(params):
        if version == 0:  # no magic: the numbers are all there is to recognise the format by
            raise EdgecError(not_llama2c)
        raise EdgecError(f"{path}: llama2.c checkpoint header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, "
                         f"vocab_size, seq_len) = {tuple(params)} is out of range; the file is corrupt, re-export it")
    return version, tuple(params), shared, header_bytes


def _plausible(params: list) -> bool:
    """Sizes are positive and split into heads as run.c needs; the generous upper bounds only tell a
    legacy checkpoint from other files (the exact file-size check in read_llama2c bounds the rest)."""
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = params
    return (0 < dim <= 65536 and 0 < hidden <= 1 << 20 and 0 < n_layers <= 1024 and 0 < n_heads <= dim
            and 0 < n_kv_heads <= n_heads and 0 < vocab <= 1 << 22 and 0 < seq_len <= 1 << 24
            and dim % n_heads == 0 and n_heads % n_kv_heads == 0 and (dim // n_heads) % 2 == 0)


def llama2c_layout(cfg: ModelConfig, version: int) -> list:
    """(GGUF name or None for skipped data, shape) of every array in the file, in file order."""
    d, h, L, kv = cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_kv_heads * cfg.head_dim
    q = cfg.n_heads * cfg.head_dim

    def per_layer(suffix, shape):
        return [(f"blk.{i}.{suffix}", shape) for i in range(L)]

    matrices = (per_layer("attn_q.weight", (q, d)) + per_layer("attn_k.weight", (kv, d))
                + per_layer("attn_v.weight", (kv, d)) + per_layer("attn_output.weight", (d, q)))
    # llama2.c's w1/w2/w3 are gate/down/up.
    ffn = per_layer("ffn_gate.weight", (h, d)) + per_layer("ffn_down.weight", (d, h)) \
        + per_layer("ffn_up.weight", (h, d))
    embd = [("token_embd.weight", (cfg.vocab_size, d))]
    if version == 0:
        freq_cis = (cfg.max_seq_len * cfg.head_dim // 2,)
        layout = (embd + per_layer("attn_norm.weight", (d,)) + matrices + per_layer("ffn_norm.weight", (d,))
                  + ffn + [("output_norm.weight", (d,)), (None, freq_cis), (None, freq_cis)])
    else:
        layout = (per_layer("attn_norm.weight", (d,)) + per_layer("ffn_norm.weight", (d,))
                  + [("output_norm.weight", (d,))] + embd + matrices + ffn)
    if not cfg.tied_embeddings:
        layout.append(("output.weight", (cfg.vocab_size, d)))
    return layout


def _numel(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def read_llama2c_tokenizer(path: str, vocab_size: int) -> TokenizerIR:
    """A llama2.c tokenizer.bin (int32 max_token_length, then per token: f32 score, int32 len, bytes).
    Exactly vocab_size entries are read, as run.c does, so a huge or foreign file costs no more."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise EdgecError(f"cannot read tokenizer {path} ({e.strerror}); pass an existing --tokenizer file") from None
    if len(blob) < 4:
        raise EdgecError(f"{path}: empty or truncated llama2.c tokenizer; pass the tokenizer.bin that belongs "
                         "to the model")
    tokens, scores, offset = [], [], 4
    try:
        while offset < len(blob) and len(tokens) < vocab_size:
            score, n = struct.unpack_from("<fi", blob, offset)
            if n < 0 or offset + 8 + n > len(blob):
                raise struct.error("token length out of range")
            tokens.append(blob[offset + 8:offset + 8 + n].decode("utf-8"))
            scores.append(score)
            offset += 8 + n
    except (struct.error, UnicodeDecodeError):
        raise EdgecError(f"{path}: corrupt llama2.c tokenizer at byte {offset}; pass the tokenizer.bin "
                         "that belongs to the model") from None
    if len(tokens) != vocab_size or offset != len(blob):
        count = f"{len(tokens)}" if offset == len(blob) else f"more than {vocab_size}"
        raise EdgecError(f"{path}: tokenizer has {count} tokens but the model's vocab_size is {vocab_size}; "
                         "pass the tokenizer.bin that belongs to the model")
    tokens = [t.replace(" ", "\u2581") for t in tokens]
    # run.c's tokenizer.bin spells bos/eos as "\n<s>\n" and "\n</s>\n"; the IR uses SentencePiece's names.
    tokens[1:3] = [t.strip() for t in tokens[1:3]]
    token_types = [_token_type(i, t) for i, t in enumerate(tokens)]
    return TokenizerIR(kind="sentencepiece", tokens=tokens, token_types=token_types, scores=scores,
                       bos_id=1, eos_id=2, unk_id=0, add_bos=True, add_space_prefix=True)


def _token_type(token_id: int, token: str) -> int:
    """GGUF token type: 2 unknown (id 0), 3 control (ids 1, 2), 6 byte (<0xNN>), 1 normal."""
    if token_id == 0:
        return 2
    if token_id in (1, 2):
        return 3
    if len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
        return 6
    return 1
