// ftfy 6.3.1's mojibake repair: the badness heuristic (badness.py is_bad), fix_encoding
// (__init__.py _fix_encoding_one_step_and_explain), its byte-level transcoders (fixes.py
// restore_byte_a0, replace_lossy_sequences, decode_inconsistent_utf8) and codecs (chardata.py
// CHARMAP_ENCODINGS, bad_codecs/sloppy.py, bad_codecs/utf8_variants.py).
#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "ftfy_fix_text.h"
#include "ftfy_tables.h"
#include "unicode_text.h"

namespace prefscore::ftfy {
namespace {

constexpr int kLatin1 = 0;  // index of "latin-1" in kCharmaps
constexpr int kBadnessLiteralBit = 63;

uint64_t char_mask(char32_t cp) {
  const CharMask* end = kCharMasks + kCharMasksSize;
  const CharMask* it = std::lower_bound(kCharMasks, end, cp,
                                        [](const CharMask& m, char32_t key) { return m.cp < key; });
  return it != end && it->cp == cp ? it->mask : 0;
}

std::vector<uint64_t> char_masks(std::u32string_view text) {
  std::vector<uint64_t> masks(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) masks[i] = char_mask(text[i]);
  return masks;
}

bool atom_accepts(const Atom& atom, char32_t cp, uint64_t mask) {
  switch (atom.kind) {
    case Atom::kInSet:
      return (mask >> atom.value) & 1;
    case Atom::kNotInSet:
      return !((mask >> atom.value) & 1);
    case Atom::kLiteral:
      return cp == atom.value;
    case Atom::kSpace:
      return text::is_python_space(cp);
    case Atom::kWord:
      return text::is_python_word(cp);
    case Atom::kAnyButNewline:
      return cp != U'\n';
    default:
      return false;
  }
}

bool matches_at(const Atom* atom, std::u32string_view text, const std::vector<uint64_t>& masks,
                std::size_t pos) {
  switch (atom->kind) {
    case Atom::kEnd:
      return true;
    case Atom::kStart:
      return pos == 0 && matches_at(atom + 1, text, masks, pos);
    case Atom::kOptionalSpace:
      if (pos < text.size() && text::is_python_space(text[pos]) &&
          matches_at(atom + 1, text, masks, pos + 1)) {
        return true;
      }
      return matches_at(atom + 1, text, masks, pos);
    default:
      return pos < text.size() && atom_accepts(*atom, text[pos], masks[pos]) &&
             matches_at(atom + 1, text, masks, pos + 1);
  }
}

// chardata.UTF8_DETECTOR_RE at `pos`: the end of the match, or `pos` when there is none.
std::size_t utf8_detector_match(const std::vector<uint64_t>& masks, std::size_t pos) {
  const auto has = [&](std::size_t i, int bit) {
    return i < masks.size() && ((masks[i] >> bit) & 1);
  };
  if (pos > 0 && has(pos - 1, kClueContinuationStrict)) return pos;
  std::size_t end = pos;
  while (true) {
    if (has(end, kClueFirstOf2) && has(end + 1, kClueContinuation)) {
      end += 2;
    } else if (has(end, kClueFirstOf3) && has(end + 1, kClueContinuation) &&
               has(end + 2, kClueContinuation)) {
      end += 3;
    } else if (has(end, kClueFirstOf4) && has(end + 1, kClueContinuation) &&
               has(end + 2, kClueContinuation) && has(end + 3, kClueContinuation)) {
      end += 4;
    } else {
      return end;
    }
  }
}

// ---- codecs ----

// Byte of `cp` in charmap `index`, or -1 when the encoding cannot represent it.
int encode_char(int index, char32_t cp) {
  static const std::array<std::vector<std::pair<char32_t, uint8_t>>, kCharmapCount> reverse = [] {
    std::array<std::vector<std::pair<char32_t, uint8_t>>, kCharmapCount> out;
    for (int e = 0; e < kCharmapCount; ++e) {
      out[e].emplace_back(kCharmaps[e].byte_1a, 0x1A);
      for (int b = 0; b < 128; ++b) out[e].emplace_back(kCharmaps[e].high[b], 0x80 + b);
      std::sort(out[e].begin(), out[e].end());
    }
    return out;
  }();
  if (cp < 0x80 && cp != 0x1A) return static_cast<int>(cp);
  const auto& table = reverse[index];
  const auto it = std::lower_bound(table.begin(), table.end(), std::make_pair(cp, uint8_t{0}));
  return it != table.end() && it->first == cp ? it->second : -1;
}

bool possible_encoding(std::u32string_view text, int index) {
  for (char32_t cp : text) {
    if (encode_char(index, cp) < 0) return false;
  }
  return true;
}

std::string encode(std::u32string_view text, int index) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) out.push_back(static_cast<char>(encode_char(index, cp)));
  return out;
}

