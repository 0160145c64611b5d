#include "prefscore/click_heatmap.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "prefscore/error.h"
#include "prefscore/image.h"
#include "prefscore/io.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;

int positive_int(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < 1 ||
      j[key].get<int64_t>() > 1'000'000) {
    throw Error(where, std::string("\"") + key + "\" must be an integer in [1, 1000000], got " +
                           j[key].dump());
  }
  return static_cast<int>(j[key].get<int64_t>());
}

// One line: the image (resolved), its size (from the line or the image header) and its clicks.
ClickedImage parse_line(const nlohmann::json& j, const fs::path& base, const std::string& where) {
  if (!j.is_object() || !j.contains("image") || !j["image"].is_string() ||
      j["image"].get<std::string>().empty() || !j.contains("clicks") || !j["clicks"].is_array()) {
    throw Error(where, "needs a non-empty string \"image\" and an array \"clicks\" of [x, y]");
  }
  ClickedImage out;
  const fs::path image(j["image"].get<std::string>());
  out.image = image.is_absolute() || base.empty() ? image.string() : (base / image).string();
  const bool has_w = j.contains("width"), has_h = j.contains("height");
  if (has_w != has_h) throw Error(where, "give both \"width\" and \"height\", or neither");
  if (has_w) {
    out.width = positive_int(j, "width", where);
    out.height = positive_int(j, "height", where);
  } else {
    const ImageHeader header = read_image_header(read_file(out.image), out.image);
    out.width = header.width;
    out.height = header.height;
  }
  for (const nlohmann::json& c : j["clicks"]) {
    if (!c.is_array() || c.size() != 2 || !c[0].is_number() || !c[1].is_number()) {
      throw Error(where, "each click must be [x, y] (numbers), got " + c.dump());
    }
    const ClickPoint p{c[0].get<double>(), c[1].get<double>()};
    if (!(p.x >= 0 && p.x <= out.width && p.y >= 0 && p.y <= out.height)) {
      throw Error(where, "click " + c.dump() + " is outside the " + std::to_string(out.width) +
                             "x" + std::to_string(out.height) + " image");
    }
    out.clicks.push_back(p);
  }
  out.annotations = 1;
  return out;
}

}  // namespace

ClickSet read_clicks(const std::string& path, std::size_t max_line_bytes) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(path, "is a directory, expected a JSONL file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open clicks file");
  const fs::path base = fs::path(path).parent_path();
  ClickSet set;
  std::map<std::string, std::size_t> index;  // image -> position in set.images
  std::string line;
  int line_no = 0;
  for (LineRead read; (read = read_line(in, max_line_bytes, &line)) != LineRead::kEnd;) {
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no);
    if (read == LineRead::kTooLong) throw Error(where, line_too_long_reason(max_line_bytes));
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      ClickedImage item = parse_line(parse_json_line(line, where), base, where);
      const auto [it, inserted] = index.emplace(item.image, set.images.size());
      if (inserted) {
        set.images.push_back(std::move(item));
        continue;
      }
      ClickedImage& pooled = set.images[it->second];
      if (pooled.width != item.width || pooled.height != item.height) {
        throw Error(where, "size " + std::to_string(item.width) + "x" +
                               std::to_string(item.height) + " differs from the " +
                               std::to_string(pooled.width) + "x" + std::to_string(pooled.height) +
                               " of an earlier line for " + item.image);
      }
      pooled.clicks.insert(pooled.clicks.end(), item.clicks.begin(), item.clicks.end());
      ++pooled.annotations;
    } catch (const Error& e) {
      // An unreadable image is named by its own path; say which line asked for it.
      const std::string what = e.what();
      set.skipped.push_back(what.compare(0, where.size(), where) == 0 ? what : where + ": " + what);
    }
  }
  if (in.bad()) throw Error(path, "read failed");
  return set;
}

double click_sigma_pixels(int width, int height, double sigma_fraction) {
  return sigma_fraction * static_cast<double>(std::min(width, height));
}

std::vector<float> click_heatmap(int width, int height, const std::vector<ClickPoint>& clicks,
                                 double sigma_fraction) {
  if (width < 1 || height < 1) {
    throw Error("", "heatmap size must be at least 1x1, got " + std::to_string(width) + "x" +
                        std::to_string(height));
  }
  if (!(sigma_fraction > 0)) {
    throw Error("", "sigma fraction must be > 0, got " + std::to_string(sigma_fraction));
  }
  const double sigma = click_sigma_pixels(width, height, sigma_fraction);
  const double inv_two_var = 1.0 / (2.0 * sigma * sigma);
  const std::size_t w = static_cast<std::size_t>(width), h = static_cast<std::size_t>(height);
  std::vector<double> sum(w * h, 0.0);
  // exp(-(dx² + dy²)/2σ²) = exp(-dx²/2σ²)·exp(-dy²/2σ²): one row and one column of factors per
  // click instead of an exp per pixel.
  std::vector<double> fx(w), fy(h);
  for (const ClickPoint& p : clicks) {
    for (std::size_t c = 0; c < w; ++c) {
      const double d = static_cast<double>(c) - p.x;
      fx[c] = std::exp(-d * d * inv_two_var);
    }
    for (std::size_t r = 0; r < h; ++r) {
      const double d = static_cast<double>(r) - p.y;
      fy[r] = std::exp(-d * d * inv_two_var);
    }
    for (std::size_t r = 0; r < h; ++r) {
      double* row = sum.data() + r * w;
      for (std::size_t c = 0; c < w; ++c) row[c] += fy[r] * fx[c];
    }
  }
  const double peak = *std::max_element(sum.begin(), sum.end());
  std::vector<float> map(w * h, 0.0f);
  if (peak > 0) {
    for (std::size_t i = 0; i < map.size(); ++i) map[i] = static_cast<float>(sum[i] / peak);
  }
  return map;
}

}  // namespace prefscore
