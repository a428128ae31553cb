// `resilinet report` at scale and with a variants table: raster maps (forced onto small data with
// --map-cells) whose per-bin level counts in report.json equal a recount from `rate`'s ratings.h5,
// whose image shows each bin's majority level, and a page that stays the same size as the cells grow;
// the raster's binning across the antimeridian; the --variants table against a hand-written
// variants.json, and bad variants files.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <png.h>
#include <nlohmann/json.hpp>

#include "small_run.hpp"
#include "trainer/outputs/ratings_reader.hpp"
#include "trainer/report/map_raster.hpp"

using namespace resilinet;
namespace rt = resilinet::testing;
using nlohmann::json;

namespace {

constexpr double kPi = 3.14159265358979323846;

json read_json(const std::filesystem::path& p) { return json::parse(rt::read_text(p)); }

rt::CommandResult run_report(const rt::SmallRun& t, const std::string& data, const std::filesystem::path& out,
                             const std::string& options) {
  return rt::run_resilinet("report --quiet --checkpoint " + t.checkpoint + " --data '" + data + "' --out " +
                           out.string() + " " + options);
}

// The ratings of the small run's cells, written once by `rate`.
const RatingsSource& small_ratings() {
  static const RatingsSource source = [] {
    const rt::SmallRun& t = rt::small_trained_run();
    const auto out = t.dir / "scale-ratings";
    const auto r = rt::run_resilinet("rate --quiet --format hdf5 --checkpoint " + t.checkpoint + " --data '" + t.data +
                                     "' --out " + out.string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return open_ratings(out.string(), "--ratings");
  }();
  return source;
}

// The bin of a cell, restated from report.json's "rule" with its grid.
size_t bin_of(const json& map, double lon, double lat) {
  const int cols = map["cols"], rows = map["rows"];
  const double lon_min = map["lon_min"], lon_max = map["lon_max"], lat_min = map["lat_min"], lat_max = map["lat_max"];
  const double u = map["wraps_antimeridian"].get<bool>() && lon < 0 ? lon + 360 : lon;
  const int col = std::clamp(int(std::floor((u - lon_min) / (lon_max - lon_min) * cols)), 0, cols - 1);
  const int row = std::clamp(int(std::floor((lat_max - lat) / (lat_max - lat_min) * rows)), 0, rows - 1);
  return size_t(row) * size_t(cols) + size_t(col);
}

// Per bin, cells per level (index 0 = level 1) of the cells of one region (-1: all) in ratings.h5.
std::map<size_t, std::vector<uint64_t>> recount_bins(const RatingsSource& ratings, const json& map, int region) {
  std::map<size_t, std::vector<uint64_t>> bins;
  for_each_rated_chunk(ratings, 4096, [&](const RatedChunk& c) {
    for (size_t i = 0; i < c.rows; ++i) {
      if (c.level[i] == 0 || (region >= 0 && c.region[i] != uint32_t(region))) continue;
      auto& counts = bins[bin_of(map, c.lonlat[2 * i], c.lonlat[2 * i + 1])];
      counts.resize(size_t(ratings.levels), 0);
      ++counts[size_t(c.level[i] - 1)];
    }
  });
  return bins;
}

std::string base64_decode(const std::string& text) {
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
  EXPECT_GE(n, 0);
  size_t padding = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) ++padding;
  out.resize(size_t(std::max(n, 0)) - padding);
  return out;
}

// The palette indices of a PNG data: URI, decoded by libpng: [row][col].
std::vector<std::vector<int>> png_pixels(const std::string& uri) {
  const std::string png = base64_decode(uri.substr(std::string("data:image/png;base64,").size()));
  EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n");
  struct Source {
    const std::string* bytes;
    size_t at;
  } source{&png, 0};
  png_structp reader = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(reader);
  std::vector<std::vector<int>> pixels;
  std::vector<png_byte> row;
  if (setjmp(png_jmpbuf(reader))) {
    ADD_FAILURE() << "libpng could not read the map image";
    png_destroy_read_struct(&reader, &info, nullptr);
    return {};
  }
  png_set_read_fn(reader, &source, [](png_structp r, png_bytep out, png_size_t n) {
    auto* s = static_cast<Source*>(png_get_io_ptr(r));
    if (s->at + n > s->bytes->size()) png_error(r, "short image");
    std::copy_n(s->bytes->data() + s->at, n, out);
    s->at += n;
  });
  png_read_info(reader, info);
  EXPECT_EQ(png_get_color_type(reader, info), PNG_COLOR_TYPE_PALETTE);
  EXPECT_EQ(png_get_bit_depth(reader, info), 8);
  const uint32_t width = png_get_image_width(reader, info), height = png_get_image_height(reader, info);
  row.resize(width);
  pixels.assign(height, std::vector<int>(width));
  for (uint32_t y = 0; y < height; ++y) {
    png_read_row(reader, row.data(), nullptr);
    for (uint32_t x = 0; x < width; ++x) pixels[y][x] = row[x];
  }
  png_destroy_read_struct(&reader, &info, nullptr);
  return pixels;
}

// The image of the first map after `anchor` in the page.
std::string map_image_after(const std::string& html, const std::string& anchor) {
  const size_t at = html.find(anchor);
  EXPECT_NE(at, std::string::npos) << anchor;
  const size_t href = html.find("href='data:image/png;base64,", at);
  EXPECT_LT(href, html.find("</svg>", at)) << anchor << ": no image in its first map";
  const size_t from = href + 6;
  return html.substr(from, html.find('\'', from) - from);
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

TEST(ReportScale, RasterBinsEqualARecountFromRatings) {
  const rt::SmallRun& t = rt::small_trained_run();
  const RatingsSource& ratings = small_ratings();
  const auto out = t.dir / "scale-raster";
  const auto r = run_report(t, t.data, out, "--map-cells 1000");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json report = read_json(out / "report.json");
  const std::string html = rt::read_text(out / "report.html");
  const int K = ratings.levels;
  ASSERT_EQ(report["regions"].size(), ratings.region_names.size());
  for (int g = -1; g < int(ratings.region_names.size()); ++g) {
    const json& region = g < 0 ? report["all_regions"] : report["regions"][size_t(g)];
    const json& map = region["map"];
    ASSERT_EQ(map["kind"], "raster") << region["name"];
    EXPECT_EQ(std::max(map["cols"].get<int>(), map["rows"].get<int>()), kRasterSide);
    // The bins' counts add up to the cells per level, and each bin's counts and majority are a recount
    // of ratings.h5's cells in it.
    const auto recount = recount_bins(ratings, map, g);
    std::vector<uint64_t> per_level(size_t(K), 0);
    ASSERT_EQ(map["bins"].size(), recount.size()) << region["name"];
    std::map<size_t, int> majority;
    for (const json& row : map["bins"]) {
      const size_t bin = row[0];
      ASSERT_EQ(row.size(), size_t(K) + 2);
      ASSERT_TRUE(recount.count(bin)) << "bin " << bin;
      const std::vector<uint64_t>& expected = recount.at(bin);
      int most = 0;
      for (int k = 0; k < K; ++k) {
        EXPECT_EQ(row[size_t(k) + 2].get<uint64_t>(), expected[size_t(k)]) << "bin " << bin << " level " << k + 1;
        per_level[size_t(k)] += row[size_t(k) + 2].get<uint64_t>();
        if (expected[size_t(k)] > expected[size_t(most)]) most = k;  // ties: the lower level
      }
      EXPECT_EQ(row[1].get<int>(), most + 1) << "bin " << bin;
      majority[bin] = most + 1;
    }
    EXPECT_EQ(json(per_level), region["level_cells"]) << region["name"];
    // The page's level map is the image of those majorities (palette index = level, 0 = no cells).
    const std::string anchor = g < 0 ? "id='all-regions-map'" : "id='region-" + std::to_string(g + 1) + "-map'";
    const auto pixels = png_pixels(map_image_after(html, anchor));
    ASSERT_EQ(pixels.size(), map["rows"].get<size_t>());
    const size_t cols = map["cols"];
    for (size_t y = 0; y < pixels.size(); ++y) {
      ASSERT_EQ(pixels[y].size(), cols);
      for (size_t x = 0; x < cols; ++x) {
        const auto it = majority.find(y * cols + x);
        ASSERT_EQ(pixels[y][x], it == majority.end() ? 0 : it->second) << anchor << " row " << y << " col " << x;
      }
    }
  }
  // Raster maps draw no dots and ring no cells.
  EXPECT_EQ(count_of(html, "stroke-linecap='round'"), 0u);
  EXPECT_EQ(count_of(html, "<image "), 2 * (ratings.region_names.size() + 1));
}

TEST(ReportScale, RasterPageDoesNotGrowWithTheCells) {
  const rt::SmallRun& t = rt::small_trained_run();
  auto r = rt::run_resilinet("synth --quiet --out " + (t.dir / "data4").string() + " --cells 48000 --regions 2 --seed 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string options = "--map-cells 1000 --priority-rows 300";
  r = run_report(t, t.data, t.dir / "scale-1x", options);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_report(t, (t.dir / "data4" / "*.h5").string(), t.dir / "scale-4x", options);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Rasters of at most 128 x 128 palette pixels (under 22 kB in base64 each; deflated, their size
  // follows the pattern, not the cells), and the rest of the page: about the same size for 4x the cells.
  const auto without_images = [](std::string html) {
    size_t images = 0;
    for (size_t at; (at = html.find("data:image/png;base64,")) != std::string::npos; ++images) {
      const size_t end = html.find('\'', at);
      EXPECT_LT(end - at, 22u * 1024u);
      html.erase(at, end - at);
    }
    EXPECT_GE(images, 4u);
    return html.size();
  };
  const std::string small_page = rt::read_text(t.dir / "scale-1x" / "report.html");
  const std::string large_page = rt::read_text(t.dir / "scale-4x" / "report.html");
  EXPECT_LT(large_page.size(), 600u * 1024u);
  const size_t small = without_images(small_page), large = without_images(large_page);
  // Only the numbers' digits may grow (counts 4x larger: at most one more digit each).
  EXPECT_LT(large, small + 8u * 1024u) << small << " -> " << large;
  const json big = read_json(t.dir / "scale-4x" / "report.json");
  EXPECT_EQ(big["all_regions"]["cells"].get<uint64_t>(), 48000u);
  EXPECT_EQ(big["all_regions"]["map"]["kind"], "raster");
  // Below the threshold the maps stay a dot per sampled cell.
  r = run_report(t, t.data, t.dir / "scale-dots", "--map-cells 100000 --map-points 500");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json dots = read_json(t.dir / "scale-dots" / "report.json");
  EXPECT_EQ(dots["all_regions"]["map"]["kind"], "cells");
  EXPECT_GT(dots["all_regions"]["map"]["cells_drawn"].get<size_t>(), 350u);
  EXPECT_EQ(count_of(rt::read_text(t.dir / "scale-dots" / "report.html"), "<image "), 0u);
}

// Cells on both sides of the antimeridian: longitudes run 0..360, so the grid spans 2 degrees, not 358.
TEST(ReportScale, RasterAcrossTheAntimeridian) {
  MapBounds bounds;
  for (double lon : {179.0, 179.5, -179.5, -179.0}) bounds.add(lon, 10.0 + (lon > 0 ? 0.0 : 1.0));
  ASSERT_TRUE(bounds.wraps());
  MapRaster raster(bounds, 5);
  EXPECT_DOUBLE_EQ(raster.lon0(), 179.0);
  EXPECT_DOUBLE_EQ(raster.lon1(), 181.0);
  EXPECT_EQ(raster.cols(), kRasterSide);
  EXPECT_EQ(raster.rows(), int(std::lround(kRasterSide * 1.0 / (2.0 * std::cos(10.5 * kPi / 180)))));
  EXPECT_EQ(raster.bin(179.0, 11.0), 0u);                           // north-west corner
  EXPECT_EQ(raster.bin(-179.0, 10.0), raster.bins() - 1);           // south-east corner
  EXPECT_EQ(raster.bin(-180.0, 10.0) % size_t(raster.cols()), size_t(kRasterSide / 2));  // the middle column
  raster.add(179.0, 11.0, 2, 0), raster.add(179.0, 11.0, 4, 0), raster.add(179.0, 11.0, 4, kRasterNoRisk);
  raster.add(-179.0, 10.0, 3, 1), raster.add(-179.0, 10.0, 1, 1);
  EXPECT_EQ(raster.majority_level(0), 4);
  EXPECT_EQ(raster.majority_level(raster.bins() - 1), 1);  // a tie goes to the lower level
  EXPECT_EQ(raster.majority_level(1), 0);
  EXPECT_EQ(raster.majority_bivariate(0), 0);
  EXPECT_EQ(raster.cells(0), 3u);
}

namespace {

json variants_file() {
  return json::parse(R"({
    "format": "resilinet-variants", "format_version": 1, "data": "data/default/*.h5", "cells": 100000,
    "seeds": [0, 1, 2],
    "metrics": [{"key": "reconstruction_mse", "label": "Recon. MSE", "better": "lower"},
                {"key": "silhouette", "label": "Silhouette", "better": "higher"},
                {"key": "ari_planted", "label": "ARI planted", "better": "higher"}],
    "variants": [
      {"name": "default", "file": "configs/variants/default.yaml", "kind": "network", "description": "the default",
       "summary": {"reconstruction_mse": {"mean": 0.0123, "sd": 0.0011, "n": 3},
                   "silhouette": {"mean": 0.31, "sd": 0.02, "n": 3},
                   "ari_planted": {"mean": 0.81, "sd": 0.05, "n": 3}},
       "runs": [{"seed": 0, "run_dir": "bench/variants/default/seed-0"}]},
      {"name": "wide", "file": "configs/variants/wide.yaml", "kind": "network", "description": "wider encoder",
       "summary": {"reconstruction_mse": {"mean": 0.0098, "sd": 0.0007, "n": 3},
                   "silhouette": {"mean": 0.29, "sd": 0.01, "n": 3},
                   "ari_planted": {"mean": 0.81, "sd": 0.04, "n": 2}}},
      {"name": "kmeans", "file": "configs/variants/kmeans.yaml", "kind": "baseline", "description": "k-means only",
       "summary": {"reconstruction_mse": null, "silhouette": {"mean": 0.35, "sd": null, "n": 1},
                   "ari_planted": {"mean": 0.62, "sd": 0.1, "n": 3}}}]})");
}

}  // namespace

TEST(ReportScale, VariantsTableMarksTheBestOfEachColumn) {
  const rt::SmallRun& t = rt::small_trained_run();
  const auto dir = rt::scratch_dir();
  rt::write_text(dir / "variants.json", variants_file().dump(2));
  const auto r = run_report(t, t.data, dir / "out", "--variants " + (dir / "variants.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json v = read_json(dir / "out" / "report.json")["variants"];
  ASSERT_EQ(v["rows"].size(), 3u);
  ASSERT_EQ(v["metrics"].size(), 3u);
  EXPECT_EQ(v["metrics"][0]["best"], json({"wide"}));               // lower MSE
  EXPECT_EQ(v["metrics"][1]["best"], json({"kmeans"}));             // higher silhouette
  EXPECT_EQ(v["metrics"][2]["best"], json({"default", "wide"}));    // a tie marks both
  EXPECT_TRUE(v["rows"][2]["values"]["reconstruction_mse"].is_null());
  EXPECT_DOUBLE_EQ(v["rows"][1]["values"]["reconstruction_mse"]["mean"].get<double>(), 0.0098);
  EXPECT_TRUE(v["rows"][2]["values"]["silhouette"]["sd"].is_null());
  EXPECT_EQ(v["rows"][2]["kind"], "baseline");

  const std::string html = rt::read_text(dir / "out" / "report.html");
  const size_t at = html.find("id='variants'");
  ASSERT_NE(at, std::string::npos);
  const std::string section = html.substr(at, html.find("</table>", at) - at);
  EXPECT_EQ(count_of(section, "<tr>"), 4u);  // header and one row per variant
  EXPECT_EQ(count_of(section, "class=best"), 4u);
  EXPECT_EQ(count_of(section, ">n/a<"), 1u);
  EXPECT_NE(section.find("<b>0.0098 ± 0.0007</b>"), std::string::npos);
  EXPECT_NE(section.find("0.0123 ± 0.0011"), std::string::npos);
  EXPECT_NE(section.find("<b>0.35</b>"), std::string::npos);  // no sd: the mean alone
  EXPECT_NE(section.find("Recon. MSE &darr;"), std::string::npos);
  EXPECT_NE(section.find("Silhouette &uarr;"), std::string::npos);
}

TEST(ReportScale, BadVariantsFilesAreInputErrors) {
  const rt::SmallRun& t = rt::small_trained_run();
  const auto dir = rt::scratch_dir();
  struct Case {
    std::string name, field;
    std::function<void(json&)> edit;
  };
  const std::vector<Case> cases = {
      {"format", "format", [](json& j) { j["format"] = "resilinet-metrics"; }},
      {"version", "format_version", [](json& j) { j["format_version"] = 2; }},
      {"no-metrics", "metrics", [](json& j) { j.erase("metrics"); }},
      {"better", "metrics[1].better", [](json& j) { j["metrics"][1]["better"] = "bigger"; }},
      {"duplicate-key", "metrics[1].key", [](json& j) { j["metrics"][1]["key"] = "reconstruction_mse"; }},
      {"no-name", "variants[0].name", [](json& j) { j["variants"][0].erase("name"); }},
      {"kind", "variants[1].kind", [](json& j) { j["variants"][1]["kind"] = "other"; }},
      {"no-summary", "variants[2].summary", [](json& j) { j["variants"][2].erase("summary"); }},
      {"mean", "variants[0].summary.silhouette.mean",
       [](json& j) { j["variants"][0]["summary"]["silhouette"]["mean"] = "0.3"; }},
      {"summary-number", "variants[1].summary.ari_planted", [](json& j) { j["variants"][1]["summary"]["ari_planted"] = 0.8; }},
      {"sd", "variants[0].summary.reconstruction_mse.sd",
       [](json& j) { j["variants"][0]["summary"]["reconstruction_mse"]["sd"] = "small"; }},
  };
  for (const Case& c : cases) {
    json j = variants_file();
    c.edit(j);
    const auto file = dir / (c.name + ".json");
    rt::write_text(file, j.dump());
    const auto out = dir / ("out-" + c.name);
    const auto r = run_report(t, t.data, out, "--variants " + file.string());
    EXPECT_EQ(r.exit_code, 2) << c.name << ": " << r.output;
    EXPECT_NE(r.output.find(file.string()), std::string::npos) << c.name << ": " << r.output;
    EXPECT_NE(r.output.find("--variants " + c.field + ":"), std::string::npos) << c.name << ": " << r.output;
    EXPECT_FALSE(std::filesystem::exists(out / "report.json")) << c.name;
    EXPECT_FALSE(std::filesystem::exists(out / "report.html")) << c.name;
  }
  rt::write_text(dir / "malformed.json", "{\"format\": ");
  auto r = run_report(t, t.data, dir / "out-malformed", "--variants " + (dir / "malformed.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("malformed JSON"), std::string::npos) << r.output;
  r = run_report(t, t.data, dir / "out-missing", "--variants " + (dir / "missing.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("missing.json"), std::string::npos) << r.output;
}
