#include "prefscore/inputs.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "prefscore/csv.h"
#include "prefscore/error.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp" || ext == ".bmp";
}

std::string resolve(const fs::path& base, const std::string& image) {
  const fs::path p(image);
  return p.is_absolute() || base.empty() ? image : (base / p).string();
}

}  // namespace

std::vector<std::string> collect_image_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& arg : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) throw Error(arg, "no such file or folder");
    if (!fs::is_directory(st)) {
      files.push_back(arg);
      continue;
    }
    std::vector<std::string> found;
    std::set<fs::path> visited_dirs = {fs::canonical(arg, ec)};
    auto it = fs::recursive_directory_iterator(
        arg, fs::directory_options::follow_directory_symlink |
                 fs::directory_options::skip_permission_denied, ec);
    if (ec) throw Error(arg, "cannot list folder: " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) throw Error(arg, "cannot list folder: " + ec.message());
      if (it->is_directory(ec)) {
        // A symlink loop leads back to a folder already seen: do not descend again.
        const fs::path canonical = fs::canonical(it->path(), ec);
        if (ec || !visited_dirs.insert(canonical).second) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && has_image_extension(it->path())) {
        found.push_back(it->path().string());
      }
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

std::vector<ScoreItem> read_manifest(const std::string& path, const ManifestOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(path, "is a directory, expected a manifest file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open manifest");
  const fs::path base = fs::path(path).parent_path();
  const bool csv = fs::path(path).extension() == ".csv";
  std::vector<ScoreItem> items;
  std::string line;
  int line_no = 0;
  int image_col = -1, prompt_col = -1, group_col = -1;
  for (LineRead read; (read = read_line(in, options.max_line_bytes, &line)) != LineRead::kEnd;) {
    ++line_no;
    const std::string where = path + ":" + std::to_string(line_no);
    if (read == LineRead::kTooLong) throw Error(where, line_too_long_reason(options.max_line_bytes));
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ScoreItem item;
    if (csv) {
      const std::vector<std::string> fields = split_csv_record(line, where);
      if (image_col < 0) {
        for (std::size_t i = 0; i < fields.size(); ++i) {
          if (fields[i] == "image") image_col = static_cast<int>(i);
          if (fields[i] == "prompt") prompt_col = static_cast<int>(i);
          if (fields[i] == "group") group_col = static_cast<int>(i);
        }
        if (image_col < 0 || prompt_col < 0) {
          throw Error(where, "CSV header must name the columns image and prompt");
        }
        continue;
      }
      const int needed = std::max(image_col, std::max(prompt_col, group_col));
      if (static_cast<int>(fields.size()) <= needed) {
        throw Error(where, "has " + std::to_string(fields.size()) + " fields, the header needs " +
                               std::to_string(needed + 1));
      }
      item.image = fields[image_col];
      item.prompt = fields[prompt_col];
      if (group_col >= 0) item.group = fields[group_col];
    } else {
      const nlohmann::json j = parse_json_line(line, where);
      if (!j.is_object() || !j.contains("image") || !j["image"].is_string() ||
          !j.contains("prompt") || !j["prompt"].is_string()) {
        throw Error(where, "needs string fields \"image\" and \"prompt\"");
      }
      item.image = j["image"].get<std::string>();
      item.prompt = j["prompt"].get<std::string>();
      if (j.contains("group")) {
        item.group = j["group"].is_string() ? j["group"].get<std::string>() : j["group"].dump();
      }
    }
    if (item.image.empty()) throw Error(where, "empty image path");
    item.image = resolve(base, item.image);
    items.push_back(std::move(item));
  }
  if (in.bad()) throw Error(path, "read failed");
  if (items.empty()) throw Error(path, "manifest has no rows");
  return items;
}

}  // namespace prefscore
