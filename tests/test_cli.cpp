// The prefscore binary end to end: help and version, exit codes, the one-line error format, and
// the models / inspect commands.
#include <filesystem>
#include <fstream>

#include "prefscore/safetensors.h"
#include "test_utils.h"

using prefscore::testing::data_path;
using prefscore::testing::run_prefscore;

namespace {

std::size_t count_lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

TEST_CASE("--version and --help", "[cli]") {
  const auto version = run_prefscore("--version");
  CHECK(version.exit_code == 0);
  CHECK(version.out == std::string("prefscore ") + PREFSCORE_VERSION + "\n");
  const auto help = run_prefscore("--help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("EXIT STATUS:"));
  CHECK_THAT(help.out, Catch::Contains("3  finished, but some inputs were reported"));
  CHECK_THAT(help.out, Catch::Contains("models"));
  CHECK_THAT(help.out, Catch::Contains("inspect"));
}

TEST_CASE("usage errors exit 2", "[cli]") {
  const auto none = run_prefscore("");
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::StartsWith("prefscore: usage error: "));
  const auto unknown = run_prefscore("frobnicate");
  CHECK(unknown.exit_code == 2);
  const auto bad_flag = run_prefscore("models --format xml");
  CHECK(bad_flag.exit_code == 2);
  CHECK_THAT(bad_flag.err, Catch::Contains("xml"));
}

TEST_CASE("models lists the five cards with weights status", "[cli]") {
  const std::string home = (std::filesystem::temp_directory_path() / "prefscore_cli_home").string();
  std::filesystem::remove_all(home);
  const auto r = run_prefscore("models", "PREFSCORE_HOME=" + home);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(count_lines(r.out) == 6);  // header + 5 cards
  for (const char* name : {"clip-h", "hpsv2 ", "hpsv2.1", "mps", "pickscore"}) {
    CHECK_THAT(r.out, Catch::Contains(name));
  }
  CHECK_THAT(r.out, Catch::Contains("missing 2/2  " + home + "/pickscore"));

  // Present weights are reported as present; extra cards come from $PREFSCORE_MODELS.
  std::filesystem::create_directories(home + "/tiny-hf");
  for (const char* f : {"config.json", "model.safetensors"}) {
    std::filesystem::copy_file(data_path(std::string("models/hf/") + f), home + "/tiny-hf/" + f);
  }
  const auto with_tiny = run_prefscore("models", "PREFSCORE_HOME=" + home +
                                                     " PREFSCORE_MODELS=" + data_path("cards"));
  CHECK(with_tiny.exit_code == 0);
  CHECK_THAT(with_tiny.out, Catch::Contains("tiny-hf        pickscore  huggingface  present"));
  std::filesystem::remove_all(home);

  const auto json = run_prefscore("models --format json", "PREFSCORE_HOME=" + home);
  CHECK(count_lines(json.out) == 5);
  CHECK_THAT(json.out, Catch::Contains("\"name\":\"hpsv2.1\""));
}

TEST_CASE("models show prints a card and where its weights go", "[cli]") {
  const auto r = run_prefscore("models show hpsv2", "PREFSCORE_HOME=/tmp/ph");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("/tmp/ph/hpsv2/open_clip_model.safetensors  (MISSING)"));
  CHECK_THAT(r.out, Catch::Contains("HPS_v2_compressed.pt"));
  const auto unknown = run_prefscore("models show nope");
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::StartsWith("prefscore: error: nope: unknown model; known models:"));
  CHECK(count_lines(unknown.err) == 1);
}

