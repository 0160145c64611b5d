// CLIP tokenizer: every golden case of tests/data/tokenizer/cases.jsonl in both modes and both HF
// pad variants (ids and attention masks, exact), plus unit tests for each rule.
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/tokenizer.h"
#include "test_utils.h"

namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using prefscore::ClipTokenizer;
using prefscore::PadToken;
using prefscore::TokenizerMode;
using prefscore::TokenizerOptions;

const std::string kVocab =
    std::string(PREFSCORE_MODELS_DIR) + "/vocab/bpe_simple_vocab_16e6.txt.gz";

const ClipTokenizer& tokenizer() {
  static const ClipTokenizer instance(kVocab);
  return instance;
}

std::vector<int32_t> ints(const nlohmann::json& value) { return value.get<std::vector<int32_t>>(); }

std::string show(const std::vector<int32_t>& v) {
  std::ostringstream out;
  for (std::size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  return out.str();
}

// Empty when equal, else where the first difference is.
std::string diff(const std::vector<int32_t>& got, const std::vector<int32_t>& want) {
  if (got == want) return "";
  std::size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return "first difference at index " + std::to_string(i) + "\n  got  [" + show(got) +
         "]\n  want [" + show(want) + "]";
}

std::vector<int32_t> open_clip_mask(int length) {
  std::vector<int32_t> mask(ClipTokenizer::kContextLength, 0);
  for (int i = 0; i < length; ++i) mask[i] = 1;
  return mask;
}

std::vector<std::string> pieces(const std::string& text, TokenizerMode mode) {
  return prefscore::pre_tokenize(prefscore::normalize_text(text, mode), mode);
}

std::vector<int32_t> tokens(const std::string& text, const TokenizerOptions& options) {
  return tokenizer().encode_tokens(text, options);
}

}  // namespace

TEST_CASE("every golden case, both modes, both HF pad ids", "[tokenizer]") {
  std::ifstream file(prefscore::testing::data_path("tokenizer/cases.jsonl"));
  REQUIRE(file);
  const TokenizerOptions open_clip = TokenizerOptions::open_clip();
  const TokenizerOptions hf_eot = TokenizerOptions::hf(PadToken::kEndOfText);
  const TokenizerOptions hf_bang = TokenizerOptions::hf(PadToken::kBang);
  int cases = 0;
  int open_clip_ok = 0;
  int hf_eot_ok = 0;
  int hf_bang_ok = 0;
  std::string line;
  while (std::getline(file, line)) {
    const nlohmann::json c = nlohmann::json::parse(line);
    const std::string text = c["text"].get<std::string>();
    ++cases;
    INFO("case " << c["id"] << " (" << c["category"].get<std::string>()
                 << "): " << c["text"].dump());

    CHECK(prefscore::normalize_text(text, TokenizerMode::kOpenClip) ==
          c["openclip_clean"].get<std::string>());
    const std::string bpe_diff = diff(tokens(text, open_clip), ints(c["openclip_bpe_ids"]));
    CHECK(bpe_diff == "");
    const prefscore::TokenizedText oc = tokenizer().encode(text, open_clip);
    const std::string oc_ids = diff(oc.ids, ints(c["openclip_ids"]));
    const std::string oc_mask =
        diff(oc.attention_mask, open_clip_mask(c["openclip_len"].get<int>()));
    CHECK(oc_ids == "");
    CHECK(oc_mask == "");
    CHECK(oc.truncated == c["truncated"].get<bool>());
    open_clip_ok += bpe_diff.empty() && oc_ids.empty() && oc_mask.empty();

    const prefscore::TokenizedText eot = tokenizer().encode(text, hf_eot);
    const std::string eot_ids = diff(eot.ids, ints(c["hf_fast_ids_pad_eot"]));
    const std::string eot_mask = diff(eot.attention_mask, ints(c["hf_fast_mask_pad_eot"]));
    const std::vector<int32_t> unpadded(eot.ids.begin(), eot.ids.begin() + eot.length);
    const std::string eot_unpadded = diff(unpadded, ints(c["hf_fast_ids_unpadded"]));
    CHECK(eot_ids == "");
    CHECK(eot_mask == "");
    CHECK(eot_unpadded == "");
    hf_eot_ok += eot_ids.empty() && eot_mask.empty() && eot_unpadded.empty();

    const prefscore::TokenizedText bang = tokenizer().encode(text, hf_bang);
    const std::string bang_ids = diff(bang.ids, ints(c["hf_fast_ids_pad_bang"]));
    const std::string bang_mask = diff(bang.attention_mask, ints(c["hf_fast_mask_pad_bang"]));
    CHECK(bang_ids == "");
    CHECK(bang_mask == "");
    hf_bang_ok += bang_ids.empty() && bang_mask.empty();
  }
  WARN("golden cases checked: " << cases << "; exact (ids and mask): openclip " << open_clip_ok
                                << ", hf pad eot " << hf_eot_ok << " (and unpadded), hf pad bang "
                                << hf_bang_ok);
  REQUIRE(cases == 320);
  REQUIRE(open_clip_ok == cases);
  REQUIRE(hf_eot_ok == cases);
  REQUIRE(hf_bang_ok == cases);
}

