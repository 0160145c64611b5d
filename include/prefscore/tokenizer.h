// The CLIP byte-level BPE tokenizer, reproducing id for id the two official front ends that the
// preference metrics use (LibTorch-free):
//
// - TokenizerMode::kOpenClip: open_clip's SimpleTokenizer (mlfoundations/open_clip 89fb801,
//   src/open_clip/tokenizer.py, class SimpleTokenizer and __call__; the same ids as HPS v2's
//   vendored copy). Text is cleaned as `whitespace_clean(basic_clean(text)).lower()`: ftfy.fix_text
//   (a port of ftfy 6.3.1, see below), html.unescape twice (Python 3.11 semantics, entities without
//   ';' included), strip, `" ".join(text.split())`, Python str.lower (with the final-sigma rule).
//   `<start_of_text>`/`<end_of_text>` in the text become 49406/49407, as open_clip's regex makes
//   them. Rows are `[49406] + bpe + [49407]`, cut to 77 with position 76 set to 49407, zero padded.
// - TokenizerMode::kHf: transformers' CLIPTokenizerFast (tokenizers 0.23 pipeline, dumped in
//   tests/data/tokenizer/hf_fast_pipeline.json): the added tokens `<|startoftext|>`,
//   `<|endoftext|>` (and `!` when it is the pad token) are split out of the raw text first; every
//   other segment gets NFC, `\s+` -> " " (Unicode White_Space), per-character Rust to_lowercase;
//   no ftfy, no HTML unescaping. At most 75 tokens are kept, then SOT/EOT are added; the pad id is
//   49407 (PadToken::kEndOfText, the class default) or 0 (PadToken::kBang, pad_token="!").
//
// Both modes split with the CLIP pattern
// `<special>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+` (a hand-written scanner
// over utf8proc's Unicode 15 categories; open_clip's is case-insensitive, so "'ſ" is a contraction
// there and U+0345 matches none of its classes), then run byte-level BPE with `</w>` on the
// last symbol (bpe_simple_vocab_16e6.txt.gz: the first 48,894 merges).
//
// Ported from ftfy 6.3.1 fix_text with its default config (rspeer/python-ftfy, ftfy/__init__.py,
// fixes.py, chardata.py, badness.py, bad_codecs/; Apache-2.0): per-line segments, HTML entity
// unescaping (off once a segment has '<'), the mojibake heuristic `is_bad` and fix_encoding with
// all ten charmap encodings (sloppy windows-125x, latin-1, iso-8859-2, macroman, cp437),
// restore_byte_a0, replace_lossy_sequences, utf-8-variants (CESU-8, Java NUL),
// decode_inconsistent_utf8, fix_c1_controls, fix_latin_ligatures, fix_character_width,
// uncurl_quotes, fix_line_breaks, remove_terminal_escapes, remove_control_chars and NFC, repeated
// to a fixed point, in segments of one line (at most 1,000,000 characters). Not ported:
// fix_surrogates (input is validated UTF-8 and no ported step creates surrogates, so it would
// never change anything), the explanation/plan machinery, non-default configs. Checked against
// Python ftfy 6.3.1 on ftfy's own test corpus and ~17,000 generated mojibake/HTML/control strings:
// identical output.
//
// Unicode versions: categories and case come from utf8proc (Unicode 15); Python 3.11 has
// Unicode 14, so characters assigned in 15 (e.g. CJK Extension H) may split differently from a
// Python 3.11 run (open_clip's `regex` module and Oniguruma ship their own tables).
//
// Invalid UTF-8 input is an Error naming the input. ClipTokenizer is safe to share between threads
// (its word cache is locked).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace prefscore {

enum class TokenizerMode { kOpenClip, kHf };

// The HF pad token: "<|endoftext|>" (49407, CLIPTokenizer's default) or "!" (id 0, the laion
// open_clip-converted configs); "!" is then an added special token split out of the text.
enum class PadToken { kEndOfText, kBang };

// The default limit on the UTF-8 bytes of one text: far above any prompt (77 tokens are kept),
// low enough that a runaway input (a whole file pasted as a prompt) fails at once instead of
// spending seconds in ftfy for tokens that would be dropped.
constexpr std::size_t kDefaultMaxTextBytes = std::size_t{64} << 10;  // 64 KiB

struct TokenizerOptions {
  TokenizerMode mode = TokenizerMode::kOpenClip;
  PadToken pad = PadToken::kBang;  // kHf only; open_clip always pads with 0
  // A longer text is an Error(input_name, "text is N bytes, more than the limit of M bytes ...").
  std::size_t max_text_bytes = kDefaultMaxTextBytes;

  static TokenizerOptions open_clip() { return with(TokenizerMode::kOpenClip, PadToken::kBang); }
  static TokenizerOptions hf(PadToken pad) { return with(TokenizerMode::kHf, pad); }

 private:
  static TokenizerOptions with(TokenizerMode mode, PadToken pad) {
    TokenizerOptions options;
    options.mode = mode;
    options.pad = pad;
    return options;
  }
};

struct TokenizedText {
  std::vector<int32_t> ids;  // kContextLength ids: SOT, tokens, EOT, then pad ids
  // kHf: 1 on SOT..EOT, 0 on padding. kOpenClip (which has no mask of its own): 1 on SOT..the
  // first EOT, the position open_clip pools at (an EOT in the text, "<end_of_text>", comes first).
  std::vector<int32_t> attention_mask;
  int length = 0;          // number of ids before the padding (SOT..EOT)
  bool truncated = false;  // tokens were dropped to fit kContextLength
};

class ClipTokenizer {
 public:
  static constexpr int kContextLength = 77;
  static constexpr int32_t kStartOfTextId = 49406;
  static constexpr int32_t kEndOfTextId = 49407;
  static constexpr int32_t kBangId = 0;  // "!", the HF pad id of PadToken::kBang
  static constexpr int32_t kVocabSize = 49408;
  static constexpr int kMergeCount = 48894;  // merges used: lines 1..48894 of the vocab file

  // Reads bpe_simple_vocab_16e6.txt.gz (gzip, via zlib); throws Error(path, ...) when the file is
  // missing, not gzip, or has fewer merges than needed or a malformed one.
  explicit ClipTokenizer(const std::string& vocab_path);
  ~ClipTokenizer();
  ClipTokenizer(ClipTokenizer&&) noexcept;
  ClipTokenizer& operator=(ClipTokenizer&&) noexcept;

  // The kContextLength ids and attention mask of one text. `input_name` names the text in errors
  // (e.g. "prompts.jsonl:12").
  TokenizedText encode(std::string_view text, const TokenizerOptions& options,
                       const std::string& input_name = "text") const;

  // The BPE ids of the text without SOT/EOT, truncation or padding (open_clip's `encode`; in kHf
  // mode the added tokens split out of the text appear as their ids).
  std::vector<int32_t> encode_tokens(std::string_view text, const TokenizerOptions& options,
                                     const std::string& input_name = "text") const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The text as the mode's normaliser leaves it, before splitting: for kOpenClip open_clip's
// cleaned text (ftfy, unescape, whitespace, lower); for kHf NFC + whitespace + lowercase of the
// whole text (the tokenizer itself normalises each segment between added tokens separately).
std::string normalize_text(std::string_view text, TokenizerMode mode,
                           const std::string& input_name = "text");

// The pieces the CLIP pattern splits already-normalised text into (UTF-8), in order.
std::vector<std::string> pre_tokenize(std::string_view normalized_text, TokenizerMode mode,
                                      const std::string& input_name = "text");

}  // namespace prefscore
