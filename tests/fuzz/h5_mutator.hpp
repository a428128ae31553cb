// A structure-aware libFuzzer mutator for HDF5 inputs (shards, checkpoints). Byte flips on an HDF5
// file mostly break its headers, so a reader's own checks are rarely reached; this mutator instead
// opens the input as an in-memory HDF5 image (core driver, no file) and changes objects the way a
// foreign or damaged writer would: removes an attribute or dataset, rewrites it with another type,
// shape or values, perturbs some of its values in place (NaN, infinities, out-of-range indices),
// edits strings (empty, duplicated, unknown words), resizes an extendible dataset, replaces a
// dataset by a group, a hard, soft (possibly dangling or looping) or external link, or adds an
// object under a name the readers look for. Half of the mutations are libFuzzer's byte-level ones
// (LLVMFuzzerMutate), so raw-byte damage is still fuzzed; inputs that do not open as HDF5 get only
// those. HDF5 opens some damaged files that it then crashes on when every attribute is listed, so
// each structural mutation runs in a forked child: a crash there only means "no structural
// mutation this time" and never reaches libFuzzer's crash handling. Include this from exactly one
// harness source, which then uses it as its custom mutator.
#pragma once
#include <fcntl.h>
#include <hdf5.h>
#include <sanitizer/common_interface_defs.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace resilinet::fuzz::h5mut {

using Rng = std::mt19937_64;

inline size_t below(Rng& rng, size_t n) { return n == 0 ? 0 : size_t(rng() % n); }
inline bool one_in(Rng& rng, size_t n) { return below(rng, n) == 0; }

// Names the shard and checkpoint readers look up (a mutation may add an object under one of them).
inline const std::vector<std::string>& known_names() {
  static const std::vector<std::string> names = {
      "features", "cell_id", "lonlat", "region", "hazard", "external_rating", "planted_level",
      "format", "format_version", "feature_names", "feature_system", "feature_component",
      "feature_direction", "feature_unit", "region_names", "config_yaml", "stage", "stage_metrics",
      "scaler", "in_progress", "autoencoder", "classifier", "clusters", "latent_layer", "centroids",
      "level", "scale", "type", "median", "offset", "min", "max", "missing", "clip", "epoch", "step",
      "adam_step", "adam_m", "adam_v", "params", "layout", "idec"};
  return names;
}

// Strings that mean something to the readers, and some that are awkward.
inline std::string pick_word(Rng& rng) {
  static const std::vector<std::string> words = {
      "", " ", "resilinet-shard", "resilinet-checkpoint", "robustness", "redundancy",
      "resourcefulness", "facility", "infrastructure", "society", "done", "pretrain", "clusters",
      "idec", "classifier", "robust", "minmax", "zscore", "latent", "completed", "{}", "[]",
      "{\"a\": 1}", "null", "nan", "-1", "1", "seed: 1\n", "encoder: {latent: 0}\n",
      "clusters: {k: 1}\n", "\xff\xfe", std::string("a\0b", 3), "poverty"};
  if (one_in(rng, 16)) return std::string(1 + below(rng, 300), char('a' + below(rng, 26)));
  return words[below(rng, words.size())];
}

inline double pick_double(Rng& rng) {
  static const double values[] = {0.0, -0.0, 1.0, -1.0, 2.0, 5.0, 6.0, 0.5, 1e-45, 90.0, 91.0,
                                  180.0, -181.0, 1e18, 1.0000001e18, 3.4e38, 1e300, -1e300,
                                  std::numeric_limits<double>::quiet_NaN(),
                                  std::numeric_limits<double>::infinity(),
                                  -std::numeric_limits<double>::infinity(), 4294967295.0,
                                  9.3e18, -9.3e18, 1e7, 10000001.0};
  if (one_in(rng, 4)) return std::ldexp(double(int64_t(rng() >> 11)) / double(1ull << 52) - 0.5, int(below(rng, 80)) - 40);
  return values[below(rng, std::size(values))];
}

inline int64_t pick_int(Rng& rng) {
  static const int64_t values[] = {0, 1, -1, 2, 3, 5, 6, 7, 127, -128, 255, 256, 65535, 100000,
                                   10000001, 2147483647, -2147483647 - 1, 4294967295LL,
                                   4294967296LL, std::numeric_limits<int64_t>::max(),
                                   std::numeric_limits<int64_t>::min()};
  if (one_in(rng, 4)) return int64_t(rng());
  return values[below(rng, std::size(values))];
}

