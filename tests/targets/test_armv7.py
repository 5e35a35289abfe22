"""The armv7 target (32-bit ARM NEON, armhf: Pi 2/3/Zero 2 W on a 32-bit OS): whole programs cross-compiled with
arm-linux-gnueabihf-gcc (static) and run through `edgec run`, which runs them under the profile's qemu-arm as a
Cortex-A7 (qemu rejects ARMv8 instructions there: tests/kernels/test_kernels_neon.py).

stories260K (f32 weights: the NEON float kernels) and a tiny model re-encoded as q2 (the LUT kernels on 64-bit
vtbl, and the i16 int8 kernels for its q8_0 embedding and classifier): logits against the numpy reference
with tests/test_compile_tiny.py's tolerances, greedy tokens equal to the host build's; the program's kernel
report says neon-armv7, and it is 32-bit ARM code holding its NEON kernels' instructions (vfma.f32 on q
registers; vtbl and int8 vmull/vmlal), no sdot.
The three programs (two armv7, one host) build at once in threads.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import STORIES, STORIES_TEXT, compile_artifact, edgec_run, load_ir
from edgec.ir.reference import Reference
from test_compile_tiny import MAX_TOL, assert_greedy_matches, assert_logits_close
from tiny_models import make_tiny_config, write_tiny_gguf

TOOLS = ["arm-linux-gnueabihf-gcc", "arm-linux-gnueabihf-objdump", "qemu-arm"]
PROMPT = [5, 17, 42, 99, 3, 250, 7, 120]
N_GEN = 16
ELF_ARM, ELF_CLASS_32 = 40, 1   # e_machine EM_ARM (AArch64 is 183), EI_CLASS ELFCLASS32
ARMHF_SERVER_PC = Path("/usr/lib/arm-linux-gnueabihf/pkgconfig/libmicrohttpd.pc")   # armhf multiarch server libraries


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """stories260K for armv7, and the tiny q2 model for armv7 and for the host (autotune off: the host build is
    only the greedy reference)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: run examples/setup.sh (gcc-arm-linux-gnueabihf, qemu-user)")
    d = tmp_path_factory.mktemp("armv7")
    tiny = write_tiny_gguf(d / "tiny.gguf", make_tiny_config(), seed=31)
    jobs = {
        "stories": lambda: compile_artifact(STORIES / "stories260K.bin", d / "stories", target="armv7", ctx=256,
                                            tokenizer=str(STORIES / "tok512.bin")),
        "tiny": lambda: compile_artifact(tiny, d / "tiny", target="armv7", ctx=64, quant="q2"),
        "tiny-host": lambda: compile_artifact(tiny, d / "tiny-host", target="host", ctx=64, quant="q2", autotune=False),
    }
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        built = {name: f.result() for name, f in futures.items()}
    built["tiny-model"] = tiny
    return built


def greedy_logits(artifact, vocab: int, tmp: Path) -> np.ndarray:
    """The prompt (one batched prefill) and N_GEN greedy steps through edgec run: one logits row per prompt
    position and step."""
    dump = tmp / f"{Path(artifact).name}-logits.bin"
    edgec_run(artifact, "--prompt-ids", ",".join(map(str, PROMPT)), "-n", N_GEN, "-t", 0, "--ignore-eos",
              "--threads", 2, "--dump-logits", dump)
    got = np.fromfile(dump, dtype=np.float32).reshape(-1, vocab)
    assert got.shape[0] >= len(PROMPT) + N_GEN - 1, got.shape
    return got[:len(PROMPT) + N_GEN - 1]


def greedy_ids(logits: np.ndarray) -> list:
    return [int(i) for i in logits[len(PROMPT) - 1:].argmax(axis=1)]


