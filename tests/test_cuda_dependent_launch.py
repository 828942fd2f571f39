"""Programmatic dependent launch, read from the compiled CUDA code (sm_90 SASS).

On sm_90 the launcher lets each kernel start before the kernel ahead of it in
the stream has ended, so every kernel must wait for the grids it depends on
(griddepcontrol.wait, ACQBULK in SASS) before it touches device memory: a
read before it could see what the previous kernel has not written yet, a
write could land on what it is still reading. This checks that order in
every kernel of the extension. Needs the CUDA build and cuobjdump (the test
extra installs it on Linux); no GPU.
"""

from __future__ import annotations

import pytest

from cuda_sass import hadamard_kernels, opcode_and_operands

# Opcodes that reach device memory: loads, stores, cp.async, atomics and
# reductions, generic accesses, bulk and tensor-memory copies. Shared-memory
# (LDS, STS), constant (LDC) and register traffic are the block's own.
_MEMORY = ("LDG", "STG", "LDGSTS", "LD", "ST", "ATOM", "ATOMG", "RED", "UBLKCP", "UTMALDG",
           "UTMASTG", "UTMAPF", "CCTL")


def device_memory_before_the_wait(instructions):
    """The instructions that reach device memory before the kernel's first
    ACQBULK, or a sentence if it has none."""
    ops = [opcode_and_operands(i)[0] for i in instructions]
    if "ACQBULK" not in ops:
        return ["no griddepcontrol.wait (ACQBULK)"]
    first_wait = ops.index("ACQBULK")
    return [instructions[k] for k, op in enumerate(ops[:first_wait])
            if op.split(".")[0] in _MEMORY]


@pytest.fixture(scope="module")
def kernels():
    return hadamard_kernels()


def test_every_kernel_waits_before_it_touches_device_memory(kernels):
    problems = {name: p for name, body in kernels.items()
                if (p := device_memory_before_the_wait(body))}
    assert problems == {}


def test_the_check_catches_a_load_before_the_wait():
    assert device_memory_before_the_wait(["MOV R1, c[0x0][0x28]", "ACQBULK",
                                          "LDG.E.128 R4, desc[UR4][R2.64]"]) == []
    early = "@P0 LDG.E.128 R4, desc[UR4][R2.64]"
    assert device_memory_before_the_wait(["MOV R1, c[0x0][0x28]", early, "ACQBULK"]) == [early]
    assert device_memory_before_the_wait(["STG.E [R2.64], R4"]) == [
        "no griddepcontrol.wait (ACQBULK)"]
