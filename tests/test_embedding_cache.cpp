// The on-disk image-embedding cache: a warm cache gives exactly the scores of a run without one
// and runs no image tower; an unusable entry (truncated, bit-flipped, for another key, wrong
// shape) is reported, recomputed and overwritten; the key follows every setting that changes the
// features; the weights digest is remembered by (path, size, mtime) and taken from the card when
// it states one.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "prefscore/embedding_cache.h"
#include "prefscore/error.h"
#include "prefscore/safetensors.h"
#include "prefscore/scorer.h"
#include "prefscore/scoring.h"
#include "prefscore/sha256.h"
#include "test_utils.h"
#include "tiny_scorer.h"

using prefscore::EmbeddingCache;
using prefscore::ScoreItem;
using prefscore::ScoreReport;
using prefscore::Scorer;
using prefscore::testing::data_path;
using prefscore::testing::tiny_scorer;

namespace {

namespace fs = std::filesystem;

std::vector<ScoreItem> items(const std::string& prompt) {
  std::vector<ScoreItem> out;
  for (const char* f : {"img0_rgb_300x200.png", "img1_gray_180x260.png", "img2_rgba_512x512.png",
                        "img3_astronaut_512x512.jpg"}) {
    out.push_back({data_path(std::string("pipeline/inputs/") + f), prompt, ""});
  }
  return out;
}

ScoreReport run(const std::vector<Scorer*>& scorers, const std::vector<ScoreItem>& in,
                const EmbeddingCache* cache) {
  prefscore::ScoreRunOptions options;
  options.batch_size = 3;
  options.decode_threads = 1;
  options.cache = cache;
  return prefscore::score_items(scorers, in, options);
}

void require_same_scores(const ScoreReport& got, const ScoreReport& want) {
  REQUIRE(got.rows.size() == want.rows.size());
  for (std::size_t r = 0; r < got.rows.size(); ++r) {
    INFO("row " << r);
    CHECK(got.rows[r].score == want.rows[r].score);  // exactly
    CHECK(got.rows[r].prob == want.rows[r].prob);
  }
}

std::vector<fs::path> entries(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir / "images")) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("a warm cache gives the scores of a run without one and skips the image tower",
          "[embedding_cache]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cache_warm");
  const EmbeddingCache cache(dir.string());
  auto hf = tiny_scorer("tiny-hf.json", "models/hf");
  auto mps = tiny_scorer("tiny-mps.json", "models/mps", {"overall", "semantic"});
  auto hps = tiny_scorer("tiny-openclip.json", "models/openclip/open_clip_model.safetensors");
  const std::vector<Scorer*> all = {hf.get(), mps.get(), hps.get()};

  const ScoreReport cold = run(all, items("a photo of an astronaut"), &cache);
  CHECK(cold.images_encoded == 12);
  CHECK(cold.cache_hits == 0);
  CHECK(cold.warnings.empty());
  CHECK(entries(dir).size() == 12);  // 4 images x 3 models
  require_same_scores(cold, run(all, items("a photo of an astronaut"), nullptr));

  // A new prompt: every image's features come from the cache, none through a tower.
  const ScoreReport warm = run(all, items("a red square"), &cache);
  CHECK(warm.images_encoded == 0);
  CHECK(warm.cache_hits == 12);
  CHECK(warm.warnings.empty());
  require_same_scores(warm, run(all, items("a red square"), nullptr));
  fs::remove_all(dir);
}

