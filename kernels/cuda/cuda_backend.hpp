// The CUDA backend (kernels/backend.hpp): device memory on the current device, every op queued on
// one stream. Ops that return a loss or an inertia wait for it; everything else is asynchronous.
#pragma once
#include <memory>

#include "kernels/backend.hpp"

namespace resilinet::kernels::cuda {

// Throws BackendUnavailable (with the probe's reason) when no device is usable.
std::unique_ptr<Backend> make_cuda_backend();

}  // namespace resilinet::kernels::cuda
