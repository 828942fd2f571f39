"""The wide tensor-core kernel's two forms (16-bit d = 8192, and 4096 two
rows a block), read from the compiled CUDA code (sm_90 SASS): where the
scale is a 16-bit value of magnitude 2^-14 to 1 the launcher takes the form
that puts it into H16's entries, which multiplies nowhere; the other form
multiplies each of a thread's 64 outputs once, at the store. 64 FMULs a row
were 0.5-0.9 points of the copy at d = 16384, which this kernel served
until the two-product kernel (docs/cuda_kernel_notes.md, v28, v29). Needs
the CUDA build and cuobjdump (the test extra installs it on Linux); no GPU.
"""

from __future__ import annotations

import re

from cuda_sass import hadamard_kernels, opcode_and_operands

# <T, L, kTwoRows, kScaleInMma>: L = 13 (8192; two rows of 4096), bf16 and
# f16; L = 14 (d = 16384) in a build with -DJAXHADA_TWO_MMA_ROW=0.
WIDE_KERNEL = re.compile(r"HadamardMmaRowWideKernelI\w+?Li1[34]ELb[01]ELb([01])E")


def fmuls_by_form():
    """{(the kernel's name with its scale flag cut out, scale in the MMA?):
    its FMULs}."""
    found = {}
    for name, body in hadamard_kernels().items():
        match = WIDE_KERNEL.search(name)
        if match:
            shape = name[:match.start(1)] + name[match.end(1):]
            found[shape, match.group(1) == "1"] = sum(
                opcode_and_operands(i)[0].startswith("FMUL") for i in body)
    return found


def test_only_the_form_without_the_scale_in_the_mma_multiplies():
    found = fmuls_by_form()
    shapes = {shape for shape, _ in found}
    # Each shape (8192; two rows of 4096; bf16 and f16, in the default
    # build) comes in both forms.
    assert shapes and set(found) == {(s, f) for s in shapes for f in (False, True)}, found
    assert {n for (_, in_mma), n in found.items() if in_mma} == {0}, found
    assert {n for (_, in_mma), n in found.items() if not in_mma} == {64}, found
