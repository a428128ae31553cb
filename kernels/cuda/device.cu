// Device probing, error checks, the network table and the workspace shared by every CUDA kernel.
#include <cstring>

#include "kernels/cuda/device_mlp.cuh"

namespace resilinet::kernels::cuda {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw CudaError(std::string(what) + ": " + cudaGetErrorString(status));
}

bool device_available(std::string* why) {
  int count = 0;
  // Without a GPU the probe returns an error (no driver, or a driver too old), not 0.
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear it, so later calls do not report it again
    if (why) *why = cudaGetErrorString(status);
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device found";
    return false;
  }
  return true;
}

DeviceMlp::DeviceMlp(const MlpLayout& layout) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.layout = layout;
  d.max_width = layout.max_width();
  size_t mask_bytes = 0;
  for (const LayerShape& l : layout.layers) mask_bytes += l.mask.size();
  std::vector<uint8_t> masks;
  masks.reserve(mask_bytes);
  if (mask_bytes) d.masks.resize(mask_bytes);
  for (const LayerShape& l : layout.layers) {
    DeviceLayer dl;
    dl.in = l.in;
    dl.out = l.out;
    dl.relu = l.act == Activation::relu;
    dl.weight_offset = l.weight_offset;
    dl.bias_offset = l.bias_offset;
    if (!l.mask.empty()) {
      dl.mask = d.masks.data() + masks.size();
      masks.insert(masks.end(), l.mask.begin(), l.mask.end());
    }
    d.layers.push_back(dl);
  }
  if (mask_bytes) check(cudaMemcpy(d.masks.data(), masks.data(), mask_bytes, cudaMemcpyHostToDevice), "upload masks");
}

DeviceMlp::~DeviceMlp() = default;
const MlpLayout& DeviceMlp::layout() const { return impl_->layout; }

Workspace::Workspace() = default;
Workspace::~Workspace() {
  if (data_) cudaFree(data_);
}
void* Workspace::get(size_t bytes) {
  bytes = (bytes + 255) / 256 * 256;
  if (bytes > bytes_) {
    // Reallocation must not free memory a queued kernel still uses.
    if (data_) {
      check(cudaDeviceSynchronize(), "workspace resize");
      cudaFree(data_);
    }
    data_ = nullptr;
    check(cudaMalloc(&data_, bytes), "cudaMalloc workspace");
    bytes_ = bytes;
  }
  return data_;
}

}  // namespace resilinet::kernels::cuda
