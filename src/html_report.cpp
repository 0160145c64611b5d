#include "prefscore/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>

#include "html_report_assets.h"
#include "prefscore/error.h"
#include "prefscore/heatmap_io.h"
#include "prefscore/image.h"
#include "prefscore/io.h"

namespace prefscore {
namespace {

// One UTF-8 sequence at `i`: its length, or 0 when the bytes are not valid UTF-8 (overlong forms,
// surrogates and code points above U+10FFFF included).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size() || b(1) < lo || b(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  }
  return n;
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string esc(std::string_view s) { return html_escape(s); }

// Renders the sections, embedding each file once.
class Renderer {
 public:
  explicit Renderer(const HtmlReportOptions& options) : options_(options) {}

  std::size_t not_embedded() const { return not_embedded_; }

  std::string image(const ReportImage& img, int max_side) {
    if (img.path.empty()) {
      return "<img src=\"data:image/png;base64," + base64_encode(img.png) + "\" alt=\"" +
             esc(img.caption) + "\">";
    }
    const std::string key = std::to_string(max_side) + ":" + img.path;
    auto found = cache_.find(key);
    if (found == cache_.end()) {
      std::string html;
      if (embedded_ >= options_.max_thumbnails) {
        ++not_embedded_;
        html = placeholder(img.path, "not embedded: the report embeds the first " +
                                         std::to_string(options_.max_thumbnails) + " images");
      } else {
        ++embedded_;
        try {
          html = "<img src=\"data:image/png;base64," +
                 base64_encode(thumbnail_png(img.path, max_side)) + "\" alt=\"" + esc(img.path) +
                 "\" title=\"" + esc(img.path) + "\">";
        } catch (const Error& e) {
          html = placeholder(img.path, std::string("no image: ") + e.what());
        }
      }
      found = cache_.emplace(key, std::move(html)).first;
    }
    return found->second;
  }

  std::string section(const ReportSection& s) {
    return std::visit([this](const auto& v) { return render(v); }, s);
  }

 private:
  static std::string placeholder(const std::string& path, const std::string& why) {
    return "<span class=\"placeholder\" title=\"" + esc(path) + "\">" + esc(why) + "</span>";
  }

  std::string figure(const ReportImage& img, int side, bool best) {
    return std::string("<figure") + (best ? " class=\"best\"" : "") + ">" + image(img, side) +
           "<figcaption>" + (best ? "&#9733; best &middot; " : "") + esc(img.caption) +
           "</figcaption></figure>";
  }

  std::string render(const ReportTable& t) {
    std::string out = "<h2>" + esc(t.title) + "</h2>\n<table class=\"sortable\"><thead><tr>";
    const bool thumbs = !t.thumbnails.empty();
    if (thumbs) out += "<th>thumbnail</th>";
    for (const ReportColumn& c : t.columns) {
      out += std::string("<th data-kind=\"") + (c.kind == ColumnKind::kNumber ? "number" : "text") +
             "\">" + esc(c.name) + "</th>";
    }
    out += "</tr></thead>\n<tbody>\n";
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      out += "<tr>";
      if (thumbs) {
        out += "<td>" +
               (r < t.thumbnails.size() ? image(t.thumbnails[r], options_.thumbnail_side)
                                        : std::string()) +
               "</td>";
      }
      for (std::size_t c = 0; c < t.columns.size(); ++c) {
        const ReportCell cell = c < t.rows[r].size() ? t.rows[r][c] : ReportCell{};
        if (t.columns[c].kind == ColumnKind::kNumber) {
          char v[32];
          std::snprintf(v, sizeof v, "%.17g", cell.number);
          out += "<td class=\"n\" data-v=\"" + std::string(std::isfinite(cell.number) ? v : "NaN") +
                 "\">" + esc(cell.text) + "</td>";
        } else {
          out += "<td>" + esc(cell.text) + "</td>";
        }
      }
      out += "</tr>\n";
    }
    return out + "</tbody></table>\n";
  }

