"""Memory fit per profile: a Linux device holds weights and arena in RAM; a microcontroller (a profile
with flash_bytes) keeps the weights in flash, so flash and RAM are checked separately, each refusal
naming the numbers and what would fit."""
from __future__ import annotations

import dataclasses

import pytest

from edgec.errors import EdgecError
from edgec.plan.memory_plan import MCU_CODE_ALLOWANCE, MCU_RAM_ALLOWANCE, check_fits, check_flash, memory_needed
from edgec.targets import load_target

KIB = 1024


def mcu(flash_kib: int, ram_kib: int):
    return dataclasses.replace(load_target("generic"), name="mcu", flash_bytes=flash_kib * KIB, ram_bytes=ram_kib * KIB)


def test_mcu_ram_counts_the_arena_not_the_weights():
    t = mcu(4096, 512)
    assert memory_needed(3000 * KIB, 100 * KIB, 8 * KIB, t) == 100 * KIB + MCU_RAM_ALLOWANCE
    assert memory_needed(3000 * KIB, 100 * KIB, 8 * KIB) > 3000 * KIB   # a Linux device loads them into RAM


def test_flash_refusal_names_the_numbers_and_the_fix():
    t = mcu(1024, 512)
    check_flash(t, 700 * KIB, 8 * KIB)   # fits with the code allowance
    with pytest.raises(EdgecError) as e:
        check_flash(t, 1024 * KIB - MCU_CODE_ALLOWANCE + KIB, 8 * KIB)
    msg = str(e.value)
    assert "flash" in msg and "1024 KiB" in msg and "--quant" in msg and "\n" not in msg


def test_mcu_ram_refusal_suggests_a_context_that_fits():
    t = mcu(4096, 256)
    kv = 512 * KIB   # 512 positions of 1 KiB
    need = memory_needed(1000 * KIB, kv + 20 * KIB, 8 * KIB, t)
    with pytest.raises(EdgecError) as e:
        check_fits(t, need, 1000 * KIB, kv, 512)
    msg = str(e.value)
    assert "of RAM" in msg and "--ctx 128" in msg and "weights" not in msg


def test_linux_target_has_no_flash_limit():
    check_flash(load_target("pi-zero"), 10**9, 10**6)
