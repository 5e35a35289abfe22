"""The cortex-m7 target: stories260K (q8_0) compiled into a firmware image for the emulated MPS2 AN500 board,
run under qemu-system-arm with semihosting: the known story from BOS, the CLI's tokens, a stack high-water
mark within model.h's bound, weights in flash and the arena in SRAM, the plain-Makefile example, and a
model too big for the board refused before any work."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, STORIES, STORIES_TEXT, compile_artifact, run_binary, smollm2_path

from edgec.errors import EdgecError

TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm", "arm-none-eabi-objdump", "qemu-system-arm", "make")
TOKENIZER = str(STORIES / "tok512.bin")
FLASH, SRAM = (0x00000000, 4 << 20), (0x20000000, 4 << 20)   # the AN500 board's ZBT SSRAM1 and SSRAM2&3
REPORT = re.compile(r"\[firmware\] (\d+) tokens; stack used: (\d+) bytes by generation .*?, (\d+) of (\d+) bytes in all")


def require_tools():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: run examples/setup_firmware_tools.sh")


def compile_stories(out, **kw):
    require_tools()
    return compile_artifact(STORIES / "stories260K.bin", out, target="cortex-m7", tokenizer=TOKENIZER,
                            quant="q8_0", ctx=256, **kw)


@pytest.fixture(scope="module")
def m7(tmp_path_factory):
    return compile_stories(tmp_path_factory.mktemp("m7") / "art")


def edgec_run(art, *args):
    return subprocess.run([sys.executable, "-m", "edgec.cli", "run", str(art.out_dir), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def split_report(stdout: str):
    """(the generated text, the report's numbers: tokens, generation stack, total stack, reserved)."""
    text, _, last = stdout.rstrip("\n").rpartition("\n")
    m = REPORT.fullmatch(last)
    assert m, stdout[-400:]
    return text, [int(g) for g in m.groups()]


def test_story_from_bos(m7):
    r = edgec_run(m7, "-n", 40)
    assert r.returncode == 0, r.stdout + r.stderr
    text, (tokens, *_) = split_report(r.stdout)
    assert text == STORIES_TEXT and tokens == 40


def test_same_tokens_as_the_cli(m7, tmp_path):
    generic = compile_artifact(STORIES / "stories260K.bin", tmp_path / "generic", target="generic",
                               tokenizer=TOKENIZER, quant="q8_0", ctx=256)
    cli = run_binary(generic.binary, "-n", 40, "-t", 0, "--print-ids")
    assert cli.returncode == 0, cli.stderr
    r = edgec_run(m7, "-n", 40, "-t", 0, "--print-ids")
    assert r.returncode == 0, r.stdout + r.stderr
    ids, _ = split_report(r.stdout)
    assert ids.split() == cli.stdout.decode().split()


def test_prompt_text_and_ids_cross_the_command_line(m7):
    text = edgec_run(m7, "-p", "Once upon a time, there", "-n", 3)   # a comma and spaces: qemu's option quoting
    assert text.returncode == 0, text.stdout + text.stderr
    assert split_report(text.stdout)[0] == " was a little"
    ids = edgec_run(m7, "--prompt-ids", "1,403", "-n", 3, "--print-ids")   # BOS, "Once"
    assert ids.returncode == 0, ids.stdout + ids.stderr
    assert split_report(ids.stdout)[0].split() == ["407", "261", "378"]   # the story's next ids


SPLIT_CASES = [["a.elf"], ["a.elf", "-p", "Once upon a time, there"], ["x", "it's", 'say "hi"'],
               ["x", "back\\slash", "", "tab\tand\nnewline", "$HOME", "*"], [f"w{i}" for i in range(16)]]


@pytest.mark.parametrize("words", SPLIT_CASES)
def test_command_line_splits_as_shlex_joins(tmp_path, words):
    """runtime/mcu/cmdline.c undoes shlex.join (what `edgec run` sends); too many words or an open quote is an error."""
    exe = tmp_path / "split"
    r = subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{REPO / 'runtime' / 'mcu'}",
                        str(REPO / "tests" / "c" / "mcu_cmdline.c"), str(REPO / "runtime" / "mcu" / "cmdline.c"),
                        "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    split = lambda line: subprocess.run([str(exe), line], capture_output=True, text=True, check=True).stdout  # noqa: E731
    assert split(shlex.join(words)) == "".join(f"{w}\n" for w in words)
    assert split(shlex.join(words) + " 'open") == "error\n"
    assert split(" ".join(f"w{i}" for i in range(17))) == "error\n"


def test_stack_high_water_within_the_bound(m7):
    r = edgec_run(m7, "-n", 40)
    _, (_, generation, total, reserved) = split_report(r.stdout)
    header = (m7.out_dir / "firmware" / "model.h").read_text()
    bound = int(re.search(r"#define STORIES260K_STACK_BYTES\s+(\d+)u", header).group(1))
    assert bound == m7.manifest["sizes"]["stack_bytes"]
    assert bound // 2 <= generation <= bound, (generation, bound)   # painted, then measured
    assert generation < total <= reserved


def test_weights_in_flash_arena_in_sram(m7):
    manifest = json.loads((m7.out_dir / "manifest.json").read_text())
    program = manifest["program"]
    assert program["kind"] == "firmware-image" and program["machine"] == "mps2-an500"
    assert program["image"] == "bin/stories260k.elf" and m7.binary.name == "stories260k.elf"
    assert manifest["sizes"]["weights_bytes"] < program["flash_bytes_used"] <= FLASH[1]
    assert manifest["sizes"]["arena_bytes"] <= program["ram_bytes_static"] <= SRAM[1]
    assert "bin/stories260k.elf" in manifest["files"]   # so a later compile may replace the folder
    nm = subprocess.run(["arm-none-eabi-nm", "-S", str(m7.binary)], capture_output=True, text=True, check=True).stdout
    symbols = {line.split()[-1]: (int(line.split()[0], 16), int(line.split()[1], 16))
               for line in nm.splitlines() if len(line.split()) == 4}
    weights, arena = symbols["stories260k_weights"], symbols["arena"]
    assert FLASH[0] <= weights[0] and weights[0] + weights[1] <= FLASH[0] + FLASH[1]
    assert weights[1] == manifest["sizes"]["weights_bytes"] and weights[0] % 64 == 0
    assert SRAM[0] <= arena[0] and arena[0] + arena[1] <= SRAM[0] + SRAM[1]
    assert arena[1] == manifest["sizes"]["arena_bytes"] and arena[0] % 64 == 0


def smlads(image) -> int:
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(image)], capture_output=True, text=True, check=True).stdout
    return len(re.findall(r"\tsmlad\t", dis))


