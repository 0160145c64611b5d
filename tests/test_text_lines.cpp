// Bounded line reading and depth-limited JSON lines (text_lines.h).
#include <sstream>
#include <string>

#include "prefscore/error.h"
#include "prefscore/text_lines.h"
#include "test_utils.h"

using prefscore::LineRead;
using prefscore::read_line;

TEST_CASE("read_line splits like std::getline and bounds each line", "[text_lines]") {
  std::istringstream in("abc\n\nlonger line\r\nlast");
  std::string line;
  CHECK(read_line(in, 5, &line) == LineRead::kLine);
  CHECK(line == "abc");
  CHECK(read_line(in, 5, &line) == LineRead::kLine);
  CHECK(line.empty());
  // Too long: the first 5 bytes are kept, the rest of the line is skipped.
  CHECK(read_line(in, 5, &line) == LineRead::kTooLong);
  CHECK(line == "longe");
  CHECK(read_line(in, 5, &line) == LineRead::kLine);  // no final newline
  CHECK(line == "last");
  CHECK(read_line(in, 5, &line) == LineRead::kEnd);
  CHECK(line.empty());
  CHECK(read_line(in, 5, &line) == LineRead::kEnd);

  std::istringstream exact("12345\n123456");
  CHECK(read_line(exact, 5, &line) == LineRead::kLine);
  CHECK(line == "12345");
  CHECK(read_line(exact, 5, &line) == LineRead::kTooLong);
  CHECK(read_line(exact, 5, &line) == LineRead::kEnd);
}

TEST_CASE("parse_json_line refuses invalid JSON and deep nesting", "[text_lines]") {
  CHECK(prefscore::parse_json_line(R"({"a": [1, {"b": 2}]})", "f:1")["a"][1]["b"] == 2);
  CHECK_THROWS_WITH(prefscore::parse_json_line("{oops", "f:2"),
                    Catch::StartsWith("f:2: not valid JSON ("));
  const std::string at_limit = std::string(3, '[') + std::string(3, ']');
  CHECK(prefscore::parse_json_line(at_limit, "f:3", /*max_depth=*/3).is_array());
  CHECK_THROWS_WITH(prefscore::parse_json_line("[" + at_limit + "]", "f:4", /*max_depth=*/3),
                    Catch::Equals("f:4: JSON nests deeper than 3 levels"));
  CHECK_THROWS_WITH(prefscore::parse_json_line(R"({"a": {"b": {"c": {}}}})", "f:5", 3),
                    Catch::Equals("f:5: JSON nests deeper than 3 levels"));
  // A million levels (the default limit is 64) fail fast instead of overflowing the stack.
  const std::string million = std::string(1000000, '[') + std::string(1000000, ']');
  CHECK_THROWS_WITH(prefscore::parse_json_line(million, "f:6"),
                    Catch::Equals("f:6: JSON nests deeper than 64 levels"));
}
