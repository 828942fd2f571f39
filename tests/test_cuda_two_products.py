"""The 16-bit d = 16384 kernel's two tensor-core products, read from the
compiled CUDA code (sm_90 SASS): its second product takes the place of the
wide kernel's two shuffle stages (128 SHFL and 128 FFMA a thread) and two
register stages, and its exchange through shared memory moves 16-byte
vectors: 864 instructions a row where the wide kernel had 1080, 2.5-3.5
points of the copy (docs/cuda_kernel_notes.md, v29). It holds 64 floats a
thread at the 80 registers that three blocks an SM allow, and a form that
spilled 80 bytes read 1.25 of the copy, so the spill is checked too. Reads
the default build (-DJAXHADA_TWO_MMA_ROW=0 builds are for timing only).
Needs the CUDA build and cuobjdump (the test extra installs it on Linux);
no GPU.
"""

from __future__ import annotations

import collections

import pytest

from cuda_sass import access_words, hadamard_kernels, opcode_and_operands


@pytest.fixture(scope="module")
def kernels():
    found = {name: body for name, body in hadamard_kernels().items()
             if "HadamardTwoMmaRowKernel" in name}
    # bf16 and f16, each with the scale in the first product and at the store.
    assert len(found) == 4, sorted(found)
    return found


def _opcodes(body):
    return collections.Counter(opcode_and_operands(i)[0] for i in body)


def test_two_products_and_no_shuffles(kernels):
    for name, body in kernels.items():
        ops = _opcodes(body)
        # 8 vectors a thread, two first products each; 16 second products,
        # each twice (the hi and lo halves of its operands).
        assert sum(n for op, n in ops.items() if op.startswith("HMMA")) == 48, name
        assert not any(op.startswith("SHFL") for op in ops), name


def test_the_exchange_moves_16_byte_vectors(kernels):
    for name, body in kernels.items():
        ops = _opcodes(body)
        stores = {op: n for op, n in ops.items() if op.startswith("STS")}
        loads = {op: n for op, n in ops.items() if op.startswith("LDS")}
        assert stores == {"STS.128": 16} and loads == {"LDS.128": 16}, (name, stores, loads)


def test_at_most_8_bytes_spilled(kernels):
    for name, body in kernels.items():
        ops = _opcodes(body)
        for kind in ("STL", "LDL"):
            moved = sum(n * 4 * access_words(op) for op, n in ops.items() if op.startswith(kind))
            assert moved <= 8, f"{name}: {kind} moves {moved} bytes a row"
