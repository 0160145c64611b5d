// The whole path, image FILES and prompt STRINGS to scores, against the official tools run on the
// same files (tests/data/pipeline/README.md): decoding, preprocessing, tokenization, the CLIP core
// and every head, through the Scorer and a scoring run.
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "prefscore/safetensors_torch.h"
#include "prefscore/scorer.h"
#include "prefscore/scoring.h"
#include "tensor_test_utils.h"

using prefscore::ScoreItem;
using prefscore::Scorer;
using prefscore::ScorerSpec;
using prefscore::testing::data_path;
using prefscore::testing::require_allclose;

namespace {

const prefscore::RunOptions kCpuF32{c10::Device(c10::kCPU), c10::kFloat};

at::Tensor expected(const std::string& name) {
  static const auto file = prefscore::SafetensorsFile::open(data_path("pipeline/expected.safetensors"));
  return prefscore::tensor_view(file, name);
}

struct Inputs {
  std::vector<std::string> prompts, images;
};

Inputs inputs() {
  std::ifstream in(data_path("pipeline/inputs/inputs.json"));
  const nlohmann::json j = nlohmann::json::parse(in);
  Inputs out;
  out.prompts = j["prompts"].get<std::vector<std::string>>();
  for (const auto& name : j["images"]) out.images.push_back(data_path("pipeline/inputs/" + name.get<std::string>()));
  return out;
}

std::unique_ptr<Scorer> scorer(const std::string& card, const std::string& weights,
                               std::vector<std::string> conditions = {}) {
  ScorerSpec spec;
  spec.source.model = card.empty() ? "" : data_path("cards/" + card);
  spec.source.weights = data_path(weights);
  spec.head = card.empty() ? "clip" : "";
  spec.conditions = std::move(conditions);
  spec.vocab_path = std::string(PREFSCORE_MODELS_DIR) + "/vocab/bpe_simple_vocab_16e6.txt.gz";
  return std::make_unique<Scorer>(spec, std::vector<std::string>{}, "/unused", kCpuF32);
}

// Scores every (prompt, image) pair as a run does; returns scores and probs [prompts, images]
// for each column.
struct Grid {
  std::vector<at::Tensor> scores, probs;
};

Grid run(Scorer& s, const std::vector<int>& prompts) {
  const Inputs in = inputs();
  std::vector<ScoreItem> items;
  for (int p : prompts) {
    for (const std::string& image : in.images) items.push_back({image, in.prompts[p], ""});
  }
  prefscore::ScoreRunOptions options;
  options.batch_size = 3;  // not a divisor of 4: batches straddle prompts
  const prefscore::ScoreReport report = prefscore::score_items({&s}, items, options);
  REQUIRE(report.skipped.empty());
  const std::size_t columns = s.columns().size();
  Grid g;
  for (std::size_t c = 0; c < columns; ++c) {
    at::Tensor scores = torch::zeros({static_cast<int64_t>(prompts.size()), 4});
    at::Tensor probs = torch::zeros_like(scores);
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto& row = report.rows[i * columns + c];
      scores.index_put_({static_cast<int64_t>(i / 4), static_cast<int64_t>(i % 4)}, row.score);
      probs.index_put_({static_cast<int64_t>(i / 4), static_cast<int64_t>(i % 4)}, row.prob);
    }
    g.scores.push_back(scores);
    g.probs.push_back(probs);
  }
  return g;
}

// Rows `prompts` of a [5, 4] fixture tensor.
at::Tensor rows(const at::Tensor& t, const std::vector<int>& prompts) {
  return t.index_select(0, torch::tensor(std::vector<int64_t>(prompts.begin(), prompts.end())));
}

const std::vector<int> kAllPrompts = {0, 1, 2, 3, 4};
const std::vector<int> kHfPrompts = {0, 1, 2, 4};  // prompt 3: slow vs fast tokenizer differ

}  // namespace

TEST_CASE("PickScore from files and strings", "[golden][pickscore]") {
  auto s = scorer("tiny-hf.json", "models/hf");
  const Grid g = run(*s, kHfPrompts);
  require_allclose(g.scores[0], rows(expected("pickscore.scores"), kHfPrompts), 1e-4, 0, "pickscore.scores");
  require_allclose(g.probs[0], rows(expected("pickscore.probs"), kHfPrompts), 1e-5, 0, "pickscore.probs");
}

TEST_CASE("HPS v2 from files and strings (letterbox, open_clip tokenizer)", "[golden][hpsv2]") {
  auto s = scorer("tiny-openclip.json", "models/openclip/open_clip_model.safetensors");
  const Grid g = run(*s, kAllPrompts);
  require_allclose(g.scores[0], expected("hpsv2.scores"), 1e-5, 0, "hpsv2.scores");
}

TEST_CASE("CLIP score from files and strings (card-less open_clip checkpoint)", "[golden][clip]") {
  auto s = scorer("", "models/openclip/open_clip_model.safetensors");
  CHECK(s->head() == "clip");
  const Grid g = run(*s, kAllPrompts);
  require_allclose(g.scores[0], expected("clipscore.cosine").t(), 1e-5, 0, "clipscore.cosine");
}

TEST_CASE("MPS from files and strings, every condition", "[golden][mps]") {
  auto s = scorer("tiny-mps.json", "models/mps", {"overall", "aesthetics", "detail", "semantic"});
  const Grid g = run(*s, kHfPrompts);
  for (std::size_t c = 0; c < s->columns().size(); ++c) {
    const std::string name = "mps.infer_one_sample." + s->columns()[c];
    require_allclose(g.scores[c], rows(expected(name + ".scores"), kHfPrompts), 1e-4, 0, name + ".scores");
    require_allclose(g.probs[c], rows(expected(name + ".probs"), kHfPrompts), 1e-5, 0, name + ".probs");
  }
}
