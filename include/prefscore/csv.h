// CSV records as the manifests and eval inputs use them: RFC 4180 quoting (a field in double
// quotes may hold commas; a doubled quote is one quote), one record per line (a quoted field may
// not span lines), a header row naming the columns.
#pragma once

#include <string>
#include <vector>

namespace prefscore {

// The fields of one line; `where` ("FILE:LINE") names it in the Error thrown for an unterminated
// quote. A trailing '\r' (CRLF files) is dropped.
std::vector<std::string> split_csv_record(const std::string& line, const std::string& where);

// A field quoted when it needs to be (comma, quote, CR or LF inside).
std::string csv_field(const std::string& text);

}  // namespace prefscore
