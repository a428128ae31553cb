// The small trained run (small_run.hpp) with what the report reads besides: its metrics.json and
// metrics.jsonl, and an explanation summary. For report_test.cpp and report_browser_test.cpp; made
// once per test process.
#pragma once
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "small_run.hpp"

namespace resilinet::testing {

struct ReportRun : SmallRun {
  std::string metrics, explain;
};

inline const ReportRun& report_run() {
  static const ReportRun t = [] {
    ReportRun r;
    static_cast<SmallRun&>(r) = small_trained_run();
    r.metrics = (r.dir / "run" / "metrics.json").string();
    const auto res = run_resilinet("explain --quiet --checkpoint " + r.checkpoint + " --data '" + r.data + "' --out " +
                                   (r.dir / "explain").string());
    EXPECT_EQ(res.exit_code, 0) << res.output;
    r.explain = (r.dir / "explain" / "explain_summary.json").string();
    return r;
  }();
  return t;
}

// `resilinet report` on the run into out, with extra options; the exit code and output.
inline CommandResult run_report(const ReportRun& t, const std::filesystem::path& out, const std::string& options = "") {
  return run_resilinet("report --quiet --checkpoint " + t.checkpoint + " --data '" + t.data + "' --out " + out.string() +
                       " " + options);
}

}  // namespace resilinet::testing
