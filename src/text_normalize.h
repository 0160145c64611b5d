// The two normalisers and the CLIP pre-tokenisation scanner (see include/prefscore/tokenizer.h for
// the references and the rules).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prefscore::text {

// open_clip's `whitespace_clean(basic_clean(text)).lower()`.
std::u32string clean_open_clip(const std::u32string& text);

// tokenizers' normaliser: NFC, Replace(\s+ -> " "), Lowercase.
std::u32string normalize_hf(const std::u32string& text);

// One match of the CLIP pattern: text[begin, end); `special_id` >= 0 for open_clip's
// "<start_of_text>"/"<end_of_text>" (49406/49407), -1 for pieces that go through BPE.
struct Piece {
  std::size_t begin;
  std::size_t end;
  int32_t special_id;
};

// The CLIP pattern `<special>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+` as a
// scanner; `open_clip` selects open_clip's case-insensitive variant with its specials (HF's added
// tokens are split out before normalisation and never reach it).
std::vector<Piece> split_pieces(const std::u32string& text, bool open_clip);

}  // namespace prefscore::text