TEST_CASE("pre-tokenizer splits with the CLIP pattern", "[tokenizer]") {
  const std::string text = "It's a dog's 2024 caf\u00e9!!<start_of_text>x";
  const std::vector<std::string> want = {"it", "'s", "a", "dog",       "'s",  "2",
                                         "0",  "2",  "4", "caf\u00e9", "!!<", "start",
                                         "_",  "of", "_", "text",      ">",   "x"};
  CHECK(pieces(text, TokenizerMode::kOpenClip) == want);
  CHECK(pieces(text, TokenizerMode::kHf) == want);
  // open_clip's own specials are pieces of their own (and become 49406/49407) ...
  CHECK(pieces("a<end_of_text>b", TokenizerMode::kOpenClip) ==
        std::vector<std::string>{"a", "<end_of_text>", "b"});
  CHECK(tokens("a<end_of_text>b", TokenizerOptions::open_clip()) ==
        std::vector<int32_t>{320, 49407, 321});
  // ... but not HF's, which HF splits out of the raw text instead.
  CHECK(tokens("a<|endoftext|>b", TokenizerOptions::hf(PadToken::kEndOfText)) ==
        std::vector<int32_t>{320, 49407, 321});
  CHECK(pieces("a<|endoftext|>b", TokenizerMode::kOpenClip) ==
        std::vector<std::string>{"a", "<|", "endoftext", "|>", "b"});
  // Contractions need the apostrophe first; other scripts' letters and marks.
  CHECK(pieces("rock'n'roll y'all'd've", TokenizerMode::kHf) ==
        std::vector<std::string>{"rock", "'", "n", "'", "roll", "y", "'", "all", "'d", "'ve"});
  CHECK(pieces("\u732b\u732b 3\u00bd\u2153", TokenizerMode::kHf) ==
        std::vector<std::string>{"\u732b\u732b", "3", "\u00bd", "\u2153"});
  // open_clip's pattern is case-insensitive: U+017F LONG S folds to "s" (regex module semantics).
  CHECK(pieces("x'\u017f", TokenizerMode::kOpenClip) == std::vector<std::string>{"x", "'\u017f"});
  CHECK(pieces("x'\u017f", TokenizerMode::kHf) == std::vector<std::string>{"x", "'", "\u017f"});
}

TEST_CASE("truncation keeps 75 tokens and ends with EOT at 76", "[tokenizer]") {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "a ";
  for (const TokenizerOptions& options :
       {TokenizerOptions::open_clip(), TokenizerOptions::hf(PadToken::kEndOfText),
        TokenizerOptions::hf(PadToken::kBang)}) {
    const prefscore::TokenizedText t = tokenizer().encode(text, options);
    REQUIRE(t.ids.size() == 77);
    CHECK(t.ids[0] == ClipTokenizer::kStartOfTextId);
    CHECK(t.ids[75] == 320);  // "a</w>"
    CHECK(t.ids[76] == ClipTokenizer::kEndOfTextId);
    CHECK(t.length == 77);
    CHECK(t.truncated);
    CHECK(t.attention_mask == std::vector<int32_t>(77, 1));
  }
  // 75 tokens fit exactly: nothing cut.
  text.clear();
  for (int i = 0; i < 75; ++i) text += "a ";
  const prefscore::TokenizedText fit = tokenizer().encode(text, TokenizerOptions::open_clip());
  CHECK_FALSE(fit.truncated);
  CHECK(fit.ids[76] == ClipTokenizer::kEndOfTextId);
  CHECK(fit.ids[75] == 320);
}

