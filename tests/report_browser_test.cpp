// report.html in a real browser: headless Chromium loads the page made from a small trained run
// (report_run.hpp) and dumps the DOM it built. Every section the report says it rendered
// (report.json's section_ids) must be in that DOM, every SVG must survive parsing, and the browser
// must log no console message at all (the page has no scripts, so any message is an error: a
// resource it tried to load, a parse problem). Skipped, with a message, where chromium is not
// installed (scripts/install-deps.sh installs it; RESILINET_CHROMIUM names another binary).
#include <algorithm>
#include <cstdlib>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "report_run.hpp"

namespace rt = resilinet::testing;

namespace {

// The browser binary: $RESILINET_CHROMIUM, else chromium or chromium-browser on the PATH; "" if none.
std::string find_chromium() {
  if (const char* v = std::getenv("RESILINET_CHROMIUM"); v && *v) return v;
  for (const char* name : {"chromium", "chromium-browser"}) {
    const auto r = rt::run_command(std::string("command -v ") + name);
    if (r.exit_code == 0 && !r.output.empty()) return r.output.substr(0, r.output.find('\n'));
  }
  return "";
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

TEST(ReportBrowser, EverySectionRendersWithoutConsoleErrors) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (apt-get install chromium, or scripts/install-deps.sh)";
  const rt::ReportRun& t = rt::report_run();
  const auto out = t.dir / "browser";
  // With a scenario, so that every section kind is on the page.
  rt::write_text(t.dir / "browser.yaml", "scenarios:\n  - name: hospital\n    edits: [{add: {hospitals: 1}}]\n");
  auto r = rt::run_resilinet("scenario --quiet --checkpoint " + t.checkpoint + " --data '" + t.data + "' --scenario " +
                             (t.dir / "browser.yaml").string() + " --out " + (out / "scenarios").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = rt::run_report(t, out, "--metrics " + t.metrics + " --explain " + t.explain + " --scenarios " +
                                 (out / "scenarios" / "scenario_summary.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // A profile folder of its own (root's home may be read-only or shared); the DOM on stdout, the
  // browser's log on stderr, kept apart.
  const auto dom_file = out / "dom.html", log_file = out / "chromium.log";
  r = rt::run_command("(timeout 120 " + chromium + " --headless --no-sandbox --disable-gpu --no-first-run " +
                      "--user-data-dir=" + (out / "profile").string() + " --enable-logging=stderr --v=0 --dump-dom " +
                      "file://" + (out / "report.html").string() + " > " + dom_file.string() + " 2> " +
                      log_file.string() + ")");
  const std::string dom = rt::read_text(dom_file), log = rt::read_text(log_file);
  ASSERT_EQ(r.exit_code, 0) << r.output << log;
  ASSERT_NE(dom.find("</html>"), std::string::npos) << "no DOM came back:\n" << log;

  const auto report = nlohmann::json::parse(rt::read_text(out / "report.json"));
  const auto ids = report["section_ids"].get<std::vector<std::string>>();
  ASSERT_GT(ids.size(), 30u);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "scenario-1"), ids.end());
  for (const auto& id : ids) EXPECT_EQ(count_of(dom, "id=\"" + id + "\""), 1u) << id;
  // Sections close where they should: as many in the DOM as on the page, and none inside a table
  // or an SVG (where a stray tag would have moved it).
  const std::string html = rt::read_text(out / "report.html");
  EXPECT_EQ(count_of(dom, "<section"), count_of(html, "<section"));
  EXPECT_EQ(count_of(dom, "<svg"), count_of(html, "<svg"));
  EXPECT_EQ(count_of(dom, "</svg>"), count_of(html, "<svg"));
  EXPECT_GE(count_of(dom, "download=\"priority_cells_"), 1u);

  // Chromium writes console messages as "...:INFO:CONSOLE:<line>] "<message>", source: ...".
  std::smatch console;
  EXPECT_FALSE(std::regex_search(log, console, std::regex("CONSOLE[^\\n]*"))) << console.str();
}
