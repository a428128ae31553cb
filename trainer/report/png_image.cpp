// A palette PNG as a data: URI, for the raster maps of report.html (report_html_parts.hpp), encoded
// by libpng into memory and base64 by OpenSSL.
#include <png.h>
#include <openssl/evp.h>

#include <stdexcept>
#include <string>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet::report_page {
namespace {

void append_bytes(png_structp png, png_bytep data, png_size_t length) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), length);
}

[[noreturn]] void fail(png_structp png, png_const_charp) { png_longjmp(png, 1); }

void ignore_warning(png_structp, png_const_charp) {}

struct PngInput {
  int width, height;
  const png_color* colors;
  const png_byte* alpha;
  int palette;
  const uint8_t* pixels;
};

// libpng reports an error by a longjmp back here, so this frame holds nothing with a destructor.
bool write_png(png_structp png, png_infop info, const PngInput& in) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, png_uint_32(in.width), png_uint_32(in.height), 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_PLTE(png, info, in.colors, in.palette);
  png_set_tRNS(png, info, in.alpha, in.palette, nullptr);
  png_write_info(png, info);
  for (int y = 0; y < in.height; ++y) png_write_row(png, in.pixels + size_t(y) * size_t(in.width));
  png_write_end(png, nullptr);
  return true;
}

// libpng's structures, freed however encoding ends.
struct PngWriter {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngWriter() {
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, fail, ignore_warning);
    if (png) info = png_create_info_struct(png);
    if (!png || !info) throw std::runtime_error("libpng: cannot create a writer");
  }
  ~PngWriter() { png_destroy_write_struct(&png, &info); }
};

}  // namespace

std::string png_data_uri(int width, int height, const std::vector<std::string>& palette,
                         const std::vector<uint8_t>& pixels) {
  if (width <= 0 || height <= 0 || pixels.size() != size_t(width) * size_t(height) || palette.empty() ||
      palette.size() > 256)
    throw std::logic_error("png_data_uri: pixels do not match the size or the palette");
  std::vector<png_color> colors;
  std::vector<png_byte> alpha;
  for (const std::string& c : palette) {  // "" = transparent, else "#rrggbb"
    const bool none = c.empty();
    colors.push_back({png_byte(none ? 0 : std::stoi(c.substr(1, 2), nullptr, 16)),
                      png_byte(none ? 0 : std::stoi(c.substr(3, 2), nullptr, 16)),
                      png_byte(none ? 0 : std::stoi(c.substr(5, 2), nullptr, 16))});
    alpha.push_back(none ? 0 : 255);
  }
  std::string bytes;
  PngWriter w;
  png_set_write_fn(w.png, &bytes, append_bytes, nullptr);
  if (!write_png(w.png, w.info, {width, height, colors.data(), alpha.data(), int(colors.size()), pixels.data()}))
    throw std::runtime_error("libpng could not encode a raster map");
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
  text.resize(size_t(n));
  return "data:image/png;base64," + text;
}

}  // namespace resilinet::report_page
