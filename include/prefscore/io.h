// Small file utilities every command shares: atomic writes and whole-file reads with errors that
// name the file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace prefscore {

// Reads the whole file; throws Error(path, reason) when it cannot.
std::string read_file(const std::string& path);

// Writes `contents` to `path` atomically: a temporary file next to it, fsync, then rename. A
// reader sees either the old file or the whole new one; on failure the temporary is removed and
// Error(path, reason) is thrown.
void write_file_atomic(const std::string& path, const std::string& contents);
// A fresh name next to `path` (same folder, so a rename onto `path` is atomic) for a file that is
// built there first: "<path>.tmp.<pid>.<random hex>".
std::string temporary_name(const std::string& path);

// A score as the text outputs print it: fixed, 6 decimals ("%.6f").
std::string format_score(double value);

// `text` safe to print on a terminal: C0 controls and DEL become \xNN, C1 controls (U+0080..U+009F)
// \u00NN, so names read from files (tensor names, prompts) cannot send escape sequences.
std::string printable(std::string_view text);

// Left-aligned columns separated by two spaces; the first row is the header. Cells may be UTF-8
// (width counts code points); they are printed as printable() makes them.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace prefscore
