"""One command, many targets: `edgec compile --target a,b` / all-linux and `edgec targets --model`."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from conftest import STORIES
from edgec.compile import CompileOptions
from edgec.compile_many import (ALL_LINUX, TargetOutcome, compile_many, expand_targets, summary_table,
                                toolchain_missing)
from edgec.errors import EdgecError
from edgec.plan.fit_estimate import decode_estimate, streamed_bytes_per_token
from edgec.targets import load_target, target_names

MODEL = [str(STORIES / "stories260K.bin"), "--tokenizer", str(STORIES / "tok512.bin")]


def edgec(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgec.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_two_targets_one_table(tmp_path):
    """Each target gets its own folder and binary; the table and its JSON name each one's kernels and sizes."""
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    r = edgec("compile", *MODEL, "--target", "generic,pi-zero", "--out", out, "--summary-json", summary)
    assert r.returncode == 0, r.stderr
    rows = {o["target"]: o for o in json.loads(summary.read_text())}
    assert set(rows) == {"generic", "pi-zero"} and all(o["status"] == "built" for o in rows.values())
    assert rows["generic"]["kernels"] == "scalar" and rows["pi-zero"]["kernels"] == "neon"   # what each binary reported
    for name, o in rows.items():
        assert (out / f"stories260k-{name}" / "bin" / "stories260k").is_file()
        assert o["binary_bytes"] > 0 and o["weights_bytes"] > 0 and o["memory_needed_bytes"] > o["weights_bytes"]
    assert rows["generic"]["decode_tok_s_estimate"] is None   # the generic profile knows no bandwidth
    manifest = json.loads((out / "stories260k-pi-zero" / "manifest.json").read_text())
    assert rows["pi-zero"]["decode_tok_s_estimate"] == pytest.approx(2.0e9 / streamed_bytes_per_token(
        [(t["name"], t["bytes"]) for t in manifest["tensors"]], manifest["model"]["tied_embeddings"]))
    table = r.stdout[r.stdout.index("target "):]
    assert "pi-zero      neon" in table and "generic      scalar" in table and "an estimate" in table


def test_one_failure_does_not_stop_the_rest(tmp_path, monkeypatch):
    """A target that cannot take the model is a table row with compile's one-line reason; the others build;
    a target whose compiler is missing is skipped with the packages to install."""
    import edgec.compile_many as many

    def small_pi(name):
        t = load_target(name)
        if name == "pi-zero":
            t.ram_bytes = 1 << 20
        if name == "pi5":
            t.cc, t.packages = ["no-such-cc-edgec"], ["gcc-aarch64-linux-gnu"]
        return t
    monkeypatch.setattr(many, "load_target", small_pi)
    monkeypatch.setattr("edgec.compile.load_target", small_pi)
    opts = CompileOptions(model=MODEL[0], tokenizer=MODEL[2], target="pi-zero,generic,pi5", out=str(tmp_path / "o"),
                          quiet=True, kv_cache="f32", build=False)
    said = []
    outcomes = {o.target: o for o in compile_many(opts, say=said.append)}
    assert outcomes["pi-zero"].status == "failed" and "RAM" in outcomes["pi-zero"].detail
    assert outcomes["generic"].status == "built"
    assert outcomes["pi5"].status == "skipped" and outcomes["pi5"].detail == "apt-get install gcc-aarch64-linux-gnu"
    table = "\n".join(summary_table(list(outcomes.values())))
    assert "pi-zero      failed: model needs" in table and "pi5          skipped: apt-get install" in table
    assert not (tmp_path / "o" / "stories260k-pi-zero").exists()


def test_failed_target_exit_status(tmp_path):
    """The command's exit status is 1 when a target failed (here: a context no target accepts)."""
    r = edgec("compile", *MODEL, "--target", "generic,pi-zero", "--ctx", "2000000", "--no-build", "--out", tmp_path / "o")
    assert r.returncode == 1 and "failed: --ctx 2000000 is out of range" in r.stdout


