#include "html_unescape.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "html_entities.h"

namespace prefscore::html {
namespace {

bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_ascii_hex(char32_t c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_ascii_alnum(char32_t c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Binary search in a table sorted by name; nullptr when absent.
const char32_t* find_entity(const Entity* table, int size, std::string_view name) {
  const Entity* end = table + size;
  const Entity* it = std::lower_bound(table, end, name, [](const Entity& e, std::string_view key) {
    return std::string_view(e.name) < key;
  });
  return it != end && std::string_view(it->name) == name ? it->text : nullptr;
}

// The ASCII prefix of text[begin, end) as a narrow string.
std::string ascii_prefix(const std::u32string& text, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end && text[i] < 0x80; ++i)
    out.push_back(static_cast<char>(text[i]));
  return out;
}

// html._replace_charref for a numeric reference; `too_big` when the digits exceed U+10FFFF.
void append_numeric(std::u32string& out, char32_t num, bool too_big) {
  if (!too_big) {
    for (int i = 0; i < kInvalidCharrefsSize; ++i) {
      if (kInvalidCharrefs[i].cp == num) {
        out += kInvalidCharrefs[i].text;
        return;
      }
    }
  }
  if (too_big || (num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
    out.push_back(0xFFFD);
    return;
  }
  for (int i = 0; i < kInvalidCodepointsSize; ++i) {
    if (num >= kInvalidCodepoints[i].first && num <= kInvalidCodepoints[i].last) return;
  }
  out.push_back(num);
}

// Parses digits of text[begin, end) in `base`, saturating above U+10FFFF.
char32_t parse_number(const std::u32string& text, std::size_t begin, std::size_t end, int base,
                      bool* too_big) {
  uint64_t value = 0;
  *too_big = false;
  for (std::size_t i = begin; i < end; ++i) {
    const char32_t c = text[i];
    const int digit = is_ascii_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
    value = value * base + digit;
    if (value > 0x10FFFF) {
      *too_big = true;
      return 0;
    }
  }
  return static_cast<char32_t>(value);
}

// html._replace_charref for a named reference s = text[begin, end) (without '&').
void append_named(std::u32string& out, const std::u32string& text, std::size_t begin,
                  std::size_t end) {
  const std::string ascii = ascii_prefix(text, begin, end);
  const std::size_t length = end - begin;
  if (ascii.size() == length) {
    if (const char32_t* value = find_entity(kHtml5Entities, kHtml5EntitiesSize, ascii)) {
      out += value;
      return;
    }
  }
  // The longest prefix (at least 2 characters, shorter than s) that is an entity.
  for (std::size_t x = std::min(length - 1, ascii.size()); x >= 2 && length >= 1; --x) {
    if (const char32_t* value =
            find_entity(kHtml5Entities, kHtml5EntitiesSize, std::string_view(ascii).substr(0, x))) {
      out += value;
      out.append(text, begin + x, length - x);
      return;
    }
  }
  out.push_back(U'&');
  out.append(text, begin, length);
}

// Tries html's _charref pattern at text[i] == '&'; returns the end of the match or i on no match.
std::size_t replace_charref(std::u32string& out, const std::u32string& text, std::size_t i) {
  const std::size_t n = text.size();
  std::size_t j = i + 1;
  if (j < n && text[j] == U'#') {
    std::size_t k = j + 1;
    int base = 10;
    if (k < n && is_ascii_digit(text[k])) {
      while (k < n && is_ascii_digit(text[k])) ++k;
    } else if (k < n && (text[k] == U'x' || text[k] == U'X') && k + 1 < n &&
               is_ascii_hex(text[k + 1])) {
      base = 16;
      ++k;
      while (k < n && is_ascii_hex(text[k])) ++k;
    } else {
      return i;  // '#' cannot start a name
    }
    bool too_big = false;
    const char32_t num = parse_number(text, base == 16 ? j + 2 : j + 1, k, base, &too_big);
    append_numeric(out, num, too_big);
    return k < n && text[k] == U';' ? k + 1 : k;
  }
  // [^\t\n\f <&#;]{1,32};?
  std::size_t k = j;
  while (k < n && k - j < 32) {
    const char32_t c = text[k];
    if (c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' ||
        c == U'#' || c == U';') {
      break;
    }
    ++k;
  }
  if (k == j) return i;
  if (k < n && text[k] == U';') ++k;
  append_named(out, text, j, k);
  return k;
}

}  // namespace

std::u32string unescape(const std::u32string& text) {
  if (text.find(U'&') == std::u32string::npos) return text;
  std::u32string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == U'&') {
      const std::size_t end = replace_charref(out, text, i);
      if (end != i) {
        i = end;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

std::u32string ftfy_unescape(const std::u32string& text) {
  if (text.find(U'&') == std::u32string::npos) return text;
  std::u32string out;
  out.reserve(text.size());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (text[i] != U'&') {
      out.push_back(text[i++]);
      continue;
    }
    // &#?[0-9A-Za-z]{1,24};
    std::size_t j = i + 1;
    const bool numeric = j < n && text[j] == U'#';
    if (numeric) ++j;
    std::size_t k = j;
    while (k < n && k - j <= 24 && is_ascii_alnum(text[k])) ++k;
    const std::size_t run = k - j;
    if (run < 1 || run > 24 || k >= n || text[k] != U';') {
      out.push_back(text[i++]);
      continue;
    }
    const std::size_t end = k + 1;
    const std::string name = ascii_prefix(text, i + 1, end);  // all ASCII here
    const char32_t* value =
        numeric ? nullptr : find_entity(kHtml5Entities, kHtml5EntitiesSize, name);
    if (value == nullptr && !numeric) {
      value = find_entity(kFtfyUpperEntities, kFtfyUpperEntitiesSize, name);
    }
    if (value != nullptr) {
      out += value;
    } else if (numeric) {
      const std::u32string match = text.substr(i, end - i);
      const std::u32string decoded = unescape(match);
      out += decoded.find(U';') == std::u32string::npos ? decoded : match;
    } else {
      out.append(text, i, end - i);
    }
    i = end;
  }
  return out;
}

}  // namespace prefscore::html
