#include "prefscore/inputs.h"

#include <algorithm>
#include <cctype>
#include <deque>
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

// Walks one folder argument. Real folders first, depth first with an explicit stack (a deep tree
// cannot overflow the call stack), each folder's entries in name order; links to folders are
// followed afterwards, in the order met, each only when its target was not listed yet. So a
// folder is listed through its real path when it has one inside the argument, a symlink loop or a
// second link to a folder is reported once, and nothing depends on the file system's order.
struct FolderWalk {
  explicit FolderWalk(ImageListing* listing) : listing(listing) {}

  void visit(const fs::path& top) {
    std::deque<fs::path> links;
    walk_real(top, &links);
    while (!links.empty()) {
      const fs::path link = links.front();
      links.pop_front();
      walk_real(link, &links);
    }
  }

  // Lists the image files under `top` through real folders; links to folders go to `links`.
  void walk_real(const fs::path& top, std::deque<fs::path>* links) {
    std::vector<fs::path> pending = {top};
    while (!pending.empty()) {
      const fs::path dir = pending.back();
      pending.pop_back();
      std::error_code ec;
      const fs::path canonical = fs::canonical(dir, ec);
      if (ec) {
        listing->skipped.push_back(dir.string() + ": cannot resolve folder: " + ec.message());
        continue;
      }
      if (!visited.insert(canonical).second) {
        listing->warnings.push_back(dir.string() + ": folder " + canonical.string() +
                                    " is listed already (symlink loop, or a second link to it); "
                                    "not listed again");
        continue;
      }
      std::vector<fs::path> entries;
      fs::directory_iterator it(dir, ec);
      for (; !ec && it != fs::directory_iterator(); it.increment(ec)) entries.push_back(it->path());
      if (ec) {
        // Typically permission denied: what could be read of it is still listed.
        listing->skipped.push_back(dir.string() + ": cannot list folder: " + ec.message());
      }
      std::sort(entries.begin(), entries.end());
      std::vector<fs::path> subdirs;
      for (const fs::path& entry : entries) classify(entry, &subdirs, links);
      // Reversed onto the stack: the first subfolder in name order is walked first.
      pending.insert(pending.end(), subdirs.rbegin(), subdirs.rend());
    }
  }

  void classify(const fs::path& entry, std::vector<fs::path>* subdirs,
                std::deque<fs::path>* links) {
    std::error_code ec;
    const bool link = fs::is_symlink(fs::symlink_status(entry, ec));
    const fs::file_status target = fs::status(entry, ec);
    if (ec) {
      // A link that leads nowhere or into a cycle of links (ELOOP), or an entry gone meanwhile.
      if (has_image_extension(entry) || ec == std::errc::too_many_symbolic_link_levels) {
        listing->skipped.push_back(entry.string() +
                                   (link ? ": cannot follow symlink: " : ": cannot stat: ") +
                                   ec.message());
      }
      return;
    }
    if (fs::is_directory(target)) {
      if (link) {
        links->push_back(entry);
      } else {
        subdirs->push_back(entry);
      }
    } else if (fs::is_regular_file(target) && has_image_extension(entry)) {
      found.push_back(entry.string());
    }
  }

  ImageListing* listing;
  std::set<fs::path> visited;  // canonical paths of the folders listed
  std::vector<std::string> found;
};

}  // namespace

ImageListing collect_image_files(const std::vector<std::string>& paths) {
  ImageListing listing;
  for (const std::string& arg : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) throw Error(arg, "no such file or folder");
    if (!fs::is_directory(st)) {
      listing.files.push_back(arg);
      continue;
    }
    FolderWalk walk(&listing);
    walk.visit(fs::path(arg));
    std::sort(walk.found.begin(), walk.found.end());
    listing.files.insert(listing.files.end(), walk.found.begin(), walk.found.end());
  }
  return listing;
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
