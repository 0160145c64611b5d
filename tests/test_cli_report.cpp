// `--report FILE.html` end to end on the tiny fixture models: pages made by `score`, `rank`,
// `audit`, `eval` and `explain` opened in headless Chromium (Debian's `chromium`) at #selftest, where the
// page sorts its first table, counts its images, tables and histograms and records any script
// error into <html data-selftest>; and the errors (a report that cannot be written keeps the main
// output; --report with --shard is refused).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "pipeline_fixture.h"
#include "prefscore/io.h"
#include "test_utils.h"

using prefscore::testing::count_occurrences;
using prefscore::testing::data_path;
using prefscore::testing::pipeline_images;
using prefscore::testing::run_command;
using prefscore::testing::run_prefscore;

namespace {

namespace fs = std::filesystem;

const std::string kTiny = "--model-card " + data_path("cards/tiny-hf.json") + " --weights " +
                          data_path("models/hf") + " --precision fp32";
const std::string kPrompt0 = "a photo of an astronaut riding a horse on the moon";
const std::string kPrompt1 = "a <script>alert(1)</script> & a cat";

// The page's DOM after its scripts ran, as headless Chromium serializes it.
std::string chromium_dom(const fs::path& page) {
  if (run_command("command -v chromium >/dev/null").exit_code != 0) {
    FAIL(
        "chromium is not installed: run scripts/setup.sh (it installs Debian's chromium), which "
        "the --report tests need");
  }
  const fs::path profile = prefscore::testing::fresh_temp_dir("chromium_profile");
  const auto r =
      run_command("HOME=" + profile.string() +
                  " timeout 120 chromium --headless=new --no-sandbox --disable-gpu "
                  "--disable-dev-shm-usage --user-data-dir=" +
                  profile.string() + " --dump-dom 'file://" + page.string() + "#selftest'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// data-selftest="..." of the DOM's <html> element.
std::string selftest(const std::string& dom) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex("<html[^>]*data-selftest=\"([^\"]*)\""))) {
    return "(no data-selftest attribute)";
  }
  return m[1];
}

// A manifest of the fixture's four images under two prompts.
fs::path score_manifest(const std::string& name) {
  const fs::path dir = prefscore::testing::fixture_image_dir(name);
  std::ofstream m(dir / "manifest.jsonl");
  for (const std::string& prompt : {kPrompt0, kPrompt1}) {
    for (const std::string& image : pipeline_images()) {
      m << nlohmann::json{{"image", image}, {"prompt", prompt}}.dump() << "\n";
    }
  }
  return dir;
}

}  // namespace

