// What a scoring command scores: image files from paths and folders, or rows of a manifest
// (JSONL or CSV with `image`, `prompt` and an optional `group`).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "prefscore/text_lines.h"

namespace prefscore {

struct ScoreItem {
  std::string image;   // file path, or "#i" for row i of a --pixels batch
  std::string prompt;
  std::string group;   // candidates compared with each other; empty = the prompt's images
};

// Files given directly are kept as given (any extension); folders are walked recursively for
// files with an image extension (.png .jpg .jpeg .webp .bmp, any case), following links to
// folders. A folder reached twice (a symlink loop, or two links to one folder) is listed once and
// the link reported as a warning; a folder that cannot be listed (permission denied) and a link
// that cannot be followed (dangling image link, cycle of links) are reported as skipped, and the
// rest is listed. Files are not opened here: an unreadable file is reported when it is scored.
// File names are kept as bytes (they need not be UTF-8). `files` is sorted by path within each
// argument, arguments in the order given. Throws Error(path, ...) for a path that does not exist.
struct ImageListing {
  std::vector<std::string> files;
  std::vector<std::string> skipped;   // "path: reason", in walk order
  std::vector<std::string> warnings;  // "link: reason", in walk order
};
ImageListing collect_image_files(const std::vector<std::string>& paths);

// A manifest: .jsonl (one object per line: "image", "prompt", optional "group") or .csv (header
// row naming image, prompt and optionally group; RFC 4180 quoting). Relative image paths are
// resolved against the manifest's folder. Errors name file:line; a line longer than
// `max_line_bytes` is an error (before more of it is read), as is JSON nested deeper than
// kMaxJsonLineDepth.
struct ManifestOptions {
  std::size_t max_line_bytes = kDefaultMaxLineBytes;
};
std::vector<ScoreItem> read_manifest(const std::string& path, const ManifestOptions& options = {});

}  // namespace prefscore