def assert_matches_reference(ir, logits: np.ndarray) -> np.ndarray:
    """Greedy tokens and logits against the reference teacher-forced on the program's own tokens; returns the
    reference's logits."""
    ids = greedy_ids(logits)
    want = Reference(ir, mimic_kernels=True, kv_cache="f32").forward(PROMPT + ids[:-1])
    assert_greedy_matches(ids, want[len(PROMPT) - 1:], np.abs(want).max())
    assert_logits_close(logits, want)
    return want


# what each program's NEON kernels compile to: stories260K's f32 matrices fused multiply-adds on q registers,
# the q2 model's LUT kernels vtbl and its i16 q8_0 kernels int8 multiply-accumulates
NEON_CODE = {"stories": [r"\bvfma\.f32\s+q"], "tiny": [r"\bvtbl\.8\b", r"\bv(mull|mlal)\.s8\b"]}


def assert_32bit_arm_neon(binary: Path, patterns: list) -> None:
    """A 32-bit ARM ELF (not AArch64) whose code holds every pattern and no dot-product instruction."""
    header = binary.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[4] == ELF_CLASS_32, f"{binary} is not a 32-bit ELF"
    assert int.from_bytes(header[18:20], "little") == ELF_ARM, f"{binary} is not 32-bit ARM code"
    disasm = subprocess.run(["arm-linux-gnueabihf-objdump", "-d", str(binary)], capture_output=True, text=True,
                            check=True).stdout
    for pattern in patterns:
        assert re.search(pattern, disasm), f"no {pattern} in {binary.name}: its NEON kernels are not compiled in"
    assert not re.search(r"\bv?[su]dot\b", disasm), "a dot-product instruction (ARMv8.2) in an armv7 program"


def test_kernel_report_says_neon_armv7(artifacts):
    for name in ("stories", "tiny"):
        res = artifacts[name]
        assert res.manifest["target"]["isa"] == "neon-armv7"
        if not ARMHF_SERVER_PC.exists():   # examples/setup.sh installs none: the profile's static program, no --serve
            assert res.manifest["program"] == {"server": False, "linking": "static", "device_packages": []}
        info = edgec_run(res.out_dir, "--info").stdout.decode()
        assert re.search(r"^kernels: neon-armv7$", info, re.M), info
        assert_32bit_arm_neon(res.binary, NEON_CODE[name])


def test_stories260k_under_qemu_arm(artifacts, tmp_path):
    res = artifacts["stories"]
    text = edgec_run(res.out_dir, "-n", 90, "-t", 0).stdout.decode()
    assert text.startswith(STORIES_TEXT), text[:300]   # the host build's greedy story
    ir = load_ir(STORIES / "stories260K.bin", tokenizer_path=str(STORIES / "tok512.bin"))
    assert_matches_reference(ir, greedy_logits(res.out_dir, ir.config.vocab_size, tmp_path))


def test_tiny_q2_under_qemu_arm_matches_reference_and_host(artifacts, tmp_path):
    res = artifacts["tiny"]
    layouts = {t["name"]: t["layout"] for t in res.manifest["tensors"] if len(t["shape"]) == 2}
    assert set(layouts.values()) == {"lut", "i16", "rowmajor"}, layouts   # q2: LUT; q8_0 classifier: i16; embedding rows
    ir = load_ir(artifacts["tiny-model"], quant="q2")
    vocab = ir.config.vocab_size
    armv7 = greedy_logits(res.out_dir, vocab, tmp_path)
    want = assert_matches_reference(ir, armv7)
    ids, host_ids = greedy_ids(armv7), greedy_ids(greedy_logits(artifacts["tiny-host"].out_dir, vocab, tmp_path))
    if ids != host_ids:   # only at a near-tie of the reference (summation order may pick either), then they part
        step = next(i for i, (a, b) in enumerate(zip(ids, host_ids)) if a != b)
        row = want[len(PROMPT) - 1 + step]
        gap = abs(float(row[ids[step]] - row[host_ids[step]])) / np.abs(want).max()
        assert gap <= MAX_TOL, f"step {step}: armv7 chose {ids[step]}, the host {host_ids[step]} (reference gap {gap:.2e})"