def test_expand_targets():
    linux = expand_targets(ALL_LINUX)
    assert "host" not in linux and "cortex-m7" not in linux
    assert {"pi-zero", "pi4", "pi5", "jetson-cpu", "generic"} <= set(linux)
    assert expand_targets("pi5,pi-zero,pi5") == ["pi5", "pi-zero"]
    with pytest.raises(EdgecError, match="unknown target 'pi9'"):
        expand_targets("pi5,pi9")
    with pytest.raises(EdgecError, match="empty name"):
        expand_targets("pi5,,pi4")


def test_toolchain_missing_names_the_packages():
    t = dataclasses.replace(load_target("pi4"), cc=["no-such-cc-edgec"])
    assert toolchain_missing(t) == "apt-get install gcc-aarch64-linux-gnu qemu-user"
    assert toolchain_missing(load_target("generic")) == ""


def test_every_profile_states_what_the_estimate_needs():
    """Each device profile says its bandwidth (or 0: unknown), triple and packages; Linux cross profiles name qemu."""
    for name in target_names():
        t = load_target(name)
        assert t.bandwidth_gbs >= 0 and t.packages, name
        if t.run_prefix and t.kind == "linux":
            assert t.run_prefix[0].startswith("qemu-") and "qemu-user" in t.packages and t.triple, name


def test_decode_estimate():
    assert streamed_bytes_per_token([("token_embd.weight", 100), ("blk.0.attn_q.weight", 50)], False) == 50
    assert streamed_bytes_per_token([("token_embd.weight", 100), ("blk.0.attn_q.weight", 50)], True) == 150
    assert decode_estimate(2.0, 1_000_000) == pytest.approx(2000.0)
    assert decode_estimate(0.0, 1000) is None


def test_targets_with_a_model(tmp_path):
    """Every target: memory, fits?, estimate; one too small says compile's reason; --json has the same."""
    r = edgec("targets", "--model", MODEL[0], "--tokenizer", MODEL[2], "--ctx", "256", "--json")
    assert r.returncode == 0, r.stderr
    fits = {f["target"]: f for f in json.loads(r.stdout)}
    assert set(fits) == set(target_names())
    assert fits["pi-zero"]["fits"] and fits["pi-zero"]["decode_tok_s"] > 0
    assert fits["host"]["decode_tok_s"] is None
    text = edgec("targets", "--model", MODEL[0], "--tokenizer", MODEL[2], "--ctx", "256")
    assert text.returncode == 0 and "an estimate" in text.stdout
    assert any(line.startswith("pi4 ") and " yes " in line for line in text.stdout.splitlines())


def test_targets_refuses_a_model_too_big_for_a_board():
    """SmolLM2 Q4_1 does not fit the Cortex-M7's flash: the table says no and why, in compile's words."""
    r = edgec("targets", "--model", "smollm2-135m", "--ctx", "512")
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("cortex-m7 "))
    assert " no " in line
    assert "cortex-m7: model needs" in r.stdout and "of flash" in r.stdout


def test_outcome_table_marks_no_fit():
    o = TargetOutcome("pi-zero", "built", kernels="neon", weights_bytes=1 << 20, memory_needed_bytes=3 << 20,
                      ram_bytes=2 << 20, binary_bytes=1 << 20)
    assert " no " in summary_table([o])[1]


def test_x86_profile_not_run_on_a_cpu_without_its_features(monkeypatch):
    """An x86-avx512 program is built but not run on a CPU without AVX-512: the verify stage says why."""
    import edgec.targets as targets
    from edgec.targets import host_lacks
    monkeypatch.setattr(targets, "_host_cpu_flags", lambda: {"avx2", "fma", "f16c", "ssse3", "sse4_2"})
    assert "lacks avx512_vnni, avx512bw, avx512f, avx512vl" in host_lacks(load_target("x86-avx512"))
    assert host_lacks(load_target("x86-avx2")) == ""
    assert host_lacks(load_target("pi5")) == ""   # runs under its emulator
