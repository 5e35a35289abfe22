"""The inference program's runtime (runtime/program/cli_main.c, sampler.c, threadpool.c, the tokenizer) built
around the fake model core in tests/c/fake_model, with gcc, clang and gcc + ASan/UBSan.

The fake's logits after feeding token t are -|v - (7 t + 3) mod 512|, so every expected output below
follows from that rule (and from the stories260K tokenizer for the text paths), not from the code under test.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fake_program import (C_TESTS, GROUPS, MAX_BATCH, MAX_CTX, RUNTIME, SANITIZE, VOCAB, build_cli, compile_c,
                          tokenizer_blob, tokenizer_ir, write_blob_inc)

UNIT_UNDER_TEST = {"test_sampler": RUNTIME / "sampler" / "sampler.c", "test_threadpool": RUNTIME / "program" / "threadpool.c"}

BUILDS = {"gcc": ("gcc", ["-O2"]), "clang": ("clang", ["-O2"]), "asan": ("gcc", SANITIZE)}
INV7 = pow(7, -1, VOCAB)                          # 7 is odd, so the fake's rule can be undone


def rule(t: int) -> int:
    """The fake model's greedy successor of token t."""
    return (7 * t + 3) % VOCAB


def fed_token(row: np.ndarray) -> int:
    """The token whose logits row this is (the row's argmax is rule(token))."""
    return (INV7 * (int(np.argmax(row)) - 3)) % VOCAB


@pytest.fixture(scope="session")
def clis(tmp_path_factory) -> dict:
    """The program built three ways around the fake model and the stories260K tokenizer."""
    tmp = tmp_path_factory.mktemp("runtime_cli")
    blob_dir = write_blob_inc(tokenizer_blob(), tmp / "blob")
    return {name: build_cli(cc, flags, tmp / f"fake-{name}", blob_dir) for name, (cc, flags) in BUILDS.items()}


@pytest.fixture(scope="session")
def cli(clis) -> Path:
    return clis["gcc"]


def run(binary: Path, *args, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *map(str, args)], input=input, capture_output=True, timeout=60)


def ids_of(line: bytes) -> list:
    return [int(x) for x in line.split()]


def greedy_chain(start: int, n: int) -> list:
    out, t = [], start
    for _ in range(n):
        t = rule(t)
        out.append(t)
    return out


def stop_ids() -> set:
    """Control tokens and EOS of the stories260K tokenizer: where generation must stop."""
    tok = tokenizer_ir()
    return {i for i, ty in enumerate(tok.token_types) if ty == 3} | {tok.eos_id}


# ---- the C unit tests ----

@pytest.mark.parametrize("build", sorted(BUILDS))
@pytest.mark.parametrize("name", ["test_sampler", "test_threadpool"])
def test_c_unit_tests(name, build, tmp_path):
    cc, flags = BUILDS[build]
    exe = compile_c(cc, [C_TESTS / f"{name}.c", UNIT_UNDER_TEST[name]], tmp_path / name, flags, GROUPS)
    r = run(exe)
    last = r.stdout.decode().strip().splitlines()[-1]
    assert r.returncode == 0 and last.endswith(" passed, 0 failed") and int(last.split()[0]) > 0, \
        r.stdout.decode() + r.stderr.decode()


def test_threadpool_under_thread_sanitizer(tmp_path):
    """The generation/done-counter handshake has no data race on the job or the slices' results."""
    exe = compile_c("clang", [C_TESTS / "test_threadpool.c", RUNTIME / "program" / "threadpool.c"], tmp_path / "tp",
                    ["-O1", "-g", "-fsanitize=thread"], GROUPS)
    r = run(exe)
    assert r.returncode == 0 and b"WARNING: ThreadSanitizer" not in r.stderr, r.stderr.decode()[-3000:]
    assert r.stdout.decode().strip().endswith(" passed, 0 failed")


def test_threadpool_without_spinning(tmp_path):
    """Workers that always sleep exercise the condition-variable wake-up on every run."""
    exe = compile_c("clang", [C_TESTS / "test_threadpool.c", RUNTIME / "program" / "threadpool.c"], tmp_path / "tp",
                    ["-O2", "-DEDGEC_POOL_SPIN=0"], GROUPS)
    r = run(exe)
    assert r.returncode == 0 and r.stdout.decode().strip().endswith(" passed, 0 failed"), r.stdout.decode()


