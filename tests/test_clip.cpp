// The CLIP dual encoder against the official outputs (tests/data/models/README.md): open_clip's
// CLIP and transformers' CLIPModel in float32, for both checkpoint layouts. Tolerance 1e-5
// absolute for embeddings, hidden states and logits (the fixture README's).
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "prefscore/clip.h"
#include "prefscore/error.h"
#include "prefscore/safetensors_torch.h"
#include "prefscore/weights.h"
#include "tensor_test_utils.h"

using prefscore::ClipArchitecture;
using prefscore::ClipModel;
using prefscore::RunOptions;
using prefscore::SafetensorsFile;
using prefscore::Weights;
using prefscore::testing::data_path;
using prefscore::testing::require_allclose;

namespace {

const RunOptions kCpuF32{c10::Device(c10::kCPU), c10::kFloat};
constexpr double kAtol = 1e-5;
// Logits are cosines times exp(logit_scale) = 60.34: the fixture README's tolerance for values on
// that scale is 1e-4 (its PickScore rule; logits_per_image is the same quantity). The two official
// implementations themselves differ by up to 9.5e-6 on these logits (see the test below), so 1e-5
// would sit at their own float32 disagreement.
constexpr double kLogitAtol = 1e-4;

struct Loaded {
  ClipArchitecture arch;
  std::unique_ptr<Weights> weights;
  std::unique_ptr<ClipModel> model;
};

Loaded load(const std::string& layout) {
  Loaded l;
  std::string file;
  if (layout == "huggingface") {
    l.arch = prefscore::clip_architecture_from_hf_config(data_path("models/hf/config.json"));
    file = data_path("models/hf/model.safetensors");
  } else {
    l.arch = prefscore::clip_architecture_from_open_clip_config(
        data_path("models/openclip/open_clip_config.json"));
    file = data_path("models/openclip/open_clip_model.safetensors");
  }
  l.weights = std::make_unique<Weights>(SafetensorsFile::open(file),
                                        prefscore::weight_layout(layout), kCpuF32);
  l.model = std::make_unique<ClipModel>(l.arch, *l.weights);
  l.weights->finish();
  return l;
}

at::Tensor expected(const std::string& name) {
  static const SafetensorsFile file = SafetensorsFile::open(data_path("models/expected.safetensors"));
  return prefscore::tensor_view(file, name);
}

// open_clip model.py / transformers CLIPModel.forward, same order of float32 operations:
// normalise, then (exp(logit_scale) * image) @ textᵀ.
at::Tensor logits_per_image(const at::Tensor& img, const at::Tensor& txt, double logit_scale) {
  const at::Tensor i = img / img.norm(2, -1, true);
  const at::Tensor t = txt / txt.norm(2, -1, true);
  const at::Tensor scale = torch::tensor(static_cast<float>(logit_scale)).exp();
  return (scale * i).matmul(t.t());
}

}  // namespace

TEST_CASE("configs: both official formats give the fixture dims", "[clip]") {
  for (const auto& arch :
       {prefscore::clip_architecture_from_hf_config(data_path("models/hf/config.json")),
        prefscore::clip_architecture_from_open_clip_config(
            data_path("models/openclip/open_clip_config.json"))}) {
    CHECK(arch.vision_width == 64);
    CHECK(arch.vision_layers == 2);
    CHECK(arch.vision_heads == 4);
    CHECK(arch.text_width == 32);
    CHECK(arch.text_heads == 4);
    CHECK(arch.embed_dim == 32);
    CHECK(arch.patch_size == 14);
    CHECK(arch.mlp_ratio == 4.0);
    CHECK(arch.activation == "gelu");
    CHECK(arch.vision_tokens() == 257);
  }
}

TEST_CASE("issue 10: a deeply nested config.json is refused, not a stack overflow", "[clip]") {
  const std::filesystem::path dir = prefscore::testing::fresh_temp_dir("clip_deep_config");
  const std::string path = (dir / "config.json").string();
  std::ofstream(path) << "{\"text_config\": " << std::string(100000, '[')
                      << std::string(100000, ']') << "}";
  CHECK_THROWS_WITH(prefscore::clip_architecture_from_hf_config(path),
                    path + ": JSON nests deeper than 64 levels");
  CHECK_THROWS_WITH(prefscore::clip_architecture_from_open_clip_config(path),
                    path + ": JSON nests deeper than 64 levels");
  std::filesystem::remove_all(dir);
}

