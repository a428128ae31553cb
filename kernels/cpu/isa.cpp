// Choosing the CPU kernels' instruction set (kernels/cpu/isa.hpp): what this CPU supports, read
// once, and the RESILINET_CPU_ISA override, read on every call.
#include "kernels/cpu/isa.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace resilinet::kernels::cpu {
namespace {

constexpr Isa kAll[] = {Isa::baseline, Isa::avx2, Isa::avx512};

Isa best_isa() {
#if defined(__x86_64__)
  static const Isa best = [] {
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool avx512 =
        avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    return avx512 ? Isa::avx512 : avx2 ? Isa::avx2 : Isa::baseline;
  }();
  return best;
#else
  return Isa::baseline;
#endif
}

// The sets are ordered, each a superset of the one before.
bool runnable(Isa isa) { return int(isa) <= int(best_isa()); }

}  // namespace

Isa cpu_isa() {
  const char* env = std::getenv("RESILINET_CPU_ISA");
  const std::string choice = env ? env : "";
  if (choice.empty() || choice == "auto") return best_isa();
  for (Isa isa : kAll) {
    if (choice != isa_name(isa)) continue;
    if (!runnable(isa))
      throw std::runtime_error("RESILINET_CPU_ISA=" + choice + " but this CPU lacks it");
    return isa;
  }
  throw std::invalid_argument("RESILINET_CPU_ISA must be auto, baseline, avx2 or avx512, found '" +
                              choice + "'");
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::baseline: return "baseline";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

std::vector<Isa> runnable_isas() {
  std::vector<Isa> isas;
  for (Isa isa : kAll)
    if (runnable(isa)) isas.push_back(isa);
  return isas;
}

}  // namespace resilinet::kernels::cpu
