// The backend factory: type keys to constructors, as components are made from a type key.
#include "kernels/backend.hpp"

#include <map>

#include "kernels/cpu/cpu_backend.hpp"
#if RESILINET_HAVE_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace resilinet::kernels {

namespace {

using Factory = std::unique_ptr<Backend> (*)();

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"cpu", [] { return std::unique_ptr<Backend>(std::make_unique<cpu::CpuBackend>()); }},
#if RESILINET_HAVE_CUDA
      {"cuda", [] { return cuda::make_cuda_backend(); }},
#else
      {"cuda", []() -> std::unique_ptr<Backend> {
         throw BackendUnavailable("this build has no CUDA backend (configure with RESILINET_CUDA=ON and the CUDA toolkit)");
       }},
#endif
  };
  return table;
}

}  // namespace

std::vector<std::string> backend_names() { return {"cpu", "cuda", "auto"}; }

std::unique_ptr<Backend> make_backend(const std::string& device) {
  if (device == "auto") {
    try {
      return factories().at("cuda")();
    } catch (const BackendUnavailable&) {
      return factories().at("cpu")();
    }
  }
  auto it = factories().find(device);
  if (it == factories().end()) throw std::invalid_argument("unknown device '" + device + "': expected cpu, cuda or auto");
  return it->second();
}

}  // namespace resilinet::kernels
