#include "prefscore/text_lines.h"

#include "prefscore/error.h"

namespace prefscore {

LineRead read_line(std::istream& in, std::size_t max_bytes, std::string* line) {
  line->clear();
  std::streambuf* buffer = in.rdbuf();
  if (buffer == nullptr || !in.good()) return LineRead::kEnd;
  bool any = false;
  bool too_long = false;
  for (;;) {
    const int c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      if (!any) return LineRead::kEnd;
      break;
    }
    any = true;
    if (c == '\n') break;
    if (line->size() < max_bytes) {
      line->push_back(static_cast<char>(c));
    } else {
      too_long = true;
    }
  }
  return too_long ? LineRead::kTooLong : LineRead::kLine;
}

std::string line_too_long_reason(std::size_t max_bytes) {
  return "line is longer than the limit of " + std::to_string(max_bytes) +
         " bytes (raise it with --max-line-bytes)";
}

nlohmann::json parse_json_line(std::string_view text, const std::string& where, int max_depth) {
  // The callback sees each value's depth as it is opened; throwing stops the parser before it
  // builds anything deeper.
  const auto limit_depth = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start ||
         event == nlohmann::json::parse_event_t::array_start) &&
        depth >= max_depth) {
      throw Error(where, "JSON nests deeper than " + std::to_string(max_depth) + " levels");
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), limit_depth);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where, std::string("not valid JSON (") + e.what() + ")");
  }
}

}  // namespace prefscore
