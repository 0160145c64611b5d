// `prefscore explain -o DIR` end to end on the tiny model: the files at the image's size, the JSON
// shape, and the safetensors map read back by `prefscore heatmap --compare`.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "prefscore/heatmap_io.h"
#include "prefscore/image.h"
#include "prefscore/safetensors.h"
#include "test_utils.h"

using prefscore::testing::data_path;
using prefscore::testing::run_prefscore;

namespace {

namespace fs = std::filesystem;

const std::string kTiny =
    "--model-card " + data_path("cards/tiny-hf.json") + " --weights " + data_path("models/hf");

}  // namespace

TEST_CASE("explain -o writes the overlay and the map at the image's size, and JSON",
          "[cli][explain]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_explain");
  fs::copy_file(data_path("pipeline/inputs/img1_gray_180x260.png"), dir / "img1.png");
  const auto result =
      run_prefscore("explain " + kTiny + " -p 'a red cat' " + (dir / "img1.png").string() + " -o " +
                    (dir / "out").string() + " --window 112 --stride 112 --format json");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(result.out);
  REQUIRE(j["model"] == "tiny-hf");
  REQUIRE(j["columns"] == nlohmann::json::array({"score"}));
  REQUIRE(j["words"].size() == 3);
  REQUIRE(j["words"][1]["word"] == "red");
  REQUIRE(j["words"][1]["prompt_without"] == "a cat");
  const double delta = j["words"][1]["delta"]["score"].get<double>();
  const double base = j["score"]["score"].get<double>();
  const double without = j["words"][1]["score_without"]["score"].get<double>();
  REQUIRE(delta == base - without);
  REQUIRE(j["occlusion"]["windows"].size() == 4);
  REQUIRE(j["occlusion"]["input_size"] == 224);
  for (const auto& w : j["misaligned_words"]) REQUIRE(w.is_string());
  // occlusion safetensors + png, gradient safetensors + png, the JSON.
  REQUIRE(j["files"].size() == 5);
  REQUIRE(j["words"][1]["gradient"]["score"].is_number());
  REQUIRE(j["words"][1]["tokens"] == 1);
  REQUIRE(j["gradient"]["input_size"] == 224);
  const prefscore::PilImage gradient_overlay =
      prefscore::load_image((dir / "out" / "img1.gradient.png").string());
  REQUIRE(gradient_overlay.width == 180);
  REQUIRE(gradient_overlay.height == 260);
  const prefscore::Heatmap gradient_map =
      prefscore::read_heatmap_safetensors((dir / "out" / "img1.gradient.safetensors").string());
  REQUIRE(gradient_map.width == 180);
  REQUIRE(gradient_map.height == 260);

  const prefscore::PilImage overlay =
      prefscore::load_image((dir / "out" / "img1.occlusion.png").string());
  REQUIRE(overlay.width == 180);
  REQUIRE(overlay.height == 260);
  const prefscore::Heatmap map =
      prefscore::read_heatmap_safetensors((dir / "out" / "img1.occlusion.safetensors").string());
  REQUIRE(map.width == 180);
  REQUIRE(map.height == 260);
  const auto file =
      prefscore::SafetensorsFile::open((dir / "out" / "img1.occlusion.safetensors").string());
  REQUIRE(file.metadata().at("prompt") == "a red cat");
  std::ifstream json_file(dir / "out" / "img1.explain.json");
  REQUIRE(nlohmann::json::parse(json_file)["words"].size() == 3);

  // The model map is what `heatmap --compare` reads by default.
  std::ofstream(dir / "clicks.jsonl") << "{\"image\": \"img1.png\", \"clicks\": [[90, 130]]}\n";
  const auto compare = run_prefscore("heatmap --clicks " + (dir / "clicks.jsonl").string() +
                                     " --compare " + (dir / "out").string() + " --format jsonl");
  INFO(compare.err);
  REQUIRE(compare.exit_code == 0);
  const nlohmann::json row = nlohmann::json::parse(compare.out);
  REQUIRE(row["model_map"] == (dir / "out" / "img1.occlusion.safetensors").string());
  REQUIRE(row["pixels"] == 180 * 260);
}

TEST_CASE("explain --format table lists every word; a bad window is a usage error",
          "[cli][explain]") {
  const std::string image = data_path("pipeline/inputs/img0_rgb_300x200.png");
  const auto table = run_prefscore("explain " + kTiny + " -p 'a red cat' " + image +
                                   " --no-regions --format table");
  INFO(table.err);
  REQUIRE(table.exit_code == 0);
  REQUIRE_THAT(table.out, Catch::StartsWith("WORD"));
  REQUIRE_THAT(table.out, Catch::Contains("GRADxIN_score"));
  const auto plain = run_prefscore("explain " + kTiny + " -p 'a red cat' " + image +
                                   " --no-regions --no-gradients --format json");
  INFO(plain.err);
  REQUIRE(plain.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(plain.out);
  REQUIRE_FALSE(j.contains("gradient"));
  REQUIRE_FALSE(j["words"][0].contains("gradient"));
  REQUIRE_THAT(table.out, Catch::Contains("\nred "));
  REQUIRE_THAT(table.out, Catch::Contains("\ncat "));
  REQUIRE_THAT(table.out,
               Catch::Contains("\nmisaligned-word candidates (score rises without them): "));
  const auto bad = run_prefscore("explain " + kTiny + " -p 'a cat' " + image + " --window 300");
  REQUIRE(bad.exit_code == 1);
  REQUIRE_THAT(bad.err,
               Catch::Contains("--window: must be in [1, 224] model-input pixels, got 300"));
}