TEST_CASE("open_clip layout matches open_clip's CLIP (fp32)", "[clip]") {
  torch::InferenceMode guard;
  const Loaded l = load("open_clip");
  CHECK(l.model->logit_scale() == Approx(4.1).epsilon(1e-7));
  const auto img = l.model->encode_image(expected("pixel_values"), /*keep_hidden=*/true);
  const auto txt = l.model->encode_text(expected("input_ids_openclip"), /*keep_hidden=*/true);
  require_allclose(img.embeds, expected("openclip.image_embeds"), kAtol, 0, "openclip.image_embeds");
  require_allclose(txt.embeds, expected("openclip.text_embeds"), kAtol, 0, "openclip.text_embeds");
  for (int k = 0; k < 2; ++k) {
    require_allclose(img.hidden[k + 1][0], expected("openclip.hidden.vision.block" + std::to_string(k)),
                     kAtol, 0, "openclip.hidden.vision.block" + std::to_string(k));
    require_allclose(txt.hidden[k + 1][0], expected("openclip.hidden.text.block" + std::to_string(k)),
                     kAtol, 0, "openclip.hidden.text.block" + std::to_string(k));
  }
  // The formula itself, on the official embeddings: isolates it from the embeddings' rounding.
  require_allclose(logits_per_image(expected("openclip.image_embeds"), expected("openclip.text_embeds"),
                                    l.model->logit_scale()),
                   expected("openclip.logits_per_image"), kLogitAtol, 0,
                   "openclip.logits_per_image from the official embeddings");
  require_allclose(logits_per_image(img.embeds, txt.embeds, l.model->logit_scale()),
                   expected("openclip.logits_per_image"), kLogitAtol, 0, "openclip.logits_per_image");
}

TEST_CASE("transformers layout matches transformers' CLIPModel (fp32)", "[clip]") {
  torch::InferenceMode guard;
  const Loaded l = load("huggingface");
  const auto img = l.model->encode_image(expected("pixel_values"), /*keep_hidden=*/true);
  const auto txt = l.model->encode_text(expected("input_ids_hf_pad_bang"), /*keep_hidden=*/true);
  require_allclose(img.embeds, expected("hf.image_embeds"), kAtol, 0, "hf.image_embeds");
  require_allclose(txt.embeds, expected("hf.text_embeds"), kAtol, 0, "hf.text_embeds");
  for (int k = 0; k <= 2; ++k) {
    require_allclose(img.hidden[k][0], expected("hf.hidden.vision." + std::to_string(k)), kAtol, 0,
                     "hf.hidden.vision." + std::to_string(k));
    require_allclose(txt.hidden[k][0], expected("hf.hidden.text." + std::to_string(k)), kAtol, 0,
                     "hf.hidden.text." + std::to_string(k));
  }
  require_allclose(img.tokens[0], expected("hf.vision_last_hidden_state"), kAtol, 0,
                   "hf.vision_last_hidden_state");
  require_allclose(txt.tokens[0], expected("hf.text_last_hidden_state"), kAtol, 0,
                   "hf.text_last_hidden_state");
  require_allclose(logits_per_image(img.embeds, txt.embeds, l.model->logit_scale()),
                   expected("hf.logits_per_image"), kLogitAtol, 0, "hf.logits_per_image");

  // The pad id after the first <end_of_text> does not change the pooled text feature. Prompt 3
  // ("...fine!!") is excluded: with pad "!" the tokenizer splits "!" out as a special token, so
  // its ids differ before the EOT too (tests/data/models/FIXTURES_README.md).
  const at::Tensor rows = torch::tensor({0, 1, 2, 4});
  const auto txt_eot = l.model->encode_text(expected("input_ids_hf_pad_eot").index_select(0, rows));
  require_allclose(txt_eot.embeds, expected("hf.text_embeds").index_select(0, rows), kAtol, 0,
                   "hf.text_embeds (pad eot)");
}