// Python's strict "utf-8" codec, or ftfy's "utf-8-variants" (adds CESU-8 surrogate pairs and
// Java's C0 80 for U+0000). False when the bytes do not decode.
bool decode_utf8_bytes(const std::string& bytes, bool variants, std::u32string* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  out->clear();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char lead = s[i];
    if (variants && lead == 0xC0 && i + 1 < n && s[i + 1] == 0x80) {
      out->push_back(0);
      i += 2;
      continue;
    }
    if (variants && lead == 0xED && i + 6 <= n && s[i + 1] >= 0xA0 && s[i + 1] <= 0xAF &&
        (s[i + 2] & 0xC0) == 0x80 && s[i + 3] == 0xED && s[i + 4] >= 0xB0 && s[i + 4] <= 0xBF &&
        (s[i + 5] & 0xC0) == 0x80) {
      out->push_back(((s[i + 1] & 0x0F) << 16) + ((s[i + 2] & 0x3F) << 10) +
                     ((s[i + 4] & 0x0F) << 6) + (s[i + 5] & 0x3F) + 0x10000);
      i += 6;
      continue;
    }
    if (lead < 0x80) {
      out->push_back(lead);
      ++i;
      continue;
    }
    int length;
    char32_t cp;
    char32_t min_cp;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2, cp = lead & 0x1F, min_cp = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3, cp = lead & 0x0F, min_cp = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4, cp = lead & 0x07, min_cp = 0x10000;
    } else {
      return false;
    }
    if (i + length > n) return false;
    for (int k = 1; k < length; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min_cp || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    out->push_back(cp);
    i += length;
  }
  return true;
}

// ---- byte-level regular expressions of chardata.py / fixes.py ----

struct ByteSet {
  std::array<bool, 256> has{};
  ByteSet(std::initializer_list<std::pair<int, int>> ranges) {
    for (const auto& [lo, hi] : ranges) {
      for (int b = lo; b <= hi; ++b) has[b] = true;
    }
  }
};
using BytePattern = std::vector<ByteSet>;

// Length of the first alternative matching at `pos` (Python's ordered alternation), or 0.
std::size_t match_bytes(const std::string& bytes, std::size_t pos,
                        const std::vector<BytePattern>& alternatives) {
  for (const BytePattern& pattern : alternatives) {
    if (pos + pattern.size() > bytes.size()) continue;
    bool ok = true;
    for (std::size_t k = 0; k < pattern.size() && ok; ++k) {
      ok = pattern[k].has[static_cast<unsigned char>(bytes[pos + k])];
    }
    if (ok) return pattern.size();
  }
  return 0;
}

