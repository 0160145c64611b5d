// `prefscore bench --model clip-h --synthetic`: image-tower throughput on random full-size weights
// with the card's dims (nothing downloaded), against an in-process measured GEMM peak; see
// include/prefscore/benchmark.h. With --format json the last line is one JSON object.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "output.h"
#include "prefscore/benchmark.h"
#include "prefscore/error.h"
#include "prefscore/model_card.h"
#include "run_flags.h"

namespace prefscore::cli {
namespace {

struct BenchOptions {
  std::string model;
  std::string model_card;
  bool synthetic = false;
  int64_t batch_size = 4;
  int iters = 3;
  bool compare_fp32 = false;
  std::string scratch_dir;
  std::string format = "table";
  RunFlags run;
};

nlohmann::ordered_json result_json(const ClipBenchmarkResult& r, const std::string& model) {
  nlohmann::ordered_json j = {{"model", model},
                              {"precision", r.precision},
                              {"threads", r.threads},
                              {"batch_size", r.batch_size},
                              {"iters", r.iters},
                              {"images_per_second", r.images_per_second},
                              {"ms_per_image", r.ms_per_image},
                              {"gflop_per_image", r.gflop_per_image},
                              {"gflops", r.gflops},
                              {"peak_gflops", r.peak_gflops},
                              {"peak_kernel", r.peak_kernel},
                              {"fraction_of_peak", r.fraction_of_peak},
                              {"peak_rss_mb", r.peak_rss_mb},
                              {"page_faults_per_call", r.page_faults_per_call},
                              {"weights_mb", r.weights_mb},
                              {"load_s", r.load_s},
                              {"time_to_first_score_s", r.time_to_first_score_s}};
  if (r.vs_fp32) {
    j["vs_fp32"] = {{"images", r.vs_fp32->images},
                    {"prompts", r.vs_fp32->prompts},
                    {"pairs", r.vs_fp32->pairs},
                    {"pairwise_agreement", r.vs_fp32->pairwise_agreement},
                    {"max_score_deviation", r.vs_fp32->max_score_deviation},
                    {"score_spread", r.vs_fp32->score_spread},
                    {"min_embedding_cosine", r.vs_fp32->min_embedding_cosine}};
  }
  return j;
}

std::string result_table(const ClipBenchmarkResult& r, const std::string& model) {
  // int8 multiply-adds are integer operations: the same count, in GOP/s.
  const char* unit = r.precision == "int8" ? "GOP/s" : "GFLOP/s";
  char buf[1024];
  std::ostringstream out;
  std::snprintf(buf, sizeof buf,
                "model %s, synthetic weights (%.0f MB float32), precision %s, %d threads, "
                "batch %lld x %d timed calls\n",
                model.c_str(), r.weights_mb, r.precision.c_str(), r.threads,
                static_cast<long long>(r.batch_size), r.iters);
  out << buf;
  std::snprintf(buf, sizeof buf,
                "image tower: %.3f images/s, %.1f ms/image, %.1f GFLOP/image, %.0f %s = "
                "%.1f%% of the measured %s GEMM peak (%.0f %s, %s)\n",
                r.images_per_second, r.ms_per_image, r.gflop_per_image, r.gflops, unit,
                100 * r.fraction_of_peak, r.precision.c_str(), r.peak_gflops, unit,
                r.peak_kernel.c_str());
  out << buf;
  std::snprintf(buf, sizeof buf,
                "load %.2f s, time to first score %.2f s, peak RSS %.0f MB, %.0f page faults "
                "per timed call\n",
                r.load_s, r.time_to_first_score_s, r.peak_rss_mb, r.page_faults_per_call);
  out << buf;
  if (r.vs_fp32) {
    const PrecisionAgreement& a = *r.vs_fp32;
    std::snprintf(buf, sizeof buf,
                  "vs fp32 (%lld images x %lld prompts): %.4f%% of %lld pairs ordered alike, max "
                  "score deviation %.4g (score = 100 cos; spread of the fp32 scores over images "
                  "%.4g), min embedding cosine %.6f\n",
                  static_cast<long long>(a.images), static_cast<long long>(a.prompts),
                  100 * a.pairwise_agreement, static_cast<long long>(a.pairs),
                  a.max_score_deviation, a.score_spread, a.min_embedding_cosine);
    out << buf;
  }
  return out.str();
}

void bench(const BenchOptions& opts, const Context& context) {
  if (!opts.synthetic) {
    throw Error("--synthetic", "bench runs on random weights only for now; pass --synthetic");
  }
  const ModelCard card = opts.model_card.empty() ? find_model_card(context.card_dirs, opts.model)
                                                 : load_model_card(opts.model_card);
  ClipBenchmarkOptions options{
      card.architecture,
      apply_run_flags(opts.run),
      opts.batch_size,
      opts.iters,
      opts.compare_fp32,
      opts.scratch_dir.empty() ? std::filesystem::temp_directory_path().string() : opts.scratch_dir,
      /*seed=*/0};
  const ClipBenchmarkResult result = run_clip_benchmark(options);
  const std::string text = opts.format == "json" ? result_json(result, card.name).dump() + "\n"
                                                 : result_table(result, card.name);
  emit(text, "");
}

}  // namespace

void add_bench(CLI::App& app, Context& context) {
  auto opts = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Image-tower throughput on random full-size weights (--synthetic): images/s, "
      "GFLOP/s against the measured GEMM peak, peak RSS, time to first score");
  auto* model =
      cmd->add_option("-m,--model", opts->model,
                      "Model card whose dims to use, e.g. clip-h (see `prefscore models`)");
  cmd->add_option("--model-card", opts->model_card, "Use this model card file's dims (.json)")
      ->excludes(model);
  cmd->add_flag("--synthetic", opts->synthetic,
                "Random weights with the card's dims, written to a temporary file and deleted "
                "afterwards (required) [default: off]");
  cmd->add_option("--batch-size", opts->batch_size, "Images per model call [default: 4]")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--iters", opts->iters, "Timed model calls after the first [default: 3]")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--compare-fp32", opts->compare_fp32,
                "Also run every image in fp32 and report how often pairs of images are ordered "
                "alike and the largest score deviation [default: off]");
  cmd->add_option("--scratch-dir", opts->scratch_dir,
                  "Folder for the temporary random checkpoint (ViT-H: 3.8 GB) [default: the "
                  "system temporary folder]");
  cmd->add_option("--format", opts->format,
                  "Output format: table or json (one object, last "
                  "line) [default: table]")
      ->check(CLI::IsMember({"table", "json"}));
  add_run_flags(*cmd, opts->run);
  cmd->callback([opts, &context] {
    if (opts->model.empty() && opts->model_card.empty()) {
      throw Error("bench", "no model: pass --model NAME or --model-card FILE");
    }
    bench(*opts, context);
  });
}

}  // namespace prefscore::cli