  std::string render(const ReportHistogram& h) {
    const HistogramBins bins = histogram_bins(h.values, h.bins);
    std::string out = "<h2>" + esc(h.title) + "</h2>\n";
    if (bins.counts.empty()) return out + "<p>No finite values.</p>\n";
    const std::size_t peak = *std::max_element(bins.counts.begin(), bins.counts.end());
    constexpr int kWidth = 640, kHeight = 220, kLeft = 40, kBottom = 40, kTop = 10;
    const double bar_width = static_cast<double>(kWidth - kLeft - 10) / bins.counts.size();
    const double width = (bins.high - bins.low) / bins.counts.size();
    out += "<svg class=\"histogram\" width=\"" + std::to_string(kWidth) + "\" height=\"" +
           std::to_string(kHeight) + "\" role=\"img\">";
    for (std::size_t i = 0; i < bins.counts.size(); ++i) {
      const double bar_height =
          peak == 0 ? 0 : (kHeight - kBottom - kTop) * static_cast<double>(bins.counts[i]) / peak;
      char rect[160];
      std::snprintf(rect, sizeof rect,
                    "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "data-count=\"%zu\">",
                    kLeft + i * bar_width, kHeight - kBottom - bar_height,
                    std::max(bar_width - 1, 1.0), bar_height, bins.counts[i]);
      const bool last = i + 1 == bins.counts.size();
      out += rect + std::string("<title>[") + format_score(bins.low + i * width) + ", " +
             format_score(last ? bins.high : bins.low + (i + 1) * width) + (last ? "]" : ")") +
             ": " + std::to_string(bins.counts[i]) + "</title></rect>";
    }
    const int axis_y = kHeight - kBottom;
    out += "<text x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(axis_y + 14) + "\">" +
           format_score(bins.low) + "</text><text x=\"" + std::to_string(kWidth - 10) + "\" y=\"" +
           std::to_string(axis_y + 14) + "\" text-anchor=\"end\">" + format_score(bins.high) +
           "</text><text x=\"" + std::to_string(kWidth / 2) + "\" y=\"" +
           std::to_string(axis_y + 32) + "\" text-anchor=\"middle\">" + esc(h.axis_label) +
           "</text><text x=\"4\" y=\"" + std::to_string(kTop + 10) + "\">" + std::to_string(peak) +
           "</text><text x=\"4\" y=\"" + std::to_string(axis_y) + "\">0</text></svg>\n<p>" +
           std::to_string(h.values.size() - bins.non_finite) + " values in " +
           std::to_string(bins.counts.size()) + " bins";
    if (bins.non_finite > 0)
      out += "; " + std::to_string(bins.non_finite) + " not finite, left out";
    return out + ".</p>\n";
  }

  std::string render(const ReportGrid& g) {
    std::string out = "<h2>" + esc(g.title) + "</h2>\n";
    for (const GridGroup& group : g.groups) {
      out += "<div class=\"group\"><h3>" + esc(group.title) + "</h3><div class=\"cands\">";
      for (const GridCandidate& c : group.candidates) {
        out += figure(c.image, options_.thumbnail_side, c.best);
      }
      out += "</div></div>\n";
    }
    return out;
  }

  std::string render(const ReportFigures& f) {
    std::string out = "<h2>" + esc(f.title) + "</h2>\n";
    for (const ReportFigure& fig : f.figures) {
      out += "<div class=\"group\"><h3>" + esc(fig.caption) + "</h3><div class=\"cands\">";
      for (const ReportImage& img : fig.images) {
        out += figure(img, options_.figure_side, /*best=*/false);
      }
      out += "</div></div>\n";
    }
    return out;
  }

  std::string render(const ReportPairs& p) {
    std::string out = "<h2>" + esc(p.title) + "</h2>\n";
    if (p.pairs.empty()) out += "<p>None.</p>\n";
    for (const ReportPair& pair : p.pairs) {
      out += "<div class=\"pair\">" + figure(pair.first, options_.thumbnail_side, false) +
             figure(pair.second, options_.thumbnail_side, false) + "<span>" + esc(pair.label) +
             "</span></div>\n";
    }
    return out;
  }

