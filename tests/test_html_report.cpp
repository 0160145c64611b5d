// The HTML report page (html_report.h) without a browser: escaping of user text, the sort script
// and its column kinds, histogram bins counted by hand, thumbnails (size, aspect, placeholder for
// an undecodable file, the cap on embedded files) and base64. tests/test_cli_report.cpp opens
// real pages in headless Chromium.
#include <filesystem>
#include <fstream>
#include <string>

#include "prefscore/heatmap_io.h"
#include "prefscore/html_report.h"
#include "prefscore/image.h"
#include "test_utils.h"

using prefscore::testing::count_occurrences;
using prefscore::testing::data_path;

namespace {

namespace fs = std::filesystem;

// Decodes the base64 of the first data: URI after `from` in `page`.
std::string first_png(const std::string& page, std::size_t from = 0) {
  const std::string marker = "data:image/png;base64,";
  const std::size_t begin = page.find(marker, from);
  REQUIRE(begin != std::string::npos);
  const std::size_t start = begin + marker.size();
  const std::string b64 = page.substr(start, page.find('"', start) - start);
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int n = 0;
  for (char c : b64) {
    if (c == '=') break;
    bits = (bits << 6) | static_cast<uint32_t>(kAlphabet.find(c));
    n += 6;
    if (n >= 8) {
      n -= 8;
      out += static_cast<char>((bits >> n) & 0xFF);
    }
  }
  return out;
}

prefscore::HtmlReport one_table(const std::vector<std::string>& images) {
  prefscore::ReportTable table;
  table.title = "t";
  table.columns = {{"name", prefscore::ColumnKind::kText},
                   {"score", prefscore::ColumnKind::kNumber}};
  for (std::size_t i = 0; i < images.size(); ++i) {
    table.rows.push_back({prefscore::text_cell(images[i]), prefscore::number_cell(0.5 * i)});
    table.thumbnails.push_back(prefscore::file_image(images[i]));
  }
  prefscore::HtmlReport report;
  report.title = "test";
  report.sections.emplace_back(std::move(table));
  return report;
}

}  // namespace