TEST_CASE("the two layouts give the same embeddings for the same weights", "[clip]") {
  torch::InferenceMode guard;
  const Loaded hf = load("huggingface");
  const Loaded oc = load("open_clip");
  const at::Tensor px = expected("pixel_values");
  const at::Tensor ids = expected("input_ids_openclip");
  require_allclose(hf.model->encode_image(px).embeds, oc.model->encode_image(px).embeds, 1e-6, 0,
                   "image embeds hf vs open_clip");
  require_allclose(hf.model->encode_text(ids).embeds, oc.model->encode_text(ids).embeds, 1e-6, 0,
                   "text embeds hf vs open_clip");
}

TEST_CASE("the official implementations' own disagreement on the logits", "[clip]") {
  // Prompts whose ids agree in both tokenizers (all but prompt 3): same model, same inputs.
  const at::Tensor cols = torch::tensor({0, 1, 2, 4});
  const at::Tensor oc = expected("openclip.logits_per_image").index_select(1, cols);
  const at::Tensor hf = expected("hf.logits_per_image").index_select(1, cols);
  const double diff = (oc - hf).abs().max().item<double>();
  WARN("open_clip vs transformers logits_per_image, max abs: " << diff);
  CHECK(diff < kLogitAtol);
}

// The tiny transformers-layout fixture model on CPU, by default in bf16 (its blocks then run on
// oneDNN where the build has it).
ClipModel tiny_hf(const RunOptions& run = {c10::Device(c10::kCPU), c10::kBFloat16}) {
  const ClipArchitecture arch =
      prefscore::clip_architecture_from_hf_config(data_path("models/hf/config.json"));
  Weights w(SafetensorsFile::open(data_path("models/hf/model.safetensors")),
            prefscore::weight_layout("huggingface"), run);
  ClipModel model(arch, w);
  w.finish();
  return model;
}

TEST_CASE("bf16 runs and stays close to fp32", "[clip]") {
  torch::InferenceMode guard;
  const ClipModel model = tiny_hf();
  const at::Tensor got = model.encode_image(expected("pixel_values")).embeds;
  CHECK(got.scalar_type() == c10::kBFloat16);
  const at::Tensor want = expected("hf.image_embeds");
  const at::Tensor g = got.to(torch::kFloat32), e = want;
  const double cos = (g * e).sum(-1).div(g.norm(2, -1) * e.norm(2, -1)).min().item<double>();
  WARN("bf16 vs fp32 image embeds: min cosine " << cos << ", max abs "
                                                << (g - e).abs().max().item<double>());
  CHECK(cos > 0.99);
}

TEST_CASE("bf16 (oneDNN blocks on CPU where available) keeps fp32's decisions", "[clip]") {
  torch::InferenceMode guard;
  const ClipModel model = tiny_hf();
  const auto img = model.encode_image(expected("pixel_values"), /*keep_hidden=*/true);
  const auto txt = model.encode_text(expected("input_ids_hf_pad_bang"), /*keep_hidden=*/true);
  CHECK(img.tokens.scalar_type() == c10::kBFloat16);
  CHECK(txt.tokens.scalar_type() == c10::kBFloat16);
  const ClipArchitecture& arch = model.architecture();
  REQUIRE(img.hidden.size() == static_cast<std::size_t>(arch.vision_layers + 1));
  REQUIRE(txt.hidden.size() == static_cast<std::size_t>(arch.text_layers + 1));
  const auto min_cosine = [](const at::Tensor& got, const at::Tensor& want) {
    const at::Tensor g = got.to(torch::kFloat32).flatten(1), e = want.flatten(1);
    return (g * e).sum(-1).div(g.norm(2, -1) * e.norm(2, -1)).min().item<double>();
  };
  // The causal text tower and every block output, not just the pooled image feature.
  CHECK(min_cosine(txt.embeds, expected("hf.text_embeds")) > 0.9999);
  CHECK(min_cosine(img.embeds, expected("hf.image_embeds")) > 0.9999);
  CHECK(min_cosine(img.hidden[2][0].unsqueeze(0), expected("hf.hidden.vision.2").unsqueeze(0)) > 0.9999);
  CHECK(min_cosine(txt.hidden[2][0].unsqueeze(0), expected("hf.hidden.text.2").unsqueeze(0)) > 0.9999);
  // Decisions: for each prompt, the order of every pair of images, as fp32 orders it.
  const at::Tensor got = logits_per_image(img.embeds.to(torch::kFloat32),
                                          txt.embeds.to(torch::kFloat32), model.logit_scale());
  const at::Tensor want = expected("hf.logits_per_image");
  const at::Tensor order_got = (got.unsqueeze(1) - got.unsqueeze(0)).sign();
  const at::Tensor order_want = (want.unsqueeze(1) - want.unsqueeze(0)).sign();
  WARN("bf16 vs fp32 logits: max abs " << (got - want).abs().max().item<double>());
  CHECK(order_got.equal(order_want));
}

