// The CLIP BPE tokenizer on arbitrary bytes, in both modes (open_clip with ftfy and HTML
// unescaping; HF with both pad tokens). Invalid UTF-8 must be an Error; anything else must give
// kContextLength ids inside the vocabulary.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_utils.h"
#include "prefscore/tokenizer.h"

namespace {

const prefscore::ClipTokenizer& tokenizer() {
  static const prefscore::ClipTokenizer instance(PREFSCORE_VOCAB_PATH);
  return instance;
}

void check(const prefscore::TokenizedText& t) {
  if (t.ids.size() != prefscore::ClipTokenizer::kContextLength ||
      t.attention_mask.size() != prefscore::ClipTokenizer::kContextLength || t.length < 2 ||
      t.length > prefscore::ClipTokenizer::kContextLength) {
    std::fprintf(stderr, "encode gave %zu ids, %zu mask values, length %d\n", t.ids.size(),
                 t.attention_mask.size(), t.length);
    std::abort();
  }
  for (int32_t id : t.ids) {
    if (id < 0 || id >= prefscore::ClipTokenizer::kVocabSize) {
      std::fprintf(stderr, "id %d outside the vocabulary\n", id);
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)tokenizer();  // load the vocabulary once, outside the timed inputs
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const prefscore::TokenizerOptions& options :
       {prefscore::TokenizerOptions::open_clip(),
        prefscore::TokenizerOptions::hf(prefscore::PadToken::kEndOfText),
        prefscore::TokenizerOptions::hf(prefscore::PadToken::kBang)}) {
    prefscore::fuzz::expect_only_errors("ClipTokenizer::encode",
                                        [&] { check(tokenizer().encode(text, options, "fuzz")); });
  }
  return 0;
}
