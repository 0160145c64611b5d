#include "prefscore/benchmark.h"

#include <sys/resource.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "onednn_transformer.h"
#include "prefscore/clip.h"
#include "prefscore/error.h"
#include "prefscore/heads.h"
#include "prefscore/safetensors.h"
#include "prefscore/weights.h"

namespace prefscore {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// (name, shape) of every tensor of an open_clip CLIP with these dims (open_clip model.py CLIP).
std::vector<std::pair<std::string, std::vector<int64_t>>> open_clip_tensors(
    const ClipArchitecture& a) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> t;
  const auto blocks = [&](const std::string& prefix, int64_t layers, int64_t w, int64_t mlp) {
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

// Random prompts: <start>, random ids, <end> (the highest id: where the text tower pools), pad 0.
at::Tensor random_input_ids(int64_t prompts, const ClipArchitecture& arch) {
  const int64_t length = std::min<int64_t>(arch.context_length, 12);
  at::Tensor ids = torch::zeros({prompts, arch.context_length}, torch::kInt64);
  ids.slice(1, 0, 1).fill_(arch.vocab_size - 2);
  ids.slice(1, 1, length - 1).copy_(torch::randint(arch.vocab_size - 2, {prompts, length - 2}));
  ids.slice(1, length - 1, length).fill_(arch.vocab_size - 1);
  return ids;
}

// Removes the scratch checkpoint however the benchmark ends.
struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

struct TowerRun {
  at::Tensor image_embeds;  // [images, E] float32, every timed batch
  at::Tensor text_embeds;   // [prompts, E] float32
  double page_faults_per_call = 0;  // the process's, during the timed calls
};

// Page faults of the whole process so far (every thread; minor and major).
double process_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_minflt + usage.ru_majflt);
}

}  // namespace

double image_tower_gflop(const ClipArchitecture& arch) {
  const double t = static_cast<double>(arch.vision_tokens()),
               w = static_cast<double>(arch.vision_width);
  const double mlp = static_cast<double>(arch.vision_mlp_width());
  // Multiply-adds per block: q/k/v 3W², output W², MLP 2·W·mlp per token; q·kᵀ and attn·v T·W each.
  const double block_macs = t * (4.0 * w * w + 2.0 * w * mlp) + 2.0 * t * t * w;
  const double patch_macs = (t - 1) * 3.0 * arch.patch_size * arch.patch_size * w;
  return 2.0 * (arch.vision_layers * block_macs + patch_macs + w * arch.embed_dim) / 1e9;
}

namespace {

// The GEMM peak, measured in rounds that can be interleaved with the model's calls. In CPU bf16
// with oneDNN it is oneDNN's GEMM on prepacked weights, the kernel the model runs, which is faster
// than at::linear (that reorders the weights on every call); with --precision int8 the same for
// oneDNN's int8 GEMM (GOP/s); otherwise at::linear, what fp32 runs.
class GemmProbe {
 public:
  explicit GemmProbe(const RunOptions& run) {
    const auto opts = torch::TensorOptions().dtype(run.dtype).device(run.device);
    const bool onednn =
        run.device.is_cpu() && run.dtype == c10::kBFloat16 && OnednnTransformer::available();
    const LinearPrecision precision =
        run.int8_image_linears ? LinearPrecision::kInt8 : LinearPrecision::kBf16;
    kernel_ = !onednn ? "at::linear" : run.int8_image_linears ? "onednn_prepacked_int8"
                                                              : "onednn_prepacked";
    // [M, K] x [K, N]: ViT-H's MLP layers for 8 and 4 images of 257 tokens.
    for (const auto& [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{2056, 1280, 5120},
                                  {2056, 5120, 1280},
                                  {1028, 1280, 5120}}) {
      if (onednn) {
        gemms_.push_back(std::make_unique<OnednnGemm>(m, k, n, precision));
      } else {
        operands_.push_back({torch::randn({m, k}, opts), torch::randn({n, k}, opts)});
      }
      flop_per_round_ += 2.0 * m * k * n;
    }
    round();  // warm-up, not counted
    seconds_ = 0;
    flop_ = 0;
  }
  void round() {
    const auto t0 = Clock::now();
    for (const auto& [a, b] : operands_) at::linear(a, b);
    for (const auto& gemm : gemms_) gemm->run();
    seconds_ += seconds_since(t0);
    flop_ += flop_per_round_;
  }
  double seconds() const { return seconds_; }
  double gflops() const { return seconds_ > 0 ? flop_ / seconds_ / 1e9 : 0; }
  const std::string& kernel() const { return kernel_; }