def test_dsp_dot_product_ran_and_equals_the_portable_one(m7, tmp_path):
    """The profile builds the q8_0 dot product on SMLAD (kernels/arm/dsp/q8_dot.h); the same artifact
    rebuilt without -DEDGEC_ARM_DSP has none and generates the same ids."""
    assert json.loads((m7.out_dir / "manifest.json").read_text())["program"]["kernels"] == "dsp"
    assert (m7.out_dir / "firmware" / "kernels" / "arm" / "dsp" / "q8_dot.h").is_file()
    assert smlads(m7.binary) >= 16   # a block's 32 products, unrolled
    portable = tmp_path / "portable"
    shutil.copytree(m7.out_dir, portable)
    makefile = portable / "Makefile"
    makefile.write_text(makefile.read_text().replace(" -DEDGEC_ARM_DSP", ""))
    (portable / "bin" / m7.binary.name).unlink()
    made = subprocess.run(["make", "-C", str(portable), "-j2"], capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    assert smlads(portable / "bin" / m7.binary.name) == 0
    runs = [subprocess.run(["make", "-s", "-C", str(folder), "run", "ARGS=-n 40 --print-ids"], capture_output=True,
                           text=True, timeout=120) for folder in (m7.out_dir, portable)]
    assert all(r.returncode == 0 for r in runs), [r.stdout + r.stderr for r in runs]
    dsp, scalar = (split_report(r.stdout)[0].split() for r in runs)
    assert dsp == scalar and len(dsp) == 40


def test_bad_flags_exit_2_with_one_line(m7):
    for args, words in [(["--bogus"], "unknown flag"), (["-n", "x"], "-n takes"), (["-t", "0.8"], "greedily")]:
        r = edgec_run(m7, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stdout.strip().startswith("firmware: ") and words in r.stdout and "\n" not in r.stdout.strip()


def test_no_build_then_make_and_the_plain_makefile_example(tmp_path):
    """--no-build writes the sources, the linker script and the Makefile; `make` in the artifact gives the
    image `edgec run` runs, and examples/firmware/cortex-m builds the same program from the bundle."""
    art = compile_stories(tmp_path / "art", build=False)
    r = edgec_run(art, "-n", 4)
    assert r.returncode == 1 and "make -C" in r.stderr, r.stderr
    made = subprocess.run(["make", "-C", str(art.out_dir), "-j2"], capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    r = edgec_run(art, "-n", 40)
    assert r.returncode == 0 and split_report(r.stdout)[0] == STORIES_TEXT, r.stdout + r.stderr

    example = tmp_path / "example"
    shutil.copytree(REPO / "examples" / "firmware" / "cortex-m", example)
    made = subprocess.run(["make", "-C", str(example), f"ARTIFACT={art.out_dir}", f"RUNTIME={REPO / 'runtime'}"],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    ran = subprocess.run(["make", "-s", "-C", str(example), "run", f"ARTIFACT={art.out_dir}",
                          f"RUNTIME={REPO / 'runtime'}", "ARGS=-n 40"], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and split_report(ran.stdout)[0] == STORIES_TEXT, ran.stdout + ran.stderr


def test_model_too_big_for_the_board_is_refused(tmp_path):
    """SmolLM2's 92 MB of weights: refused at planning for flash whatever the context (no --ctx helps), one
    line with the numbers and the fix, nothing written."""
    for ctx in (16, 2048):
        words = ("of flash (weights 94", "4096 KiB", "cortex-m7", "--quant")   # the RoPE tables grow with --ctx
        with pytest.raises(EdgecError) as e:
            compile_artifact(smollm2_path(), tmp_path / f"smol{ctx}", target="cortex-m7", ctx=ctx, build=False)
        message = str(e.value)
        assert "\n" not in message and all(w in message for w in words), message
        assert not (tmp_path / f"smol{ctx}").exists()


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["bench"], ["eval", "--text", "x"]])
def test_linux_only_commands_refuse_a_firmware_image(m7, command):
    """serve, bench and eval drive the Linux program: on a firmware image they say so in one line."""
    r = subprocess.run([sys.executable, "-m", "edgec.cli", command[0], str(m7.out_dir), *command[1:]],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "firmware image for cortex-m7" in r.stderr and "edgec run" in r.stderr, r.stderr
