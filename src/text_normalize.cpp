#include "text_normalize.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "ftfy_fix_text.h"
#include "html_unescape.h"
#include "unicode_text.h"

namespace prefscore::text {

constexpr int32_t kStartOfTextId = 49406;
constexpr int32_t kEndOfTextId = 49407;

namespace {

// Characters that match `<special>` or a contraction letter: open_clip's pattern is
// case-insensitive (simple case folding), under which U+017F LONG S matches "s".
bool same_letter(char32_t text_cp, char32_t pattern_cp, bool open_clip) {
  return text_cp == pattern_cp || (open_clip && pattern_cp == U's' && text_cp == 0x17F);
}

bool matches_at(const std::u32string& text, std::size_t pos, std::u32string_view pattern,
                bool open_clip) {
  if (pos + pattern.size() > text.size()) return false;
  for (std::size_t k = 0; k < pattern.size(); ++k) {
    if (!same_letter(text[pos + k], pattern[k], open_clip)) return false;
  }
  return true;
}

// [^\s\p{L}\p{N}]. Under open_clip's IGNORECASE a character is excluded when any case variant is
// in the class: U+0345 (a variant of iota) is the one such character outside it.
bool is_other(char32_t cp, bool open_clip) {
  return !is_white_space(cp) && !is_letter(cp) && !is_number(cp) && !(open_clip && cp == 0x345);
}

}  // namespace

std::vector<Piece> split_pieces(const std::u32string& text, bool open_clip) {
  static constexpr std::u32string_view kStart = U"<start_of_text>";
  static constexpr std::u32string_view kEnd = U"<end_of_text>";
  static constexpr std::u32string_view kContractions[] = {U"s", U"t",  U"re", U"ve",
                                                          U"m", U"ll", U"d"};
  std::vector<Piece> pieces;
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const char32_t cp = text[i];
    if (open_clip && cp == U'<') {
      bool found = false;
      for (const auto& [special, id] :
           {std::pair{kStart, kStartOfTextId}, std::pair{kEnd, kEndOfTextId}}) {
        if (matches_at(text, i, special, open_clip)) {
          // Only the exact string is in open_clip's cache of specials; a long-s spelling is BPE'd.
          const bool exact = text.compare(i, special.size(), special) == 0;
          pieces.push_back({i, i + special.size(), exact ? id : -1});
          i += special.size();
          found = true;
          break;
        }
      }
      if (found) continue;
    }
    if (cp == U'\'') {
      bool found = false;
      for (const std::u32string_view& rest : kContractions) {
        if (matches_at(text, i + 1, rest, open_clip)) {
          pieces.push_back({i, i + 1 + rest.size(), -1});
          i += 1 + rest.size();
          found = true;
          break;
        }
      }
      if (found) continue;
    }
    std::size_t end = i + 1;
    if (is_letter(cp)) {
      while (end < n && is_letter(text[end])) ++end;
    } else if (is_number(cp)) {
      // a single number character
    } else if (is_other(cp, open_clip)) {
      while (end < n && is_other(text[end], open_clip)) ++end;
    } else {
      i = end;  // whitespace (and U+0345 in open_clip) belongs to no piece
      continue;
    }
    pieces.push_back({i, end, -1});
    i = end;
  }
  return pieces;
}

std::u32string clean_open_clip(const std::u32string& text) {
  // ftfy and html.unescape leave printable ASCII without '&' (and tabs, newlines) unchanged.
  const bool plain = std::all_of(text.begin(), text.end(), [](char32_t c) {
    return (c >= 0x20 && c < 0x7F && c != U'&') || c == U'\t' || c == U'\n';
  });
  std::u32string cleaned = plain ? text : html::unescape(html::unescape(ftfy::fix_text(text)));
  return python_lower(python_split_join(python_strip(cleaned)));
}

std::u32string normalize_hf(const std::u32string& text) {
  const std::u32string composed = nfc(text);
  std::u32string collapsed;
  collapsed.reserve(composed.size());
  for (std::size_t i = 0; i < composed.size(); ++i) {
    if (!is_white_space(composed[i])) {
      collapsed.push_back(composed[i]);
      continue;
    }
    collapsed.push_back(U' ');
    while (i + 1 < composed.size() && is_white_space(composed[i + 1])) ++i;
  }
  return rust_lower(collapsed);
}

}  // namespace prefscore::text