// The oneDNN blocks run attention one (image, head) pair at a time, each thread taking a range of
// the pairs and running oneDNN on itself inside the parallel region. Split across threads, every
// head must still be computed whole and once: the same bits as on one thread.
TEST_CASE("bf16 blocks give the same bits on one thread and on two", "[clip]") {
  torch::InferenceMode guard;
  const ClipModel model = tiny_hf();
  const int threads_before = at::get_num_threads();
  const auto run = [&](int threads) {
    at::set_num_threads(threads);
    auto img = model.encode_image(expected("pixel_values"), /*keep_hidden=*/true);
    auto txt = model.encode_text(expected("input_ids_hf_pad_bang"), /*keep_hidden=*/true);
    return std::make_pair(std::move(img), std::move(txt));
  };
  const auto one = run(1);
  const auto two = run(2);
  at::set_num_threads(threads_before);
  REQUIRE(one.first.hidden.size() == two.first.hidden.size());
  REQUIRE(one.second.hidden.size() == two.second.hidden.size());
  for (std::size_t i = 0; i < one.first.hidden.size(); ++i) {
    CHECK(one.first.hidden[i].equal(two.first.hidden[i]));
  }
  for (std::size_t i = 0; i < one.second.hidden.size(); ++i) {
    CHECK(one.second.hidden[i].equal(two.second.hidden[i]));
  }
  CHECK(one.first.embeds.equal(two.first.embeds));
  CHECK(one.second.embeds.equal(two.second.embeds));
  // And they are the model's outputs, not agreeing garbage.
  const at::Tensor g = two.first.embeds.to(torch::kFloat32), e = expected("hf.image_embeds");
  CHECK((g * e).sum(-1).div(g.norm(2, -1) * e.norm(2, -1)).min().item<double>() > 0.9999);
}