  const HtmlReportOptions& options_;
  std::map<std::string, std::string> cache_;  // "<side>:<path>" -> <img> or placeholder
  std::size_t embedded_ = 0;
  std::size_t not_embedded_ = 0;
};

}  // namespace

ReportImage file_image(const std::string& path, const std::string& caption) {
  ReportImage img;
  img.path = path;
  img.caption = caption;
  return img;
}

ReportImage png_image(std::string png_bytes, const std::string& caption) {
  ReportImage img;
  img.png = std::move(png_bytes);
  img.caption = caption;
  return img;
}

ReportCell text_cell(const std::string& text) { return {text, 0.0}; }
ReportCell number_cell(double value) { return {format_score(value), value}; }
ReportCell count_cell(long long value) {
  return {std::to_string(value), static_cast<double>(value)};
}

HistogramBins histogram_bins(const std::vector<double>& values, int bins) {
  HistogramBins out;
  std::vector<double> finite;
  for (double v : values) {
    if (std::isfinite(v)) {
      finite.push_back(v);
    } else {
      ++out.non_finite;
    }
  }
  if (finite.empty()) return out;
  const auto [lo, hi] = std::minmax_element(finite.begin(), finite.end());
  out.low = *lo;
  out.high = *hi;
  const std::size_t n = out.low == out.high ? 1 : static_cast<std::size_t>(std::max(bins, 1));
  out.counts.assign(n, 0);
  const double width = (out.high - out.low) / static_cast<double>(n);
  for (double v : finite) {
    const auto i = n == 1 ? 0 : static_cast<std::size_t>((v - out.low) / width);
    ++out.counts[std::min(i, n - 1)];
  }
  return out;
}

std::string html_escape(std::string_view text) {
  const std::string shown = printable(valid_utf8(text));
  std::string out;
  out.reserve(shown.size());
  for (char c : shown) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

ImageSize report_image_size(int width, int height, int max_side) {
  const int longer = std::max(width, height);
  if (longer <= max_side) return ImageSize{width, height};
  const double scale = static_cast<double>(max_side) / longer;
  return ImageSize{std::max(1, static_cast<int>(std::lround(width * scale))),
                   std::max(1, static_cast<int>(std::lround(height * scale)))};
}

std::string thumbnail_png(const std::string& path, int max_side) {
  const PilImage rgb = convert_to_rgb(load_image(path));
  const ImageSize size = report_image_size(rgb.width, rgb.height, max_side);
  if (size.width == rgb.width && size.height == rgb.height) return encode_png_rgb(rgb, path);
  return encode_png_rgb(pil_resize_bicubic(rgb, size.width, size.height), path);
}

std::string render_html_report(const HtmlReport& report, const HtmlReportOptions& options) {
  Renderer renderer(options);
  std::string body;
  for (const ReportSection& s : report.sections) body += renderer.section(s);
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      esc(report.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<h1>" +
      esc(report.title) + "</h1>\n";
  if (!report.command_line.empty()) {
    out += "<code class=\"cmd\">" + esc(report.command_line) + "</code>\n";
  }
  if (!report.summary.empty()) {
    out += "<table class=\"summary\"><tbody>\n";
    for (const auto& [key, value] : report.summary) {
      out += "<tr><th>" + esc(key) + "</th><td>" + esc(value) + "</td></tr>\n";
    }
    out += "</tbody></table>\n";
  }
  std::vector<std::string> notes = report.notes;
  if (renderer.not_embedded() > 0) {
    notes.push_back(std::to_string(renderer.not_embedded()) +
                    " images not embedded: a report embeds the first " +
                    std::to_string(options.max_thumbnails) + " image files");
  }
  for (const std::string& n : notes) out += "<p class=\"note\">" + esc(n) + "</p>\n";
  return out + body + "<script>" + kScript + "</script>\n</body>\n</html>\n";
}

void write_html_report(const std::string& path, const HtmlReport& report,
                       const HtmlReportOptions& options) {
  write_file_atomic(path, render_html_report(report, options));
}

}  // namespace prefscore
