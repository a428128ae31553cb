// Per-cell ratings written while streaming: HDF5 for programs (ratings.h5), CSV and GeoJSON points
// for GIS tools. Every file appears under its final name only when commit() succeeds.
#pragma once
#include "trainer/outputs/room.hpp"
#include <memory>
#include <string>
#include <vector>

#include "datasets/loader.hpp"
#include "trainer/model/model.hpp"

namespace resilinet {

struct RatingsOutputs {
  bool hdf5 = true, csv = true, geojson = true;
};

class RatingsWriter {
 public:
  RatingsWriter(const std::string& out_dir, const std::vector<std::string>& region_names, int clusters,
                int latent_dims, RatingsOutputs outputs);
  ~RatingsWriter();
  void append(const Batch& batch, const RatingBuffers& rated);
  void commit();
  size_t rows() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace resilinet
