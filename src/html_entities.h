// Tables for Python's html.unescape and ftfy's unescape_html, generated from Python 3.11's html
// module and ftfy 6.3.1 by scripts/make_tokenizer_tables.py into html_entities.cpp.
#pragma once

namespace prefscore::html {

struct Entity {
  const char* name;  // without the leading '&'; with the trailing ';' where the table has it
  const char32_t* text;
};
struct CharReplacement {
  char32_t cp;
  const char32_t* text;
};
struct CodepointRange {
  char32_t first;
  char32_t last;
};

extern const Entity kHtml5Entities[];  // html.entities.html5, sorted by name (strcmp)
extern const int kHtml5EntitiesSize;
extern const Entity kFtfyUpperEntities[];  // ftfy's "&NTILDE;"-style additions, sorted by name
extern const int kFtfyUpperEntitiesSize;
extern const CharReplacement kInvalidCharrefs[];  // html._invalid_charrefs, sorted
extern const int kInvalidCharrefsSize;
extern const CodepointRange kInvalidCodepoints[];  // html._invalid_codepoints as sorted ranges
extern const int kInvalidCodepointsSize;

}  // namespace prefscore::html