TEST_CASE("int8 image linears keep fp32's decisions on the fixture", "[clip]") {
  torch::InferenceMode guard;
  if (!prefscore::int8_image_linears_available()) {
    WARN("no oneDNN int8 GEMM kernel on this CPU: --precision int8 is refused here");
    return;
  }
  RunOptions int8{c10::Device(c10::kCPU), c10::kBFloat16};
  int8.int8_image_linears = true;
  const ClipModel model = tiny_hf(int8);
  const ClipArchitecture& arch = model.architecture();
  const auto img = model.encode_image(expected("pixel_values"), /*keep_hidden=*/true);
  const auto txt = model.encode_text(expected("input_ids_hf_pad_bang"));
  REQUIRE(img.hidden.size() == static_cast<std::size_t>(arch.vision_layers + 1));
  const auto min_cosine = [](const at::Tensor& got, const at::Tensor& want) {
    const at::Tensor g = got.to(torch::kFloat32).flatten(1), e = want.flatten(1);
    return (g * e).sum(-1).div(g.norm(2, -1) * e.norm(2, -1)).min().item<double>();
  };
  // Measured: image embeds 0.999922, block 2 output 0.99994 (bf16 alone: 0.99999).
  const double embeds = min_cosine(img.embeds, expected("hf.image_embeds"));
  const double hidden =
      min_cosine(img.hidden[2][0].unsqueeze(0), expected("hf.hidden.vision.2").unsqueeze(0));
  WARN("int8 vs fp32: image embeds min cosine " << embeds << ", vision block 2 " << hidden);
  CHECK(embeds > 0.999);
  CHECK(hidden > 0.999);
  // The text tower is not quantised: it matches the bf16 bound of the test above.
  CHECK(min_cosine(txt.embeds, expected("hf.text_embeds")) > 0.9999);

  // Decisions: 4 images x 5 prompts = 30 image pairs. Measured: 29 ordered as fp32 orders them;
  // the one flip is a near-tie (fp32 logits 3.639 vs 3.561, int8 moves logits by up to 0.41 on a
  // scale of 60). That is 96.7% < 99.5%, one reason int8 is not what --precision auto picks.
  const at::Tensor got = logits_per_image(img.embeds.to(torch::kFloat32),
                                          txt.embeds.to(torch::kFloat32), model.logit_scale());
  const at::Tensor want = expected("hf.logits_per_image");
  const at::Tensor order_got = (got.unsqueeze(1) - got.unsqueeze(0)).sign();
  const at::Tensor order_want = (want.unsqueeze(1) - want.unsqueeze(0)).sign();
  const int64_t images = want.size(0), prompts = want.size(1);
  const at::Tensor upper = torch::ones({images, images}, torch::kBool).triu(1).unsqueeze(2);
  const int64_t pairs = images * (images - 1) / 2 * prompts;
  const int64_t same = (order_got.eq(order_want) & upper).sum().item<int64_t>();
  const double deviation = (got - want).abs().max().item<double>();
  WARN("int8 vs fp32: " << same << " of " << pairs << " pairs ordered alike, max logit deviation "
                        << deviation);
  CHECK(pairs == 30);
  CHECK(same >= 29);
  CHECK(deviation < 0.5);

  // Inputs are quantised per image, so an image's embedding does not depend on its batch.
  const at::Tensor alone = model.encode_image(expected("pixel_values").slice(0, 1, 2)).embeds;
  CHECK(alone.to(torch::kFloat32).equal(img.embeds.slice(0, 1, 2).to(torch::kFloat32)));
}

TEST_CASE("int8 is refused where it cannot run", "[clip]") {
  const ClipArchitecture arch =
      prefscore::clip_architecture_from_hf_config(data_path("models/hf/config.json"));
  RunOptions fp32_int8{c10::Device(c10::kCPU), c10::kFloat};
  fp32_int8.int8_image_linears = true;  // int8 needs the bf16 rest of the model
  Weights w(SafetensorsFile::open(data_path("models/hf/model.safetensors")),
            prefscore::weight_layout("huggingface"), fp32_int8);
  CHECK_THROWS_AS(ClipModel(arch, w), prefscore::Error);
}

namespace {

// The hf fixture checkpoint re-saved with one change, for the malformed-weights tests.
std::string modified_checkpoint(const std::string& drop, const std::string& add_name,
                                const at::Tensor& add_value) {
  const SafetensorsFile src = SafetensorsFile::open(data_path("models/hf/model.safetensors"));
  prefscore::SafetensorsWriter writer;
  for (const auto& info : src.tensors()) {
    if (info.name == drop || info.name == add_name) continue;
    prefscore::add_tensor(writer, info.name, prefscore::tensor_view(src, info));
  }
  if (!add_name.empty()) prefscore::add_tensor(writer, add_name, add_value);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("prefscore_clip_bad_" + std::to_string(std::rand()) + ".safetensors"))
                               .string();
  writer.write(path);
  return path;
}

std::string load_error(const std::string& path, const ClipArchitecture& arch) {
  try {
    Weights w(SafetensorsFile::open(path), prefscore::weight_layout("huggingface"), kCpuF32);
    ClipModel model(arch, w);
    w.finish();
  } catch (const prefscore::Error& e) {
    std::filesystem::remove(path);
    return e.what();
  }
  std::filesystem::remove(path);
  FAIL("malformed checkpoint was accepted");
  return "";
}

}  // namespace