TEST_CASE("an unusable cache entry is reported, recomputed and overwritten", "[embedding_cache]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cache_corrupt");
  const EmbeddingCache cache(dir.string());
  auto hf = tiny_scorer("tiny-hf.json", "models/hf");
  const std::vector<ScoreItem> in = items("a photo of an astronaut");
  const ScoreReport plain = run({hf.get()}, in, nullptr);
  run({hf.get()}, in, &cache);
  const prefscore::EmbeddingKey key = cache.key_for(*hf);
  const std::string content = prefscore::sha256_file_hex(in[1].image);
  const std::string entry = cache.entry_path(key, content);
  REQUIRE(fs::exists(entry));
  const std::string good = [&] {
    std::ifstream f(entry, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }();

  auto overwrite = [&](const std::string& bytes) {
    fs::remove(entry);  // entries are read-only mappings elsewhere; write a new file
    std::ofstream(entry, std::ios::binary) << bytes;
  };
  auto warned_and_repaired = [&](const std::string& reason) {
    const ScoreReport r = run({hf.get()}, in, &cache);
    REQUIRE(r.warnings.size() == 1);
    CHECK_THAT(r.warnings[0], Catch::StartsWith(entry + ": ") && Catch::Contains(reason) &&
                                  Catch::EndsWith("; recomputing it"));
    CHECK(r.images_encoded == 1);
    CHECK(r.cache_hits == 3);
    require_same_scores(r, plain);
    std::string warning;
    CHECK(cache.load(key, content, &warning).has_value());  // overwritten with a good entry
    CHECK(warning.empty());
  };

  SECTION("truncated") {
    overwrite(good.substr(0, good.size() - 10));
    warned_and_repaired("");
  }
  SECTION("a flipped bit in the tensor data") {
    std::string bad = good;
    bad[bad.size() - 5] ^= 0x10;
    overwrite(bad);
    warned_and_repaired("do not match their data_sha256");
  }
  SECTION("not a safetensors file") {
    overwrite("garbage");
    warned_and_repaired("");
  }
  auto rewrite = [&](auto&& edit) {
    const prefscore::SafetensorsFile file = prefscore::SafetensorsFile::from_bytes("entry", good);
    prefscore::SafetensorsWriter writer;
    std::map<std::string, std::string> metadata = file.metadata();
    const prefscore::TensorInfo& info = file.at("image_embeds");
    std::string name = info.name;
    std::vector<int64_t> shape = info.shape;
    std::string bytes(reinterpret_cast<const char*>(file.data(info)), info.end - info.begin);
    edit(metadata, name, shape, bytes);
    writer.add(name, info.dtype, shape, bytes.data(), bytes.size());
    for (const auto& [k, v] : metadata) writer.set_metadata(k, v);
    fs::remove(entry);
    writer.write(entry);
  };
  SECTION("written under another key") {
    rewrite([](auto& metadata, auto&, auto&, auto&) {
      metadata["key"] = std::string("x") + metadata["key"];
    });
    warned_and_repaired("key metadata differs");
  }
  SECTION("for another image") {
    rewrite([](auto& metadata, auto&, auto&, auto&) { metadata["content_sha256"] = "0"; });
    warned_and_repaired("content_sha256 differs");
  }
  SECTION("a wrong shape") {
    rewrite([](auto&, auto&, auto& shape, auto& bytes) {
      shape = {shape[0] / 2};
      bytes.resize(bytes.size() / 2);
    });
    warned_and_repaired("tensor image_embeds is F32 [16], expected F32 [32]");
  }
  SECTION("a wrong tensor name") {
    rewrite([](auto&, auto& name, auto&, auto&) { name = "embeds"; });
    warned_and_repaired("no tensor named");
  }
  fs::remove_all(dir);
}

