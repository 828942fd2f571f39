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

from cuda_sass import hadamard_kernels, opcode_and_operands, registers_loaded, registers_named

# The kernels whose loads ptxas once put behind a wait: the f32 row kernel
# (one, two or four rows a block) and the f32 pair; each issues 32 16-byte
# loads a thread before its first wait.
F32_ROW_KERNELS = re.compile(r"HadamardRowKernelIfLi[12]E")
# The 16-bit pair (d = 32768, out of place and in place, bf16 and f16),
# which stages a block's first row (32 cp.async a thread) before its setup:
# H16's fragment, whose POPCs nothing else in the kernel has. Staged after
# it, the first copy went out at instruction 125 rather than 46, 1-1.5
# points of the copy (docs/cuda_kernel_notes.md, v28).
PAIR_16_KERNELS = re.compile(r"HadamardMmaRowKernelI(13__nv_bfloat16|6__half)Li2E")


def loads_around_the_first_wait(instructions):
    """(loads before, loads after) the kernel's first wait: its 16-byte
    loads from the first 16-byte load or cp.async on, up to the first branch
    or exit after that wait."""
    pending = set()
    started = waited = False
    before, after = [], []
    for instruction in instructions:
        op, operands = opcode_and_operands(instruction)
        is_load = op.startswith("LDG.") and ".128" in op
        started = started or is_load or op.startswith("LDGSTS")
        if not started:
            continue
        if op.startswith("BRA") or op == "EXIT":
            if waited:
                break
            continue
        waited = waited or bool(pending & registers_named(operands)) or op.startswith("DEPBAR")
        if is_load:
            (after if waited else before).append(instruction)
            pending |= registers_loaded(op, operands)
    return before, after


def loads_behind_a_wait(instructions):
    """The 16-byte loads that issue after the kernel's first wait ([] if
    none)."""
    return loads_around_the_first_wait(instructions)[1]


@pytest.fixture(scope="module")
def kernels():
    return hadamard_kernels()


def test_every_kernel_issues_its_loads_before_it_waits_for_one(kernels):
    late = {name: loads_behind_a_wait(body) for name, body in kernels.items()}
    assert {name: loads for name, loads in late.items() if loads} == {}


def test_the_f32_row_kernels_issue_all_32_loads_first(kernels):
    # So that the check above cannot pass because the loads it looks for
    # became something else.
    early = {name: len(loads_around_the_first_wait(body)[0])
             for name, body in kernels.items() if F32_ROW_KERNELS.search(name)}
    assert len(early) == 4, f"expected the f32 row kernels (1, 2, 4 rows) and pair: {early}"
    assert set(early.values()) == {32}, early


def copies_before_the_setup_is_done(instructions):
    """The cp.async (LDGSTS) that issue before the kernel's last POPC."""
    ops = [opcode_and_operands(i)[0] for i in instructions]
    popcs = [k for k, op in enumerate(ops) if op.startswith("POPC")]
    assert popcs, "no POPC: H16's fragment is built some other way now"
    return [i for i, op in zip(instructions[:popcs[-1]], ops) if op.startswith("LDGSTS")]


def test_the_16bit_pair_stages_its_first_row_before_its_setup(kernels):
    early = {name: len(copies_before_the_setup_is_done(body))
             for name, body in kernels.items() if PAIR_16_KERNELS.search(name)}
    assert len(early) == 4, f"expected the 16-bit pair's four forms: {early}"
    assert set(early.values()) == {32}, early


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