TEST_CASE("score --report: the page renders in Chromium with every row, thumbnail and histogram",
          "[cli][report]") {
  const fs::path dir = score_manifest("report_score");
  const fs::path page = dir / "report.html";
  const auto r =
      run_prefscore("score " + kTiny + " --manifest " + (dir / "manifest.jsonl").string() +
                    " --format jsonl --report " + page.string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(count_occurrences(r.out, "\n") == 8);  // the main output is unchanged
  const std::string html = prefscore::testing::read_text(page);
  CHECK(count_occurrences(html, "<script>") == 1);
  CHECK(count_occurrences(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; a cat") >= 5);

  const std::string dom = chromium_dom(page);
  // 8 rows (4 images x 2 prompts) with a thumbnail each, and the grid's 2 groups of 4; tables:
  // the summary and the scores; one histogram.
  CHECK(selftest(dom) == "pass images=16 tables=2 rows=8 svg=1 sorted=tiny-hf");
  CHECK(count_occurrences(dom, "<img ") == 16);
  CHECK(count_occurrences(dom, "<figure class=\"best\">") == 2);
  CHECK(count_occurrences(dom, "<rect class=\"bar\"") == 20);
  CHECK(count_occurrences(dom, "<script") == 1);  // the prompt's <script> stayed text
  CHECK(count_occurrences(dom, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; a cat") >= 5);
}

TEST_CASE("rank --report: ranks in the table, the best of each prompt marked", "[cli][report]") {
  const fs::path dir = score_manifest("report_rank");
  const fs::path page = dir / "rank.html";
  const auto r =
      run_prefscore("rank " + kTiny + " --manifest " + (dir / "manifest.jsonl").string() +
                    " --format jsonl --report " + page.string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string dom = chromium_dom(page);
  CHECK(selftest(dom) == "pass images=16 tables=2 rows=8 svg=1 sorted=rank");
  CHECK(count_occurrences(dom, "<figure class=\"best\">") == 2);
  // The rank-1 image of the first group is the first one the JSON output lists.
  const auto best = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  REQUIRE(best["rank"] == 1);
  CHECK(count_occurrences(dom, "\u2605 best \u00b7 #1 ") == 2);
  CHECK(count_occurrences(dom, "best \u00b7 #1 " + prefscore::format_score(best["score"].get<double>()) + " " +
                       best["image"].get<std::string>()) == 1);
}

TEST_CASE("audit --report: scores, both per-image tables and the near-duplicate pairs",
          "[cli][report]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_report_audit");
  fs::create_directories(dir / "real");
  fs::create_directories(dir / "synthetic");
  const auto& images = pipeline_images();
  for (const std::string& f : images)
    fs::copy_file(data_path("pipeline/inputs/" + f), dir / "real" / f);
  fs::copy_file(dir / "real" / images[0], dir / "synthetic" / "s0.png");
  fs::copy_file(dir / "real" / images[0], dir / "synthetic" / "s1.png");
  fs::copy_file(dir / "real" / images[1], dir / "synthetic" / "s2.png");
  fs::copy_file(dir / "real" / images[2], dir / "synthetic" / "s3.png");
  const fs::path page = dir / "audit.html";
  const auto r = run_prefscore("audit " + kTiny + " --real " + (dir / "real").string() +
                               " --synthetic " + (dir / "synthetic").string() +
                               " --folds 2 --format json --report " + page.string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  const std::size_t pairs = j["unvaried_pairs"].size() + j["unoriginal_pairs"].size();
  REQUIRE(j["unoriginal_pairs"].size() >= 4);  // the planted copies
  const std::string dom = chromium_dom(page);
  // 4 + 4 table thumbnails and two per pair; the summary and the two tables; two histograms.
  CHECK(selftest(dom) == "pass images=" + std::to_string(8 + 2 * pairs) +
                             " tables=3 rows=8 svg=2 sorted=p_synthetic");
  CHECK(count_occurrences(dom, "<div class=\"pair\">") == pairs);
  CHECK(count_occurrences(dom, "<th>unrealistic</th><td>" +
                       prefscore::format_score(j["unrealistic"].get<double>()) + "</td>") == 1);
}

TEST_CASE("eval rankcorr --report: the metrics, the rows and the histogram", "[cli][report]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_report_eval");
  {
    std::ofstream rows(dir / "rows.jsonl");
    for (int i = 0; i < 6; ++i) {
      rows << nlohmann::json{{"name", "m" + std::to_string(i)},
                             {"metric", i * 0.5},
                             {"human", (i * 7) % 6}}
                  .dump()
           << "\n";
    }
  }
  const fs::path page = dir / "eval.html";
  const auto r = run_prefscore("eval rankcorr " + (dir / "rows.jsonl").string() +
                               " --format json --report " + page.string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string dom = chromium_dom(page);
  CHECK(selftest(dom) == "pass images=0 tables=2 rows=6 svg=1 sorted=metric");
  CHECK(count_occurrences(dom, "<th>kendall_tau_b</th>") == 1);
}

TEST_CASE("eval pairs --report: accuracy by threshold, every pair and their differences",
          "[cli][report]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_report_eval_pairs");
  {
    std::ofstream rows(dir / "pairs.jsonl");
    const char* labels[] = {"0", "1", "tie"};
    for (int i = 0; i < 6; ++i) {
      rows << nlohmann::json{{"split", i < 3 ? "validation" : "test"},
                             {"label", labels[i % 3]},
                             {"score_0", 0.01 * i},
                             {"score_1", 0.02}}
                  .dump()
           << "\n";
    }
  }
  const fs::path page = dir / "pairs.html";
  const auto r = run_prefscore("eval pairs " + (dir / "pairs.jsonl").string() +
                               " --format json --report " + page.string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string dom = chromium_dom(page);
  // Tables: the summary, accuracy by the 11 official thresholds, the 6 pairs; one histogram.
  CHECK(selftest(dom) == "pass images=0 tables=3 rows=17 svg=1 sorted=threshold");
  CHECK(count_occurrences(dom, "<th>test_accuracy</th>") == 1);
}

TEST_CASE("explain --report: the image beside its two overlays, and the word table",
          "[cli][report]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_report_explain");
  const fs::path page = dir / "explain.html";
  const auto r = run_prefscore("explain " + kTiny + " -p 'a red <b>cat</b>' " +
                               data_path("pipeline/inputs/img0_rgb_300x200.png") +
                               " --window 112 --stride 112 --format json --report " +
                               page.string());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["files"] == nlohmann::json::array({page.string()}));
  const std::string dom = chromium_dom(page);
  // Images: the image, its occlusion overlay and its gradient overlay (one column); tables: the
  // summary and the 3 words, sorted by their first number column, the word index.
  CHECK(selftest(dom) == "pass images=3 tables=2 rows=3 svg=0 sorted=index");
  CHECK(count_occurrences(dom, "<figcaption>occlusion</figcaption>") == 1);
  CHECK(count_occurrences(dom, "<figcaption>gradient x input</figcaption>") == 1);
  CHECK(count_occurrences(dom, "&lt;b&gt;cat&lt;/b&gt;") >= 2);  // in the summary and the word table
  CHECK(count_occurrences(dom, "<b>cat") == 0);
  CHECK(count_occurrences(dom, "misaligned-word candidates") == 1);
}

TEST_CASE("--report errors: an unwritable page keeps the main output; a shard is refused",
          "[cli][report]") {
  const std::string dir = prefscore::testing::fixture_image_dir("report_errors");
  const std::string out = dir + "/scores.jsonl";
  const std::string page = dir + "/missing/report.html";
  const auto r =
      run_prefscore("score " + kTiny + " -p x " + dir + " -o " + out + " --report " + page);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::StartsWith("prefscore: error: " + page + ": "));
  CHECK(count_occurrences(prefscore::testing::read_text(out), "\n") == 4);
  CHECK_FALSE(fs::exists(page));

  const auto shard =
      run_prefscore("score " + kTiny + " -p x " + dir + " --shard 1/2 --report " + dir + "/r.html");
  CHECK(shard.exit_code == 1);
  CHECK_THAT(shard.err, Catch::Contains("prefscore: error: --report: a shard holds only part of "
                                        "the images"));
  CHECK_FALSE(fs::exists(dir + "/r.html"));
}