TEST_CASE("pad ids and attention mask per mode", "[tokenizer]") {
  const prefscore::TokenizedText oc = tokenizer().encode("hi!", TokenizerOptions::open_clip());
  const prefscore::TokenizedText eot =
      tokenizer().encode("hi!", TokenizerOptions::hf(PadToken::kEndOfText));
  const prefscore::TokenizedText bang =
      tokenizer().encode("hi!", TokenizerOptions::hf(PadToken::kBang));
  CHECK(std::vector<int32_t>(oc.ids.begin(), oc.ids.begin() + 5) ==
        std::vector<int32_t>{49406, 1883, 256, 49407, 0});
  CHECK(std::vector<int32_t>(eot.ids.begin(), eot.ids.begin() + 5) ==
        std::vector<int32_t>{49406, 1883, 256, 49407, 49407});
  // With pad "!", "!" is an added token: id 0 instead of the BPE "!</w>" (256).
  CHECK(std::vector<int32_t>(bang.ids.begin(), bang.ids.begin() + 5) ==
        std::vector<int32_t>{49406, 1883, 0, 49407, 0});
  for (const prefscore::TokenizedText* t : {&oc, &eot, &bang}) {
    CHECK(t->length == 4);
    CHECK(t->attention_mask == open_clip_mask(4));
  }
  // An EOT from the text: open_clip pools at the first EOT, so its mask ends there; HF's mask
  // covers every id before the padding.
  const prefscore::TokenizedText oc_eot =
      tokenizer().encode("a<end_of_text>b", TokenizerOptions::open_clip());
  CHECK(std::vector<int32_t>(oc_eot.ids.begin(), oc_eot.ids.begin() + 6) ==
        std::vector<int32_t>{49406, 320, 49407, 321, 49407, 0});
  CHECK(oc_eot.length == 5);
  CHECK(oc_eot.attention_mask == open_clip_mask(3));
  const prefscore::TokenizedText hf_eot =
      tokenizer().encode("a<|endoftext|>b", TokenizerOptions::hf(PadToken::kBang));
  CHECK(hf_eot.length == 5);
  CHECK(hf_eot.attention_mask == open_clip_mask(5));
}

TEST_CASE("whitespace and lower-casing rules of each mode", "[tokenizer]") {
  using prefscore::normalize_text;
  // open_clip strips and joins on Python's whitespace; HF maps each \s+ run to one space.
  CHECK(normalize_text(" \tA\u00a0\u3000B\n ", TokenizerMode::kOpenClip) == "a b");
  CHECK(normalize_text(" \tA\u00a0\u3000B\n ", TokenizerMode::kHf) == " a b ");
  // Python's str.lower has the final-sigma rule; Rust's per-character to_lowercase has not.
  CHECK(normalize_text("\u039f\u0394\u039f\u03a3 \u039f\u0394\u039f\u03a3.",
                       TokenizerMode::kOpenClip) ==
        "\u03bf\u03b4\u03bf\u03c2 \u03bf\u03b4\u03bf\u03c2.");
  CHECK(normalize_text("\u039f\u0394\u039f\u03a3", TokenizerMode::kHf) ==
        "\u03bf\u03b4\u03bf\u03c3");
  // Both map U+0130 to "i" + COMBINING DOT ABOVE.
  CHECK(normalize_text("\u0130stanbul", TokenizerMode::kOpenClip) == "i\u0307stanbul");
  CHECK(normalize_text("\u0130stanbul", TokenizerMode::kHf) == "i\u0307stanbul");
  // NFC in both.
  CHECK(normalize_text("cafe\u0301", TokenizerMode::kHf) == "caf\u00e9");
}

TEST_CASE("open_clip cleaning: ftfy and html.unescape", "[tokenizer]") {
  using prefscore::normalize_text;
  const auto oc = [](const std::string& text) {
    return normalize_text(text, TokenizerMode::kOpenClip);
  };
  // html.unescape decodes legacy entities without ';' (ftfy does not).
  CHECK(oc("&ampersand") == "&ersand");
  CHECK(oc("fish &amp;amp; chips") == "fish & chips");
  CHECK(oc("&#x1F600;&#0;&#128;&#99999999;") == "\U0001F600\uFFFD\u20AC\uFFFD");
  // ftfy's upper-case entities, and its rule that a '<' turns entity decoding off from that
  // line on (html.unescape does not know &NTILDE;).
  CHECK(oc("&NTILDE;") == "\u00f1");
  CHECK(oc("P&EACUTE;REZ") == "p\u00e9rez");
  CHECK(oc("&NTILDE; <") == "&ntilde; <");
  CHECK(oc("a <\n&NTILDE;") == "a < &ntilde;");
  // Mojibake, ligatures, width, quotes, terminal escapes, control characters.
  CHECK(oc("caf\u00c3\u00a9") == "caf\u00e9");
  CHECK(oc("\ufb01 \uff26\uff55\uff4c\uff4c \uff76\uff80\uff76\uff85") ==
        "fi full \u30ab\u30bf\u30ab\u30ca");
  CHECK(oc("\u2018hi\u2019") == "'hi'");
  CHECK(oc("\x1b[31mred\x1b[0m") == "red");
  CHECK(oc(std::string("a\0b\x7f", 4)) == "ab");
  // HF does none of this.
  CHECK(normalize_text("&amp; caf\u00c3\u00a9", TokenizerMode::kHf) == "&amp; caf\u00e3\u00a9");
}

