"""Nothing from a model file or the command line becomes code: hostile file names, model names and
config fields reach the generated C, CMake and JSON only escaped, and the program behaves as with a
plain name."""
import json
import os
import re
import subprocess
import sys

import pytest

from edgec.escaping import c_string, cmake_string, comment_text, display_text
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf, write_hf_folder

# Every way out of a C comment, C string, CMake comment or argument, shell word or JSON string.
PAYLOAD = '*/ /* \n"\\ #include "pwn.h"\n${PWN} ) $(touch pwned_shell) `touch pwned_tick` ../.. \x00 ??/ end'
HOSTILE_FILE = os.fsdecode(b"m\nexecute_process(COMMAND touch pwned_cmake)\n#*\"\\${X}$(touch pwned_sh)\xff.gguf")
MARKERS = ("execute_process(", "$(touch", "`touch", "${PWN", "${X}", "pwn.h")   # live code if they escaped a comment


def compile_cli(model, out, cwd, *extra):
    return subprocess.run([sys.executable, "-m", "edgec.cli", "compile", str(model), "--out", str(out), "--ctx", "64",
                           "-q", *extra], capture_output=True, text=True, cwd=cwd, timeout=600)


def run_program(art, name):
    r = subprocess.run([str(art / "bin" / name), "-p", "hello world", "-n", "12", "-t", "0"], capture_output=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def strip_c_comments_and_strings(src: str) -> str:
    return re.sub(r'/\*.*?\*/|"(?:\\.|[^"\\\n])*"', " ", src, flags=re.S)


def assert_no_live_copy(art):
    """The hostile markers appear in generated code only inside comments, and never break out of them."""
    cmake = (art / "CMakeLists.txt").read_text()
    for line in cmake.splitlines():
        if any(m in line for m in MARKERS):
            assert line.startswith("#"), f"CMakeLists.txt: hostile text outside a comment: {line!r}"
    for f in list((art / "firmware").glob("*.[chS]")):
        code = strip_c_comments_and_strings(f.read_text(errors="replace"))
        for m in MARKERS:
            assert m not in code, f"{f.name}: {m!r} outside a comment"
    manifest = json.loads((art / "manifest.json").read_text())   # valid JSON, strings escaped
    assert "\n" not in manifest["source"]["file"]


def assert_nothing_written_outside(root, art):
    touched = {"pwned_cmake", "pwned_sh", "pwned_shell", "pwned_tick", "pwned_folder", "pwn.h"}   # what the payloads create
    stray = [p for p in root.rglob("*") if p.name in touched]
    assert not stray, f"hostile text ran as code: {stray}"
    assert not any(p.name.startswith(".") and ".tmp-" in p.name for p in art.parent.iterdir())


@pytest.fixture(scope="module")
def plain_and_hostile_gguf(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_gguf")
    tok, _ = tiny_tokenizer_gpt2()
    cfg = make_tiny_config(vocab_size=len(tok.tokens))
    weights = random_weights(cfg, seed=3)
    write_gguf(str(root / "plain.gguf"), cfg, weights, "q8_0", tokenizer=tok)
    cfg.name = PAYLOAD   # general.name
    write_gguf(str(root / "hostile.gguf"), cfg, weights, "q8_0", tokenizer=tok)
    os.rename(root / "hostile.gguf", root / HOSTILE_FILE)   # a file name '/' cannot be part of
    return root


def test_hostile_gguf_name_builds_and_runs_like_plain(plain_and_hostile_gguf):
    root = plain_and_hostile_gguf
    r = compile_cli(root / HOSTILE_FILE, root / "hostile_art", root)
    assert r.returncode == 0, r.stderr
    r2 = compile_cli(root / "plain.gguf", root / "plain_art", root, "--name", "plain")
    assert r2.returncode == 0, r2.stderr
    art = root / "hostile_art"
    name = json.loads((art / "manifest.json").read_text())["name"]
    assert re.fullmatch(r"[a-z0-9_-]+", name), name
    assert_no_live_copy(art)
    assert_nothing_written_outside(root, art)
    assert run_program(art, name) == run_program(root / "plain_art", "plain")
    # the documented standalone rebuild runs no hostile CMake either
    b = subprocess.run(["cmake", "-S", str(art), "-B", str(art / "build")], capture_output=True, cwd=root, timeout=300)
    assert b.returncode == 0, b.stderr
    assert_nothing_written_outside(root, art)


def test_hostile_name_flag_and_hf_folder(tmp_path):
    tok, tj = tiny_tokenizer_gpt2()
    cfg = make_tiny_config(vocab_size=len(tok.tokens))
    folder = tmp_path / "hf$(touch pwned_folder)\n*/"
    write_hf_folder(str(folder), cfg, random_weights(cfg, seed=4), tokenizer_json=tj)
    config = json.loads((folder / "config.json").read_text())
    config.update({"_name_or_path": PAYLOAD, "architectures": ["LlamaForCausalLM"], "license": PAYLOAD,
                   "torch_dtype": "float32", "transformers_version": PAYLOAD})
    (folder / "config.json").write_text(json.dumps(config))
    r = compile_cli(folder, tmp_path / "art", tmp_path, "--name", PAYLOAD.replace("\x00", ""))
    assert r.returncode == 0, r.stderr
    assert_no_live_copy(tmp_path / "art")
    assert_nothing_written_outside(tmp_path, tmp_path / "art")


def test_error_messages_stay_one_line(tmp_path):
    bad = tmp_path / "x\n\x1b[31mred\n.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 20)
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "compile", str(bad), "--out", str(tmp_path / "o"), "-q"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "\x1b" not in r.stderr, r.stderr


@pytest.mark.parametrize("s", [PAYLOAD, HOSTILE_FILE, "plain", "", "\u00e9\u4e2d", "a" * 500])
def test_escapers(s):
    comment = comment_text(s)
    assert "*/" not in comment and "/*" not in comment and "\n" not in comment and "??" not in comment
    assert "\\" not in comment and len(comment) <= 96
    lit = c_string(s)
    assert lit.startswith('"') and lit.endswith('"') and "\n" not in lit
    body = lit[1:-1]
    assert not re.search(r'(?<!\\)"', body.replace("\\\\", "")) and "??" not in body
    assert all(0x20 <= ord(ch) < 0x7F for ch in lit)
    arg = cmake_string(s)
    assert re.fullmatch(r'"[A-Za-z0-9_.+-]*"', arg)
    shown = display_text(s)
    assert "\n" not in shown and "\x00" not in shown
    json.loads(json.dumps(shown))


def test_c_string_round_trips_through_the_compiler(tmp_path):
    """The C literal holds exactly the UTF-8 bytes of the string."""
    src = tmp_path / "s.c"
    s = PAYLOAD.replace("\x00", "") + " \u00e9"
    src.write_text('#include <stdio.h>\nint main(void) { fputs(' + c_string(s) + ', stdout); return 0; }\n')
    exe = tmp_path / "s"
    subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(src)], check=True, timeout=120)
    assert subprocess.run([str(exe)], capture_output=True, timeout=60).stdout == s.encode()