inline hid_t pick_type(Rng& rng) {
  switch (below(rng, 16)) {
    case 0: return H5Tcopy(H5T_STD_I8LE);
    case 1: return H5Tcopy(H5T_STD_U8LE);
    case 2: return H5Tcopy(H5T_STD_I16LE);
    case 3: return H5Tcopy(H5T_STD_I32LE);
    case 4: return H5Tcopy(H5T_STD_U32LE);
    case 5: return H5Tcopy(H5T_STD_I64LE);
    case 6: return H5Tcopy(H5T_STD_U64LE);
    case 7: return H5Tcopy(H5T_IEEE_F32LE);
    case 8: return H5Tcopy(H5T_IEEE_F64LE);
    case 9: return H5Tcopy(H5T_IEEE_F32BE);
    case 10: return H5Tcopy(H5T_STD_I32BE);
    case 11: return H5Tcopy(H5T_STD_B8LE);
    case 12: {
      hid_t t = H5Tcreate(H5T_COMPOUND, 12);
      H5Tinsert(t, "a", 0, H5T_STD_I32LE);
      H5Tinsert(t, "b", 4, H5T_IEEE_F64LE);
      return t;
    }
    case 13: {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, 1 + below(rng, 40));
      H5Tset_strpad(t, one_in(rng, 2) ? H5T_STR_NULLPAD : H5T_STR_SPACEPAD);
      return t;
    }
    default: {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, H5T_VARIABLE);
      H5Tset_cset(t, H5T_CSET_UTF8);
      return t;
    }
  }
}

// A dataspace: null, scalar, or rank 1..3 with sizes near the original ones (at most 4096 values).
inline hid_t pick_space(Rng& rng, const std::vector<hsize_t>& like, bool extendible) {
  const size_t kind = below(rng, 10);
  if (kind == 0) return H5Screate(H5S_NULL);
  if (kind == 1) return H5Screate(H5S_SCALAR);
  size_t rank = like.empty() || one_in(rng, 3) ? 1 + below(rng, 3) : like.size();
  std::vector<hsize_t> dims(rank), max(rank, H5S_UNLIMITED);
  hsize_t total = 1;
  for (size_t i = 0; i < rank; ++i) {
    hsize_t d = i < like.size() ? like[i] : 1;
    switch (below(rng, 6)) {
      case 0: d = 0; break;
      case 1: d = 1 + below(rng, 13); break;
      case 2: d = d + 1; break;
      case 3: d = d > 0 ? d - 1 : 0; break;
      default: break;
    }
    dims[i] = std::min<hsize_t>(d, 4096 / std::max<hsize_t>(total, 1));
    total *= std::max<hsize_t>(dims[i], 1);
  }
  return H5Screate_simple(int(rank), dims.data(), extendible ? max.data() : nullptr);
}

// Writes values of the palette into an attribute (is_attribute) or a dataset of the given type.
inline void fill(hid_t object, bool is_attribute, hid_t type, hid_t space, Rng& rng) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n <= 0 || n > 4096) return;
  const H5T_class_t cls = H5Tget_class(type);
  auto do_write = [&](hid_t memory_type, const void* buffer) {
    if (is_attribute) H5Awrite(object, memory_type, buffer);
    else H5Dwrite(object, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
  };
  if (cls == H5T_STRING) {
    std::vector<std::string> texts(static_cast<size_t>(n));
    for (auto& t : texts) t = pick_word(rng);
    if (H5Tis_variable_str(type) > 0) {
      std::vector<const char*> pointers;
      for (auto& t : texts) pointers.push_back(t.c_str());
      do_write(type, pointers.data());
    } else {
      const size_t width = H5Tget_size(type);
      std::vector<char> buffer(width * static_cast<size_t>(n), '\0');
      for (size_t i = 0; i < texts.size(); ++i)
        std::memcpy(&buffer[i * width], texts[i].data(), std::min(width, texts[i].size()));
      do_write(type, buffer.data());
    }
  } else if (cls == H5T_INTEGER) {
    const int64_t base = pick_int(rng);
    std::vector<int64_t> values(static_cast<size_t>(n), base);
    for (auto& v : values) if (one_in(rng, 3)) v = pick_int(rng);
    do_write(H5T_NATIVE_INT64, values.data());
  } else if (cls == H5T_FLOAT) {
    const double base = pick_double(rng);
    std::vector<double> values(static_cast<size_t>(n), base);
    for (auto& v : values) if (one_in(rng, 3)) v = pick_double(rng);
    do_write(H5T_NATIVE_DOUBLE, values.data());
  }
  // Other classes keep their fill value.
}