TEST_CASE("malformed weights fail with one line naming the key", "[clip]") {
  const ClipArchitecture arch =
      prefscore::clip_architecture_from_hf_config(data_path("models/hf/config.json"));
  const std::string q = "vision_model.encoder.layers.1.self_attn.q_proj.weight";
  CHECK_THAT(load_error(modified_checkpoint(q, q, torch::zeros({64, 63})), arch),
             Catch::Contains("tensor 'vision_model.encoder.layers.1.self_attn.q_proj.weight' has "
                             "shape [64, 63], expected [64, 64]"));
  CHECK_THAT(load_error(modified_checkpoint("visual_projection.weight", "visual_projection.weight",
                                            torch::zeros({64, 32})),
                        arch),
             Catch::Contains("tensor 'visual_projection.weight' has shape [64, 32], expected [32, 64]"));
  CHECK_THAT(load_error(modified_checkpoint("text_model.final_layer_norm.bias", "", {}), arch),
             Catch::Contains("1 tensor(s) missing for layout 'huggingface': "
                             "text_model.final_layer_norm.bias"));
  CHECK_THAT(load_error(modified_checkpoint("", "vision_model.extra.weight", torch::zeros({2})), arch),
             Catch::Contains("1 tensor(s) not used by layout 'huggingface': vision_model.extra.weight"));
  CHECK_THAT(load_error(modified_checkpoint("logit_scale", "logit_scale",
                                            torch::tensor(4, torch::kInt32)),
                        arch),
             Catch::Contains("tensor 'logit_scale' has dtype I32, expected a floating-point dtype"));
  ClipArchitecture wider = arch;
  wider.vision_width = 128;
  wider.vision_heads = 8;
  CHECK_THAT(load_error(modified_checkpoint("", "", {}), wider),
             Catch::Contains("tensor 'vision_model.embeddings.patch_embedding.weight' has shape "
                             "[64, 3, 14, 14], expected [128, 3, 14, 14]"));
  // Loading the open_clip file with the huggingface table lists what is missing.
  CHECK_THROWS_WITH(
      [&] {
        Weights w(SafetensorsFile::open(data_path("models/openclip/open_clip_model.safetensors")),
                  prefscore::weight_layout("huggingface"), kCpuF32);
        ClipModel model(arch, w);
        w.finish();
      }(),
      Catch::Contains("tensor(s) missing for layout 'huggingface': "
                      "vision_model.embeddings.patch_embedding.weight"));
}

namespace {

struct CachedLoad {
  prefscore::PackedWeightsReport report;
  at::Tensor image_embeds, text_embeds;
};

// Loads `checkpoint` (the hf fixture layout) with packed weights kept in `cache_dir` (none when
// empty) and embeds the fixture's images and prompts.
CachedLoad load_cached(const std::string& checkpoint, const RunOptions& options,
                       const std::string& cache_dir) {
  const ClipArchitecture arch =
      prefscore::clip_architecture_from_hf_config(data_path("models/hf/config.json"));
  Weights w(SafetensorsFile::open(checkpoint), prefscore::weight_layout("huggingface"), options);
  const ClipModel model(arch, w, prefscore::PackedWeightsCache{cache_dir});
  w.finish();  // also proves the tensors a cache hit does not read were checked off as used
  CachedLoad out;
  out.report = model.packed_weights_report();
  out.image_embeds = model.encode_image(expected("pixel_values")).embeds.to(torch::kFloat32);
  out.text_embeds = model.encode_text(expected("input_ids_hf_pad_bang")).embeds.to(torch::kFloat32);
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const std::string& l : lines) all += l + "\n";
  return all;
}

std::filesystem::path packed_file(const std::filesystem::path& dir, const std::string& tower) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().find("-" + tower + ".packed") != std::string::npos) {
      return entry.path();
    }
  }
  FAIL("no " << tower << " packed-weights file in " << dir);
  return {};
}

}  // namespace

