// The Python extension: hands XLA the FFI handlers that this build compiled.
#include <pybind11/pybind11.h>

#include <string>

#include "hadamard_cpu.h"
#include "hadamard_cpu_kernel.h"
#include "xla/ffi/api/c_api.h"
#ifdef JAXHADA_WITH_CUDA
#include "hadamard_cuda_handler.h"
#endif

namespace py = pybind11;

namespace {

template <typename Fn>
py::capsule EncapsulateHandler(Fn* fn) {
  return py::capsule(reinterpret_cast<void*>(fn));
}

}  // namespace

PYBIND11_MODULE(_jaxhada_ffi, m) {
  m.doc() = "jaxhada's compiled XLA FFI handlers";
  // Target name -> (platform, capsule). Only what was compiled is listed, so
  // Python can tell a CPU-only build from a CUDA build.
  m.def("registrations", [] {
    py::dict targets;
    targets["jaxhada_hadamard_cpu"] =
        py::make_tuple("cpu", EncapsulateHandler(jaxhada::HadamardCpu));
#ifdef JAXHADA_WITH_CUDA
    targets["jaxhada_hadamard_cuda"] =
        py::make_tuple("CUDA", EncapsulateHandler(jaxhada::HadamardCuda));
#endif
    return targets;
  });
  // XLA loads a handler only on a runtime whose FFI API is at least this one.
  m.attr("ffi_api_version") =
      py::make_tuple(XLA_FFI_API_MAJOR, XLA_FFI_API_MINOR);
  // Which build of the CPU kernel runs on this machine ("avx2"/"baseline").
  m.def("cpu_kernel_isa", [] { return std::string(jaxhada::CpuKernelIsa()); });
#ifdef JAXHADA_CUDA_ARCHITECTURES
  m.attr("cuda_architectures") = std::string(JAXHADA_CUDA_ARCHITECTURES);
#else
  m.attr("cuda_architectures") = std::string();
#endif
}
