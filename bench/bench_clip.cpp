// Full-size CLIP ViT-H/14 image tower throughput with random weights (no download): builds an
// open_clip-layout checkpoint with the clip-h card's dims, then reports images/s, ms/image,
// achieved GFLOP/s and its fraction of an in-process measured matmul peak, for fp32 and bf16, and
// the bf16 deviation from fp32. Usage: bench_clip [--threads N] [--batch B] [--iters K]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "prefscore/clip.h"
#include "prefscore/model_card.h"
#include "prefscore/safetensors.h"
#include "prefscore/weights.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// (name, shape) of every tensor of an open_clip CLIP with these dims.
std::vector<std::pair<std::string, std::vector<int64_t>>> open_clip_tensors(
    const prefscore::ClipArchitecture& a) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> t;
  auto blocks = [&](const std::string& prefix, int64_t layers, int64_t w, int64_t mlp) {
    for (int64_t i = 0; i < layers; ++i) {
      const std::string p = prefix + "transformer.resblocks." + std::to_string(i) + ".";
      t.push_back({p + "ln_1.weight", {w}});
      t.push_back({p + "ln_1.bias", {w}});
      t.push_back({p + "attn.in_proj_weight", {3 * w, w}});
      t.push_back({p + "attn.in_proj_bias", {3 * w}});
      t.push_back({p + "attn.out_proj.weight", {w, w}});
      t.push_back({p + "attn.out_proj.bias", {w}});
      t.push_back({p + "ln_2.weight", {w}});
      t.push_back({p + "ln_2.bias", {w}});
      t.push_back({p + "mlp.c_fc.weight", {mlp, w}});
      t.push_back({p + "mlp.c_fc.bias", {mlp}});
      t.push_back({p + "mlp.c_proj.weight", {w, mlp}});
      t.push_back({p + "mlp.c_proj.bias", {w}});
    }
  };
  const int64_t vw = a.vision_width, tw = a.text_width;
  t.push_back({"visual.conv1.weight", {vw, 3, a.patch_size, a.patch_size}});
  t.push_back({"visual.class_embedding", {vw}});
  t.push_back({"visual.positional_embedding", {a.vision_tokens(), vw}});
  t.push_back({"visual.ln_pre.weight", {vw}});
  t.push_back({"visual.ln_pre.bias", {vw}});
  blocks("visual.", a.vision_layers, vw, a.vision_mlp_width());
  t.push_back({"visual.ln_post.weight", {vw}});
  t.push_back({"visual.ln_post.bias", {vw}});
  t.push_back({"visual.proj", {vw, a.embed_dim}});
  t.push_back({"token_embedding.weight", {a.vocab_size, tw}});
  t.push_back({"positional_embedding", {a.context_length, tw}});
  blocks("", a.text_layers, tw, a.text_mlp_width());
  t.push_back({"ln_final.weight", {tw}});
  t.push_back({"ln_final.bias", {tw}});
  t.push_back({"text_projection", {tw, a.embed_dim}});
  t.push_back({"logit_scale", {}});
  return t;
}

// Streams random float32 tensors (N(0, 0.02²); layer-norm weights 1) into a safetensors file
// without holding the whole checkpoint in memory.
void write_random_checkpoint(const std::string& path, const prefscore::ClipArchitecture& arch) {
  const auto tensors = open_clip_tensors(arch);
  nlohmann::ordered_json header;
  uint64_t offset = 0;
  for (const auto& [name, shape] : tensors) {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    header[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {offset, offset + 4 * n}}};
    offset += 4 * n;
  }
  std::string json = header.dump();
  while ((8 + json.size()) % 8 != 0) json.push_back(' ');
  std::ofstream out(path, std::ios::binary);
  const uint64_t len = json.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << json;
  torch::manual_seed(0);
  for (const auto& [name, shape] : tensors) {
    const bool is_norm_weight = name.find("ln_") != std::string::npos &&
                                name.find(".weight") != std::string::npos;
    const at::Tensor t = is_norm_weight ? torch::ones(shape) : torch::randn(shape) * 0.02;
    out.write(static_cast<const char*>(t.data_ptr()), t.numel() * 4);
  }
}

