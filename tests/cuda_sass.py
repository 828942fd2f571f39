"""The CUDA extension's sm_90 SASS, read with cuobjdump, for the tests that
check the order and makeup of instructions in the compiled kernels
(test_cuda_pair_order, test_cuda_dependent_launch, test_cuda_load_order,
test_cuda_scale_in_mma, test_cuda_two_products). Needs the CUDA build and
cuobjdump (the test extra installs it on Linux); no GPU.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from jaxhada import build_info

_INSTRUCTION = re.compile(r"/\*[0-9a-f]{4,}\*/\s+(.*?)\s*;")
_PREDICATE = re.compile(r"^@!?U?P[T\d]+\s+")


def _cuobjdump():
    """cuobjdump from PATH, beside nvcc, in CUDA_HOME, or from the pip wheel
    (nvidia-cuda-cuobjdump, under nvidia/cu*/bin); it needs nvdisasm beside
    it for SASS."""
    found = shutil.which("cuobjdump")
    if found:
        return found
    places = [pathlib.Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "bin"]
    nvcc = shutil.which("nvcc")
    if nvcc:
        places.append(pathlib.Path(nvcc).resolve().parent)
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations if spec else None) or []:
        places.extend(sorted(pathlib.Path(root).glob("cu*/bin")))
    for place in places:
        if (place / "cuobjdump").is_file():
            return str(place / "cuobjdump")
    return None


@functools.cache
def read_sass():
    """Each kernel's sm_90 instructions, by mangled name; skips the calling
    test where there is no CUDA build, no cuobjdump or no sm_90 code.
    Cached: both SASS tests read the same listing (a skip is not cached, so
    it is raised again for each). Callers must not modify the result."""
    if not build_info()["cuda"]:
        pytest.skip("the CUDA kernel is not built")
    tool = _cuobjdump()
    if tool is None:
        pytest.skip("cuobjdump not found (pip install nvidia-cuda-cuobjdump)")
    extension = importlib.util.find_spec("jaxhada._jaxhada_ffi").origin
    listing = subprocess.run([tool, "-lelf", extension], capture_output=True, text=True,
                             check=True).stdout
    if "sm_90" not in listing:
        pytest.skip("no sm_90 code in this build")
    text = subprocess.run([tool, "-sass", "-arch", "sm_90", extension], capture_output=True,
                          text=True, check=True).stdout
    kernels = {}
    for block in re.split(r"\n\s*Function : ", text)[1:]:
        name, _, body = block.partition("\n")
        kernels[name.strip()] = [m.group(1) for m in _INSTRUCTION.finditer(body)]
    assert kernels, f"{tool} printed no SASS (it needs nvdisasm beside it)"
    return kernels


def hadamard_kernels():
    """The extension's kernels' sm_90 instructions, by mangled name (skips
    as read_sass does)."""
    found = {name: body for name, body in read_sass().items() if "Hadamard" in name}
    assert found, "no Hadamard kernel in the extension's sm_90 code"
    return found


def opcode_and_operands(instruction):
    """("LDG.E.128", "R4, desc[UR4][R2.64]") from one instruction, its
    predicate dropped."""
    bare = _PREDICATE.sub("", instruction)
    opcode, _, operands = bare.partition(" ")
    return opcode, operands


_REGISTER = re.compile(r"\bR(\d+)(\.64)?\b")


def registers_named(operands):
    """The registers an instruction's operands name (both halves of a 64-bit
    pair such as R2.64)."""
    named = set()
    for number, wide in _REGISTER.findall(operands):
        named |= {int(number), int(number) + 1} if wide else {int(number)}
    return named


def access_words(opcode):
    """The 32-bit words one memory access of this opcode moves: 4, 2 or 1,
    by the width it names (LDG.E.128, STL.64, ...)."""
    return 4 if ".128" in opcode else 2 if ".64" in opcode else 1


def registers_loaded(opcode, operands):
    """The registers a load (LDG) writes: as many as it moves words, from its
    first operand."""
    first = min(registers_named(operands.split(",")[0]))
    return set(range(first, first + access_words(opcode)))
