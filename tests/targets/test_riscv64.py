"""The RISC-V targets: riscv64 (RV64GC, riscv64-linux-gnu-gcc, scalar kernels) and riscv64-rvv (RVV 1.0 kernels,
clang-19), whole programs run through `edgec run` under the profile's qemu-riscv64: riscv64 as a CPU without a
vector unit (`v=false`: a vector instruction would stop it), riscv64-rvv at VLEN 128.  The same rvv binary runs
again at VLEN 256 by calling qemu directly (the kernels are VLEN-agnostic; `edgec run` takes the profile's CPU).

stories260K (f32 weights: the float kernels) must give the host's greedy text; a tiny model with q4_0, q8_0 and
f16 layers and a q4_1 classifier (every dense kernel) the numpy reference's logits (tolerances as
tests/test_arm_targets.py) and the host build's greedy tokens.  The programs report their kernels (`--info`),
and their code is what the kernels say: the rvv program's holds vsetvli, vfmacc and the widening int8 dots
(vwmul, vwmacc, vwredsum), the riscv64 program has no vector instruction at all.  The five programs (two per
target, the host's reference) build two at a time.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import STORIES, STORIES_TEXT, compile_artifact, edgec_run, greedy_logits, load_ir
from edgec.build.run_artifact import open_artifact
from edgec.ir.reference import Reference
from kernel_builds import RISCV64, SETUP_HINT
from tiny_models import mixed_dense_gguf

TARGETS = ["riscv64", "riscv64-rvv"]
KERNELS = {"riscv64": "scalar", "riscv64-rvv": "rvv"}
QEMU_VLEN_256 = ["qemu-riscv64", "-cpu", "rv64,v=true,vlen=256,vext_spec=v1.0"]   # the SpacemiT K1's vector length
READELF = "riscv64-linux-gnu-readelf"
PROMPT = [5, 17, 42, 99, 3, 250, 7, 120]
N_GEN = 6
TIGHT_TOL, TIGHT_SHARE, MAX_TOL = 1e-4, 0.75, 1.5e-2
EM_RISCV, ELFCLASS64 = 243, 2
OP_V = 0x57   # the major opcode of vsetvl* and every vector arithmetic instruction (low 7 bits of the word)
MAPPING_SYMBOL = re.compile(r"^\s*\d+:\s+([0-9a-f]+)\s.*\s\$x(\S*)$", re.M)   # a readelf -sW line of $x / $x<arch>
INSN_WORD = re.compile(r"^\s*[0-9a-f]+:\s+([0-9a-f]{8})\s", re.M)   # a 32-bit instruction of an objdump -d listing


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    """stories260K and the dense model for both targets, and the dense model for the host (greedy reference)."""
    tools = [RISCV64.gcc, RISCV64.qemu, RISCV64.objdump, READELF, "clang-19"]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: {SETUP_HINT}")
    base = tmp_path_factory.mktemp("riscv64")
    dense, cfg = mixed_dense_gguf(base / "dense.gguf", seed=41)
    jobs = {}
    for target in TARGETS:
        jobs[f"stories-{target}"] = dict(model=STORIES / "stories260K.bin", target=target, ctx=256,
                                         tokenizer=str(STORIES / "tok512.bin"))
        jobs[f"dense-{target}"] = dict(model=dense, target=target, ctx=64)
    jobs["dense-host"] = dict(model=dense, target="host", ctx=64, autotune=False)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {k: pool.submit(lambda k, kw: compile_artifact(out_dir=base / k, **kw), k, kw) for k, kw in jobs.items()}
        out = {k: f.result() for k, f in futures.items()}
    out["cfg"], out["dense-model"] = cfg, dense
    return out


def run_at_vlen_256(binary, *flags) -> subprocess.CompletedProcess:
    """The rvv program on a 256-bit vector unit (static: qemu needs no library path)."""
    r = subprocess.run([*QEMU_VLEN_256, str(binary), *map(str, flags)], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r


def assert_riscv64_program(art, target) -> None:
    """A static 64-bit RISC-V executable built with the profile's compiler, and `edgec run` takes its emulator."""
    header = Path(art.binary).read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[4] == ELFCLASS64 and int.from_bytes(header[18:20], "little") == EM_RISCV
    cc = art.manifest["target"]["cc"]
    assert cc == ("clang-19" if target == "riscv64-rvv" else RISCV64.gcc), cc
    assert open_artifact(art.out_dir).command()[0] == RISCV64.qemu


def full_disassembly(binary) -> str:
    return subprocess.run([RISCV64.objdump, "-d", str(binary)], capture_output=True, text=True, check=True).stdout


def vector_words(listing: str) -> int:
    """How many instructions of an objdump -d listing are OP-V ones, decoded or shown as .4byte."""
    return sum(int(w, 16) & 0x7f == OP_V for w in INSN_WORD.findall(listing))


