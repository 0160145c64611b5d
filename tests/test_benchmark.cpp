// The benchmark module and `prefscore bench`: the analytic FLOP count, the random checkpoint, and
// the JSON report's keys and internal consistency on the tiny fixture dims (values, not timings:
// timing lives in the benchmark itself).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "prefscore/benchmark.h"
#include "prefscore/model_card.h"
#include "prefscore/safetensors.h"
#include "test_utils.h"

using prefscore::testing::data_path;
using prefscore::testing::run_prefscore;

namespace {

nlohmann::json last_line_json(const std::string& out) {
  std::istringstream lines(out);
  std::string line, last;
  while (std::getline(lines, line)) {
    if (!line.empty()) last = line;
  }
  return nlohmann::json::parse(last);
}

}  // namespace

TEST_CASE("image tower FLOPs of ViT-H/14 at 224 px", "[benchmark]") {
  const auto card = prefscore::load_model_card(std::string(PREFSCORE_MODELS_DIR) + "/clip-h.json");
  // By hand: T = 257 tokens, W = 1280, MLP 5120, 32 blocks. Per block T·(4W² + 2·W·5120) +
  // 2·T²·W = 5,052,825,600 + 169,085,440 MACs; patch embedding 256·3·14²·1280 = 192,675,840;
  // projection 1280·1024 = 1,310,720. Total 167,295,139,840 MACs = 334.59027968 GFLOP.
  CHECK(prefscore::image_tower_gflop(card.architecture) == Approx(334.59027968).epsilon(1e-12));
}

TEST_CASE("random open_clip checkpoint has every tensor with the card's shapes", "[benchmark]") {
  const auto card = prefscore::load_model_card(data_path("cards/tiny-hf.json"));
  const auto dir = prefscore::testing::fresh_temp_dir("bench_ckpt");
  const std::string path = (dir / "random.safetensors").string();
  const uint64_t size = prefscore::write_random_open_clip_checkpoint(path, card.architecture, 7);
  const auto file = prefscore::SafetensorsFile::open(path);
  CHECK(file.file_size() == size);
  CHECK(file.at("visual.transformer.resblocks.1.attn.in_proj_weight").shape ==
        std::vector<int64_t>{192, 64});
  CHECK(file.at("visual.proj").shape == std::vector<int64_t>{64, 32});
  CHECK(file.at("token_embedding.weight").shape == std::vector<int64_t>{49408, 32});
  CHECK(file.contains("transformer.resblocks.1.mlp.c_proj.bias"));
  CHECK(!file.contains("transformer.resblocks.2.mlp.c_proj.bias"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("prefscore bench --synthetic --format json: the last line is the report",
          "[benchmark][cli]") {
  const auto r = run_prefscore("bench --model-card " + data_path("cards/tiny-hf.json") +
                               " --synthetic --precision fp32 --threads 1 --batch-size 2 --iters 2 "
                               "--compare-fp32 --format json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = last_line_json(r.out);
  for (const char* key : {"images_per_second", "ms_per_image", "gflops", "fraction_of_peak",
                          "peak_rss_mb", "time_to_first_score_s", "peak_gflops", "load_s"}) {
    INFO(key);
    REQUIRE(j.contains(key));
    CHECK(j[key].get<double>() > 0);
  }
  REQUIRE(j.contains("page_faults_per_call"));  // may be 0 on the tiny model
  CHECK(j["page_faults_per_call"].get<double>() >= 0);
  CHECK(j["precision"] == "fp32");
  CHECK(j["threads"] == 1);
  CHECK(j["batch_size"] == 2);
  CHECK(j["iters"] == 2);
  // Tiny dims by hand: T = 257, W = 64, MLP 256, 2 blocks: 2·(257·(4·64² + 2·64·256) + 2·257²·64)
  // + 256·3·196·64 + 64·32 = 2·(12,632,064 + 8,454,272) + 9,633,792 + 2,048 = 51,808,512 MACs.
  CHECK(j["gflop_per_image"].get<double>() == Approx(0.103617024).epsilon(1e-12));
  CHECK(j["ms_per_image"].get<double>() ==
        Approx(1000.0 / j["images_per_second"].get<double>()).epsilon(1e-9));
  CHECK(j["gflops"].get<double>() ==
        Approx(j["gflop_per_image"].get<double>() * j["images_per_second"].get<double>())
            .epsilon(1e-9));
  CHECK(j["fraction_of_peak"].get<double>() ==
        Approx(j["gflops"].get<double>() / j["peak_gflops"].get<double>()).epsilon(1e-9));
  // fp32 against itself: the same computation, so every pair is ordered alike.
  REQUIRE(j.contains("vs_fp32"));
  CHECK(j["vs_fp32"]["images"] == 6);  // the first call and the 2 timed ones, 2 images each
  CHECK(j["vs_fp32"]["pairs"] == 4 * 15);
  CHECK(j["vs_fp32"]["pairwise_agreement"].get<double>() == 1.0);
  CHECK(j["vs_fp32"]["max_score_deviation"].get<double>() == 0.0);
}

TEST_CASE("prefscore bench: bf16 orders pairs as fp32 does; usage errors", "[benchmark][cli]") {
  const auto r = run_prefscore("bench --model-card " + data_path("cards/tiny-hf.json") +
                               " --synthetic --precision bf16 --batch-size 4 --iters 3 "
                               "--compare-fp32 --format json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = last_line_json(r.out);
  CHECK(j["precision"] == "bf16");
  WARN("tiny random model, bf16 vs fp32: " << j["vs_fp32"].dump());
  // Random weights embed all images nearly alike (the fp32 scores of one prompt spread over ~0.35
  // here), so some pairs are near-ties; bf16 moves scores by much less than that spread.
  const nlohmann::json& a = j["vs_fp32"];
  CHECK(a["pairwise_agreement"].get<double>() >= 0.9);
  CHECK(a["pairwise_agreement"].get<double>() <= 1.0);
  CHECK(a["max_score_deviation"].get<double>() > 0.0);  // bf16 did run in bf16
  CHECK(a["max_score_deviation"].get<double>() < 0.5 * a["score_spread"].get<double>());
  CHECK(a["min_embedding_cosine"].get<double>() > 0.9999);

  const auto no_synthetic = run_prefscore("bench --model-card " + data_path("cards/tiny-hf.json"));
  CHECK(no_synthetic.exit_code == 1);
  CHECK_THAT(no_synthetic.err, Catch::Contains("pass --synthetic"));
  const auto no_model = run_prefscore("bench --synthetic");
  CHECK(no_model.exit_code == 1);
  CHECK_THAT(no_model.err, Catch::Contains("no model"));
}