TEST_CASE("invalid UTF-8 is an error naming the input", "[tokenizer]") {
  const TokenizerOptions options = TokenizerOptions::hf(PadToken::kEndOfText);
  CHECK_THROWS_WITH(tokenizer().encode("abc\xff", options, "prompts.jsonl:3"),
                    Contains("prompts.jsonl:3: invalid UTF-8 at byte 3: byte 0xff never appears"));
  CHECK_THROWS_WITH(tokenizer().encode("ab\xc3", TokenizerOptions::open_clip(), "p:1"),
                    Contains("p:1: invalid UTF-8 at byte 2: sequence cut off"));
  CHECK_THROWS_WITH(tokenizer().encode("\xed\xa0\x80", options, "p:2"),
                    Contains("p:2: invalid UTF-8 at byte 0: encoded surrogate"));
  CHECK_THROWS_WITH(tokenizer().encode("\xc0\x80", options, "p:3"),
                    Contains("p:3: invalid UTF-8 at byte 0: byte 0xc0 never appears"));
  CHECK_THROWS_WITH(tokenizer().encode("a\x80", options, "p:4"),
                    Contains("p:4: invalid UTF-8 at byte 1: unexpected continuation byte 0x80"));
  CHECK_THROWS_AS(prefscore::normalize_text("\xe2\x82", TokenizerMode::kOpenClip),
                  prefscore::Error);
}

TEST_CASE("issue 10: texts over the byte limit are refused before tokenizing", "[tokenizer]") {
  TokenizerOptions options = TokenizerOptions::open_clip();
  CHECK(options.max_text_bytes == 65536);
  std::string at_limit;
  for (int i = 0; i < 32768; ++i) at_limit += "a ";  // 65536 bytes, 32768 words
  CHECK(tokenizer().encode(at_limit, options).truncated);
  CHECK_THROWS_WITH(tokenizer().encode(at_limit + "a", options, "m.csv:4"),
                    Equals("m.csv:4: text is 65537 bytes, more than the limit of 65536 bytes "
                           "(raise it with --max-prompt-bytes)"));
  options = TokenizerOptions::hf(PadToken::kEndOfText);
  options.max_text_bytes = 3;
  CHECK(tokenizer().encode("abc", options).ids[0] == ClipTokenizer::kStartOfTextId);
  CHECK_THROWS_WITH(tokenizer().encode_tokens("abcd", options, "p"),
                    Equals("p: text is 4 bytes, more than the limit of 3 bytes (raise it with "
                           "--max-prompt-bytes)"));
}

TEST_CASE("vocabulary file errors name the file", "[tokenizer]") {
  CHECK_THROWS_WITH(ClipTokenizer("/nonexistent/vocab.txt.gz"),
                    Contains("/nonexistent/vocab.txt.gz"));
  const std::string plain = "/tmp/prefscore_test_vocab_plain.txt";
  std::ofstream(plain) << "#version: 0.2\ni n\n";
  CHECK_THROWS_WITH(ClipTokenizer(plain), Contains(plain + ": not a valid gzip file"));
  const std::string short_gz = "/tmp/prefscore_test_vocab_short.txt.gz";
  gzFile gz = gzopen(short_gz.c_str(), "wb");
  REQUIRE(gz != nullptr);
  gzputs(gz, "#version: 0.2\ni n\nt h\n");
  gzclose(gz);
  CHECK_THROWS_WITH(ClipTokenizer(short_gz),
                    Contains(short_gz + ": has 2 merge lines, expected at least 48894"));
  gz = gzopen(short_gz.c_str(), "wb");
  gzputs(gz, "#version: 0.2\ni n\nthree symbols here\n");
  gzclose(gz);
  CHECK_THROWS_WITH(ClipTokenizer(short_gz), Contains("line 3: expected two symbols"));
  // The real vocabulary cut after 50 kB (~13,000 of the 48,894 merges): the gzip data ends early.
  const std::string whole = prefscore::read_file(kVocab);
  const std::string cut = "/tmp/prefscore_test_vocab_cut.txt.gz";
  std::ofstream(cut, std::ios::binary) << whole.substr(0, 50000);
  CHECK_THROWS_WITH(ClipTokenizer(cut), Contains(cut + ": gzip data ends early"));
  std::remove(cut.c_str());
  std::remove(plain.c_str());
  std::remove(short_gz.c_str());
}
