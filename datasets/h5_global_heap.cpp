// Walks a file's global heap collections before libhdf5 reads a variable-length string from it.
//
// Variable-length strings live in global heap collections ("GCOL"). libhdf5 1.10 trusts the sizes
// stored there: a free-space object of size 0 makes it loop for ever, and an object larger than
// its collection (or than the 4 KiB buffer it converts through) makes H5Aread copy past its
// buffers. So before the first variable-length read from a file, every collection in it is
// walked here exactly as the library walks it (HDF5 file format spec, "Global Heap"), and a file
// whose collections do not add up is refused as corrupt.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "datasets/h5.hpp"
#include "datasets/untrusted_file.hpp"

namespace resilinet::h5 {
namespace {

constexpr char kSignature[] = "GCOL";
constexpr size_t kSignatureBytes = 4;
// A value the library converts into a buffer of at least this many bytes (H5T_VLEN_MIN_CONF_BUF_SIZE
// in libhdf5); larger values could overflow it when a string's stored length is corrupt. Names,
// units and config text are far shorter.
constexpr uint64_t kMaxObjectBytes = 4096;
// Collections are small in practice (4 KiB unless one object is bigger); bounds what we read.
constexpr uint64_t kMaxCollectionBytes = uint64_t(64) << 20;

class FileBytes {
 public:
  explicit FileBytes(const std::string& path) : path_(path), fd_(::open(path.c_str(), O_RDONLY)) {
    if (fd_ < 0) fail("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail("cannot stat " + path + ": " + std::strerror(errno));
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~FileBytes() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;

  uint64_t size() const { return size_; }

  // Reads up to n bytes at offset; returns how many were read (fewer only at the end of the file).
  size_t read(uint64_t offset, size_t n, uint8_t* out) const {
    size_t done = 0;
    while (done < n && offset + done < size_) {
      ssize_t got = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail("cannot read " + path_ + ": " + std::strerror(errno));
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

  [[noreturn]] static void fail(const std::string& detail) { throw Error(detail, detail); }

 private:
  std::string path_;
  int fd_;
  uint64_t size_ = 0;
};

uint64_t decode_le(const uint8_t* p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = bytes; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// The superblock's "size of lengths" (bytes of every length field in the file). The superblock
// sits at 0, 512, 1024, 2048, ... (after a user block).
size_t size_of_lengths(const FileBytes& file) {
  static constexpr uint8_t kHdf5Signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  for (uint64_t at = 0; at < file.size(); at = at == 0 ? 512 : at * 2) {
    std::array<uint8_t, 16> head{};
    if (file.read(at, head.size(), head.data()) < head.size()) break;
    if (std::memcmp(head.data(), kHdf5Signature, 8) != 0) continue;
    size_t bytes = head[8] >= 2 ? head[10] : head[14];  // superblock version 2/3 vs 0/1
    if (bytes != 2 && bytes != 4 && bytes != 8)
      FileBytes::fail("unsupported size of lengths in the HDF5 superblock: " +
                      std::to_string(bytes) + " bytes");
    return bytes;
  }
  FileBytes::fail("no HDF5 superblock");
}

uint64_t align8(uint64_t n) { return (n + 7) / 8 * 8; }

// One collection at `at`, walked the way libhdf5 deserializes it. Throws when it does not add up.
void check_collection(const FileBytes& file, uint64_t at, size_t length_bytes) {
  const uint64_t header = 8 + length_bytes;         // signature, version, 3 reserved, size
  const uint64_t object_header = 8 + length_bytes;  // index, refcount, 4 reserved, size
  std::vector<uint8_t> head(header);
  if (file.read(at, header, head.data()) < header) return;  // cut off: the library refuses it
  if (head[4] != 1) return;  // the library refuses any other version before walking
  auto corrupt = [&](const std::string& what) {
    FileBytes::fail("corrupt HDF5 global heap collection at byte " + std::to_string(at) + ": " +
                    what);
  };
  const uint64_t size = decode_le(head.data() + 8, length_bytes);
  if (size < header || size > file.size() - at)
    corrupt("its size " + std::to_string(size) + " runs past the end of the file");
  if (size > kMaxCollectionBytes) corrupt("its size " + std::to_string(size) + " exceeds 64 MiB");
  std::vector<uint8_t> bytes(size);
  file.read(at, size, bytes.data());
  uint64_t p = header;
  while (p < size) {
    if (p + object_header > size) break;  // too small for an object: the library calls it free space
    const uint64_t index = decode_le(bytes.data() + p, 2);
    const uint64_t object = decode_le(bytes.data() + p + 8, length_bytes);
    uint64_t need = object;  // the free-space object (index 0) counts its own header
    if (index > 0) {
      if (object > kMaxObjectBytes)
        corrupt("object " + std::to_string(index) + " claims " + std::to_string(object) +
                " bytes (at most " + std::to_string(kMaxObjectBytes) + ")");
      need = object_header + align8(object);
    } else if (object < object_header) {
      corrupt("its free space claims " + std::to_string(object) + " bytes, less than its header");
    }
    if (need > size - p) corrupt("object " + std::to_string(index) + " runs past its end");
    p += need;
  }
}

void check_all_collections(const std::string& path) {
  FileBytes file(path);
  const size_t length_bytes = size_of_lengths(file);
  // Scan in blocks that overlap by the signature's length, so a signature across a seam is found.
  constexpr size_t kBlock = size_t(1) << 20;
  std::vector<uint8_t> block(kBlock);
  for (uint64_t at = 0; at < file.size(); at += kBlock - (kSignatureBytes - 1)) {
    size_t got = file.read(at, kBlock, block.data());
    for (size_t i = 0; i + kSignatureBytes <= got; ++i) {
      const void* hit = std::memchr(block.data() + i, kSignature[0], got - i);
      if (!hit) break;
      i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - block.data());
      if (i + kSignatureBytes <= got && std::memcmp(block.data() + i, kSignature, kSignatureBytes) == 0)
        check_collection(file, at + i, length_bytes);
    }
    if (got < kBlock) break;
  }
}

}  // namespace

void check_global_heaps(hid_t object) {
  ssize_t n = H5Fget_name(object, nullptr, 0);
  if (n <= 0) return;
  std::string path(static_cast<size_t>(n), '\0');
  H5Fget_name(object, path.data(), path.size() + 1);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // not a file on disk (e.g. an in-memory image)
  // Once per file version: shards are opened once to list them and once to stream them.
  static CheckedFiles checked;
  if (checked.contains(path)) return;
  check_all_collections(path);
  checked.mark(path);
}

}  // namespace resilinet::h5
