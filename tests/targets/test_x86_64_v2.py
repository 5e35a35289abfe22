"""The x86-64-v2 target (older PCs, Atom/Celeron NUCs): whole programs built with -march=x86-64-v2 and run
through `edgec run`, which takes the profile's emulator, qemu-x86_64 as a Nehalem: a CPU without AVX, so
any AVX instruction in the program would stop it with SIGILL.  The program must report the ssse3
kernels, contain their instructions (pmaddubsw for the dense dots, pshufb for the LUT), contain no
AVX (VEX / ymm / zmm) instruction of its own, give the numpy reference's logits (tolerance as
tests/test_arm_targets.py) and the host build's greedy tokens.  The five builds run two at a time."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from conftest import STORIES, STORIES_TEXT, compile_artifact, greedy_logits, load_ir
from edgec.build.run_artifact import open_artifact
from edgec.ir.reference import Reference
from tiny_models import mixed_dense_gguf, write_tiny_gguf

TARGET = "x86-64-v2"
EMULATOR = ["qemu-x86_64", "-L", "/", "-cpu", "Nehalem"]   # targets/x86-64-v2.toml's run_prefix, as edgec run adds -L /
PROMPT = [5, 17, 42, 99, 3, 250, 7, 120]
N_GEN = 6
TIGHT_TOL, TIGHT_SHARE, MAX_TOL = 1e-4, 0.75, 1.5e-2
# glibc's string/math functions for AVX CPUs, picked by cpuid at run time (never on a Nehalem): a static
# program carries them, the only functions with AVX instructions that may be in the binary
LIBC_CPU_VARIANT = re.compile(r"_(avx\d*|evex|fma4?)(_|$)")
AVX_INSN = re.compile(r"^\s*[0-9a-f]+:\s+(v[a-z0-9]+)\s|%[yz]mm\d", re.M)


def edgec(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgec.cli", *map(str, args)], capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    """stories260K for x86-64-v2; the mixed dense model and a --quant q2 model (LUT) for x86-64-v2 and host."""
    for tool in ("qemu-x86_64", "gcc", "objdump"):
        assert shutil.which(tool), f"{tool} is missing: run examples/setup.sh (qemu-user has qemu-x86_64)"
    base = tmp_path_factory.mktemp("x86v2")
    dense, cfg = mixed_dense_gguf(base / "dense.gguf", seed=31)
    plain = write_tiny_gguf(base / "plain.gguf", cfg, "f32", seed=32)
    jobs = {"stories": dict(model=STORIES / "stories260K.bin", target=TARGET, ctx=256, tokenizer=str(STORIES / "tok512.bin"))}
    for name, model, quant in (("dense", dense, None), ("q2", plain, "q2")):
        jobs[name] = dict(model=model, target=TARGET, ctx=64, quant=quant)
        jobs[f"{name}-host"] = dict(model=model, target="host", ctx=64, quant=quant, autotune=False)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {k: pool.submit(lambda k, kw: compile_artifact(out_dir=base / k, **kw), k, kw) for k, kw in jobs.items()}
        out = {k: f.result() for k, f in futures.items()}
    out["cfg"], out["paths"] = cfg, {"dense": dense, "q2": plain}
    return out


def disassembly(binary) -> str:
    return subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(binary)], capture_output=True, text=True, check=True).stdout


def functions_with_avx(disasm: str) -> list:
    """The functions of an objdump -d listing that hold a VEX-encoded (v-prefixed) or ymm/zmm instruction."""
    names = []
    for body in re.split(r"\n(?=[0-9a-f]+ <)", disasm):
        head = re.match(r"[0-9a-f]+ <([^>]+)>:", body)
        if head and AVX_INSN.search(body):
            names.append(head.group(1))
    return names


def assert_no_avx_of_its_own(binary) -> str:
    disasm = disassembly(binary)
    ours = [f for f in functions_with_avx(disasm) if not LIBC_CPU_VARIANT.search(f)]
    assert not ours, f"AVX instructions in {ours[:10]}"
    return disasm


def test_qemu_nehalem_rejects_avx(tmp_path):
    """What the runs below prove rests on this: qemu-x86_64 -cpu Nehalem stops an AVX instruction."""
    src = tmp_path / "avx.c"
    src.write_text("#include <immintrin.h>\nint main(int c, char **v) { (void)v; __m256 a = _mm256_set1_ps((float)c);\n"
                   "volatile float f = _mm256_cvtss_f32(_mm256_add_ps(a, a)); return f > 0 ? 0 : 1; }\n")
    subprocess.run(["gcc", "-O1", "-mavx", "-static", str(src), "-o", str(tmp_path / "avx")], check=True)
    r = subprocess.run([*EMULATOR, str(tmp_path / "avx")], capture_output=True)
    assert r.returncode == -4, f"qemu-x86_64 -cpu Nehalem ran an AVX program (exit status {r.returncode}), expected SIGILL"


def test_stories260k_runs_under_nehalem(arts):
    art = arts["stories"]
    assert art.manifest["target"]["isa"] == "ssse3" and "-march=x86-64-v2" in art.manifest["target"]["cflags"]
    assert open_artifact(art.out_dir).command()[:len(EMULATOR)] == EMULATOR, "edgec run does not take the Nehalem emulator"
    info = edgec("run", art.out_dir, "--info")
    assert info.returncode == 0, info.stderr.decode()
    assert re.search(rb"^kernels: ssse3$", info.stdout, re.M), info.stdout.decode()
    r = edgec("run", art.out_dir, "-n", 90, "-t", 0, "--threads", 1)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().startswith(STORIES_TEXT)
    assert_no_avx_of_its_own(art.binary)


def test_runs_natively_without_the_emulator(arts, tmp_path, monkeypatch):
    """On an x86-64 machine without qemu-x86_64 (the box itself) edgec run starts the program directly."""
    monkeypatch.setenv("PATH", str(tmp_path))   # nothing on PATH: no qemu-x86_64
    art = arts["stories"]
    assert open_artifact(art.out_dir).command("-n", 4) == [str(art.binary), "-n", "4"]
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "run", str(art.out_dir), "-n", "8", "-t", "0"],
                       capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stdout.decode().startswith(STORIES_TEXT[:20]), r.stderr.decode()


def emulated_logits(art, vocab, tmp_path) -> np.ndarray:
    """Logits (prompt positions, then one row per greedy step) of the program run by `edgec run`."""
    dump = tmp_path / f"{art.out_dir.name}.logits"
    r = edgec("run", art.out_dir, "--prompt-ids", ",".join(map(str, PROMPT)), "-n", N_GEN, "-t", 0, "--ignore-eos",
              "--threads", 1, "--dump-logits", dump)
    assert r.returncode == 0, r.stderr.decode()
    got = np.fromfile(dump, dtype=np.float32).reshape(-1, vocab)
    assert got.shape[0] >= len(PROMPT) + N_GEN - 1, got.shape
    return got[:len(PROMPT) + N_GEN - 1]


def greedy_tokens(logits) -> list:
    return [int(i) for i in logits[len(PROMPT) - 1:].argmax(axis=1)]


@pytest.mark.parametrize("model,insn", [("dense", "pmaddubsw"), ("q2", "pshufb")])
def test_tiny_model_matches_reference_and_host(arts, tmp_path, model, insn):
    """dense: q4_0, q8_0, f16 layers and a q4_1 classifier (kernels/x86/ssse3/dense.h, float.h);
    q2: --quant q2, its matrices in LUT tiles (kernels/x86/ssse3/lut.h)."""
    art, host, cfg = arts[model], arts[f"{model}-host"], arts["cfg"]
    quant = "q2" if model == "q2" else None
    if quant:
        layouts = {t["name"]: t["layout"] for t in art.manifest["tensors"] if t["format"] == "q2"}
        assert layouts and set(layouts.values()) == {"lut"}, layouts
    disasm = assert_no_avx_of_its_own(art.binary)
    assert re.search(rf"\s{insn}\s", disasm), f"no {insn} in the x86-64-v2 program"
    got = emulated_logits(art, cfg.vocab_size, tmp_path)
    ids = greedy_tokens(got)
    want = Reference(load_ir(str(arts["paths"][model]), quant=quant), mimic_kernels=True).forward(PROMPT + ids[:-1])
    err = np.abs(got - want).max(axis=1) / np.abs(want).max()
    assert (err <= TIGHT_TOL).mean() >= TIGHT_SHARE and err.max() <= MAX_TOL, err
    host_ids = greedy_tokens(greedy_logits(host.binary, PROMPT, N_GEN, cfg.vocab_size, tmp_path))
    for step, (a, b) in enumerate(zip(ids, host_ids)):   # the first difference may only be a near-tie
        if a != b:
            row = want[len(PROMPT) - 1 + step]
            assert abs(float(row[a] - row[b])) / np.abs(want).max() <= MAX_TOL, f"step {step}: {a} here, {b} on the host"
            break