double matmul_peak_gflops(c10::ScalarType dtype) {
  const at::Tensor a = torch::randn({1028, 1280}).to(dtype);
  const at::Tensor b = torch::randn({5120, 1280}).to(dtype);
  at::linear(a, b);  // warm-up
  const int reps = 5;
  const auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) at::linear(a, b);
  return 2.0 * 1028 * 1280 * 5120 * reps / seconds_since(t0) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, batch = 2, iters = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    if (flag == "--batch") batch = std::stoi(argv[i + 1]);
    if (flag == "--iters") iters = std::stoi(argv[i + 1]);
  }
  at::set_num_threads(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  torch::InferenceMode guard;
  const auto card = prefscore::load_model_card(std::string(PREFSCORE_MODELS_DIR) + "/clip-h.json");
  const auto& arch = card.architecture;
  // Image tower MACs: per block 12·W² per token (qkv, out, 2 MLP layers at 4x) + 2·T²·W
  // (attention), plus the patch embedding.
  const double t = static_cast<double>(arch.vision_tokens()), w = static_cast<double>(arch.vision_width);
  const double macs = arch.vision_layers * (12.0 * w * w * t + 2.0 * t * t * w) +
                      (t - 1) * 3.0 * arch.patch_size * arch.patch_size * w;
  const double gflop_per_image = 2.0 * macs / 1e9;

  const std::string path =
      (std::filesystem::temp_directory_path() / "prefscore_bench_clip_h.safetensors").string();
  auto t0 = Clock::now();
  write_random_checkpoint(path, arch);
  std::printf("random ViT-H/14 checkpoint written in %.1f s (%s); %.1f GFLOP per image, %d threads\n",
              seconds_since(t0), path.c_str(), gflop_per_image, at::get_num_threads());

  const at::Tensor pixels = torch::randn({batch, 3, arch.image_size, arch.image_size});
  at::Tensor fp32_embeds;
  for (const auto dtype : {c10::kFloat, c10::kBFloat16}) {
    const char* name = dtype == c10::kFloat ? "fp32" : "bf16";
    t0 = Clock::now();
    prefscore::Weights weights(prefscore::SafetensorsFile::open(path),
                               prefscore::weight_layout("open_clip"),
                               {c10::Device(c10::kCPU), dtype});
    const prefscore::ClipModel model(arch, weights);
    weights.finish();
    const double load_s = seconds_since(t0);
    t0 = Clock::now();
    at::Tensor embeds = model.encode_image(pixels).embeds;  // first batch, includes warm-up
    const double first_s = seconds_since(t0);
    t0 = Clock::now();
    for (int i = 0; i < iters; ++i) embeds = model.encode_image(pixels).embeds;
    const double per_image = seconds_since(t0) / (iters * batch);
    const double peak = matmul_peak_gflops(dtype);
    const double achieved = gflop_per_image / per_image;
    std::printf("%s: load %.2f s, first batch of %d %.2f s, %.3f images/s, %.0f ms/image, "
                "%.0f GFLOP/s = %.0f%% of measured matmul peak %.0f GFLOP/s\n",
                name, load_s, batch, first_s, 1.0 / per_image, 1000 * per_image, achieved,
                100 * achieved / peak, peak);
    if (dtype == c10::kFloat) {
      fp32_embeds = embeds;
    } else {
      const at::Tensor g = embeds.to(torch::kFloat32);
      const double cos = (g * fp32_embeds).sum(-1).div(g.norm(2, -1) * fp32_embeds.norm(2, -1))
                             .min().item<double>();
      std::printf("bf16 vs fp32 image embeddings: min cosine %.6f, max abs diff %.4g (max |fp32| %.4g)\n",
                  cos, (g - fp32_embeds).abs().max().item<double>(),
                  fp32_embeds.abs().max().item<double>());
    }
  }
  std::filesystem::remove(path);
  return 0;
}
