// Tokenizer throughput on one thread: vocabulary load time, then prompts/s for each mode on the 50
// prompts of tests/data/tokenizer/cases.jsonl (category "prompt"; warm word cache, the steady
// state of a run) and on prompts of random words (nearly every word misses the cache: raw BPE).
//
//   bench_tokenizer [VOCAB.txt.gz] [CASES.jsonl]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "prefscore/error.h"
#include "prefscore/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<std::string> read_prompts(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw prefscore::Error(path, "cannot open");
  std::vector<std::string> prompts;
  std::string line;
  while (std::getline(file, line)) {
    const nlohmann::json row = nlohmann::json::parse(line);
    if (row["category"] == "prompt") prompts.push_back(row["text"].get<std::string>());
  }
  return prompts;
}

std::vector<std::string> random_prompts(int count) {
  std::mt19937 rng(/*seed=*/42);
  std::uniform_int_distribution<int> letter('a', 'z');
  std::uniform_int_distribution<int> length(3, 10);
  std::vector<std::string> prompts;
  for (int p = 0; p < count; ++p) {
    std::string prompt;
    for (int w = 0; w < 12; ++w) {
      if (w) prompt += w % 4 == 0 ? ", " : " ";
      for (int k = length(rng); k > 0; --k) prompt.push_back(static_cast<char>(letter(rng)));
    }
    prompts.push_back(prompt);
  }
  return prompts;
}

// Prompts per second over at least `min_seconds`, cycling through `prompts`.
double prompts_per_second(const prefscore::ClipTokenizer& tokenizer,
                          const std::vector<std::string>& prompts,
                          const prefscore::TokenizerOptions& options, double min_seconds) {
  long done = 0;
  long checksum = 0;
  const Clock::time_point start = Clock::now();
  double elapsed = 0;
  do {
    for (const std::string& prompt : prompts) checksum += tokenizer.encode(prompt, options).length;
    done += static_cast<long>(prompts.size());
    elapsed = seconds_since(start);
  } while (elapsed < min_seconds);
  if (checksum == 0) std::printf("(no tokens)\n");
  return static_cast<double>(done) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string vocab =
      argc > 1 ? argv[1]
               : std::string(PREFSCORE_MODELS_DIR) + "/vocab/bpe_simple_vocab_16e6.txt.gz";
  const std::string cases =
      argc > 2 ? argv[2] : std::string(PREFSCORE_TEST_DATA_DIR) + "/tokenizer/cases.jsonl";
  try {
    std::vector<double> load_ms;
    for (int i = 0; i < 5; ++i) {
      const Clock::time_point start = Clock::now();
      const prefscore::ClipTokenizer tokenizer(vocab);
      load_ms.push_back(1000 * seconds_since(start));
    }
    std::sort(load_ms.begin(), load_ms.end());
    std::printf("vocabulary load: %.1f ms (median of 5; min %.1f)\n", load_ms[2], load_ms[0]);

    const std::vector<std::string> prompts = read_prompts(cases);
    const std::vector<std::string> random = random_prompts(/*count=*/20000);
    struct Mode {
      const char* name;
      prefscore::TokenizerOptions options;
    };
    const Mode modes[] = {{"openclip", prefscore::TokenizerOptions::open_clip()},
                          {"hf", prefscore::TokenizerOptions::hf(prefscore::PadToken::kEndOfText)}};
    for (const Mode& mode : modes) {
      const prefscore::ClipTokenizer tokenizer(vocab);
      const double warm = prompts_per_second(tokenizer, prompts, mode.options, /*min_seconds=*/2.0);
      const prefscore::ClipTokenizer fresh(vocab);
      const double cold = prompts_per_second(fresh, random, mode.options, /*min_seconds=*/0.0);
      std::printf(
          "%-8s  %zu typical prompts (warm cache): %9.0f prompts/s; "
          "random words (cache misses): %8.0f prompts/s\n",
          mode.name, prompts.size(), warm, cold);
    }
  } catch (const prefscore::Error& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}