const std::vector<BytePattern>& altered_utf8_patterns() {
  static const ByteSet sp{{0x20, 0x20}};
  static const ByteSet cont{{0x80, 0xBF}};
  static const ByteSet cont_not_85_a0{{0x80, 0x84}, {0x86, 0x9F}, {0xA1, 0xBF}};
  static const ByteSet f0{{0xF0, 0xF0}};
  static const std::vector<BytePattern> patterns = {
      {ByteSet{{0xC2, 0xC3}, {0xC5, 0xC5}, {0xCE, 0xCE}, {0xD0, 0xD0}, {0xD9, 0xD9}}, sp},
      {ByteSet{{0xE2, 0xE3}}, sp, cont_not_85_a0},
      {ByteSet{{0xE0, 0xE3}}, cont_not_85_a0, sp},
      {f0, sp, cont, cont},
      {f0, cont, sp, cont},
      {f0, cont, cont, sp},
  };
  return patterns;
}

const std::vector<BytePattern>& lossy_utf8_patterns() {
  static const ByteSet sub{{0x1A, 0x1A}};
  static const ByteSet sub_q{{0x1A, 0x1A}, {'?', '?'}};
  static const ByteSet sub_cont{{0x1A, 0x1A}, {0x80, 0xBF}};
  static const ByteSet sub_q_cont{{0x1A, 0x1A}, {'?', '?'}, {0x80, 0xBF}};
  static const ByteSet ed{{0xED, 0xED}};
  static const ByteSet high_surrogate{{0xA0, 0xAF}};
  static const ByteSet low_surrogate{{0xB0, 0xBF}};
  static const ByteSet lead3{{0xE0, 0xEF}};
  static const ByteSet lead4{{0xF0, 0xF4}};
  static const std::vector<BytePattern> patterns = {
      {ByteSet{{0xC2, 0xDF}}, sub},
      {ByteSet{{0xC2, 0xC3}}, ByteSet{{'?', '?'}}},
      {ed, high_surrogate, sub_q, ed, low_surrogate, sub_q_cont},
      {ed, high_surrogate, sub_q_cont, ed, low_surrogate, sub_q},
      {lead3, sub_q, sub_cont},
      {lead3, sub_cont, sub_q},
      {lead4, sub_q, sub_cont, sub_cont},
      {lead4, sub_cont, sub_q, sub_cont},
      {lead4, sub_cont, sub_cont, sub_q},
      {sub},
  };
  return patterns;
}

bool search_bytes(const std::string& bytes, const std::vector<BytePattern>& alternatives) {
  for (std::size_t pos = 0; pos < bytes.size(); ++pos) {
    if (match_bytes(bytes, pos, alternatives) > 0) return true;
  }
  return false;
}

// fixes.restore_byte_a0.
std::string restore_byte_a0(const std::string& bytes) {
  // A_GRAVE_WORD_RE b"\xc3 (?! |quele|quela|quilo|s )" -> b"\xc3\xa0 "
  std::string step;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (static_cast<unsigned char>(bytes[i]) == 0xC3 && i + 1 < bytes.size() &&
        bytes[i + 1] == ' ') {
      const std::string_view rest = std::string_view(bytes).substr(i + 2);
      const bool excluded = rest.rfind(" ", 0) == 0 || rest.rfind("quele", 0) == 0 ||
                            rest.rfind("quela", 0) == 0 || rest.rfind("quilo", 0) == 0 ||
                            rest.rfind("s ", 0) == 0;
      if (!excluded) {
        step += "\xc3\xa0 ";
        ++i;
        continue;
      }
    }
    step.push_back(bytes[i]);
  }
  // ALTERED_UTF8_RE: spaces inside a match become 0xA0.
  std::string out;
  std::size_t i = 0;
  while (i < step.size()) {
    const std::size_t length = match_bytes(step, i, altered_utf8_patterns());
    if (length == 0) {
      out.push_back(step[i++]);
      continue;
    }
    for (std::size_t k = 0; k < length; ++k)
      out.push_back(step[i + k] == ' ' ? '\xa0' : step[i + k]);
    i += length;
  }
  return out;
}