TEST_CASE("inspect lists tensors; a malformed file is one error line and exit 1", "[cli]") {
  const auto ok = run_prefscore("inspect " + data_path("models/openclip/open_clip_model.safetensors"));
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains("visual.proj"));
  CHECK_THAT(ok.out, Catch::Contains("F32    [64, 32]"));
  const auto json = run_prefscore("inspect --format json " + data_path("models/hf/model.safetensors"));
  CHECK(json.exit_code == 0);
  CHECK_THAT(json.out, Catch::Contains("\"name\": \"logit_scale\""));

  const std::string bad = (std::filesystem::temp_directory_path() / "prefscore_cli_bad.safetensors").string();
  {
    std::ofstream out(bad, std::ios::binary);
    const std::string header = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
    uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << std::string(8, '\0');  // 8 of the 16 data bytes: truncated
  }
  const auto r = run_prefscore("inspect " + bad);
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "prefscore: error: " + bad +
                     ": tensor 'w': data_offsets end at 16 but the data section has only 8 bytes "
                     "(file truncated?)\n");
  std::filesystem::remove(bad);

  const auto missing = run_prefscore("inspect /nonexistent.safetensors");
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "prefscore: error: /nonexistent.safetensors: cannot open: No such file or directory\n");
}

TEST_CASE("a closed stdout pipe exits 0", "[cli]") {
  // 4000 tensors print ~200 KB, more than a pipe buffer, so prefscore is still writing when `head`
  // closes the pipe.
  prefscore::SafetensorsWriter writer;
  const float one = 1.0f;
  for (int i = 0; i < 4000; ++i) {
    writer.add("tensor_with_a_long_name_number_" + std::to_string(i), prefscore::DType::kF32, {1},
               &one, sizeof one);
  }
  const std::string big = (std::filesystem::temp_directory_path() / "prefscore_cli_big.safetensors").string();
  writer.write(big);
  const std::string status = big + ".status";
  const auto r = run_prefscore("inspect " + big + "; echo $? > " + status + ") | head -c 100 >/dev/null; (true");
  std::ifstream in(status);
  int code = -1;
  in >> code;
  CHECK(code == 0);
  std::filesystem::remove(big);
  std::filesystem::remove(status);
}

TEST_CASE("embed --pixels writes the official image embeddings", "[cli]") {
  namespace fs = std::filesystem;
  const auto expected = prefscore::SafetensorsFile::open(data_path("models/expected.safetensors"));
  const auto& px = expected.at("pixel_values");
  prefscore::SafetensorsWriter writer;
  writer.add("pixel_values", px.dtype, px.shape, expected.data(px), px.end - px.begin);
  const std::string px_path = (fs::temp_directory_path() / "prefscore_cli_px.safetensors").string();
  const std::string out = (fs::temp_directory_path() / "prefscore_cli_emb.safetensors").string();
  writer.write(px_path);

  const auto want = expected.at("openclip.image_embeds");
  const float* want_data = reinterpret_cast<const float*>(expected.data(want));
  for (const std::string weights :
       {data_path("models/hf"), data_path("models/openclip/open_clip_model.safetensors"),
        data_path("models/mps")}) {
    fs::remove(out);
    const auto r = run_prefscore("embed --weights " + weights + " --pixels " + px_path + " -o " +
                                 out + " --threads 2");
    INFO(weights << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    const auto got = prefscore::SafetensorsFile::open(out);
    const auto& emb = got.at("image_embeds");
    REQUIRE(emb.shape == std::vector<int64_t>{4, 32});
    prefscore::testing::require_allclose(reinterpret_cast<const float*>(got.data(emb)), want_data,
                                         128, 1e-5, 0, "embed CLI image_embeds " + weights);
    CHECK(got.metadata().at("layout") == (weights == data_path("models/hf") ? "huggingface"
                                          : weights == data_path("models/mps") ? "mps" : "open_clip"));
  }
  const auto missing = run_prefscore("embed --model hpsv2 --pixels " + px_path + " -o " + out,
                                     "PREFSCORE_HOME=/nonexistent");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::StartsWith("prefscore: error: /nonexistent/hpsv2/open_clip_model.safetensors: "
                                            "weights of model 'hpsv2' not found"));
  fs::remove(out);
  fs::remove(px_path);
}
