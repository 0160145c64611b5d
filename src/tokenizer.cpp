// CLIP BPE tokenizer: vocabulary loading, byte-level BPE with a word cache, the HF added-token
// split, truncation and padding (normalisers and scanner: text_normalize.cpp). See
// include/prefscore/tokenizer.h for the references.
#include "prefscore/tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "prefscore/error.h"
#include "prefscore/io.h"
#include "text_normalize.h"
#include "unicode_text.h"

namespace prefscore {
namespace {

constexpr std::size_t kWordCacheLimit = 1 << 18;  // entries; the cache is emptied when full

// open_clip's bytes_to_unicode(): the byte values in vocabulary order, and each byte's character.
struct ByteAlphabet {
  std::array<uint8_t, 256> byte_of_id{};
  std::array<int32_t, 256> id_of_byte{};
  std::array<char32_t, 256> char_of_byte{};
  ByteAlphabet() {
    int next = 0;
    int extra = 0;
    std::array<bool, 256> printable{};
    for (int b = 0; b < 256; ++b) {
      printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    }
    for (int b = 0; b < 256; ++b) {
      if (!printable[b]) continue;
      byte_of_id[next++] = static_cast<uint8_t>(b);
      char_of_byte[b] = b;
    }
    for (int b = 0; b < 256; ++b) {
      if (printable[b]) continue;
      byte_of_id[next++] = static_cast<uint8_t>(b);
      char_of_byte[b] = 256 + extra++;
    }
    for (int id = 0; id < 256; ++id) id_of_byte[byte_of_id[id]] = id;
  }
};

const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

// The first `lines` newline-terminated lines of a gzip file.
std::string gunzip_lines(const std::string& path, int lines) {
  const std::string compressed = read_file(path);
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) throw Error(path, "zlib inflateInit2 failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  int newlines = 0;
  std::size_t scanned = 0;
  int status = Z_OK;
  while (newlines < lines && status != Z_STREAM_END) {
    const std::size_t old_size = out.size();
    out.resize(old_size + (1 << 18));
    stream.next_out = reinterpret_cast<Bytef*>(&out[old_size]);
    stream.avail_out = 1 << 18;
    status = inflate(&stream, Z_NO_FLUSH);
    out.resize(out.size() - stream.avail_out);
    if (status == Z_BUF_ERROR && stream.avail_in == 0) {
      inflateEnd(&stream);
      throw Error(path, "gzip data ends early (truncated file?)");
    }
    if (status != Z_OK && status != Z_STREAM_END) {
      inflateEnd(&stream);
      throw Error(
          path, std::string("not a valid gzip file (zlib: ") +
                    (stream.msg != nullptr ? stream.msg : "error " + std::to_string(status)) + ")");
    }
    for (; scanned < out.size(); ++scanned) newlines += out[scanned] == '\n';
  }
  inflateEnd(&stream);
  return out;
}

}  // namespace

struct ClipTokenizer::Impl {
  // rank of the merge (a, b), keyed by (a << 32 | b) in an open-addressing table
  std::vector<uint64_t> pair_keys;
  std::vector<int32_t> pair_ranks;
  uint64_t pair_mask = 0;
  std::vector<std::pair<int32_t, int32_t>> merges;  // by rank
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  static uint64_t slot(uint64_t key, uint64_t mask) {
    return (key * 0x9E3779B97F4A7C15ULL >> 20) & mask;
  }
  int32_t rank(int32_t a, int32_t b) const {
    const uint64_t key = (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b);
    for (uint64_t s = slot(key, pair_mask);; s = (s + 1) & pair_mask) {
      if (pair_ranks[s] < 0) return INT_MAX;
      if (pair_keys[s] == key) return pair_ranks[s];
    }
  }
  void add_pair(int32_t a, int32_t b, int32_t r) {
    const uint64_t key = (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b);
    uint64_t s = slot(key, pair_mask);
    while (pair_ranks[s] >= 0) s = (s + 1) & pair_mask;
    pair_keys[s] = key;
    pair_ranks[s] = r;
  }

