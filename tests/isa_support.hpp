// The CPU kernels choose an instruction set at run time (kernels/cpu/isa.hpp; RESILINET_CPU_ISA
// overrides the choice); kernel tests check every set this CPU can run.
#pragma once
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/cpu/isa.hpp"

namespace resilinet::testing {

// The instruction sets this CPU can run, as RESILINET_CPU_ISA names them.
inline std::vector<std::string> instruction_sets() {
  std::vector<std::string> names;
  for (kernels::cpu::Isa isa : kernels::cpu::runnable_isas())
    names.push_back(kernels::cpu::isa_name(isa));
  return names;
}

// Sets RESILINET_CPU_ISA for its lifetime.
class ScopedIsa {
 public:
  explicit ScopedIsa(const std::string& isa) {
    const char* old = std::getenv("RESILINET_CPU_ISA");
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv("RESILINET_CPU_ISA", isa.c_str(), 1);
  }
  ~ScopedIsa() {
    if (had_)
      setenv("RESILINET_CPU_ISA", old_.c_str(), 1);
    else
      unsetenv("RESILINET_CPU_ISA");
  }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  bool had_ = false;
  std::string old_;
};

}  // namespace resilinet::testing
