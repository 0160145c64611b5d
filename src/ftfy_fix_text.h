// A port of ftfy 6.3.1's fix_text with its default TextFixerConfig (rspeer/python-ftfy v6.3.1,
// ftfy/__init__.py fix_text, fix_and_explain, fix_encoding_and_explain; ftfy/fixes.py), the first
// step of open_clip's basic_clean. See include/prefscore/tokenizer.h for what is not ported.
#pragma once

#include <string>
#include <string_view>

namespace prefscore::ftfy {

// ftfy.fix_text(text).
std::u32string fix_text(const std::u32string& text);

// ftfy.fix_encoding(text): the mojibake repair steps only (ftfy_encoding.cpp).
std::u32string fix_encoding(const std::u32string& text);

// ftfy.badness.is_bad(text): whether the text contains a sequence typical of mojibake.
bool is_bad(std::u32string_view text);

// ftfy.fixes.fix_c1_controls: U+0080..U+009F read as sloppy windows-1252 bytes.
std::u32string fix_c1_controls(const std::u32string& text);

}  // namespace prefscore::ftfy
