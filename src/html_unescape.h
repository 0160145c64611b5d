// HTML character references, two ways: Python 3.11's html.unescape (open_clip calls it twice after
// ftfy) and ftfy 6.3.1's fixes.unescape_html (only `&name;`/`&#num;` forms, plus upper-cased
// names).
#pragma once

#include <string>

namespace prefscore::html {

// Python Lib/html/__init__.py unescape: named references from html.entities.html5 including the
// legacy ones without ';' ("&amp" and the longest such prefix of "&ampersand"), decimal and hex
// references with the HTML5 replacements for invalid numbers.
std::u32string unescape(const std::u32string& text);

// ftfy/fixes.py unescape_html: `&#?[0-9A-Za-z]{1,24};` replaced when it is an html5 entity ending
// in ';', one of ftfy's upper-cased entities, or a numeric reference html.unescape fully decodes.
std::u32string ftfy_unescape(const std::u32string& text);

}  // namespace prefscore::html