def own_code_disassembly(binary) -> str:
    """objdump -d of the code clang compiled (the program, not glibc).  binutils 2.40 decodes the extensions of
    the last `$x<arch>` mapping symbol it passed: glibc's objects carry ones without V, clang marks its code
    with a plain `$x`, so in a whole-binary listing clang's vector instructions stay .4byte words.  Each run
    of plain-`$x` code is listed from its own start, where the ELF attributes' arch (rv64gcv) applies."""
    symbols = subprocess.run([READELF, "-sW", str(binary)], capture_output=True, text=True, check=True).stdout
    marks = sorted((int(m.group(1), 16), m.group(2) == "")   # (address, plain $x?) of each code mapping symbol
                   for m in MAPPING_SYMBOL.finditer(symbols))
    listings = []
    for i, (start, plain) in enumerate(marks):
        if not plain or (i and marks[i - 1][1]):
            continue   # a run starts at a plain mark after an arch one
        stop = next((a for a, p in marks[i:] if not p), None)
        cmd = [RISCV64.objdump, "-d", f"--start-address={start:#x}"] + ([f"--stop-address={stop:#x}"] if stop else [])
        listings.append(subprocess.run([*cmd, str(binary)], capture_output=True, text=True, check=True).stdout)
    assert listings, "no clang-compiled code found in the program (no plain $x mapping symbol)"
    return "".join(listings)


def assert_code_matches_kernels(binary, target, mnemonics) -> None:
    """riscv64-rvv: the program's code holds vsetvli and the given vector instructions; riscv64: no vector
    instruction anywhere in the binary."""
    if target == "riscv64":
        words = vector_words(full_disassembly(binary))
        assert words == 0, f"{words} vector (OP-V) instructions in the rv64gc program"
        return
    own = own_code_disassembly(binary)
    found = set(re.findall(r"^\s*[0-9a-f]+:\s+[0-9a-f]{8}\s+(v[a-z0-9.]+)\s", own, re.M))
    wanted = {"vsetvli", *mnemonics}
    assert wanted <= found, f"missing {sorted(wanted - found)} in the rvv program (it has {sorted(found)[:40]})"


@pytest.mark.parametrize("target", TARGETS)
def test_stories260k_greedy_text_and_kernels(arts, target):
    art = arts[f"stories-{target}"]
    assert_riscv64_program(art, target)
    info = edgec_run(art.out_dir, "--info")
    assert re.search(rf"^kernels: {KERNELS[target]}$".encode(), info.stdout, re.M), info.stdout.decode()
    r = edgec_run(art.out_dir, "-n", 90, "-t", 0, "--threads", 2)
    assert r.stdout.decode().startswith(STORIES_TEXT)   # the host's greedy text, token for token
    if target == "riscv64-rvv":
        wide = run_at_vlen_256(art.binary, "-n", 90, "-t", 0, "--threads", 2)
        assert wide.stdout.decode().startswith(STORIES_TEXT)
    assert_code_matches_kernels(art.binary, target, {"vfmacc.vv", "vfredusum.vs"})


def logits(run, vocab: int, dump: Path) -> np.ndarray:
    """The prompt (one batched prefill) and N_GEN greedy steps: one logits row per prompt position and step.
    run(*flags) runs the program."""
    run("--prompt-ids", ",".join(map(str, PROMPT)), "-n", N_GEN, "-t", 0, "--ignore-eos", "--threads", 2,
        "--dump-logits", dump)
    got = np.fromfile(dump, dtype=np.float32).reshape(-1, vocab)
    assert got.shape[0] >= len(PROMPT) + N_GEN - 1, got.shape
    return got[:len(PROMPT) + N_GEN - 1]


def greedy_tokens(rows) -> list:
    return [int(i) for i in rows[len(PROMPT) - 1:].argmax(axis=1)]


def assert_reference_and_host(got, model, host_ids) -> None:
    """Logits against the numpy reference teacher-forced on the program's own tokens (most rows within 1e-4
    of max |logit|, all within 1.5e-2); greedy tokens the host's, where the first difference may only be a near-tie."""
    ids = greedy_tokens(got)
    want = Reference(load_ir(str(model)), mimic_kernels=True).forward(PROMPT + ids[:-1])
    err = np.abs(got - want).max(axis=1) / np.abs(want).max()
    assert (err <= TIGHT_TOL).mean() >= TIGHT_SHARE and err.max() <= MAX_TOL, err
    for step, (a, b) in enumerate(zip(ids, host_ids)):
        if a != b:
            row = want[len(PROMPT) - 1 + step]
            assert abs(float(row[a] - row[b])) / np.abs(want).max() <= MAX_TOL, f"step {step}: {a} here, {b} on the host"
            break


@pytest.mark.parametrize("target", TARGETS)
def test_dense_model_matches_reference_and_host(arts, tmp_path, target):
    """q4_0, q8_0 and f16 layers and a q4_1 classifier: every quantized dot kernel and the f16 float one."""
    art, cfg, model = arts[f"dense-{target}"], arts["cfg"], arts["dense-model"]
    assert_riscv64_program(art, target)
    assert {t["layout"] for t in art.manifest["tensors"]} == {"rowmajor"}
    assert_code_matches_kernels(art.binary, target, {"vwmul.vv", "vwmacc.vv", "vwredsum.vs", "vfmacc.vv"})
    host_ids = greedy_tokens(greedy_logits(arts["dense-host"].binary, PROMPT, N_GEN, cfg.vocab_size, tmp_path))
    got = logits(lambda *f: edgec_run(art.out_dir, *f), cfg.vocab_size, tmp_path / "logits.bin")
    assert_reference_and_host(got, model, host_ids)
    if target == "riscv64-rvv":
        wide = logits(lambda *f: run_at_vlen_256(art.binary, *f), cfg.vocab_size, tmp_path / "logits-256.bin")
        assert_reference_and_host(wide, model, host_ids)
