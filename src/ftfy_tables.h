// Data of ftfy 6.3.1 (chardata.py, badness.py, bad_codecs/sloppy.py), generated from the Python
// sources by scripts/make_tokenizer_tables.py into ftfy_tables.cpp.
#pragma once

#include <cstdint>

namespace prefscore::ftfy {

constexpr int kCharmapCount = 10;

// A single-byte encoding: bytes 0x00..0x7F are ASCII except 0x1A, which decodes to `byte_1a`
// (U+FFFD in the "sloppy" codecs).
struct Charmap {
  const char* name;
  char32_t byte_1a;
  char32_t high[128];  // bytes 0x80..0xFF
};

struct CharReplacement {
  char32_t cp;
  const char32_t* text;
};

// Membership of one character in the character classes below (bit i = class i).
struct CharMask {
  char32_t cp;
  uint64_t mask;
};

// One step of a badness alternative.
struct Atom {
  enum Kind : uint8_t {
    kEnd,            // end of the alternative
    kInSet,          // character in class `value`
    kNotInSet,       // character not in class `value`
    kLiteral,        // the character `value`
    kSpace,          // Python re \s
    kOptionalSpace,  // Python re \s?
    kWord,           // Python re \w
    kAnyButNewline,  // .
    kStart,          // ^ (start of the text, no character consumed)
  };
  Kind kind;
  uint32_t value;
};

extern const Charmap kCharmaps[kCharmapCount];  // chardata.CHARMAP_ENCODINGS, in order
extern const char32_t kStrictWindows1252[128];  // 0xFFFFFFFF where the byte is undefined
extern const char32_t kSloppyWindows1252C1[32];
extern const CharReplacement kWidthMap[];
extern const int kWidthMapSize;
extern const CharReplacement kLigatures[];
extern const int kLigaturesSize;
extern const CharMask kCharMasks[];  // sorted by code point
extern const int kCharMasksSize;
extern const int kClueFirstOf2;
extern const int kClueFirstOf3;
extern const int kClueFirstOf4;
extern const int kClueContinuation;
extern const int kClueContinuationStrict;
extern const Atom kBadnessAlternatives[][8];
extern const int kBadnessAlternativeCount;
extern const int kBadnessAtomsPerRow;

}  // namespace prefscore::ftfy
