"""Every kernel issues a row's loads before anything waits for one, read from
the compiled CUDA code (sm_90 SASS).

A warp issues in order, so the first instruction that needs a load's value
(or waits for its cp.async groups) holds back every instruction after it,
loads included. ptxas once placed half of the f32 row kernel's 32 loads a
thread among the first butterflies, and three quarters of the f32 pair's
register loads after its wait for the cp.async half: a block then had part of
its row in flight and the rest a whole latency later, 1.5-2.5 points of the
copy (docs/cuda_kernel_notes.md, v27). The source now keeps them first (a
warp barrier and a value read back behind it); this checks that the compiler
still does, in every kernel: from a kernel's first 16-byte load to the first
branch after its first wait, no 16-byte load (LDG) follows an instruction
that waits. A wait is an instruction that names a register an outstanding
16-byte load writes, or a DEPBAR (a wait for cp.async groups). Needs the
CUDA build and cuobjdump (the test extra installs it on Linux); no GPU.
"""

from __future__ import annotations

import re

import pytest

from cuda_sass import hadamard_kernels, opcode_and_operands

_REGISTER = re.compile(r"\bR(\d+)\b")


def loads_behind_a_wait(instructions):
    """The 16-byte loads that issue after the kernel's first wait ([] if
    none), up to the first branch or exit after it."""
    pending = set()
    waited = None
    late = []
    for instruction in instructions:
        op, operands = opcode_and_operands(instruction)
        if op.startswith("BRA") or op == "EXIT":
            if waited is not None:
                break
            continue
        named = {int(r) for r in _REGISTER.findall(operands)}
        is_load = op.startswith("LDG.") and ".128" in op
        if waited is None and ((pending & named) or op.startswith("DEPBAR")):
            waited = instruction
        if is_load:
            if waited is not None:
                late.append(instruction)
            first = int(_REGISTER.findall(operands.split(",")[0])[0])
            pending |= set(range(first, first + 4))
    return late


@pytest.fixture(scope="module")
def kernels():
    return hadamard_kernels()


def test_every_kernel_issues_its_loads_before_it_waits_for_one(kernels):
    late = {name: loads_behind_a_wait(body) for name, body in kernels.items()}
    assert {name: loads for name, loads in late.items() if loads} == {}


def test_the_check_catches_a_load_behind_a_wait():
    instructions = [
        "LDG.E.128 R4, desc[UR4][R2.64]",
        "LDG.E.128 R8, desc[UR4][R2.64+0x200]",
        "FADD R12, R4, R5",
        "LDG.E.128 R16, desc[UR4][R2.64+0x400]",
        "EXIT",
    ]
    assert loads_behind_a_wait(instructions) == [instructions[3]]
    # The same loads all ahead of the arithmetic pass; so does a wait for
    # cp.async groups with no load after it.
    ordered = instructions[:2] + instructions[3:4] + instructions[2:3] + instructions[4:]
    assert loads_behind_a_wait(ordered) == []
    staged = ["LDGSTS.E.BYPASS.128 [R6], desc[UR6][R8.64]", "LDGDEPBAR",
              "LDG.E.128 R4, desc[UR4][R2.64]", "DEPBAR.LE SB0, 0x0",
              "LDG.E.128 R8, desc[UR4][R2.64+0x200]", "EXIT"]
    assert loads_behind_a_wait(staged) == [staged[4]]
    assert loads_behind_a_wait(staged[:4] + staged[5:]) == []