 private:
  std::string kernel_;
  std::vector<std::unique_ptr<OnednnGemm>> gemms_;
  std::vector<std::pair<at::Tensor, at::Tensor>> operands_;
  double flop_per_round_ = 0, flop_ = 0, seconds_ = 0;
};

}  // namespace

uint64_t write_random_open_clip_checkpoint(const std::string& path, const ClipArchitecture& arch,
                                           uint64_t seed) {
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
  while (json.size() % 8 != 0) json.push_back(' ');  // data 8-byte aligned
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path, "cannot create the random checkpoint");
  const uint64_t length = json.size();
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << json;
  torch::manual_seed(seed);
  for (const auto& [name, shape] : tensors) {
    const bool norm_weight =
        name.find("ln_") != std::string::npos && name.find(".weight") != std::string::npos;
    const at::Tensor t = norm_weight             ? torch::ones(shape)
                         : name == "logit_scale" ? torch::full(shape, std::log(100.0))
                                                 : torch::randn(shape) * 0.02;
    out.write(static_cast<const char*>(t.data_ptr()), t.numel() * 4);
  }
  out.close();
  if (!out) throw Error(path, "cannot write the random checkpoint (disk full?)");
  return 8 + length + offset;
}

double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

namespace {

// Loads the checkpoint in `run`'s precision and runs the prompts and every batch; `first_score_s`
// and `timed_s` receive the time to the first score and the time of the timed calls. A `probe`
// runs after each timed call, outside the timed span.
TowerRun run_tower(const std::string& path, const ClipArchitecture& arch, const RunOptions& run,
                   const at::Tensor& input_ids, const std::vector<at::Tensor>& batches,
                   double* load_s, double* first_score_s, double* timed_s, GemmProbe* probe) {
  torch::InferenceMode guard;
  const auto t0 = Clock::now();
  Weights weights(SafetensorsFile::open(path), weight_layout("open_clip"), run);
  const ClipModel model(arch, weights);
  weights.finish();
  if (load_s != nullptr) *load_s = seconds_since(t0);
  TowerRun out;
  out.text_embeds = model.encode_text(input_ids).embeds.to(torch::kFloat32);
  std::vector<at::Tensor> images;
  images.push_back(model.encode_image(batches[0]).embeds.to(torch::kFloat32));
  cosine_matrix(out.text_embeds.slice(0, 0, 1), images[0]);  // the first scores
  if (first_score_s != nullptr) *first_score_s = seconds_since(t0);
  double timed = 0, faults = 0;
  for (std::size_t i = 1; i < batches.size(); ++i) {
    const double faults_before = process_page_faults();
    const auto t1 = Clock::now();
    images.push_back(model.encode_image(batches[i]).embeds.to(torch::kFloat32));
    const double call_s = seconds_since(t1);
    faults += process_page_faults() - faults_before;
    timed += call_s;
    // Probe rounds for up to half a second (at least one), right after the call they compare with.
    const double probed = probe != nullptr ? probe->seconds() : 0;
    while (probe != nullptr &&
           (probe->seconds() == probed || probe->seconds() - probed < std::min(0.5, call_s))) {
      probe->round();
    }
  }
  if (timed_s != nullptr) *timed_s = timed;
  if (batches.size() > 1) out.page_faults_per_call = faults / (batches.size() - 1);
  out.image_embeds = torch::cat(images, 0);
  return out;
}

PrecisionAgreement agreement(const TowerRun& got, const TowerRun& fp32) {
  PrecisionAgreement a{};
  const at::Tensor s = cosine_matrix(got.text_embeds, got.image_embeds) * 100.0;
  const at::Tensor r = cosine_matrix(fp32.text_embeds, fp32.image_embeds) * 100.0;
  a.prompts = s.size(0);
  a.images = s.size(1);
  // sign(score_i − score_j) for every image pair under every prompt.
  const at::Tensor ds = (s.unsqueeze(2) - s.unsqueeze(1)).sign();
  const at::Tensor dr = (r.unsqueeze(2) - r.unsqueeze(1)).sign();
  const at::Tensor upper = torch::ones({a.images, a.images}, torch::kBool).triu(1).unsqueeze(0);
  a.pairs = a.prompts * a.images * (a.images - 1) / 2;
  const int64_t same = (ds.eq(dr) & upper).sum().item<int64_t>();
  a.pairwise_agreement = a.pairs > 0 ? static_cast<double>(same) / a.pairs : 1.0;
  a.max_score_deviation = (s - r).abs().max().item<double>();
  a.score_spread = a.images > 1 ? r.std(/*dim=*/1).mean().item<double>() : 0.0;
  const at::Tensor g = l2_normalize(got.image_embeds), f = l2_normalize(fp32.image_embeds);
  a.min_embedding_cosine = (g * f).sum(-1).min().item<double>();
  return a;
}

}  // namespace