# ---- generation ----

@pytest.mark.parametrize("build", sorted(BUILDS))
def test_greedy_ids_follow_the_fake_rule(clis, build):
    r = run(clis[build], "--prompt-ids", "5,6,7", "-n", 12, "-t", 0, "--ignore-eos", "--print-ids", "--threads", 2)
    assert r.returncode == 0, r.stderr.decode()
    assert ids_of(r.stdout) == greedy_chain(7, 12)


def test_greedy_from_bos_stops_at_a_stop_token(cli):
    tok = tokenizer_ir()
    want, t = [], tok.bos_id
    while rule(t) not in stop_ids():
        t = rule(t)
        want.append(t)
    assert 0 < len(want) < 10
    r = run(cli, "-n", 10, "-t", 0, "--print-ids")
    assert r.returncode == 0, r.stderr.decode()
    assert ids_of(r.stdout) == want


def test_text_output_is_the_token_pieces(cli):
    """Greedy from BOS streams the bytes of each piece (byte-fallback tokens decoded)."""
    tok = tokenizer_ir()
    ids = ids_of(run(cli, "-n", 10, "-t", 0, "--print-ids").stdout)
    want = b""
    for i in ids:
        piece = tok.tokens[i]
        want += bytes([int(piece[3:5], 16)]) if piece.startswith("<0x") else piece.replace("\u2581", " ").encode()
    r = run(cli, "-n", 10, "-t", 0)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == want.removeprefix(b" ") + b"\n"


def test_n_zero_only_processes_the_prompt(cli):
    r = run(cli, "--prompt-ids", "5,6,7", "-n", 0, "-t", 0)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.strip() == b""
    stats = r.stderr.decode()
    assert "prefill: 3 tokens" in stats and "decode: 0 tokens" in stats and "ttft:" in stats


def test_stats_line_on_stderr(cli):
    r = run(cli, "--prompt-ids", "5,6,7", "-n", 4, "-t", 0, "--ignore-eos")
    lines = [l for l in r.stderr.decode().splitlines() if l.startswith("prefill:")]
    assert len(lines) == 1 and "prefill: 3 tokens" in lines[0] and "decode: 4 tokens" in lines[0] \
        and " tok/s" in lines[0] and "ttft:" in lines[0]


@pytest.mark.parametrize("build", ["gcc", "asan"])
def test_prompt_longer_than_the_context_is_an_error(clis, build):
    r = run(clis[build], "--prompt-ids", ",".join(["5"] * (MAX_CTX + 1)), "-t", 0)
    assert r.returncode != 0
    assert r.stderr.decode().splitlines()[-1] == (
        f"error: prompt has {MAX_CTX + 1} tokens but the model was compiled with --ctx {MAX_CTX}; "
        "recompile with a larger --ctx")
    r = run(clis[build], "-p", "Once upon a time there was a girl " * 10, "-t", 0)
    last = r.stderr.decode().splitlines()[-1]
    assert r.returncode != 0 and last.startswith("error: prompt has ") and f"--ctx {MAX_CTX}" in last
    assert int(last.split()[3]) > MAX_CTX


@pytest.mark.parametrize("build", ["gcc", "asan"])
def test_generation_stops_cleanly_at_the_context_end(clis, build, tmp_path):
    dump = tmp_path / "ctx.bin"
    r = run(clis[build], "--prompt-ids", ",".join(["5"] * 60), "-n", 10, "-t", 0, "--ignore-eos", "--print-ids",
            "--dump-logits", dump)
    assert r.returncode == 0, r.stderr.decode()
    assert ids_of(r.stdout) == greedy_chain(5, MAX_CTX - 60)
    assert "context limit" in r.stderr.decode()
    assert dump.stat().st_size == MAX_CTX * VOCAB * 4


