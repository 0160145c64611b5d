// Reading line-oriented text input (manifests, JSON lines) without trusting its shape: a line has a
// byte limit, so a file without newlines cannot make a reader hold all of it, and a JSON line has a
// nesting limit (nlohmann's parser is iterative, but dump() recurses once per level, so a line of a
// million '[' would overflow the stack when an error message prints it).
#pragma once

#include <cstddef>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace prefscore {

// The default line limit of manifests and JSON-lines inputs: 1 MiB (a row is an image path and a
// prompt, far below that).
constexpr std::size_t kDefaultMaxLineBytes = std::size_t{1} << 20;
// The deepest JSON nesting accepted in one line; rows prefscore reads are 2 levels deep.
constexpr int kMaxJsonLineDepth = 64;

enum class LineRead { kLine, kTooLong, kEnd };

// Like std::getline (the '\n' is dropped; the last line may lack one) but keeps at most
// `max_bytes` bytes of a line: a longer one returns kTooLong with its first `max_bytes` bytes in
// `line`, and the rest of it is consumed, so the next call starts at the next line. kEnd: no
// bytes were left.
LineRead read_line(std::istream& in, std::size_t max_bytes, std::string* line);

// The error for a kTooLong line: "line is longer than the limit of N bytes (raise it with
// --max-line-bytes)".
std::string line_too_long_reason(std::size_t max_bytes);

// Parses one JSON value; throws Error(where, ...) for invalid JSON or nesting deeper than
// `max_depth` levels. Also the reader of small whole-file JSON inputs (model cards, config.json,
// the weights digest records), which get the same limit.
nlohmann::json parse_json_line(std::string_view text, const std::string& where,
                               int max_depth = kMaxJsonLineDepth);

}  // namespace prefscore