TEST_CASE("the cache key changes with every setting that changes the features", "[embedding_cache]") {
  prefscore::EmbeddingKeyParts base{std::string(64, 'a'), prefscore::ClipArchitecture{},
                                    /*image_tokens=*/false, prefscore::PreprocessOptions{},
                                    prefscore::RunOptions{c10::Device(c10::kCPU), c10::kFloat}};
  base.preprocess.pipeline = prefscore::Pipeline::kHf;
  const prefscore::EmbeddingKey key = prefscore::make_embedding_key(base);
  CHECK(key.digest == prefscore::sha256_hex(key.text));
  CHECK(prefscore::make_embedding_key(base).digest == key.digest);  // deterministic
  std::vector<std::pair<std::string, prefscore::EmbeddingKeyParts>> changed;
  auto with = [&](const std::string& what, auto&& edit) {
    prefscore::EmbeddingKeyParts p = base;
    edit(p);
    changed.emplace_back(what, p);
  };
  with("weights", [](auto& p) { p.weights_sha256 = std::string(64, 'b'); });
  with("dtype bf16", [](auto& p) { p.run.dtype = c10::kBFloat16; });
  with("dtype fp16", [](auto& p) { p.run.dtype = c10::kHalf; });
  with("device", [](auto& p) { p.run.device = c10::Device(c10::kCUDA, 0); });
  with("pipeline openclip", [](auto& p) { p.preprocess.pipeline = prefscore::Pipeline::kOpenClip; });
  with("pipeline hpsv2", [](auto& p) { p.preprocess.pipeline = prefscore::Pipeline::kHpsv2; });
  with("image size", [](auto& p) { p.preprocess.image_size = 336; });
  with("exif", [](auto& p) { p.preprocess.decode.exif_transpose = true; });
  with("max pixels", [](auto& p) { p.preprocess.decode.max_pixels = 1000; });
  with("mps tokens", [](auto& p) { p.image_tokens = true; });
  with("architecture", [](auto& p) { p.architecture.vision_layers = 31; });
  with("activation", [](auto& p) { p.architecture.activation = "quick_gelu"; });
  std::set<std::string> digests = {key.digest};
  const EmbeddingCache cache("/tmp/unused");
  std::set<std::string> paths = {cache.entry_path(key, "c")};
  for (const auto& [what, parts] : changed) {
    INFO(what);
    CHECK(digests.insert(prefscore::make_embedding_key(parts).digest).second);
    CHECK(paths.insert(cache.entry_path(prefscore::make_embedding_key(parts), "c")).second);
  }
  CHECK(cache.entry_path(key, "c") != cache.entry_path(key, "d"));
  CHECK(prefscore::make_embedding_key(changed[1].second).dtype == c10::kBFloat16);
}

TEST_CASE("the weights digest: the card's, else remembered by path, size and mtime",
          "[embedding_cache]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cache_weights");
  const EmbeddingCache cache((dir / "cache").string());
  const std::string stated(64, 'c');
  CHECK(cache.weights_sha256("/nonexistent/model.safetensors", stated) == stated);

  const fs::path weights = dir / "model.safetensors";
  fs::copy_file(data_path("models/hf/model.safetensors"), weights);
  const auto sum = prefscore::testing::run_command("/usr/bin/sha256sum " + weights.string());
  REQUIRE(sum.exit_code == 0);
  const std::string real = sum.out.substr(0, 64);
  CHECK(cache.weights_sha256(weights.string(), std::nullopt) == real);
  const fs::path record =
      dir / "cache" / "weights" / (prefscore::sha256_hex(fs::canonical(weights).string()) + ".json");
  REQUIRE(fs::exists(record));

  // The record is trusted while size and mtime match (a planted digest is returned) ...
  nlohmann::json j = nlohmann::json::parse(std::ifstream(record));
  j["sha256"] = std::string(64, 'd');
  std::ofstream(record) << j.dump();
  CHECK(cache.weights_sha256(weights.string(), std::nullopt) == std::string(64, 'd'));
  // ... and not once the file's mtime changes.
  fs::last_write_time(weights, fs::last_write_time(weights) + std::chrono::seconds(5));
  CHECK(cache.weights_sha256(weights.string(), std::nullopt) == real);
  std::ofstream(record) << "{not json";
  CHECK(cache.weights_sha256(weights.string(), std::nullopt) == real);
  REQUIRE_THROWS_WITH(cache.weights_sha256((dir / "missing").string(), std::nullopt),
                      Catch::StartsWith((dir / "missing").string() + ": cannot resolve path"));
  fs::remove_all(dir);
}
