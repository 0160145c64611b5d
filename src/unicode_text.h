// Code-point level text helpers the tokenizer's normalisers share: strict UTF-8 (Python's codec
// rules), the character classes of Python's `str`/`re` and of Unicode (utf8proc 2.8, Unicode 15;
// it agrees with Python 3.11's Unicode 14 tables on every character Python knows: checked for
// categories and lower-casing over all code points), NFC, and the two lower-casing rules.
#pragma once

#include <string>
#include <string_view>

namespace prefscore::text {

// Strict UTF-8 as Python's "utf-8" codec decodes it: no overlong forms, no surrogates, nothing
// above U+10FFFF. Throws Error(input_name, "invalid UTF-8 at byte N: ...") on the first bad byte.
std::u32string decode_utf8(std::string_view bytes, const std::string& input_name);
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view text);

bool is_letter(char32_t cp);   // \p{L}
bool is_number(char32_t cp);   // \p{N}
bool is_decimal(char32_t cp);  // \p{Nd}: Python re's \d
// Unicode White_Space: `\s` of the `regex` module (open_clip) and of Oniguruma (HF tokenizers).
bool is_white_space(char32_t cp);
// Python str.isspace(), used by str.strip()/split() and by `\s` of Python's `re`: White_Space
// plus U+001C..U+001F.
bool is_python_space(char32_t cp);
// Python re's `\w` for str patterns: str.isalnum() or '_' (= \p{L}, \p{N} or '_').
bool is_python_word(char32_t cp);

// Unicode NFC (utf8proc_map with STABLE | COMPOSE).
std::u32string nfc(std::u32string text);

// Python str.lower(): full lower-case mapping (U+0130 -> "i\u0307") and the Final_Sigma rule.
std::u32string python_lower(const std::u32string& text);
// Rust char::to_lowercase per character, as tokenizers' Lowercase normaliser: U+0130 -> "i\u0307",
// capital sigma always -> U+03C3.
std::u32string rust_lower(const std::u32string& text);

// Python str.strip() with no argument.
std::u32string python_strip(const std::u32string& text);
// Python `" ".join(text.split())`.
std::u32string python_split_join(const std::u32string& text);

}  // namespace prefscore::text
