// Text and colour helpers of report.html (trainer/report/report_html_parts.hpp), and the Page that
// collects the sections with their ids.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "trainer/report/report_html_parts.hpp"

namespace resilinet::report_page {
namespace {

std::string rgb_hex(const int rgb[3]) { return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]); }

// Linear blend of colour stops at t in [0, 1].
template <size_t N>
std::string blend(const int (&stops)[N][3], double t) {
  const double u = std::clamp(t, 0.0, 1.0) * double(N - 1);
  const size_t i = std::min(N - 2, size_t(u));
  const double w = u - double(i);
  int rgb[3];
  for (int c = 0; c < 3; ++c) rgb[c] = int(std::lround(stops[i][c] * (1 - w) + stops[i + 1][c] * w));
  return rgb_hex(rgb);
}

// The page's style: small, printable, and readable without colour where it matters (every shaded
// cell also shows its number).
constexpr const char* kStyle =
    "body{font-family:sans-serif;margin:2em auto;max-width:1150px;padding:0 1em;color:#222;line-height:1.35}"
    "h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{margin:1.2em 0 .4em}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:90%}td,th{border:1px solid #ccc;padding:2px 7px;"
    "text-align:right}th{background:#f4f4f4}th.l,td.l{text-align:left}"
    ".sw{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:middle;border:1px solid #999}"
    ".ring{display:inline-block;width:10px;height:10px;border-radius:50%;border:2px solid #000;margin-right:5px;"
    "vertical-align:middle;background:#fc8d59}"
    ".bar{height:11px}.prio{background:#f4c7c3;font-weight:bold}.row{display:flex;gap:2em;flex-wrap:wrap}"
    ".note{color:#555;font-size:90%}.limit{background:#fff6d5;border-left:4px solid #e0b000;padding:.4em .8em}"
    ".legend{font-size:85%;margin:.3em 0}.legend span.item{margin-right:1em;white-space:nowrap}"
    "nav ul{columns:3;font-size:90%}pre{background:#f6f6f6;padding:.6em;overflow:auto;max-height:28em;font-size:85%}"
    "details{margin:.5em 0}summary{cursor:pointer}.row>section{flex:1 1 440px;max-width:540px}";

}  // namespace

void Page::open(const std::string& id, const std::string& heading, int depth) {
  ids_.push_back(id);
  if (depth == 2) contents_.emplace_back(id, heading);
  body_ += fmt::format("<section id='{}'><h{}>{}</h{}>", escape(id), depth, escape(heading), depth);
  ++open_;
}

void Page::close() {
  body_ += "</section>";
  --open_;
}

std::string Page::html(const std::string& intro) const {
  std::string toc = "<nav id='contents'><b>Contents</b><ul>";
  for (const auto& [id, heading] : contents_) toc += fmt::format("<li><a href='#{}'>{}</a></li>", escape(id), escape(heading));
  toc += "</ul></nav>";
  return fmt::format("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                     "<meta name='viewport' content='width=device-width'><title>resilinet report</title>"
                     "<style>{}</style></head><body><h1>Resilience levels: report</h1>{}{}{}</body></html>\n",
                     kStyle, intro, toc, body_);
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v) {
  if (!std::isfinite(v)) return "-";
  if (std::abs(v) >= 1000 || v == std::floor(v)) return fmt::format("{:.0f}", v);
  if (std::abs(v) >= 10) return fmt::format("{:.3g}", v);
  // Three significant digits, more where three would round a small value to a whole number: an
  // ARI of 0.99987 must not read as 1.
  for (int digits = 3; digits < 7; ++digits) {
    const std::string text = fmt::format("{:.{}g}", v, digits);
    const double shown = std::stod(text);
    if (shown != std::floor(shown)) return text;
  }
  return fmt::format("{:.7g}", v);
}

std::string number(const nlohmann::json& v) { return v.is_number() ? number(v.get<double>()) : "-"; }

std::string percent(uint64_t part, uint64_t whole) {
  return whole ? percent(double(part) / double(whole)) : "-";
}

std::string percent(double share) { return std::isfinite(share) ? fmt::format("{:.1f}%", 100.0 * share) : "-"; }

std::string level_color(int level, int levels) {
  static const int stops[5][3] = {{215, 48, 39}, {252, 141, 89}, {254, 224, 144}, {145, 191, 219}, {69, 117, 180}};
  return blend(stops, levels > 1 ? double(level - 1) / double(levels - 1) : 0.0);
}

std::string level_name(int level, int levels) {
  static const char* five[] = {"very low", "low", "medium", "high", "very high"};
  if (levels == 5) return fmt::format("{} {}", level, five[level - 1]);
  return level == 1 ? "1 lowest" : level == levels ? fmt::format("{} highest", level) : std::to_string(level);
}

std::string diverging_color(double t) {
  static const int stops[5][3] = {{214, 96, 77}, {244, 165, 130}, {247, 247, 247}, {146, 197, 222}, {67, 147, 195}};
  if (!std::isfinite(t)) return "#dddddd";
  return blend(stops, (t + 1) / 2);
}

std::string sequential_color(double t) {
  static const int stops[3][3] = {{255, 255, 255}, {158, 202, 225}, {49, 130, 189}};
  if (!std::isfinite(t)) return "#dddddd";
  return blend(stops, t);
}

std::string text_color(const std::string& background) {
  const auto channel = [&](int i) { return std::stoi(background.substr(1 + 2 * i, 2), nullptr, 16) / 255.0; };
  const double luminance = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
  return luminance < 0.45 ? "#fff" : "#222";
}

std::string shaded_cell(const std::string& text, const std::string& color, const std::string& title) {
  return fmt::format("<td style='background:{};color:{}'{}>{}</td>", color, text_color(color),
                     title.empty() ? "" : " title='" + escape(title) + "'", text);
}

std::string data_uri(const std::string& mime, const std::string& text) {
  // Only what a URI or an HTML attribute would misread is encoded, so CSV stays near its own size.
  std::string out = "data:" + mime + ";charset=utf-8,";
  for (unsigned char c : text) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ',' || c == '.' || c == '-' || c == '_' || c == ':' || c == '/')
      out += char(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

// A square table of counts, each row shaded by its own shares; the diagonal (agreement) in bold.
void count_table(Page& page, const nlohmann::json& rows, const std::string& row_label, const std::string& col_label) {
  page << fmt::format("<table><tr><th class=l>{} &darr; / {} &rarr;</th>", escape(row_label), escape(col_label));
  for (size_t c = 0; c < rows.size(); ++c) page << fmt::format("<th>{}</th>", c + 1);
  page << "<th>cells</th></tr>";
  for (size_t r = 0; r < rows.size(); ++r) {
    double total = 0;
    for (const nlohmann::json& v : rows[r]) total += v.get<double>();
    page << fmt::format("<tr><th>{}</th>", r + 1);
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const double v = rows[r][c].get<double>();
      const std::string text = r == c ? "<b>" + number(v) + "</b>" : number(v);
      page << shaded_cell(text, sequential_color(total > 0 ? v / total : 0),
                          total > 0 ? percent(v / total) + " of the row" : "");
    }
    page << fmt::format("<td>{}</td></tr>", number(total));
  }
  page << "</table>";
}

}  // namespace resilinet::report_page
