// ftfy 6.3.1 fix_text and its character-level fixers (ftfy/__init__.py, ftfy/fixes.py).
#include <algorithm>

#include "ftfy_fix_text.h"
#include "ftfy_tables.h"
#include "html_unescape.h"
#include "unicode_text.h"

namespace prefscore::ftfy {
namespace {

constexpr std::size_t kMaxDecodeLength = 1000000;  // TextFixerConfig.max_decode_length, characters

// Replaces characters through a table sorted by code point (str.translate).
std::u32string translate(const std::u32string& text, const CharReplacement* table, int size,
                         char32_t first, char32_t last) {
  std::u32string out;
  bool changed = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t cp = text[i];
    const CharReplacement* hit = nullptr;
    if (cp >= first && cp <= last) {
      const CharReplacement* end = table + size;
      const CharReplacement* it = std::lower_bound(
          table, end, cp, [](const CharReplacement& r, char32_t key) { return r.cp < key; });
      if (it != end && it->cp == cp) hit = it;
    }
    if (hit != nullptr && !changed) {
      out.assign(text, 0, i);
      changed = true;
    }
    if (hit != nullptr) {
      out += hit->text;
    } else if (changed) {
      out.push_back(cp);
    }
  }
  return changed ? out : text;
}

std::u32string fix_latin_ligatures(const std::u32string& text) {
  return translate(text, kLigatures, kLigaturesSize, kLigatures[0].cp,
                   kLigatures[kLigaturesSize - 1].cp);
}

std::u32string fix_character_width(const std::u32string& text) {
  return translate(text, kWidthMap, kWidthMapSize, kWidthMap[0].cp,
                   kWidthMap[kWidthMapSize - 1].cp);
}

std::u32string uncurl_quotes(std::u32string text) {
  for (char32_t& cp : text) {
    if (cp == 0x2BC || (cp >= 0x2018 && cp <= 0x201B)) {
      cp = U'\'';
    } else if (cp >= 0x201C && cp <= 0x201F) {
      cp = U'"';
    }
  }
  return text;
}

// "\r\n", "\r", U+2028, U+2029 and U+0085 each become "\n".
std::u32string fix_line_breaks(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t cp = text[i];
    if (cp == U'\r') {
      out.push_back(U'\n');
      if (i + 1 < text.size() && text[i + 1] == U'\n') ++i;
    } else if (cp == 0x2028 || cp == 0x2029 || cp == 0x85) {
      out.push_back(U'\n');
    } else {
      out.push_back(cp);
    }
  }
  return out;
}

// ANSI_RE "\033\[((?:\d|;)*)([a-zA-Z])" removed; \d is any Unicode decimal digit.
std::u32string remove_terminal_escapes(const std::u32string& text) {
  if (text.find(0x1B) == std::u32string::npos) return text;
  std::u32string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == 0x1B && i + 1 < text.size() && text[i + 1] == U'[') {
      std::size_t j = i + 2;
      while (j < text.size() && (text[j] == U';' || text::is_decimal(text[j]))) ++j;
      if (j < text.size() && text[j] < 0x80 &&
          ((text[j] | 0x20) >= 'a' && (text[j] | 0x20) <= 'z')) {
        i = j + 1;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

bool is_removed_control(char32_t cp) {
  return cp <= 0x08 || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F ||
         (cp >= 0x206A && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFC);
}

std::u32string remove_control_chars(std::u32string text) {
  text.erase(std::remove_if(text.begin(), text.end(), is_removed_control), text.end());
  return text;
}

// fix_and_explain(segment) without the explanation: every fixer, then NFC, until nothing changes.
std::u32string fix_segment(std::u32string text, bool unescape_html) {
  while (true) {
    const std::u32string original = text;
    if (unescape_html) text = html::ftfy_unescape(text);
    text = fix_encoding(text);
    text = fix_c1_controls(text);
    text = fix_latin_ligatures(text);
    text = fix_character_width(text);
    text = uncurl_quotes(std::move(text));
    text = fix_line_breaks(text);
    text = remove_terminal_escapes(text);
    text = remove_control_chars(std::move(text));
    text = text::nfc(std::move(text));
    if (text == original) return text;
  }
}

}  // namespace

std::u32string fix_c1_controls(const std::u32string& text) {
  std::u32string out = text;
  for (char32_t& cp : out) {
    if (cp >= 0x80 && cp <= 0x9F) cp = kSloppyWindows1252C1[cp - 0x80];
  }
  return out;
}

std::u32string fix_text(const std::u32string& text) {
  // unescape_html="auto": on until a segment contains '<', then off for the rest of the text.
  bool unescape_html = true;
  std::u32string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t newline = text.find(U'\n', pos);
    std::size_t end = newline == std::u32string::npos ? text.size() : newline + 1;
    end = std::min(end, pos + kMaxDecodeLength);
    std::u32string segment = text.substr(pos, end - pos);
    if (unescape_html && segment.find(U'<') != std::u32string::npos) unescape_html = false;
    out += fix_segment(std::move(segment), unescape_html);
    pos = end;
  }
  return out;
}

}  // namespace prefscore::ftfy