def test_prompt_of_exactly_the_context_generates_nothing(cli):
    r = run(cli, "--prompt-ids", ",".join(["5"] * MAX_CTX), "-n", 3, "-t", 0, "--print-ids")
    assert r.returncode == 0 and ids_of(r.stdout) == [] and "context limit" in r.stderr.decode()


# ---- bad command lines ----

def test_unknown_flag_shows_usage(cli):
    r = run(cli, "--bogus")
    err = r.stderr.decode().splitlines()
    assert r.returncode == 2
    assert err[0].startswith("error: unknown option '--bogus'")
    assert any(l.startswith("usage:") for l in err) and any("--top-p" in l for l in err)
    assert r.stdout == b""


@pytest.mark.parametrize("args", [["-n", "abc"], ["-n", "-1"], ["--top-p", "1.5"], ["--top-p", "0"],
                                  ["--min-p", "2"], ["--threads", "0"], ["--threads", "65"], ["-t", "-1"],
                                  ["--seed", "x"], ["--top-k", "4x"], ["--prompt-ids", "1,x"],
                                  ["--prompt-ids", str(VOCAB)], ["-p"], ["-p", "a", "-f", "b"]])
def test_bad_arguments_are_one_line_errors(cli, args):
    r = run(cli, *args)
    err = r.stderr.decode().splitlines()
    assert r.returncode == 2, r.stderr.decode()
    assert len(err) == 1 and err[0].startswith("error: ")


def test_missing_prompt_file_is_an_error(cli, tmp_path):
    r = run(cli, "-f", tmp_path / "nope.txt")
    assert r.returncode == 1 and r.stderr.decode().splitlines()[-1].startswith("error: cannot open ")


def test_broken_tokenizer_blob_is_an_error(tmp_path):
    blob_dir = write_blob_inc(b"this is not a tokenizer blob" * 4, tmp_path / "blob")
    exe = build_cli("gcc", ["-O1"], tmp_path / "broken", blob_dir)
    r = run(exe, "-p", "hi")
    err = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(err) == 1 and err[0].startswith("error: cannot load the tokenizer blob")


# ---- testing and benchmark hooks ----

@pytest.mark.parametrize("build", sorted(BUILDS))
def test_dump_logits_has_every_prompt_position_and_step(clis, build, tmp_path):
    prompt = [3, 100, 511, 0, 42, 7, 8, 9, 250, 13]      # more than one prefill batch of 8
    dump = tmp_path / "logits.bin"
    r = run(clis[build], "--prompt-ids", ",".join(map(str, prompt)), "-n", 5, "-t", 0, "--ignore-eos",
            "--print-ids", "--dump-logits", dump)
    assert r.returncode == 0, r.stderr.decode()
    gen = ids_of(r.stdout)
    assert gen == greedy_chain(prompt[-1], 5)
    assert dump.stat().st_size == (len(prompt) + len(gen)) * VOCAB * 4
    rows = np.fromfile(dump, dtype="<f4").reshape(-1, VOCAB)
    v = np.arange(VOCAB)
    for row, tok in zip(rows, prompt + gen):
        np.testing.assert_array_equal(row, -np.abs(v - rule(tok)).astype(np.float32))


def test_timings_json(cli, tmp_path):
    out = tmp_path / "t.json"
    r = run(cli, "--prompt-ids", "5,6,7", "-n", 6, "-t", 0, "--ignore-eos", "--threads", 2, "--timings-json", out)
    assert r.returncode == 0, r.stderr.decode()
    t = json.loads(out.read_text())
    assert set(t) == {"prompt_tokens", "gen_tokens", "prefill_ms", "ttft_ms", "decode_ms", "token_ms", "threads"}
    assert t["prompt_tokens"] == 3 and t["gen_tokens"] == 6 and t["threads"] == 2
    assert len(t["token_ms"]) == 6 and all(x >= 0 for x in t["token_ms"])
    assert t["ttft_ms"] >= t["prefill_ms"] >= 0
    assert abs(sum(t["token_ms"]) - t["decode_ms"]) <= 0.01 + 0.01 * t["decode_ms"]


