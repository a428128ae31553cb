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

double kmeans_assign_host(Backend& backend, const float* x, size_t rows, int dims, const float* centroids,
                          int clusters, int32_t* labels, double* sums, int64_t* counts) {
  if (backend.host_memory()) return backend.kmeans_assign(x, rows, dims, centroids, clusters, labels, sums, counts);
  const size_t values = rows * size_t(dims), table = size_t(clusters) * size_t(dims);
  BackendArray<float> x_d(backend, values), mu_d(backend, table);
  BackendArray<int32_t> labels_d(backend, rows);
  BackendArray<double> sums_d(backend, table);
  BackendArray<int64_t> counts_d(backend, size_t(clusters));
  x_d.upload(x, values);
  mu_d.upload(centroids, table);
  sums_d.upload(sums, table);
  counts_d.upload(counts, size_t(clusters));
  const double inertia = backend.kmeans_assign(x_d.data(), rows, dims, mu_d.data(), clusters, labels_d.data(),
                                               sums_d.data(), counts_d.data());
  if (rows) backend.download(labels, labels_d.data(), rows * sizeof(int32_t));
  backend.download(sums, sums_d.data(), table * sizeof(double));
  backend.download(counts, counts_d.data(), size_t(clusters) * sizeof(int64_t));
  return inertia;
}

}  // namespace resilinet::kernels
