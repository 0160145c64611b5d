// `--report FILE.html`: one self-contained HTML page that a command's results can be looked at in,
// offline: inline CSS, a small inline script (click a table header to sort), every image embedded
// as a data: URI, histograms drawn as inline SVG (no script needed). The commands build an
// HtmlReport (report_pages.h for score, rank, eval and audit) and write it with
// write_html_report; the page is plain data, so any command can add its own sections (explain:
// figures of an image with its heatmap overlays, and a table of words).
//
// Every text that reaches the page is escaped (file names and prompts are user input: a prompt
// "<script>" stays text), controls are shown as printable() makes them (io.h) and bytes that are
// not UTF-8 become U+FFFD, as the JSON outputs replace them.
//
// Opened as FILE.html#selftest, the page checks itself and writes the verdict into
// <html data-selftest="pass ..."> or "fail: reason" (what tests/test_report_chromium.cpp reads
// back from headless Chromium): the first table sorted by its first numeric column must come out
// in order both ways, and no script error may have happened.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "prefscore/image.h"

namespace prefscore {

// Thumbnails are shrunk to this many pixels on their longer side (never enlarged).
constexpr int kReportThumbnailSide = 128;
// Figures (an image and its overlays) are shown larger.
constexpr int kReportFigureSide = 320;
// Files embedded in one report at most; later ones are shown as a "not embedded" placeholder, so
// that the page of a 100k-image run stays a few tens of MB instead of gigabytes.
constexpr std::size_t kReportMaxThumbnails = 1000;

// An image on the page: a file, decoded and shrunk when the page is rendered (a file that cannot be
// decoded becomes a placeholder naming the reason), or PNG bytes made by the caller (a heatmap
// overlay), embedded as they are.
struct ReportImage {
  std::string path;
  std::string png;
  std::string caption;  // shown under the image in grids, figures and pairs
};
ReportImage file_image(const std::string& path, const std::string& caption = "");
ReportImage png_image(std::string png_bytes, const std::string& caption = "");

enum class ColumnKind { kText, kNumber };
struct ReportColumn {
  std::string name;
  ColumnKind kind = ColumnKind::kText;
};
// A number cell shows `text` and sorts by `number`.
struct ReportCell {
  std::string text;
  double number = 0.0;
};
ReportCell text_cell(const std::string& text);
ReportCell number_cell(double value);  // shown with 6 decimals (io.h format_score)
ReportCell count_cell(long long value);

// Rows sort on a click of a column's header: numbers numerically (NaN last), texts in JavaScript's
// string order (UTF-16 code units); the sort is stable and a second click reverses it.
struct ReportTable {
  std::string title;
  std::vector<ReportColumn> columns;
  std::vector<std::vector<ReportCell>> rows;  // each row has one cell per column
  // Empty, or one per row: a thumbnail shown in a first column.
  std::vector<ReportImage> thumbnails;
};

// Counts of `values` in `bins` equal-width bins over [min, max]; the last bin includes max. A value
// that is not finite is not counted (`non_finite` says how many). All values equal: one bin.
struct HistogramBins {
  double low = 0.0;
  double high = 0.0;
  std::vector<std::size_t> counts;
  std::size_t non_finite = 0;
};
HistogramBins histogram_bins(const std::vector<double>& values, int bins);

struct ReportHistogram {
  std::string title;
  std::string axis_label;  // what the values are, with their unit
  std::vector<double> values;
  int bins = 20;
};

// Best-of-N: each group (a prompt and its candidates), candidates in the order given; the best
// ones are marked.
struct GridCandidate {
  ReportImage image;  // its caption: the score
  bool best = false;
};
struct GridGroup {
  std::string title;  // the prompt, or the manifest group
  std::vector<GridCandidate> candidates;
};
struct ReportGrid {
  std::string title;
  std::vector<GridGroup> groups;
};

// An image next to its overlays (heatmaps), each with a caption, and a caption for the figure.
struct ReportFigure {
  std::string caption;
  std::vector<ReportImage> images;
};
struct ReportFigures {
  std::string title;
  std::vector<ReportFigure> figures;
};

// Two images side by side with a label (audit's near-duplicate pairs).
struct ReportPair {
  ReportImage first;
  ReportImage second;
  std::string label;
};
struct ReportPairs {
  std::string title;
  std::vector<ReportPair> pairs;
};

using ReportSection =
    std::variant<ReportTable, ReportHistogram, ReportGrid, ReportFigures, ReportPairs>;

struct HtmlReport {
  std::string title;                                         // e.g. "prefscore score"
  std::string command_line;                                  // how the report was made
  std::vector<std::pair<std::string, std::string>> summary;  // key, value
  std::vector<std::string> notes;  // lines shown under the summary (skipped items, caps)
  std::vector<ReportSection> sections;
};

struct HtmlReportOptions {
  int thumbnail_side = kReportThumbnailSide;          // pixels, longer side
  int figure_side = kReportFigureSide;                // pixels, longer side
  std::size_t max_thumbnails = kReportMaxThumbnails;  // files decoded and embedded at most
};

// `text` for HTML text and attribute values: & < > " ' as character references, after printable()
// and with invalid UTF-8 bytes replaced by U+FFFD.
std::string html_escape(std::string_view text);
std::string base64_encode(std::string_view bytes);

// The size an image of width x height is shown at: shrunk so that its longer side is at most
// `max_side` pixels (aspect kept, rounded, at least 1 pixel), never enlarged.
ImageSize report_image_size(int width, int height, int max_side);

// PNG bytes of the image file shrunk (Pillow bicubic) to at most `max_side` pixels on its longer
// side, aspect kept, as RGB (alpha and palettes dropped). Throws Error(path, reason) when the file
// cannot be read or decoded.
std::string thumbnail_png(const std::string& path, int max_side);

// The whole page. Files are decoded here, each at most once, the first `max_thumbnails` distinct
// ones in page order.
std::string render_html_report(const HtmlReport& report, const HtmlReportOptions& options = {});
// render_html_report written atomically (io.h); throws Error(path, reason) when it cannot be.
void write_html_report(const std::string& path, const HtmlReport& report,
                       const HtmlReportOptions& options = {});

}  // namespace prefscore