def test_seed_makes_sampling_reproducible(cli):
    args = ["--prompt-ids", "5,6,7", "-n", 40, "-t", 1.0, "--ignore-eos", "--print-ids"]
    a, b, c = run(cli, *args, "--seed", 1234), run(cli, *args, "--seed", 1234), run(cli, *args, "--seed", 999)
    assert a.returncode == b.returncode == c.returncode == 0
    assert "seed: 1234" in a.stderr.decode()
    ids = ids_of(a.stdout)
    assert ids == ids_of(b.stdout) and ids != ids_of(c.stdout) and len(ids) == 40
    # at temperature 1, min-p 0.05 keeps only |v - rule(prev)| <= 2 (e^-2 >= 0.05 > e^-3)
    prev = [7] + ids[:-1]
    dist = [min((i - rule(p)) % VOCAB, (rule(p) - i) % VOCAB) for i, p in zip(ids, prev)]
    assert max(dist) <= 2 and any(d != 0 for d in dist)


def test_default_seed_is_printed_and_varies(cli):
    seeds = set()
    for _ in range(2):
        err = run(cli, "--prompt-ids", "5", "-n", 1).stderr.decode()
        seeds |= {l for l in err.splitlines() if l.startswith("seed: ")}
    assert len(seeds) == 2


def test_threads_do_not_change_greedy_output(clis, tmp_path):
    outs = []
    for threads in (1, 2, 3):
        dump = tmp_path / f"d{threads}.bin"
        r = run(clis["clang"], "--prompt-ids", "1,2,3,4,5,6,7,8,9,10,11", "-n", 20, "-t", 0, "--ignore-eos",
                "--print-ids", "--threads", threads, "--dump-logits", dump)
        assert r.returncode == 0, r.stderr.decode()
        outs.append((r.stdout, dump.read_bytes()))
    assert outs[0] == outs[1] == outs[2]


def test_tokenize_prints_one_line_per_line(cli, tmp_path):
    src = tmp_path / "lines.txt"
    src.write_bytes(b"Once upon a time\n\nLily saw a big dog.\n")
    r = run(cli, "--tokenize", "-f", src)
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""
    for line in (lines[0], lines[2]):
        ids = ids_of(line.encode())
        assert ids and all(0 <= i < VOCAB for i in ids)


def test_prompt_encoding_matches_tokenize(cli, tmp_path):
    """-p and -f feed BOS (the tokenizer adds one) then exactly the ids --tokenize prints."""
    text = "Once upon a time, Lily"
    src = tmp_path / "p.txt"
    src.write_text(text + "\n")
    ids = ids_of(run(cli, "--tokenize", "-f", src).stdout)
    bos = tokenizer_ir().bos_id
    for args in (["-p", text], ["-f", src]):
        dump = tmp_path / "p.bin"
        r = run(cli, *args, "-n", 0, "--dump-logits", dump)
        assert r.returncode == 0, r.stderr.decode()
        rows = np.fromfile(dump, dtype="<f4").reshape(-1, VOCAB)
        assert [fed_token(row) for row in rows] == [bos] + ids


def test_info(cli):
    r = run(cli, "--info")
    assert r.returncode == 0
    info = dict(l.split(": ", 1) for l in r.stdout.decode().splitlines())
    assert info["name"] == "fake" and info["target"] == "test" and info["vocab"] == str(VOCAB)
    assert info["ctx"] == str(MAX_CTX) and info["batch"] == str(MAX_BATCH)
    assert info["weights_bytes"] == "64" and info["arena_bytes"] == str(MAX_BATCH * VOCAB * 4)
    assert info["kernels"] == "scalar"


# ---- chat ----

@pytest.mark.parametrize("build", sorted(BUILDS))
def test_chat_with_piped_turns_gives_one_reply_each(clis, build):
    r = run(clis[build], "--chat", "-t", 0, "-n", 6, "--print-ids", input=b"hi\nwhat is 2+2?\n")
    assert r.returncode == 0, r.stderr.decode()
    replies = r.stdout.decode().split("\n")
    assert len(replies) == 3 and replies[2] == "", replies      # two replies, nothing else on stdout
    for reply in replies[:2]:
        ids = ids_of(reply.encode())
        assert len(ids) <= 6 and not set(ids) & stop_ids()
        assert all(b == rule(a) for a, b in zip(ids, ids[1:]))


