// The CUDA FFI handler: custom call target "jaxhada_hadamard_cuda".
#pragma once

#include "xla/ffi/api/api.h"

namespace jaxhada {
XLA_FFI_DECLARE_HANDLER_SYMBOL(HadamardCuda);
}  // namespace jaxhada
