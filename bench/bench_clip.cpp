// Full-size CLIP ViT-H/14 image tower throughput with random weights (no download), fp32 then
// bf16 with its agreement with fp32: the library's benchmark (include/prefscore/benchmark.h), as
// `prefscore bench --model clip-h --synthetic` runs it. Usage: bench_clip [--threads N]
// [--batch B] [--iters K]
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "prefscore/benchmark.h"
#include "prefscore/model_card.h"

int main(int argc, char** argv) {
  int threads = 0, batch = 4, iters = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    if (flag == "--batch") batch = std::stoi(argv[i + 1]);
    if (flag == "--iters") iters = std::stoi(argv[i + 1]);
  }
  at::set_num_threads(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()));
  const auto card = prefscore::load_model_card(std::string(PREFSCORE_MODELS_DIR) + "/clip-h.json");
  for (const auto dtype : {c10::kFloat, c10::kBFloat16}) {
    const prefscore::ClipBenchmarkResult r = prefscore::run_clip_benchmark(
        {card.architecture, {c10::Device(c10::kCPU), dtype}, batch, iters,
         /*compare_fp32=*/dtype != c10::kFloat, std::filesystem::temp_directory_path().string(),
         /*seed=*/0});
    std::printf("%s: load %.2f s, first score %.2f s, %.3f images/s, %.0f ms/image, %.0f GFLOP/s "
                "= %.0f%% of measured GEMM peak %.0f GFLOP/s, peak RSS %.0f MB\n",
                r.precision.c_str(), r.load_s, r.time_to_first_score_s, r.images_per_second,
                r.ms_per_image, r.gflops, 100 * r.fraction_of_peak, r.peak_gflops, r.peak_rss_mb);
    if (r.vs_fp32) {
      std::printf("%s vs fp32: %.4f%% of %lld pairs agree, max score deviation %.4g, min image "
                  "embedding cosine %.6f\n",
                  r.precision.c_str(), 100 * r.vs_fp32->pairwise_agreement,
                  static_cast<long long>(r.vs_fp32->pairs), r.vs_fp32->max_score_deviation,
                  r.vs_fp32->min_embedding_cosine);
    }
  }
  return 0;
}
