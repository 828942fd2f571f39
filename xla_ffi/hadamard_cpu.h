// The CPU FFI handler: custom call target "jaxhada_hadamard_cpu".
#pragma once

#include "xla/ffi/api/api.h"

namespace jaxhada {
XLA_FFI_DECLARE_HANDLER_SYMBOL(HadamardCpu);
}  // namespace jaxhada