// fixes.replace_lossy_sequences: LOSSY_UTF8_RE -> the UTF-8 of U+FFFD.
std::string replace_lossy_sequences(const std::string& bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t length = match_bytes(bytes, i, lossy_utf8_patterns());
    if (length == 0) {
      out.push_back(bytes[i++]);
    } else {
      out += "\xef\xbf\xbd";
      i += length;
    }
  }
  return out;
}

// fixes.decode_inconsistent_utf8.
std::u32string decode_inconsistent_utf8(const std::u32string& text) {
  const std::vector<uint64_t> masks = char_masks(text);
  std::u32string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t end = utf8_detector_match(masks, i);
    if (end == i) {
      out.push_back(text[i++]);
      continue;
    }
    const std::u32string part = text.substr(i, end - i);
    out += part.size() < text.size() && is_bad(part) ? fix_encoding(part) : part;
    i = end;
  }
  return out;
}

bool has_c1(std::u32string_view text) {
  return std::any_of(text.begin(), text.end(), [](char32_t c) { return c >= 0x80 && c <= 0x9F; });
}

std::u32string fix_encoding_one_step(const std::u32string& text) {
  if (text.empty()) return text;
  if (std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x80; })) return text;
  if (!is_bad(text)) return text;
  bool latin1_possible = false;
  std::u32string fixed;
  for (int e = 0; e < kCharmapCount; ++e) {
    if (!possible_encoding(text, e)) continue;
    const std::string name = kCharmaps[e].name;
    if (e == kLatin1) latin1_possible = true;
    std::string bytes = encode(text, e);
    if (name != "macroman" && search_bytes(bytes, altered_utf8_patterns())) {
      bytes = restore_byte_a0(bytes);
    }
    if (name.rfind("sloppy", 0) == 0) bytes = replace_lossy_sequences(bytes);
    const bool variants =
        bytes.find('\xed') != std::string::npos || bytes.find('\xc0') != std::string::npos;
    if (decode_utf8_bytes(bytes, variants, &fixed)) return fixed;
  }
  const std::vector<uint64_t> masks = char_masks(text);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (utf8_detector_match(masks, i) > i) {
      fixed = decode_inconsistent_utf8(text);
      if (fixed != text) return fixed;
      break;
    }
  }
  // ftfy checks for "windows-1252" among the possible encodings, a name CHARMAP_ENCODINGS never
  // contains, so latin-1 text always gets the strict windows-1252 reading here.
  if (latin1_possible) {
    fixed = text;
    bool ok = true;
    for (char32_t& cp : fixed) {
      if (cp >= 0x80 && cp <= 0xFF) {
        cp = kStrictWindows1252[cp - 0x80];
        if (cp == 0xFFFFFFFF) ok = false;
      }
    }
    if (ok && fixed != text) return fixed;
  }
  if (has_c1(text)) return fix_c1_controls(text);
  return text;
}

}  // namespace

bool is_bad(std::u32string_view text) {
  // Every alternative needs a non-ASCII character of one of its classes or literals.
  const uint64_t kBadnessBits = (uint64_t{1} << kClueFirstOf2) - 1;
  const uint64_t any_badness = kBadnessBits | (uint64_t{1} << kBadnessLiteralBit);
  bool candidate = false;
  for (char32_t cp : text) {
    if (cp >= 0x80 && (char_mask(cp) & any_badness) != 0) {
      candidate = true;
      break;
    }
  }
  if (!candidate) return false;
  const std::vector<uint64_t> masks = char_masks(text);
  for (std::size_t pos = 0; pos <= text.size(); ++pos) {
    for (int a = 0; a < kBadnessAlternativeCount; ++a) {
      if (matches_at(kBadnessAlternatives[a], text, masks, pos)) return true;
    }
  }
  return false;
}

std::u32string fix_encoding(const std::u32string& text) {
  std::u32string current = text;
  while (true) {
    std::u32string next = fix_encoding_one_step(current);
    if (next == current) return next;
    current = std::move(next);
  }
}

}  // namespace prefscore::ftfy
