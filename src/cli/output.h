// Where a command's result goes: stdout, or a file written atomically (-o), in the format asked
// for or chosen from the destination; and how skipped inputs are reported.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "commands.h"
#include "prefscore/html_report.h"

namespace prefscore::cli {

// "table" on a terminal, "jsonl" otherwise; with -o, from the extension (.csv, else jsonl).
std::string resolve_format(const std::string& requested, const std::string& output_path);
// Writes to stdout when `path` is empty, else atomically to `path`.
void emit(const std::string& text, const std::string& path);
// One stderr line per skipped input: "prefscore: skipped: <path>: <reason>".
void print_skipped(const std::vector<std::string>& skipped);
// print_skipped, and exit code 3 when anything was skipped.
void report_skipped(const std::vector<std::string>& skipped, Context& context);
// `--report FILE.html` on `cmd`; `what` says what the page shows, `thumbnails` whether it embeds
// image files (the help then states the caps).
void add_report_flag(CLI::App& cmd, std::string& path, const std::string& what, bool thumbnails);
// Writes the page `make_page` builds (html_report.h) to `path`, titled "prefscore <command>" with
// the command line; when `path` is empty, nothing: the page is not even built (a run without
// --report pays nothing for it). Called after the main output is written, so that a report that
// cannot be written (Error naming the file, exit 1) does not lose it.
void write_report(const std::string& path, const std::string& command,
                  const std::function<HtmlReport()>& make_page, const Context& context);
// A progress line on stderr when it is a terminal: images done, images/s, ETA.
class Progress {
 public:
  explicit Progress(std::string what);
  void operator()(std::size_t done, std::size_t total);
  void finish();

 private:
  std::string what_;
  bool enabled_;
  double start_;
};

}  // namespace prefscore::cli
