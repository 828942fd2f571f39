"""The two forms of the kernels that can put the scale into their
tensor-core products (the wide kernel: 16-bit d = 8192, and 4096 two rows a
block; the two-product kernel: d = 16384), read from the compiled CUDA code
(sm_90 SASS): where the scale is a 16-bit value of magnitude 2^-14 to 1 the
launcher takes the form that puts it into H16's entries, which multiplies
nowhere; the other form multiplies each of a thread's 64 outputs once, at
the store. 64 FMULs a row were 0.5-0.9 points of the copy at d = 16384
(docs/cuda_kernel_notes.md, v28). Needs the CUDA build and cuobjdump (the
test extra installs it on Linux); no GPU.
"""

from __future__ import annotations

import re

from cuda_sass import hadamard_kernels, opcode_and_operands

# The flag that picks the form: the wide kernel's <T, L, kTwoRows,
# kScaleInMma> at L = 13 (8192; two rows of 4096; at 14 in a build with
# -DJAXHADA_TWO_MMA_ROW=0), the two-product kernel's <T, kScaleInMma>.
FORM_FLAG = re.compile(r"HadamardMmaRowWideKernelI\w+?Li1[34]ELb[01]ELb([01])E"
                       r"|HadamardTwoMmaRowKernelI\w+?Lb([01])E")


def fmuls_by_form():
    """{(the kernel's name with its scale flag cut out, scale in the MMA?):
    its FMULs}."""
    found = {}
    for name, body in hadamard_kernels().items():
        match = FORM_FLAG.search(name)
        if match:
            group = 1 if match.group(1) is not None else 2
            shape = name[:match.start(group)] + name[match.end(group):]
            found[shape, match.group(group) == "1"] = sum(
                opcode_and_operands(i)[0].startswith("FMUL") for i in body)
    return found


def test_only_the_form_without_the_scale_in_the_mma_multiplies():
    found = fmuls_by_form()
    shapes = {shape for shape, _ in found}
    # Each shape (8192; two rows of 4096; 16384; bf16 and f16, in the
    # default build) comes in both forms.
    assert shapes and set(found) == {(s, f) for s in shapes for f in (False, True)}, found
    assert {n for (_, in_mma), n in found.items() if in_mma} == {0}, found
    assert {n for (_, in_mma), n in found.items() if not in_mma} == {64}, found
