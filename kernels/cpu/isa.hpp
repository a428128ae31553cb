// The instruction set the CPU kernels run: the best this CPU has, unless the environment variable
// RESILINET_CPU_ISA (auto | baseline | avx2 | avx512) asks for another. Each kernel compiles its
// hot loops once per set and asks here on entry; tests use the override to check every set.
#pragma once
#include <vector>

namespace resilinet::kernels::cpu {

// baseline: x86-64 as built (SSE2); avx2: AVX2 + FMA; avx512: AVX-512F + VL on top of avx2.
enum class Isa { baseline, avx2, avx512 };

// Reads RESILINET_CPU_ISA on every call. Throws std::invalid_argument for an unknown value and
// std::runtime_error for a set this CPU lacks.
Isa cpu_isa();

// The name RESILINET_CPU_ISA uses for the set: "baseline", "avx2" or "avx512".
const char* isa_name(Isa isa);

// Every set this CPU runs, baseline first.
std::vector<Isa> runnable_isas();

}  // namespace resilinet::kernels::cpu