// One object the mutator may change.
struct Target {
  enum Kind { attribute, dataset, group, link } kind;
  std::string parent;  // path of the object holding the attribute or link ("/" for the root)
  std::string name;
  std::string path() const { return parent == "/" ? "/" + name : parent + "/" + name; }
};

struct Walk {
  std::vector<Target>* out;
  std::string path;
  int depth;
};

inline herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* op) {
  auto* walk = static_cast<Walk*>(op);
  walk->out->push_back({Target::attribute, walk->path, name});
  return 0;
}

template <class LinkInfo>
herr_t collect_link(hid_t group, const char* name, const LinkInfo* info, void* op) {
  auto* walk = static_cast<Walk*>(op);
  Target target{Target::link, walk->path, name};
  if (info->type != H5L_TYPE_HARD) {
    walk->out->push_back(target);
    return 0;
  }
  hid_t object = H5Oopen(group, name, H5P_DEFAULT);
  if (object < 0) return 0;
  const H5I_type_t type = H5Iget_type(object);
  if (type == H5I_GROUP || type == H5I_DATASET) {
    target.kind = type == H5I_GROUP ? Target::group : Target::dataset;
    walk->out->push_back(target);
    if (walk->depth < 4) {
      Walk inner{walk->out, target.path(), walk->depth + 1};
      hsize_t index = 0;
      H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_NATIVE, &index, collect_attribute, &inner);
      if (type == H5I_GROUP) {
        index = 0;
        H5Literate(object, H5_INDEX_NAME, H5_ITER_NATIVE, &index, collect_link, &inner);
      }
    }
  }
  H5Oclose(object);
  return 0;
}

// An HDF5 file held in memory and opened read-write; every object is closed with the file.
class Image {
 public:
  Image(const uint8_t* data, size_t size) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    H5Pset_fapl_core(fapl, 4096, 0);
    if (H5Pset_file_image(fapl, const_cast<uint8_t*>(data), size) >= 0)
      file_ = H5Fopen("resilinet-fuzz-image.h5", H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
  }
  ~Image() {
    if (file_ >= 0) H5Fclose(file_);
  }
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;

  bool ok() const { return file_ >= 0; }
  hid_t file() const { return file_; }

  std::vector<Target> targets() const {
    std::vector<Target> out;
    Walk root{&out, "/", 0};
    hsize_t index = 0;
    H5Aiterate2(file_, H5_INDEX_NAME, H5_ITER_NATIVE, &index, collect_attribute, &root);
    index = 0;
    H5Literate(file_, H5_INDEX_NAME, H5_ITER_NATIVE, &index, collect_link, &root);
    out.push_back({Target::group, "", "/"});  // the root itself, as a place to add objects
    return out;
  }

  // Copies the modified file into data; returns its size, or 0 when it does not fit max_size.
  size_t save(uint8_t* data, size_t max_size) {
    if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) return 0;
    const ssize_t size = H5Fget_file_image(file_, nullptr, 0);
    if (size <= 0 || size_t(size) > max_size) return 0;
    std::vector<uint8_t> buffer(static_cast<size_t>(size));
    if (H5Fget_file_image(file_, buffer.data(), buffer.size()) != size) return 0;
    std::memcpy(data, buffer.data(), buffer.size());
    return buffer.size();
  }

 private:
  hid_t file_ = H5I_INVALID_HID;
};

// Reads an attribute's strings (variable or fixed length); false if it holds something else.
inline bool read_strings(hid_t attribute, hid_t type, hid_t space, std::vector<std::string>& out) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (H5Tget_class(type) != H5T_STRING || n < 0 || n > 100000) return false;
  out.assign(static_cast<size_t>(n), "");
  if (n == 0) return true;
  if (H5Tis_variable_str(type) > 0) {
    hid_t memory = H5Tcopy(H5T_C_S1);
    H5Tset_size(memory, H5T_VARIABLE);
    std::vector<char*> texts(static_cast<size_t>(n), nullptr);
    const bool ok = H5Aread(attribute, memory, texts.data()) >= 0;
    for (size_t i = 0; ok && i < texts.size(); ++i) out[i] = texts[i] ? texts[i] : "";
    if (ok) H5Dvlen_reclaim(memory, space, H5P_DEFAULT, texts.data());
    H5Tclose(memory);
    return ok;
  }
  const size_t width = H5Tget_size(type);
  std::vector<char> buffer(width * static_cast<size_t>(n));
  if (H5Aread(attribute, type, buffer.data()) < 0) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].assign(&buffer[i * width], width);
    out[i].resize(std::strlen(out[i].c_str()));
  }
  return true;
}