  // open_clip SimpleTokenizer.bpe on the UTF-8 bytes of one piece.
  std::vector<int32_t> bpe(std::string_view piece) const {
    const ByteAlphabet& alphabet = byte_alphabet();
    std::vector<int32_t> word(piece.size());
    for (std::size_t i = 0; i < piece.size(); ++i) {
      word[i] = alphabet.id_of_byte[static_cast<uint8_t>(piece[i])];
    }
    word.back() += 256;  // the "</w>" form of the last byte
    std::vector<int32_t> next;
    while (word.size() > 1) {
      int32_t best = INT_MAX;
      for (std::size_t i = 0; i + 1 < word.size(); ++i) {
        best = std::min(best, rank(word[i], word[i + 1]));
      }
      if (best == INT_MAX) break;
      const auto [a, b] = merges[best];
      next.clear();
      for (std::size_t i = 0; i < word.size(); ++i) {
        if (word[i] == a && i + 1 < word.size() && word[i + 1] == b) {
          next.push_back(512 + best);
          ++i;
        } else {
          next.push_back(word[i]);
        }
      }
      word.swap(next);
    }
    return word;
  }

  void append_bpe(std::string_view piece, std::vector<int32_t>& out) const {
    {
      std::lock_guard<std::mutex> lock(cache_mutex);
      const auto it = cache.find(std::string(piece));
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> ids = bpe(piece);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (cache.size() >= kWordCacheLimit) cache.clear();
    cache.emplace(std::string(piece), std::move(ids));
  }
};

ClipTokenizer::ClipTokenizer(const std::string& vocab_path) : impl_(std::make_unique<Impl>()) {
  const std::string text = gunzip_lines(vocab_path, kMergeCount + 1);
  const ByteAlphabet& alphabet = byte_alphabet();
  // Token strings (bytes_to_unicode form, as in the file) -> ids, to resolve the merge lines.
  std::unordered_map<std::string, int32_t> ids;
  ids.reserve(2 * kVocabSize);
  for (int id = 0; id < 256; ++id) {
    std::string symbol;
    text::append_utf8(symbol, alphabet.char_of_byte[alphabet.byte_of_id[id]]);
    ids.emplace(symbol, id);
    ids.emplace(symbol + "</w>", 256 + id);
  }
  Impl& impl = *impl_;
  impl.pair_keys.assign(1 << 17, 0);
  impl.pair_ranks.assign(1 << 17, -1);
  impl.pair_mask = (1 << 17) - 1;
  impl.merges.reserve(kMergeCount);
  std::size_t pos = text.find('\n');  // line 0 is the "#version" header
  for (int rank = 0; rank < kMergeCount; ++rank) {
    const int line = rank + 2;
    if (pos == std::string::npos || pos + 1 >= text.size()) {
      throw Error(vocab_path, "has " + std::to_string(rank) + " merge lines, expected at least " +
                                  std::to_string(kMergeCount));
    }
    const std::size_t begin = pos + 1;
    pos = text.find('\n', begin);
    const std::string_view row(text.data() + begin,
                               (pos == std::string::npos ? text.size() : pos) - begin);
    const std::size_t space = row.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 >= row.size() ||
        row.find_first_of(" \t\r", space + 1) != std::string_view::npos) {
      throw Error(vocab_path, "line " + std::to_string(line) + ": expected two symbols separated " +
                                  "by one space, got \"" + std::string(row) + "\"");
    }
    const std::string first(row.substr(0, space));
    const std::string second(row.substr(space + 1));
    const auto a = ids.find(first);
    const auto b = ids.find(second);
    if (a == ids.end() || b == ids.end()) {
      throw Error(vocab_path, "line " + std::to_string(line) + ": symbol \"" +
                                  (a == ids.end() ? first : second) +
                                  "\" is not in the vocabulary");
    }
    const int32_t first_id = a->second;
    const int32_t second_id = b->second;
    if (!ids.emplace(first + second, 512 + rank).second) {
      throw Error(vocab_path, "line " + std::to_string(line) + ": merged token \"" + first +
                                  second + "\" is already in the vocabulary");
    }
    impl.add_pair(first_id, second_id, rank);
    impl.merges.emplace_back(first_id, second_id);
  }
}

ClipTokenizer::~ClipTokenizer() = default;
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;

std::vector<int32_t> ClipTokenizer::encode_tokens(std::string_view text,
                                                  const TokenizerOptions& options,
                                                  const std::string& input_name) const {
  if (text.size() > options.max_text_bytes) {
    throw Error(input_name, "text is " + std::to_string(text.size()) +
                                " bytes, more than the limit of " +
                                std::to_string(options.max_text_bytes) +
                                " bytes (raise it with --max-prompt-bytes)");
  }
  const std::u32string decoded = text::decode_utf8(text, input_name);
  std::vector<int32_t> out;
  std::string piece;
  const auto run = [&](const std::u32string& normalized, bool open_clip) {
    for (const text::Piece& p : text::split_pieces(normalized, open_clip)) {
      if (p.special_id >= 0) {
        out.push_back(p.special_id);
        continue;
      }
      piece.clear();
      for (std::size_t k = p.begin; k < p.end; ++k) text::append_utf8(piece, normalized[k]);
      impl_->append_bpe(piece, out);
    }
  };
  if (options.mode == TokenizerMode::kOpenClip) {
    run(text::clean_open_clip(decoded), /*open_clip=*/true);
    return out;
  }
  // HF: the added tokens are matched in the raw text (leftmost, longest first) before
  // normalisation; each segment between them is normalised and split on its own.
  static constexpr std::u32string_view kStart = U"<|startoftext|>";
  static constexpr std::u32string_view kEnd = U"<|endoftext|>";
  const bool bang = options.pad == PadToken::kBang;
  std::size_t segment_begin = 0;
  std::size_t i = 0;
  const auto flush = [&](std::size_t end) {
    if (end > segment_begin) {
      run(text::normalize_hf(decoded.substr(segment_begin, end - segment_begin)),
          /*open_clip=*/false);
    }
  };
  while (i < decoded.size()) {
    int32_t id = -1;
    std::size_t length = 0;
    if (decoded.compare(i, kStart.size(), kStart) == 0) {
      id = kStartOfTextId, length = kStart.size();
    } else if (decoded.compare(i, kEnd.size(), kEnd) == 0) {
      id = kEndOfTextId, length = kEnd.size();
    } else if (bang && decoded[i] == U'!') {
      id = kBangId, length = 1;
    }
    if (id < 0) {
      ++i;
      continue;
    }
    flush(i);
    out.push_back(id);
    i += length;
    segment_begin = i;
  }
  flush(decoded.size());
  return out;
}

TokenizedText ClipTokenizer::encode(std::string_view text, const TokenizerOptions& options,
                                    const std::string& input_name) const {
  std::vector<int32_t> tokens = encode_tokens(text, options, input_name);
  TokenizedText result;
  // open_clip cuts [SOT] + tokens + [EOT] to 77 and sets [76] = EOT; HF keeps 75 tokens and adds
  // SOT/EOT. Both keep the first 75 tokens.
  constexpr std::size_t kMaxTokens = kContextLength - 2;
  if (tokens.size() > kMaxTokens) {
    tokens.resize(kMaxTokens);
    result.truncated = true;
  }
  const bool hf_eot_pad = options.mode == TokenizerMode::kHf && options.pad == PadToken::kEndOfText;
  const int32_t pad_id = hf_eot_pad ? kEndOfTextId : kBangId;
  result.ids.assign(kContextLength, pad_id);
  result.attention_mask.assign(kContextLength, 0);
  result.ids[0] = kStartOfTextId;
  std::copy(tokens.begin(), tokens.end(), result.ids.begin() + 1);
  result.ids[tokens.size() + 1] = kEndOfTextId;
  result.length = static_cast<int>(tokens.size()) + 2;
  // open_clip has no mask: its text tower pools at the first EOT (argmax of the ids), so the mask
  // covers SOT..first EOT (the fixtures' openclip_len); HF's covers every id before the padding.
  const auto masked_end =
      options.mode == TokenizerMode::kOpenClip
          ? std::find(result.ids.begin(), result.ids.begin() + result.length, kEndOfTextId) + 1
          : result.ids.begin() + result.length;
  std::fill(result.attention_mask.begin(),
            result.attention_mask.begin() + (masked_end - result.ids.begin()), 1);
  return result;
}

std::string normalize_text(std::string_view text, TokenizerMode mode,
                           const std::string& input_name) {
  const std::u32string decoded = text::decode_utf8(text, input_name);
  return text::encode_utf8(mode == TokenizerMode::kOpenClip ? text::clean_open_clip(decoded)
                                                            : text::normalize_hf(decoded));
}

std::vector<std::string> pre_tokenize(std::string_view normalized_text, TokenizerMode mode,
                                      const std::string& input_name) {
  const std::u32string decoded = text::decode_utf8(normalized_text, input_name);
  std::vector<std::string> pieces;
  for (const text::Piece& p : text::split_pieces(decoded, mode == TokenizerMode::kOpenClip)) {
    pieces.push_back(
        text::encode_utf8(std::u32string_view(decoded).substr(p.begin, p.end - p.begin)));
  }
  return pieces;
}

}  // namespace prefscore
