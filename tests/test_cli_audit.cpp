// `prefscore audit` end to end on the tiny fixture model: the JSON object's shape, the planted
// file copies found as unoriginal and unvaried pairs, determinism under --seed, the shared
// embedding cache, and a bad image reported and skipped.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "pipeline_fixture.h"
#include "test_utils.h"

using prefscore::testing::data_path;
using prefscore::testing::pipeline_images;
using prefscore::testing::run_prefscore;

namespace {

namespace fs = std::filesystem;

const std::string kTiny =
    "--model-card " + data_path("cards/tiny-hf.json") + " --weights " + data_path("models/hf");

// real/: the four pipeline images; synthetic/: copies of real images 0, 0, 1 and 2 under other
// names, and an unreadable file.
fs::path audit_dirs(const std::string& name) {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_audit_" + name);
  fs::create_directories(dir / "real");
  fs::create_directories(dir / "synthetic");
  const auto& images = pipeline_images();
  for (const std::string& f : images)
    fs::copy_file(data_path("pipeline/inputs/" + f), dir / "real" / f);
  const std::vector<std::pair<std::string, std::string>> copies = {
      {images[0], "s0.png"}, {images[0], "s1.png"}, {images[1], "s2.png"}, {images[2], "s3.png"}};
  for (const auto& [from, to] : copies) fs::copy_file(dir / "real" / from, dir / "synthetic" / to);
  std::ofstream(dir / "synthetic" / "s9_broken.png") << "not a png";
  return dir;
}

// The pairs with cosine 1 (up to float rounding): the planted copies.
std::set<std::pair<std::string, std::string>> exact_pairs(const nlohmann::json& pairs,
                                                          const char* a, const char* b) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& p : pairs) {
    if (p["cosine"].get<double>() > 1 - 1e-5) {
      out.emplace(fs::path(p[a].get<std::string>()).filename().string(),
                  fs::path(p[b].get<std::string>()).filename().string());
    }
  }
  return out;
}

}  // namespace

TEST_CASE("audit --format json: the scores, the per-image lists and the planted copies",
          "[cli][audit]") {
  const fs::path dir = audit_dirs("json");
  const std::string args = "audit " + kTiny + " --real " + (dir / "real").string() +
                           " --synthetic " + (dir / "synthetic").string() +
                           " --folds 2 --seed 3 --format json";
  const auto result = run_prefscore(args);
  INFO(result.err);
  REQUIRE(result.exit_code == 3);
  REQUIRE_THAT(result.err, Catch::Contains("prefscore: skipped: " +
                                           (dir / "synthetic" / "s9_broken.png").string()));
  const nlohmann::json j = nlohmann::json::parse(result.out);
  for (const char* key : {"unrealistic", "unrepresentative", "unvaried", "unoriginal"}) {
    INFO(key);
    REQUIRE(j[key].is_number());
    REQUIRE(j[key].get<double>() >= 0.0);
    REQUIRE(j[key].get<double>() <= 1.0);
  }
  REQUIRE(j["model"] == "tiny-hf");
  REQUIRE(j["real_images"] == 4);
  REQUIRE(j["synthetic_images"] == 4);
  REQUIRE(j["options"]["folds"] == 2);
  REQUIRE(j["options"]["seed"] == 3);
  REQUIRE(j["synthetic"].size() == 4);
  REQUIRE(j["real"].size() == 4);
  REQUIRE(j["synthetic"][0]["image"] == (dir / "synthetic" / "s0.png").string());
  REQUIRE(j["synthetic"][0]["nearest_real"] == (dir / "real" / pipeline_images()[0]).string());
  REQUIRE(j["synthetic"][0]["nearest_real_cosine"].get<double>() == Approx(1.0).margin(1e-5));
  REQUIRE(j["real"][3]["p_real"].is_number());
  REQUIRE(j["real"][3]["nearest_synthetic_distance"].is_number());
  REQUIRE(j["skipped"].size() == 1);
  // Every synthetic image is a copy of a real one: unoriginal = 1 whatever the threshold.
  REQUIRE(j["unoriginal"].get<double>() == 1.0);
  const auto& names = pipeline_images();
  const std::set<std::pair<std::string, std::string>> planted_unoriginal = {
      {"s0.png", names[0]}, {"s1.png", names[0]}, {"s2.png", names[1]}, {"s3.png", names[2]}};
  REQUIRE(exact_pairs(j["unoriginal_pairs"], "synthetic", "real") == planted_unoriginal);
  const std::set<std::pair<std::string, std::string>> planted_unvaried = {{"s0.png", "s1.png"}};
  REQUIRE(exact_pairs(j["unvaried_pairs"], "a", "b") == planted_unvaried);

  // The same seed, the same object. The cache is keyed by file content: in the first run the
  // synthetic copies already find their real originals' entries; the second run reads everything.
  const std::string cache = (dir / "cache").string();
  const auto first = run_prefscore(args + " --cache " + cache);
  const auto second = run_prefscore(args + " --cache " + cache);
  REQUIRE(first.out == result.out);
  REQUIRE(second.out == result.out);
  REQUIRE_THAT(first.err, Catch::Contains("4 image features read, 4 computed"));
  REQUIRE_THAT(second.err, Catch::Contains("8 image features read, 0 computed"));
}

TEST_CASE("audit refuses more folds than images and an empty folder", "[cli][audit]") {
  const fs::path dir = audit_dirs("refusals");
  const std::string base = "audit " + kTiny + " --real " + (dir / "real").string();
  const auto folds = run_prefscore(base + " --synthetic " + (dir / "synthetic").string());
  REQUIRE(folds.exit_code == 1);
  REQUIRE_THAT(folds.err, Catch::Contains((dir / "real").string() +
                                          ": 4 readable images, the 5 folds need at least 5"));
  fs::create_directories(dir / "empty");
  const auto empty = run_prefscore(base + " --synthetic " + (dir / "empty").string());
  REQUIRE(empty.exit_code == 1);
  REQUIRE_THAT(empty.err, Catch::Contains((dir / "empty").string() + ": no image files found"));
}