TEST_CASE("packed weights cache: mapped loads score exactly as packing does; damaged or stale "
          "files are packed again", "[clip]") {
  torch::InferenceMode guard;
  const std::filesystem::path dir = prefscore::testing::fresh_temp_dir("packed_cache");
  const std::string checkpoint = (dir / "model.safetensors").string();
  std::filesystem::copy_file(data_path("models/hf/model.safetensors"), checkpoint);
  std::vector<std::pair<std::string, RunOptions>> precisions = {
      {"bf16", {c10::Device(c10::kCPU), c10::kBFloat16}}};
  if (prefscore::int8_image_linears_available()) {
    RunOptions int8{c10::Device(c10::kCPU), c10::kBFloat16};
    int8.int8_image_linears = true;
    precisions.push_back({"int8", int8});
  }
  for (const auto& [name, options] : precisions) {
    INFO(name);
    const CachedLoad plain = load_cached(checkpoint, options, "");
    CHECK_FALSE(plain.report.vision_mapped);
    CHECK(plain.report.problems.empty());
    const std::filesystem::path cache = dir / ("cache_" + name);
    const CachedLoad first = load_cached(checkpoint, options, cache.string());
    if (std::filesystem::exists(cache)) {
      // The oneDNN path: the first load packs into the cache, the next ones map it.
      CHECK_FALSE(first.report.vision_mapped);
      CHECK(first.report.problems.empty());
    } else {
      WARN("no oneDNN bf16 path on this CPU: nothing is packed, so nothing is cached");
      CHECK(first.report.problems.empty());
      continue;
    }
    const auto same_scores = [&](const CachedLoad& got) {
      CHECK(got.image_embeds.equal(plain.image_embeds));
      CHECK(got.text_embeds.equal(plain.text_embeds));
    };
    same_scores(first);
    const CachedLoad mapped = load_cached(checkpoint, options, cache.string());
    CHECK(mapped.report.vision_mapped);
    CHECK(mapped.report.text_mapped);
    CHECK(mapped.report.problems.empty());
    same_scores(mapped);

    // One flipped bit in the last weight bytes of the image tower's file.
    const std::filesystem::path vision = packed_file(cache, "vision");
    {
      std::fstream f(vision, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(-1, std::ios::end);
      char c = 0;
      f.get(c);
      f.seekp(-1, std::ios::end);
      f.put(static_cast<char>(c ^ 0x10));
    }
    const CachedLoad damaged = load_cached(checkpoint, options, cache.string());
    CHECK_FALSE(damaged.report.vision_mapped);
    CHECK(damaged.report.text_mapped);
    REQUIRE(damaged.report.problems.size() == 1);
    CHECK_THAT(damaged.report.problems[0], Catch::Contains(vision.string()) &&
                                               Catch::Contains("checksum mismatch") &&
                                               Catch::Contains("packed again"));
    same_scores(damaged);
    CHECK(load_cached(checkpoint, options, cache.string()).report.vision_mapped);  // rewritten

    // Cut short, as a crash before the kernel wrote it out could leave it.
    std::filesystem::resize_file(vision, std::filesystem::file_size(vision) / 2);
    const CachedLoad truncated = load_cached(checkpoint, options, cache.string());
    CHECK_FALSE(truncated.report.vision_mapped);
    CHECK_THAT(joined(truncated.report.problems), Catch::Contains("outside the file"));
    same_scores(truncated);

    // The checkpoint changed (its mtime): every file is stale, packed again and replaced.
    std::filesystem::last_write_time(checkpoint, std::filesystem::last_write_time(checkpoint) +
                                                     std::chrono::seconds(5));
    const CachedLoad stale = load_cached(checkpoint, options, cache.string());
    CHECK_FALSE(stale.report.vision_mapped);
    CHECK_FALSE(stale.report.text_mapped);
    CHECK(stale.report.problems.size() == 2);
    CHECK_THAT(joined(stale.report.problems), Catch::Contains("made from other weights"));
    same_scores(stale);
    CHECK(load_cached(checkpoint, options, cache.string()).report.vision_mapped);
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(cache)) files += entry.exists();
    CHECK(files == 2);  // replaced, not added; no temporaries left

    // A cache that cannot be written: a warning, and the load goes on.
    const std::filesystem::path blocked = dir / ("not_a_folder_" + name);
    std::ofstream(blocked) << "x";
    const CachedLoad unwritable = load_cached(checkpoint, options, (blocked / "cache").string());
    CHECK_FALSE(unwritable.report.vision_mapped);
    CHECK_THAT(joined(unwritable.report.problems), Catch::Contains("cannot create the folder") &&
                                                       Catch::Contains("packed weights not kept"));
    same_scores(unwritable);
  }
  std::filesystem::remove_all(dir);
}