// Rewrites an attribute with its own type and shape and some of its values changed.
inline bool perturb_attribute(hid_t holder, const std::string& name, Rng& rng) {
  hid_t attribute = H5Aopen(holder, name.c_str(), H5P_DEFAULT);
  if (attribute < 0) return false;
  hid_t type = H5Aget_type(attribute), space = H5Aget_space(attribute);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  const H5T_class_t cls = H5Tget_class(type);
  bool done = false;
  if (cls == H5T_STRING) {
    std::vector<std::string> texts;
    if (read_strings(attribute, type, space, texts) && !texts.empty()) {
      const size_t i = below(rng, texts.size());
      switch (below(rng, 5)) {
        case 0: texts[i] = pick_word(rng); break;
        case 1: texts[i] = texts[below(rng, texts.size())]; break;  // often a duplicate
        case 2: std::swap(texts[i], texts[below(rng, texts.size())]); break;
        case 3: texts[i] += pick_word(rng); break;
        default: texts[i] = texts[i].substr(0, below(rng, texts[i].size() + 1)); break;
      }
      H5Aclose(attribute);
      H5Adelete(holder, name.c_str());
      attribute = H5Acreate2(holder, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
      if (attribute >= 0) {
        if (H5Tis_variable_str(type) > 0) {
          std::vector<const char*> pointers;
          for (auto& t : texts) pointers.push_back(t.c_str());
          done = H5Awrite(attribute, type, pointers.data()) >= 0;
        } else {
          const size_t width = H5Tget_size(type);
          std::vector<char> buffer(width * texts.size(), '\0');
          for (size_t k = 0; k < texts.size(); ++k)
            std::memcpy(&buffer[k * width], texts[k].data(), std::min(width, texts[k].size()));
          done = H5Awrite(attribute, type, buffer.data()) >= 0;
        }
      }
    }
  } else if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && n > 0 && n <= 100000) {
    const bool integer = cls == H5T_INTEGER;
    std::vector<int64_t> ints(integer ? static_cast<size_t>(n) : 0);
    std::vector<double> reals(integer ? 0 : static_cast<size_t>(n));
    hid_t memory = integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    void* buffer = integer ? static_cast<void*>(ints.data()) : static_cast<void*>(reals.data());
    if (H5Aread(attribute, memory, buffer) >= 0) {
      const size_t changes = 1 + below(rng, 3);
      for (size_t c = 0; c < changes; ++c) {
        const size_t i = below(rng, static_cast<size_t>(n));
        if (integer) ints[i] = one_in(rng, 3) ? int64_t(uint64_t(ints[i]) + below(rng, 5) - 2) : pick_int(rng);
        else reals[i] = pick_double(rng);
      }
      done = H5Awrite(attribute, memory, buffer) >= 0;
    }
  }
  if (attribute >= 0) H5Aclose(attribute);
  H5Tclose(type);
  H5Sclose(space);
  return done;
}

// Changes a few values of a numeric dataset in place (at most 2^20 values).
inline bool perturb_dataset(hid_t dataset, Rng& rng) {
  hid_t type = H5Dget_type(dataset), space = H5Dget_space(dataset);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  const H5T_class_t cls = H5Tget_class(type);
  bool done = false;
  if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && n > 0 && n <= (1 << 20)) {
    const bool integer = cls == H5T_INTEGER;
    std::vector<int64_t> ints(integer ? static_cast<size_t>(n) : 0);
    std::vector<double> reals(integer ? 0 : static_cast<size_t>(n));
    hid_t memory = integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    void* buffer = integer ? static_cast<void*>(ints.data()) : static_cast<void*>(reals.data());
    if (H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) >= 0) {
      const size_t changes = one_in(rng, 4) ? static_cast<size_t>(n) : 1 + below(rng, 3);
      const int64_t int_value = pick_int(rng);
      const double real_value = pick_double(rng);
      for (size_t c = 0; c < changes; ++c) {
        const size_t i = changes == static_cast<size_t>(n) ? c : below(rng, static_cast<size_t>(n));
        if (integer) ints[i] = one_in(rng, 2) ? int_value : int64_t(uint64_t(ints[i]) + below(rng, 5) - 2);
        else reals[i] = one_in(rng, 2) ? real_value : reals[i] * pick_double(rng);
      }
      done = H5Dwrite(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) >= 0;
    }
  }
  H5Tclose(type);
  H5Sclose(space);
  return done;
}

