"""The firmware bundle (an artifact's firmware/): it builds on its own, freestanding, for every target;
what it leaves undefined is only memory and float-math functions; two models with their own
prefixes link into one program and each gives the CLI's tokens; the step API equals a plain feed."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conftest import REPO, STORIES, compile_artifact, run_binary
from kernel_builds import CROSS_GCC, SETUP_HINT
from tiny_models import make_tiny_config, write_tiny_gguf

from edgec.errors import EdgecError

# What a core may leave for the firmware's C library or libm to define.
ALLOWED_UNDEFINED = {"memcpy", "memset", "memmove", "memcmp", "expf", "sqrtf", "fabsf", "cosf", "sinf", "powf",
                     "logf", "tanhf", "roundf", "floorf", "ceilf", "fmaxf", "fminf", "lrintf", "exp", "sqrt"}


def bundle_units(fw):
    return sorted(p for p in fw.iterdir() if p.suffix in (".c", ".S"))


def freestanding_objects(fw, cc, cflags, tmp):
    """Each unit compiled with only the bundle on the include path and -ffreestanding, then linked
    relocatably without any library; returns the symbols left undefined."""
    objs = []
    for unit in bundle_units(fw):
        obj = tmp / (unit.stem + ".o")
        asm = [f"-Wa,-I{fw}"] if unit.suffix == ".S" else []
        r = subprocess.run([cc, "-std=c11", "-ffreestanding", "-Wall", "-Wextra", "-Werror", *cflags, *asm,
                            f"-I{fw}", "-c", str(unit), "-o", str(obj)], capture_output=True, text=True)
        assert r.returncode == 0, f"{unit.name}:\n{r.stderr}"
        objs.append(str(obj))
    core = tmp / "core.o"
    r = subprocess.run([cc, "-r", "-nostdlib", *objs, "-o", str(core)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    nm = cc[:-3] + "nm" if cc.endswith("-gcc") else "nm"   # a cross compiler's own: aarch64-linux-gnu-nm, arm-none-eabi-nm
    out = subprocess.run([nm, "-u", str(core)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("target", ["host", "generic", "pi-zero", "cortex-m7"])
def test_bundle_builds_freestanding(tmp_path, target):
    if target == "pi-zero" and not shutil.which(CROSS_GCC):
        pytest.fail(f"{CROSS_GCC} not found: {SETUP_HINT}")
    if target == "cortex-m7" and not shutil.which("arm-none-eabi-gcc"):
        pytest.fail("arm-none-eabi-gcc not found: run examples/setup_firmware_tools.sh")
    path = write_tiny_gguf(tmp_path / "m.gguf", make_tiny_config(), "q4_1", seed=5)
    res = compile_artifact(path, tmp_path / "art", target=target, ctx=64, build=False)
    fw = res.out_dir / "firmware"
    assert not any(p.suffix == ".h" and p.parent == fw and p.name != "model.h" for p in fw.iterdir())
    undefined = freestanding_objects(fw, res.manifest["target"]["cc"], res.manifest["target"]["cflags"], tmp_path)
    runtime_abi = {u for u in undefined if u.startswith("__aeabi_")}   # libgcc's ARM EABI helpers: 64-bit division on a 32-bit core
    assert undefined - runtime_abi <= ALLOWED_UNDEFINED, sorted(undefined - runtime_abi - ALLOWED_UNDEFINED)


def test_bundle_holds_only_the_targets_kernels(tmp_path):
    path = write_tiny_gguf(tmp_path / "m.gguf", make_tiny_config(), "q8_0", seed=5)
    fw = compile_artifact(path, tmp_path / "g", target="generic", ctx=64, build=False).out_dir / "firmware"
    kernels = {p.relative_to(fw).as_posix() for p in (fw / "kernels").rglob("*.h")}
    assert "kernels/scalar/dense.h" in kernels
    assert not any(k.startswith(("kernels/x86/", "kernels/arm/")) for k in kernels)
    assert len(kernels) < len(list((REPO / "runtime" / "core" / "kernels").rglob("*.h")))
    readme = (fw / "README.md").read_text()
    assert "weights.c" in readme and "add_library" in readme and "idf_component_register" in readme


def test_two_prefixed_models_in_one_program(tmp_path):
    """tiny (prefix tiny_a) and stories260K (prefix story_b) in one image, each as its own CLI decodes."""
    tiny = write_tiny_gguf(tmp_path / "t.gguf", make_tiny_config(), "q8_0", seed=6)
    a = compile_artifact(tiny, tmp_path / "a", ctx=64, prefix="tiny_a")
    b = compile_artifact(STORIES / "stories260K.bin", tmp_path / "b", ctx=64, prefix="story_b",
                         tokenizer=str(STORIES / "tok512.bin"))
    proj = tmp_path / "proj"
    shutil.copytree(a.out_dir / "firmware", proj / "a")
    shutil.copytree(b.out_dir / "firmware", proj / "b")
    exe, flags = tmp_path / "two", ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", *a.manifest["target"]["cflags"]]
    objs = []
    for d in ("a", "b"):   # each bundle with its own folder on the include path, as its README says
        for unit in bundle_units(proj / d):
            if unit.stem == "tokenizer_blob":
                continue   # token ids in and out: the tokenizer unit is left out
            objs.append(str(tmp_path / f"{d}-{unit.stem}.o"))
            r = subprocess.run(["gcc", *flags, f"-I{proj / d}", "-c", str(unit), "-o", objs[-1]],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
    r = subprocess.run(["gcc", *flags, f"-I{proj}", str(REPO / "tests" / "c" / "two_models.c"), *objs,
                        "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = subprocess.run([str(exe), "7", "1", "12"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = dict(line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)
    for res, first, key in [(a, 7, "tiny_a"), (b, 1, "story_b")]:
        cli = run_binary(res.binary, "--prompt-ids", first, "-n", 12, "-t", 0, "--ignore-eos", "--print-ids")
        assert cli.returncode == 0, cli.stderr
        assert lines[key].split() == cli.stdout.decode().split()[-12:], key
    assert "steps ok" in out.stdout


def test_prefix_is_recorded_and_every_export_carries_it(tmp_path):
    path = write_tiny_gguf(tmp_path / "m.gguf", make_tiny_config(), "q8_0", seed=5)
    res = compile_artifact(path, tmp_path / "art", ctx=64, prefix="kws", build=False)
    assert json.loads((res.out_dir / "manifest.json").read_text())["prefix"] == "kws"
    header = (res.out_dir / "firmware" / "model.h").read_text()
    public = header.split("#ifdef EDGEC_GENERIC_NAMES")[0]
    assert "edgec_" not in public and "EDGEC_" not in public
    assert "kws_model_feed(" in public and "#define KWS_ARENA_BYTES" in public


@pytest.mark.parametrize("prefix", ["9lives", "has-dash", "Upper", "__x", "a" * 33, "x;y"])
def test_bad_prefix_refused_before_work(tmp_path, prefix):
    path = write_tiny_gguf(tmp_path / "m.gguf", make_tiny_config(), "q8_0", seed=5)
    with pytest.raises(EdgecError, match="--prefix"):
        compile_artifact(path, tmp_path / "art", ctx=64, prefix=prefix, build=False)
    assert not (tmp_path / "art").exists()