TEST_CASE("html_escape: markup, quotes, controls and invalid UTF-8 stay text", "[html_report]") {
  using prefscore::html_escape;
  CHECK(html_escape("<script>alert('x')</script> & \"co\"") ==
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;");
  CHECK(html_escape("a\xff"
                    "b") ==
        "a\xEF\xBF\xBD"
        "b");                                                    // stray byte -> U+FFFD
  CHECK(html_escape("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  CHECK(html_escape("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(html_escape("caf\xC3\xA9 \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xF0\x9F\x98\x80");
  CHECK(html_escape("\x1b[31m") == "\\x1b[31m");
}

TEST_CASE("a prompt with <script> and & is shown as text in every section", "[html_report]") {
  const std::string prompt = "a <script>alert(1)</script> & a cat";
  prefscore::HtmlReport report = one_table({});
  report.title = prompt;
  report.command_line = "prefscore score -p '" + prompt + "'";
  report.summary = {{"prompt", prompt}};
  std::get<prefscore::ReportTable>(report.sections[0])
      .rows.push_back({prefscore::text_cell(prompt), prefscore::number_cell(1.0)});
  prefscore::ReportGrid grid;
  grid.title = prompt;
  grid.groups.push_back({prompt, {{prefscore::png_image("", prompt), true}}});
  report.sections.emplace_back(grid);
  const std::string page = prefscore::render_html_report(report);
  CHECK(count_occurrences(page, "<script>") == 1);  // the page's own
  CHECK(count_occurrences(page, "</script>") == 1);
  CHECK(count_occurrences(page, "a &lt;script&gt;alert(1)&lt;/script&gt; &amp; a cat") >= 6);
}

TEST_CASE("tables: sortable headers with their kind, numbers with their sort value",
          "[html_report]") {
  prefscore::HtmlReport report = one_table({});
  auto& table = std::get<prefscore::ReportTable>(report.sections[0]);
  table.rows.push_back({prefscore::text_cell("b"), prefscore::number_cell(-2.5)});
  table.rows.push_back({prefscore::text_cell("a"), prefscore::number_cell(std::nan(""))});
  const std::string page = prefscore::render_html_report(report);
  CHECK(count_occurrences(page, "<table class=\"sortable\">") == 1);
  CHECK(count_occurrences(page, "<th data-kind=\"text\">name</th>") == 1);
  CHECK(count_occurrences(page, "<th data-kind=\"number\">score</th>") == 1);
  CHECK(count_occurrences(page, "<td class=\"n\" data-v=\"-2.5\">-2.500000</td>") == 1);
  CHECK(count_occurrences(page, "<td class=\"n\" data-v=\"NaN\">nan</td>") == 1);
  // The sort and the self-check are in the page's script.
  CHECK(count_occurrences(page, "function sortTable(table, col, descending)") == 1);
  CHECK(count_occurrences(page, "location.hash === '#selftest'") == 1);
  CHECK(count_occurrences(page, "data-selftest") == 1);
}

TEST_CASE("histogram_bins: equal-width bins, the last one closed, counted by hand",
          "[html_report]") {
  // Bins of width 2 over [0, 10]: [0,2) holds 0, 1.99; [2,4) 2, 3; [4,6) nothing; [6,8) 6;
  // [8,10] 9.5, 10.
  const auto bins =
      prefscore::histogram_bins({0.0, 1.99, 2.0, 3.0, 6.0, 9.5, 10.0, std::nan(""), INFINITY}, 5);
  CHECK(bins.low == 0.0);
  CHECK(bins.high == 10.0);
  CHECK(bins.counts == std::vector<std::size_t>{2, 2, 0, 1, 2});
  CHECK(bins.non_finite == 2);

  const auto same = prefscore::histogram_bins({3.0, 3.0, 3.0}, 20);
  CHECK(same.counts == std::vector<std::size_t>{3});
  CHECK(prefscore::histogram_bins({}, 20).counts.empty());

  // The page draws one bar per bin with its count.
  prefscore::HtmlReport report;
  report.sections.emplace_back(prefscore::ReportHistogram{
      "h", "score (unitless)", {0.0, 1.99, 2.0, 3.0, 6.0, 9.5, 10.0}, 5});
  const std::string page = prefscore::render_html_report(report);
  CHECK(count_occurrences(page, "<svg class=\"histogram\"") == 1);
  CHECK(count_occurrences(page, "data-count=\"2\"") == 3);
  CHECK(count_occurrences(page, "data-count=\"1\"") == 1);
  CHECK(count_occurrences(page, "data-count=\"0\"") == 1);
  CHECK(count_occurrences(page, "[8.000000, 10.000000]: 2</title>") == 1);
  CHECK(count_occurrences(page, "score (unitless)") == 1);
}

TEST_CASE("thumbnail_png: at most max_side pixels, aspect kept, never enlarged", "[html_report]") {
  struct Case {
    std::string file;
    int max_side, width, height;
  };
  // round(200 * 128 / 300) = 85; round(180 * 128 / 260) = 89 (88.6).
  for (const Case& c :
       {Case{"img0_rgb_300x200.png", 128, 128, 85}, Case{"img1_gray_180x260.png", 128, 89, 128},
        Case{"img2_rgba_512x512.png", 64, 64, 64},
        Case{"img3_astronaut_512x512.jpg", 100, 100, 100},
        Case{"img0_rgb_300x200.png", 1000, 300, 200}}) {
    INFO(c.file << " max " << c.max_side);
    const std::string png =
        prefscore::thumbnail_png(data_path("pipeline/inputs/" + c.file), c.max_side);
    const prefscore::PilImage thumb = prefscore::decode_image(png, "thumbnail");
    CHECK(thumb.width == c.width);
    CHECK(thumb.height == c.height);
    CHECK(thumb.mode == prefscore::PilMode::kRGB);
  }
}

TEST_CASE("an undecodable image becomes a placeholder and the page still renders",
          "[html_report]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("html_report_broken");
  const std::string broken = (dir / "broken <1>.png").string();
  std::ofstream(broken) << "not a png";
  const std::string good = data_path("pipeline/inputs/img0_rgb_300x200.png");
  const std::string page = prefscore::render_html_report(one_table({broken, good}));
  CHECK(count_occurrences(page, "<img ") == 1);
  CHECK(count_occurrences(page, "class=\"placeholder\"") == 1);
  CHECK(count_occurrences(page, "no image: " + prefscore::html_escape(broken) + ": ") == 1);
  const prefscore::PilImage thumb = prefscore::decode_image(first_png(page), "thumbnail");
  CHECK(thumb.width == 128);
  CHECK(thumb.height == 85);
}

TEST_CASE("the cap: only the first max_thumbnails distinct files are embedded", "[html_report]") {
  const std::string a = data_path("pipeline/inputs/img0_rgb_300x200.png");
  const std::string b = data_path("pipeline/inputs/img1_gray_180x260.png");
  const std::string c = data_path("pipeline/inputs/img2_rgba_512x512.png");
  prefscore::HtmlReportOptions options;
  options.max_thumbnails = 2;
  // a appears twice and is decoded once: a, b embedded, c not.
  const std::string page = prefscore::render_html_report(one_table({a, b, a, c}), options);
  CHECK(count_occurrences(page, "<img ") == 3);
  CHECK(count_occurrences(page, "not embedded: the report embeds the first 2 images") == 1);
  CHECK(count_occurrences(page, "1 images not embedded: a report embeds the first 2 image files") == 1);
  CHECK(prefscore::kReportMaxThumbnails == 1000);
  CHECK(prefscore::kReportThumbnailSide == 128);
}

TEST_CASE("images made by the caller are embedded as they are; base64", "[html_report]") {
  CHECK(prefscore::base64_encode("") == "");
  CHECK(prefscore::base64_encode("f") == "Zg==");
  CHECK(prefscore::base64_encode("fo") == "Zm8=");
  CHECK(prefscore::base64_encode("foo") == "Zm9v");
  CHECK(prefscore::base64_encode("foobar") == "Zm9vYmFy");
  CHECK(prefscore::base64_encode(std::string("\xff\x00\xfe", 3)) == "/wD+");

  prefscore::PilImage image;
  image.width = 2;
  image.height = 1;
  image.pixels_u8 = {255, 0, 0, 0, 0, 255};
  const prefscore::Heatmap map{2, 1, {0.0f, 1.0f}};
  const std::string overlay = prefscore::heatmap_overlay_png(image, map, "overlay");
  prefscore::HtmlReport report;
  report.sections.emplace_back(prefscore::ReportFigures{
      "figures", {{"an image and its map", {prefscore::png_image(overlay, "occlusion")}}}});
  const std::string page = prefscore::render_html_report(report);
  CHECK(first_png(page) == overlay);
  CHECK(count_occurrences(page, "<figcaption>occlusion</figcaption>") == 1);
}

TEST_CASE("write_html_report: atomic, and an error names the file", "[html_report]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("html_report_write");
  const std::string path = (dir / "r.html").string();
  prefscore::write_html_report(path, one_table({}));
  CHECK(prefscore::testing::read_text(path) == prefscore::render_html_report(one_table({})));
  const std::string missing = (dir / "no" / "r.html").string();
  CHECK_THAT(
      prefscore::testing::error_of([&] { prefscore::write_html_report(missing, one_table({})); }),
      Catch::StartsWith(missing + ": "));
}
