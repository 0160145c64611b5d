// Preference heads against the official scores (tests/data/models/README.md): PickScore and MPS on
// the transformers/MPS layouts, HPS v2 on the open_clip layout, fp32. Tolerances are the fixture
// README's: 1e-4 on scores scaled by exp(logit_scale), 1e-5 on cosines and PickScore
// probabilities, 2e-3 on MPS scores and 1e-4 on MPS probabilities, masks exact.
#include <torch/torch.h>

#include <memory>

#include "prefscore/clip.h"
#include "prefscore/heads.h"
#include "prefscore/safetensors_torch.h"
#include "prefscore/weights.h"
#include "tensor_test_utils.h"

using prefscore::ClipModel;
using prefscore::SafetensorsFile;
using prefscore::Weights;
using prefscore::testing::data_path;
using prefscore::testing::require_allclose;

namespace {

const prefscore::RunOptions kCpuF32{c10::Device(c10::kCPU), c10::kFloat};

at::Tensor expected(const std::string& name) {
  static const SafetensorsFile file = SafetensorsFile::open(data_path("models/expected.safetensors"));
  return prefscore::tensor_view(file, name);
}

struct Model {
  std::unique_ptr<Weights> weights;
  std::unique_ptr<ClipModel> clip;
};

Model load(const std::string& file, const std::string& layout, const std::string& config) {
  Model m;
  const auto arch = layout == "open_clip"
                        ? prefscore::clip_architecture_from_open_clip_config(data_path(config))
                        : prefscore::clip_architecture_from_hf_config(data_path(config));
  m.weights = std::make_unique<Weights>(SafetensorsFile::open(data_path(file)),
                                        prefscore::weight_layout(layout), kCpuF32);
  m.clip = std::make_unique<ClipModel>(arch, *m.weights);
  return m;
}

const char* const kConditions[] = {"overall", "aesthetics", "detail", "semantic"};

}  // namespace

TEST_CASE("PickScore: exp(logit_scale) * cos and softmax over images", "[heads]") {
  torch::InferenceMode guard;
  Model m = load("models/hf/model.safetensors", "huggingface", "models/hf/config.json");
  m.weights->finish();
  const at::Tensor img = m.clip->encode_image(expected("pixel_values")).embeds;
  const at::Tensor txt = m.clip->encode_text(expected("input_ids_hf_pad_bang")).embeds;
  const at::Tensor scores = prefscore::scaled_cosine_matrix(txt, img, m.clip->logit_scale());
  require_allclose(scores, expected("pickscore.scores"), 1e-4, 0, "pickscore.scores");
  require_allclose(prefscore::softmax_over_images(scores), expected("pickscore.probs"), 1e-5, 0,
                   "pickscore.probs");
}

TEST_CASE("HPS v2: cosine of the normalised open_clip features", "[heads]") {
  torch::InferenceMode guard;
  Model m = load("models/openclip/open_clip_model.safetensors", "open_clip",
                 "models/openclip/open_clip_config.json");
  m.weights->finish();
  const at::Tensor img = m.clip->encode_image(expected("pixel_values")).embeds;
  const at::Tensor txt = m.clip->encode_text(expected("input_ids_openclip")).embeds;
  // hpsv2.scores is [images, prompts].
  require_allclose(prefscore::cosine_matrix(txt, img).t(), expected("hpsv2.scores"), 1e-5, 0,
                   "hpsv2.scores");
}

TEST_CASE("MPS: intermediates, masks, scores and probabilities for every condition", "[heads]") {
  torch::InferenceMode guard;
  Model m = load("models/mps/mps_model.safetensors", "mps", "models/mps/config.json");
  const prefscore::MpsHead head(*m.weights);
  m.weights->finish();
  CHECK(head.layers() == 2);
  CHECK(head.heads() == 4);
  CHECK(head.head_dim() == 8);

  const auto img = m.clip->encode_image(expected("pixel_values"));
  const at::Tensor image_tokens = m.clip->project_image_tokens(img.tokens);  // no post-LN

  SECTION("debug intermediates of prompt 0 and image 0") {
    const auto txt = m.clip->encode_text(expected("input_ids_hf_pad_bang"));
    require_allclose(m.clip->project_text_tokens(txt.tokens)[0], expected("mps.debug.text_tokens"),
                     1e-5, 0, "mps.debug.text_tokens");
    require_allclose(txt.embeds[0], expected("mps.debug.text_eos"), 1e-5, 0, "mps.debug.text_eos");
    require_allclose(image_tokens[0], expected("mps.debug.image_tokens"), 1e-5, 0,
                     "mps.debug.image_tokens");
    const at::Tensor zero_mask = torch::zeros({77});
    const at::Tensor cls = head.cross_attend_class_token(
        image_tokens.slice(0, 0, 1), m.clip->project_text_tokens(txt.tokens)[0], zero_mask);
    require_allclose(cls[0], expected("mps.debug.cross_out_cls"), 1e-4, 0, "mps.debug.cross_out_cls");
  }

  for (const std::string variant : {"mps", "mps_pad_eot"}) {
    const bool pad_eot = variant == "mps_pad_eot";
    const auto txt = m.clip->encode_text(
        expected(pad_eot ? "input_ids_hf_pad_eot" : "input_ids_hf_pad_bang"));
    const at::Tensor text_tokens = m.clip->project_text_tokens(txt.tokens);
    for (const char* condition : kConditions) {
      const std::string c = condition;
      const at::Tensor cond_ids =
          expected((pad_eot ? "mps.condition_ids_pad_eot." : "mps.condition_ids.") + c).unsqueeze(0);
      const at::Tensor cond_tokens =
          m.clip->project_text_tokens(m.clip->encode_text(cond_ids).tokens)[0];
      std::vector<at::Tensor> masks, rows;
      for (int64_t p = 0; p < 5; ++p) {
        const at::Tensor mask = head.condition_mask(text_tokens[p], cond_tokens);
        masks.push_back(mask);
        const at::Tensor cls = head.cross_attend_class_token(image_tokens, text_tokens[p], mask);
        rows.push_back(prefscore::scaled_cosine_matrix(txt.embeds[p].unsqueeze(0), cls,
                                                       m.clip->logit_scale()));
      }
      const at::Tensor want_mask = expected(variant + "." + c + ".text_mask");
      INFO(variant << " " << c);
      CHECK(torch::equal(torch::stack(masks), want_mask));
      const at::Tensor scores = torch::cat(rows, 0);
      require_allclose(scores, expected(variant + "." + c + ".scores"), 2e-3, 0,
                       variant + "." + c + ".scores");
      require_allclose(prefscore::softmax_over_images(scores), expected(variant + "." + c + ".probs"),
                       1e-4, 0, variant + "." + c + ".probs");
    }
  }
}