def test_chat_keeps_the_conversation_in_context(cli, tmp_path):
    """Both turns go through one KV cache: one BOS, then each reply fed right after its turn's text."""
    dump = tmp_path / "chat.bin"
    r = run(cli, "--chat", "-t", 0, "-n", 3, "--ignore-eos", "--print-ids", "--dump-logits", dump,
            input=b"hi\nhello\n")
    assert r.returncode == 0, r.stderr.decode()
    replies = [ids_of(l.encode()) for l in r.stdout.decode().splitlines()]
    assert [len(x) for x in replies] == [3, 3]
    fed = [fed_token(row) for row in np.fromfile(dump, dtype="<f4").reshape(-1, VOCAB)]
    bos = tokenizer_ir().bos_id
    assert fed[0] == bos and fed.count(bos) == 1
    i = next(i for i in range(1, len(fed)) if fed[i:i + 3] == replies[0])
    assert rule(fed[i - 1]) == replies[0][0]             # the reply follows the prompt's last token
    assert fed[-3:] == replies[1] and rule(fed[-4]) == replies[1][0]


def test_chat_overflowing_the_context_is_an_error(cli):
    r = run(cli, "--chat", "-t", 0, "-n", 4, "--print-ids", input=b"tell me a story\n" * 20)
    last = r.stderr.decode().splitlines()[-1]
    assert r.returncode != 0 and last.startswith("error: conversation has ") and f"--ctx {MAX_CTX}" in last


def test_chat_with_prompt_flags_is_an_error(cli):
    r = run(cli, "--chat", "-p", "hi")
    assert r.returncode == 2 and r.stderr.decode().startswith("error: ")


def test_arena_allocation_failure_is_an_error(tmp_path):
    blob_dir = write_blob_inc(tokenizer_blob(), tmp_path / "blob")
    exe = build_cli("gcc", ["-O1", "-DEDGEC_FAKE_ARENA_BYTES=(1ull << 46)"], tmp_path / "huge", blob_dir)
    r = run(exe, "-p", "hi")
    err = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(err) == 1
    assert err[0].startswith("error: cannot allocate the ") and "model arena" in err[0]


def test_chat_renders_the_tokenizer_chat_format(tmp_path):
    """A template-derived format: bos_text and the assistant suffix's "</s>" are parsed as special
    tokens, the default system prompt is used unless -s is given."""
    from edgec.frontends.chat_template import ChatFormat
    from edgec.codegen.tokenizer_blob import build_tokenizer_blob
    fmt = ChatFormat(has_chat=True, bos_text="<s>", system_prefix="[SYS]", system_suffix="\n", user_prefix="[U]",
                     user_suffix="\n", assistant_prefix="[A]", assistant_suffix="</s>\n",
                     default_system="Be brief and kind.")
    tok = tokenizer_ir()
    blob_dir = write_blob_inc(build_tokenizer_blob(tok, fmt), tmp_path / "blob")
    exe = build_cli("gcc", ["-O1"], tmp_path / "chat", blob_dir)
    n_before_reply = {}
    for system in (None, "x"):
        dump = tmp_path / "chat.bin"
        args = ["--chat", "-t", 0, "-n", 3, "--ignore-eos", "--print-ids", "--dump-logits", dump]
        r = run(exe, *args, *(["-s", system] if system else []), input=b"hi\nhello\n")
        assert r.returncode == 0, r.stderr.decode()
        replies = [ids_of(l.encode()) for l in r.stdout.decode().splitlines()]
        fed = [fed_token(row) for row in np.fromfile(dump, dtype="<f4").reshape(-1, VOCAB)]
        assert fed[0] == tok.bos_id and fed.count(tok.bos_id) == 1
        i = next(i for i in range(1, len(fed)) if fed[i:i + 3] == replies[0])
        assert fed[i + 3] == tok.eos_id            # "</s>" of the assistant suffix, fed before turn 2
        assert fed[-3:] == replies[1]
        n_before_reply[system] = i
    assert n_before_reply[None] > n_before_reply["x"]  # the default system prompt is longer than "x"