ClipBenchmarkResult run_clip_benchmark(const ClipBenchmarkOptions& options) {
  if (options.batch_size < 1 || options.iters < 1) {
    throw Error("bench", "batch size and iterations must be at least 1");
  }
  const ClipArchitecture& arch = options.architecture;
  ClipBenchmarkResult result{};
  result.precision = precision_name(options.run);
  result.threads = at::get_num_threads();
  result.batch_size = options.batch_size;
  result.iters = options.iters;
  result.gflop_per_image = image_tower_gflop(arch);

  const std::string path = (std::filesystem::path(options.scratch_dir) /
                            ("prefscore_bench_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  const RemoveOnExit cleanup{path};
  result.weights_mb = write_random_open_clip_checkpoint(path, arch, options.seed) / 1048576.0;

  // Distinct random images per call, so that the comparison with fp32 sees every timed image.
  // Each image gets its own per-channel offset on top of the pixel noise: i.i.d. noise alone
  // averages out over the patches, so every image would embed alike and every pair would be a
  // near-tie, which says nothing about decisions on real, different images.
  torch::manual_seed(options.seed + 1);
  std::vector<at::Tensor> batches;
  for (int i = 0; i <= options.iters; ++i) {
    const int64_t n = options.batch_size, s = arch.image_size;
    batches.push_back(torch::randn({n, 3, s, s}) + torch::randn({n, 3, 1, 1}));
  }
  const at::Tensor input_ids = random_input_ids(/*prompts=*/4, arch);

  double timed_s = 0;
  std::optional<GemmProbe> probe;
  {
    torch::InferenceMode guard;
    probe.emplace(options.run);
  }
  const TowerRun run = run_tower(path, arch, options.run, input_ids, batches, &result.load_s,
                                 &result.time_to_first_score_s, &timed_s, &*probe);
  result.peak_rss_mb = peak_rss_mb();
  result.page_faults_per_call = run.page_faults_per_call;
  const double images = static_cast<double>(options.iters * options.batch_size);
  result.images_per_second = images / timed_s;
  result.ms_per_image = 1000.0 * timed_s / images;
  result.gflops = result.gflop_per_image * result.images_per_second;
  result.peak_gflops = probe->gflops();
  result.peak_kernel = probe->kernel();
  result.fraction_of_peak = result.peak_gflops > 0 ? result.gflops / result.peak_gflops : 0;

  if (options.compare_fp32) {
    const RunOptions fp32{options.run.device, c10::kFloat};
    const TowerRun reference =
        run_tower(path, arch, fp32, input_ids, batches, nullptr, nullptr, nullptr, nullptr);
    result.vs_fp32 = agreement(run, reference);
  }
  return result;
}

}  // namespace prefscore