inline std::vector<hsize_t> dims_of(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(size_t(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

// Creates an attribute or a dataset of a random type and shape under name, filled from the palette.
inline bool create_random(hid_t holder, const std::string& name, bool as_attribute,
                          const std::vector<hsize_t>& like, Rng& rng) {
  hid_t type = pick_type(rng);
  const bool chunked = !as_attribute && one_in(rng, 2);
  hid_t space = pick_space(rng, like, chunked);
  bool done = false;
  if (as_attribute) {
    hid_t attribute = H5Acreate2(holder, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attribute >= 0) {
      fill(attribute, true, type, space, rng);
      H5Aclose(attribute);
      done = true;
    }
  } else {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    const std::vector<hsize_t> dims = dims_of(space);
    if (chunked && !dims.empty()) {
      std::vector<hsize_t> chunk(dims.size());
      for (size_t i = 0; i < dims.size(); ++i) chunk[i] = std::max<hsize_t>(1, std::min<hsize_t>(dims[i], 64));
      H5Pset_chunk(dcpl, int(chunk.size()), chunk.data());
      if (one_in(rng, 2)) H5Pset_deflate(dcpl, 1);
    }
    hid_t dataset = H5Dcreate2(holder, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dataset >= 0) {
      fill(dataset, false, type, space, rng);
      H5Dclose(dataset);
      done = true;
    }
    H5Pclose(dcpl);
  }
  H5Tclose(type);
  H5Sclose(space);
  return done;
}

// Applies one structural mutation; false if it could not be applied.
inline bool mutate_once(Image& image, Rng& rng) {
  const std::vector<Target> targets = image.targets();
  if (targets.empty()) return false;
  const Target& t = targets[below(rng, targets.size())];
  const hid_t file = image.file();
  if (t.parent.empty()) {  // the root: add an object
    const auto& names = known_names();
    const std::string name = one_in(rng, 3) ? targets[below(rng, targets.size())].name : names[below(rng, names.size())];
    const bool as_attribute = one_in(rng, 2);
    if (as_attribute) H5Adelete(file, name.c_str());
    else H5Ldelete(file, name.c_str(), H5P_DEFAULT);
    return create_random(file, name, as_attribute, {}, rng);
  }
  hid_t parent = H5Oopen(file, t.parent.c_str(), H5P_DEFAULT);
  if (parent < 0) return false;
  bool done = false;
  const size_t op = below(rng, 8);
  if (t.kind == Target::attribute) {
    if (op == 0) {
      done = H5Adelete(parent, t.name.c_str()) >= 0;
    } else if (op <= 2) {
      std::vector<hsize_t> like;
      hid_t attribute = H5Aopen(parent, t.name.c_str(), H5P_DEFAULT);
      if (attribute >= 0) {
        hid_t space = H5Aget_space(attribute);
        like = dims_of(space);
        H5Sclose(space);
        H5Aclose(attribute);
      }
      H5Adelete(parent, t.name.c_str());
      done = create_random(parent, t.name, true, like, rng);
    } else {
      done = perturb_attribute(parent, t.name, rng);
    }
  } else if (t.kind == Target::dataset) {
    hid_t dataset = H5Dopen2(parent, t.name.c_str(), H5P_DEFAULT);
    std::vector<hsize_t> dims;
    if (dataset >= 0) {
      hid_t space = H5Dget_space(dataset);
      dims = dims_of(space);
      H5Sclose(space);
    }
    if (op <= 2 && dataset >= 0) {
      done = perturb_dataset(dataset, rng);
    } else if (op == 3 && dataset >= 0 && !dims.empty()) {
      // Another row count (succeeds only for chunked, extendible datasets, as resilinet writes them).
      std::vector<hsize_t> resized = dims;
      const hsize_t choices[] = {0, 1, dims[0] > 0 ? dims[0] - 1 : 0, dims[0] + 1, dims[0] * 2 + 1, dims[0] + 1000};
      resized[0] = choices[below(rng, std::size(choices))];
      done = H5Dset_extent(dataset, resized.data()) >= 0;
    }
    if (dataset >= 0) H5Dclose(dataset);
    if (!done && op >= 4) {
      H5Ldelete(parent, t.name.c_str(), H5P_DEFAULT);
      switch (op) {
        case 4: done = create_random(parent, t.name, false, dims, rng); break;
        case 5: {
          hid_t group = H5Gcreate2(parent, t.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
          done = group >= 0;
          if (done) H5Gclose(group);
          break;
        }
        case 6: {
          const Target& other = targets[below(rng, targets.size())];
          const std::string to = other.kind == Target::attribute || other.parent.empty() ? "/" : other.path();
          done = H5Lcreate_hard(file, to.c_str(), parent, t.name.c_str(), H5P_DEFAULT, H5P_DEFAULT) >= 0;
          break;
        }
        default: {
          const std::string targets_text[] = {t.path(), "/nowhere", "/features", "/scaler/median"};
          if (one_in(rng, 4))
            done = H5Lcreate_external("resilinet-fuzz-missing.h5", "/x", parent, t.name.c_str(),
                                      H5P_DEFAULT, H5P_DEFAULT) >= 0;
          else
            done = H5Lcreate_soft(targets_text[below(rng, std::size(targets_text))].c_str(), parent,
                                  t.name.c_str(), H5P_DEFAULT, H5P_DEFAULT) >= 0;
          break;
        }
      }
    }
  } else if (t.kind == Target::group) {
    hid_t group = H5Gopen2(parent, t.name.c_str(), H5P_DEFAULT);
    if (group >= 0) {
      const auto& names = known_names();
      const std::string name = names[below(rng, names.size())];
      if (op <= 1) {
        done = H5Ldelete(parent, t.name.c_str(), H5P_DEFAULT) >= 0;
      } else if (op == 2) {
        H5Ldelete(parent, t.name.c_str(), H5P_DEFAULT);
        done = create_random(parent, t.name, false, {}, rng);
      } else {
        const bool as_attribute = one_in(rng, 2);
        if (as_attribute) H5Adelete(group, name.c_str());
        else H5Ldelete(group, name.c_str(), H5P_DEFAULT);
        done = create_random(group, name, as_attribute, {}, rng);
      }
      H5Gclose(group);
    }
  } else {  // a soft or external link: remove it or point it elsewhere
    H5Ldelete(parent, t.name.c_str(), H5P_DEFAULT);
    done = op < 4 || H5Lcreate_soft("/features", parent, t.name.c_str(), H5P_DEFAULT, H5P_DEFAULT) >= 0;
  }
  H5Oclose(parent);
  return done;
}

// The custom mutator's body: 1..3 structural mutations of data as an HDF5 image; 0 if not HDF5.
inline size_t mutate(uint8_t* data, size_t size, size_t max_size, Rng& rng) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Image image(data, size);
  if (!image.ok()) return 0;
  const size_t rounds = 1 + below(rng, 3);
  bool any = false;
  for (size_t i = 0; i < rounds; ++i) any = mutate_once(image, rng) || any;
  return any ? image.save(data, max_size) : 0;
}

}  // namespace resilinet::fuzz::h5mut

namespace resilinet::fuzz::h5mut {

[[noreturn]] inline void child_death() { _exit(70); }

// mutate() in a forked child that writes its result to shared memory; 0 when the child failed
// (HDF5 crashed or hung on a damaged input) or made no change. The child reports nothing: its
// output goes to /dev/null, sanitizer reports end it quietly, deadly signals take their default
// action and an alarm ends it after a few seconds.
inline size_t mutate_isolated(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  const size_t bytes = sizeof(size_t) + std::max(max_size, size);
  void* shared = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return 0;
  auto* result_size = static_cast<size_t*>(shared);
  uint8_t* result = static_cast<uint8_t*>(shared) + sizeof(size_t);
  *result_size = 0;
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
      dup2(null_fd, 1);
      dup2(null_fd, 2);
    }
    __sanitizer_set_death_callback(child_death);
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGALRM}) signal(sig, SIG_DFL);
    alarm(5);
    std::memcpy(result, data, size);
    Rng rng(seed);
    *result_size = mutate(result, size, max_size, rng);
    _exit(0);
  }
  size_t n = 0;
  if (pid > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && *result_size > 0 && *result_size <= max_size) {
      n = *result_size;
      std::memcpy(data, result, n);
    }
  }
  munmap(shared, bytes);
  return n;
}

}  // namespace resilinet::fuzz::h5mut

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  resilinet::fuzz::h5mut::Rng rng(seed);
  if (rng() % 2 == 0) return LLVMFuzzerMutate(data, size, max_size);
  const size_t n = resilinet::fuzz::h5mut::mutate_isolated(data, size, max_size, unsigned(rng()));
  return n > 0 ? n : LLVMFuzzerMutate(data, size, max_size);
}
