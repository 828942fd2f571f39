"""The in-place pair's ordering, read from the compiled CUDA code (sm_90 SASS).

At d = 32768 two blocks of a cluster share a row, each reading all of it and
writing half. In place, neither may store before the other's loads of the row
are over. The kernels arrive on a relaxed cluster barrier once their loads
have landed and wait on it before their first store (a release would compile
to a GPU-wide fence; docs/cuda_kernel_notes.md, v23). A warp issues in order,
and an instruction that touches a register a load writes waits for that load,
so the scheme holds if, before the arrive:
  * every load to registers (LDG) has an instruction touching one of its
    registers (the source does not force this for the f32 pair: ptxas could
    move the arithmetic that reads them past the barrier);
  * every cp.async (LDGSTS) is followed by a wait for all groups
    (DEPBAR.LE SB0, 0x0);
and no load of the row follows the arrive and no store precedes the wait.
Needs the CUDA build and cuobjdump (the test extra installs it on Linux);
no GPU.
"""

from __future__ import annotations

import re

import pytest

from cuda_sass import opcode_and_operands, read_sass, registers_loaded, registers_named

# The kernels that run the in-place pair: the f32 row kernel for halves (one
# kernel in and out of place) and the 16-bit tensor-core kernel's in-place
# form, bf16 and f16.
PAIR_KERNELS = {
    "f32": re.compile(r"HadamardRowKernelIfLi2E"),
    "bf16": re.compile(r"HadamardMmaRowKernelI13__nv_bfloat16Li2ELb1E"),
    "f16": re.compile(r"HadamardMmaRowKernelI6__halfLi2ELb1E"),
}


@pytest.fixture(scope="module")
def sass():
    """Each kernel's sm_90 instructions, by mangled name."""
    return read_sass()


def ordering_problems(instructions):
    """What breaks the in-place pair's ordering in one kernel's SASS ([] if
    nothing)."""
    ops = [opcode_and_operands(i) for i in instructions]
    arrives = [k for k, (op, _) in enumerate(ops) if op == "UCGABAR_ARV"]
    waits = [k for k, (op, _) in enumerate(ops) if op == "UCGABAR_WAIT"]
    if len(arrives) != 1 or len(waits) != 1 or arrives[0] > waits[0]:
        return [f"expected one arrive before one wait, found arrives at {arrives}, "
                f"waits at {waits}"]
    arrive, wait = arrives[0], waits[0]
    problems = []
    last_async = None
    for k, (op, operands) in enumerate(ops):
        if op.startswith("LDGSTS"):
            last_async = k
            if k > arrive:
                problems.append(f"cp.async after the arrive: {instructions[k]}")
        elif op == "LDG" or op.startswith("LDG."):
            if k > arrive:
                problems.append(f"load after the arrive: {instructions[k]}")
                continue
            written = registers_loaded(op, operands)
            touched = any(written & registers_named(later) for _, later in ops[k + 1:arrive])
            if not touched:
                problems.append(f"nothing waits for this load before the arrive: "
                                f"{instructions[k]}")
        elif (op.startswith("STG") or op.startswith("ST.")) and k < wait:
            problems.append(f"store before the wait: {instructions[k]}")
    if last_async is not None and not any(
            op == "DEPBAR.LE" and operands.replace(" ", "") == "SB0,0x0"
            for op, operands in ops[last_async + 1:arrive]):
        problems.append("no wait for every cp.async group between the last one and the arrive")
    return problems


@pytest.mark.parametrize("dtype", sorted(PAIR_KERNELS))
def test_pair_loads_are_over_before_the_arrive_and_stores_follow_the_wait(sass, dtype):
    names = [name for name in sass if PAIR_KERNELS[dtype].search(name)]
    assert len(names) == 1, f"expected one {dtype} pair kernel, found {names}"
    assert ordering_problems(sass[names[0]]) == []


def test_the_check_catches_a_load_nothing_waits_for():
    # A load whose register nothing touches before the arrive, and a store
    # before the wait: both must be reported.
    instructions = [
        "LDG.E.128 R4, desc[UR4][R2.64]",
        "FADD R9, R10, R11",
        "UCGABAR_ARV",
        "STG.E.128 desc[UR4][R2.64], R12",
        "UCGABAR_WAIT",
        "FADD R13, R4, R5",
    ]
    problems = ordering_problems(instructions)
    assert len(problems) == 2
    assert "nothing waits for this load" in problems[0]
    assert "store before the wait" in problems[1]
    instructions[1] = "FADD R9, R4, R11"
    instructions[3:5] = instructions[4:2:-1]
    assert ordering_problems(instructions) == []
