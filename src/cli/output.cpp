#include "output.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "prefscore/io.h"

namespace prefscore::cli {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void add_report_flag(CLI::App& cmd, std::string& path, const std::string& what,
                     bool thumbnails) {
  const std::string limits = thumbnails ? "; thumbnails of the first " +
                                              std::to_string(kReportMaxThumbnails) +
                                              " image files, at most " +
                                              std::to_string(kReportThumbnailSide) +
                                              " pixels on their longer side"
                                        : "";
  cmd.add_option("--report", path,
                 "Also write a self-contained HTML page, viewable offline: " + what + limits +
                     " [default: none]")
      ->type_name("FILE.html");
}

void write_report(const std::string& path, const std::string& command,
                  const std::function<HtmlReport()>& make_page, const Context& context) {
  if (path.empty()) return;
  HtmlReport page = make_page();
  page.title = "prefscore " + command;
  page.command_line = context.command_line;
  write_html_report(path, page);
}

std::string resolve_format(const std::string& requested, const std::string& output_path) {
  if (!requested.empty()) return requested;
  if (!output_path.empty()) {
    const bool csv = output_path.size() >= 4 && output_path.compare(output_path.size() - 4, 4, ".csv") == 0;
    return csv ? "csv" : "jsonl";
  }
  return ::isatty(STDOUT_FILENO) ? "table" : "jsonl";
}

void emit(const std::string& text, const std::string& path) {
  if (path.empty()) {
    std::cout << text;
    std::cout.flush();
  } else {
    write_file_atomic(path, text);
  }
}

void print_skipped(const std::vector<std::string>& skipped) {
  for (const std::string& s : skipped) std::cerr << "prefscore: skipped: " << s << "\n";
}

void report_skipped(const std::vector<std::string>& skipped, Context& context) {
  print_skipped(skipped);
  if (!skipped.empty()) context.exit_code = kExitSkipped;
}

Progress::Progress(std::string what)
    : what_(std::move(what)), enabled_(::isatty(STDERR_FILENO) != 0), start_(now_seconds()) {}

void Progress::operator()(std::size_t done, std::size_t total) {
  if (!enabled_ || total == 0) return;
  const double elapsed = now_seconds() - start_;
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
  std::fprintf(stderr, "\r%s %zu/%zu  %.2f images/s  ETA %.0f s   ", what_.c_str(), done, total,
               rate, eta);
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace prefscore::cli
