// The prefscore binary end to end: help and version, exit codes, the one-line error format, and
// the models / inspect commands.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pipeline_fixture.h"
#include "prefscore/clip.h"
#include "prefscore/safetensors.h"
#include "test_utils.h"

using prefscore::testing::data_path;
using prefscore::testing::fixture_image_dir;
using prefscore::testing::pipeline_expected;
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
  // issue 10: the header limit is reported with the flag that raises it.
  const auto limited = run_prefscore("inspect --max-header-bytes 8 " + bad);
  CHECK(limited.exit_code == 1);
  CHECK(limited.err == "prefscore: error: " + bad +
                           ": header length 55 bytes exceeds the limit of 8 bytes (not a "
                           "safetensors file, or corrupt; raise the limit with --max-header-bytes)\n");
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
  const std::vector<float> want_values =
      prefscore::testing::copy_values<float>(expected.data(want), 128);
  const float* want_data = want_values.data();
  for (const std::string weights :
       {data_path("models/hf"), data_path("models/openclip/open_clip_model.safetensors"),
        data_path("models/mps")}) {
    fs::remove(out);
    const auto r = run_prefscore("embed --weights " + weights + " --pixels " + px_path + " -o " +
                                 out + " --threads 2 --dtype fp32");
    INFO(weights << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    const auto got = prefscore::SafetensorsFile::open(out);
    const auto& emb = got.at("image_embeds");
    REQUIRE(emb.shape == std::vector<int64_t>{4, 32});
    prefscore::testing::require_allclose(
        prefscore::testing::copy_values<float>(got.data(emb), 128).data(), want_data, 128, 1e-5,
        0, "embed CLI image_embeds " + weights);
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

namespace {

namespace fs = std::filesystem;

std::vector<nlohmann::json> parse_jsonl(const std::string& text) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

const std::string kPrompt0 = "a photo of an astronaut riding a horse on the moon";
const std::string kTinyPick = "--model-card " + data_path("cards/tiny-hf.json") + " --weights " +
                              data_path("models/hf") + " --precision fp32";

}  // namespace

TEST_CASE("score: a folder through PickScore matches the official scores; a corrupt image is skipped", "[cli][score]") {
  const std::string dir = fixture_image_dir("score");
  std::ofstream(dir + "/broken.png") << "this is not a png";
  const auto r = run_prefscore("score " + kTinyPick + " -p '" + kPrompt0 + "' " + dir + " --format jsonl");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::StartsWith("prefscore: skipped: " + dir + "/broken.png: "));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  const auto rows = parse_jsonl(r.out);
  REQUIRE(rows.size() == 4);
  for (int i = 0; i < 4; ++i) {
    INFO(rows[i].dump());
    CHECK(rows[i]["model"] == "tiny-hf");
    CHECK(rows[i]["prompt"] == kPrompt0);
    CHECK(rows[i]["score"].get<double>() == Approx(pipeline_expected("pickscore.scores", i)).margin(1e-4));
    CHECK(rows[i]["prob"].get<double>() == Approx(pipeline_expected("pickscore.probs", i)).margin(1e-5));
  }
  CHECK_THAT(rows[0]["image"].get<std::string>(), Catch::EndsWith("img0_rgb_300x200.png"));

  // -o: csv chosen from the extension, written atomically.
  const std::string out = dir + "/scores.csv";
  const auto to_file = run_prefscore("score " + kTinyPick + " -p '" + kPrompt0 + "' " + dir +
                                     "/img0_rgb_300x200.png -o " + out);
  CHECK(to_file.exit_code == 0);
  CHECK(to_file.out.empty());
  std::ifstream csv(out);
  std::string header;
  std::getline(csv, header);
  CHECK(header == "image,prompt,tiny-hf,tiny-hf_prob");
  fs::remove(out);

  // A model whose weights are missing: exit 1, one line, and no output file.
  const auto missing = run_prefscore("score -m tiny-hf -p x " + dir + " -o " + out,
                                     "PREFSCORE_MODELS=" + data_path("cards") +
                                         " PREFSCORE_HOME=/nonexistent");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::StartsWith("prefscore: error: /nonexistent/tiny-hf/config.json: "
                                            "weights of model 'tiny-hf' not found"));
  CHECK_FALSE(fs::exists(out));
  fs::remove_all(dir);
}

TEST_CASE("score: several models, MPS conditions, csv", "[cli][score]") {
  const std::string dir = fixture_image_dir("multi");
  const std::string home = fs::temp_directory_path() / "prefscore_cli_multi_home";
  fs::remove_all(home);
  fs::create_directories(home);
  fs::create_directory_symlink(fs::absolute(data_path("models/hf")), home + "/tiny-hf");
  fs::create_directory_symlink(fs::absolute(data_path("models/mps")), home + "/tiny-mps");
  const auto r = run_prefscore("score -m tiny-hf,tiny-mps --condition overall,detail -p '" + kPrompt0 +
                                   "' " + dir + " --format csv --precision fp32",
                               "PREFSCORE_MODELS=" + data_path("cards") + " PREFSCORE_HOME=" + home);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::istringstream lines(r.out);
  std::string header;
  std::getline(lines, header);
  CHECK(header == "image,prompt,tiny-hf,tiny-hf_prob,tiny-mps:overall,tiny-mps:overall_prob,"
                  "tiny-mps:detail,tiny-mps:detail_prob");
  std::string first;
  std::getline(lines, first);
  // Column 6 is tiny-mps:detail for img0 (the MPS scores of the pipeline fixture, prompt 0).
  std::vector<std::string> fields;
  std::istringstream f(first);
  for (std::string field; std::getline(f, field, ',');) fields.push_back(field);
  REQUIRE(fields.size() == 8);
  CHECK(std::stod(fields[4]) == Approx(pipeline_expected("mps.infer_one_sample.overall.scores", 0)).margin(1e-4));
  CHECK(std::stod(fields[6]) == Approx(pipeline_expected("mps.infer_one_sample.detail.scores", 0)).margin(1e-4));
  const auto bad = run_prefscore("score -m tiny-hf --condition detail -p x " + dir,
                                 "PREFSCORE_MODELS=" + data_path("cards") + " PREFSCORE_HOME=" + home);
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("--condition: applies to MPS models only"));
  fs::remove_all(dir);
  fs::remove_all(home);
}

TEST_CASE("rank: best-of-N order, --top, --copy-to never overwrites", "[cli][rank]") {
  const std::string dir = fixture_image_dir("rank");
  const std::string dest = dir + "_best";
  fs::remove_all(dest);
  const auto r = run_prefscore("rank " + kTinyPick + " -p '" + kPrompt0 + "' " + dir +
                               " --top 2 --format jsonl --copy-to " + dest);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto rows = parse_jsonl(r.out);
  REQUIRE(rows.size() == 2);
  // Official PickScore scores for prompt 0: img3 > img2 > img1 > img0.
  CHECK(rows[0]["rank"] == 1);
  CHECK_THAT(rows[0]["image"].get<std::string>(), Catch::EndsWith("img3_astronaut_512x512.jpg"));
  CHECK(rows[0]["score"].get<double>() == Approx(pipeline_expected("pickscore.scores", 3)).margin(1e-4));
  CHECK_THAT(rows[1]["image"].get<std::string>(), Catch::EndsWith("img2_rgba_512x512.png"));
  CHECK(fs::exists(dest + "/001_img3_astronaut_512x512.jpg"));
  CHECK(fs::exists(dest + "/002_img2_rgba_512x512.png"));
  CHECK(fs::file_size(dest + "/001_img3_astronaut_512x512.jpg") ==
        fs::file_size(dir + "/img3_astronaut_512x512.jpg"));
  const auto again = run_prefscore("rank " + kTinyPick + " -p '" + kPrompt0 + "' " + dir +
                                   " --top 2 --copy-to " + dest);
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.err, Catch::Contains("001_img3_astronaut_512x512.jpg: already exists; pass --force"));
  CHECK(run_prefscore("rank " + kTinyPick + " -p '" + kPrompt0 + "' " + dir +
                      " --top 2 --copy-to " + dest + " --force").exit_code == 0);
  fs::remove_all(dir);
  fs::remove_all(dest);
}

TEST_CASE("rank: a manifest with groups ranks within each group", "[cli][rank]") {
  const std::string dir = fixture_image_dir("groups");
  {
    std::ofstream m(dir + "/manifest.jsonl");
    m << R"({"image": "img0_rgb_300x200.png", "prompt": ")" << kPrompt0 << R"(", "group": "a"})" << "\n"
      << R"({"image": "img1_gray_180x260.png", "prompt": ")" << kPrompt0 << R"(", "group": "a"})" << "\n"
      << R"({"image": "img2_rgba_512x512.png", "prompt": ")" << kPrompt0 << R"(", "group": "b"})" << "\n"
      << R"({"image": "img3_astronaut_512x512.jpg", "prompt": ")" << kPrompt0 << R"(", "group": "b"})" << "\n";
  }
  const auto r = run_prefscore("rank " + kTinyPick + " --manifest " + dir + "/manifest.jsonl --format jsonl");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto rows = parse_jsonl(r.out);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0]["group"] == "a");
  CHECK_THAT(rows[0]["image"].get<std::string>(), Catch::EndsWith("img1_gray_180x260.png"));
  CHECK(rows[2]["group"] == "b");
  CHECK_THAT(rows[2]["image"].get<std::string>(), Catch::EndsWith("img3_astronaut_512x512.jpg"));
  // Probabilities are a softmax within each group: PickScore's pair probabilities.
  CHECK(rows[0]["prob"].get<double>() == Approx(pipeline_expected("pickscore.pair_probs", 1)).margin(1e-5));
  CHECK(rows[2]["prob"].get<double>() == Approx(pipeline_expected("pickscore.pair_probs", 3)).margin(1e-5));
  fs::remove_all(dir);
}

TEST_CASE("compare: p(A), p(B) and the verdict with PickScore's tie rule", "[cli][compare]") {
  const std::string a = data_path("pipeline/inputs/img0_rgb_300x200.png");
  const std::string b = data_path("pipeline/inputs/img1_gray_180x260.png");
  const auto r = run_prefscore("compare " + kTinyPick + " -p '" + kPrompt0 + "' " + a + " " + b +
                               " --format jsonl");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto rows = parse_jsonl(r.out);
  REQUIRE(rows.size() == 1);
  // pickscore.pair_probs[prompt 0][pair 0] = calc_probs(prompt, [img0, img1]).
  CHECK(rows[0]["prob_a"].get<double>() == Approx(pipeline_expected("pickscore.pair_probs", 0)).margin(1e-5));
  CHECK(rows[0]["prob_b"].get<double>() == Approx(pipeline_expected("pickscore.pair_probs", 1)).margin(1e-5));
  CHECK(rows[0]["verdict"] == "B");
  const double gap = std::fabs(rows[0]["prob_a"].get<double>() - rows[0]["prob_b"].get<double>());
  const auto tie = run_prefscore("compare " + kTinyPick + " -p '" + kPrompt0 + "' " + a + " " + b +
                                 " --format jsonl --tie-threshold " + std::to_string(gap + 1e-3));
  CHECK(parse_jsonl(tie.out)[0]["verdict"] == "tie");
  const auto usage = run_prefscore("compare " + kTinyPick + " -p x " + a);
  CHECK(usage.exit_code == 2);
}

TEST_CASE("score --pixels: a preprocessed batch, rows named by index", "[cli][score]") {
  const auto inputs = prefscore::SafetensorsFile::open(data_path("pipeline/inputs.safetensors"));
  const auto& px = inputs.at("pixel_values.hf");
  prefscore::SafetensorsWriter writer;
  writer.add("pixel_values", px.dtype, px.shape, inputs.data(px), px.end - px.begin);
  const std::string path = (fs::temp_directory_path() / "prefscore_cli_pixels.safetensors").string();
  writer.write(path);
  const auto r = run_prefscore("score " + kTinyPick + " -p '" + kPrompt0 + "' --pixels " + path + " --format jsonl");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto rows = parse_jsonl(r.out);
  REQUIRE(rows.size() == 4);
  CHECK(rows[2]["image"] == "#2");
  CHECK(rows[2]["score"].get<double>() == Approx(pipeline_expected("pickscore.scores", 2)).margin(1e-4));
  fs::remove(path);
}

TEST_CASE("embed --image --text: files and strings to the official embeddings", "[cli][embed]") {
  const std::string out = (fs::temp_directory_path() / "prefscore_cli_embed_files.safetensors").string();
  const auto r = run_prefscore("embed --weights " + data_path("models/hf") + " --image " +
                               data_path("pipeline/inputs/img0_rgb_300x200.png") + " --image " +
                               data_path("pipeline/inputs/img3_astronaut_512x512.jpg") +
                               " --text '" + kPrompt0 + "' --text '' -o " + out + " --precision fp32");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto got = prefscore::SafetensorsFile::open(out);
  const auto& img = got.at("image_embeds");
  const auto& txt = got.at("text_embeds");
  REQUIRE(img.shape == std::vector<int64_t>{2, 32});
  REQUIRE(txt.shape == std::vector<int64_t>{2, 32});
  const std::vector<float> img_values = prefscore::testing::copy_values<float>(got.data(img), 64);
  const std::vector<float> txt_values = prefscore::testing::copy_values<float>(got.data(txt), 64);
  const float* img_data = img_values.data();
  const float* txt_data = txt_values.data();
  // hf.image_embeds.hf_pixels rows 0 and 3 (CLIPImageProcessor pixels); hf.text_embeds rows 0, 1.
  std::vector<float> want_img, want_txt;
  for (int64_t i : {0, 3}) {
    for (int64_t d = 0; d < 32; ++d) want_img.push_back(pipeline_expected("hf.image_embeds.hf_pixels", i * 32 + d));
  }
  for (int64_t i = 0; i < 64; ++i) want_txt.push_back(pipeline_expected("hf.text_embeds", i));
  prefscore::testing::require_allclose(img_data, want_img.data(), 64, 1e-5, 0, "embed --image");
  prefscore::testing::require_allclose(txt_data, want_txt.data(), 64, 1e-5, 0, "embed --text");
  fs::remove(out);
}

TEST_CASE("score: a manifest row whose prompt is invalid UTF-8 is skipped, the rest scored", "[cli][score]") {
  const std::string dir = fixture_image_dir("badprompt");
  {
    std::ofstream m(dir + "/manifest.csv", std::ios::binary);
    m << "image,prompt\nimg0_rgb_300x200.png,a cat\nimg1_gray_180x260.png,bad \xff byte\n";
  }
  const auto r = run_prefscore("score " + kTinyPick + " --manifest " + dir + "/manifest.csv --format jsonl");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::StartsWith("prefscore: skipped: " + dir + "/img1_gray_180x260.png: prompt: "));
  CHECK(parse_jsonl(r.out).size() == 1);
  fs::remove_all(dir);
}

TEST_CASE("score --max-pixels refuses large images before decoding them", "[cli][score]") {
  const auto r = run_prefscore("score " + kTinyPick + " -p x " + data_path("pipeline/inputs") +
                               " --max-pixels 100000 --format jsonl");
  CHECK(r.exit_code == 3);
  CHECK(parse_jsonl(r.out).size() == 2);  // the two 512x512 images are skipped
  CHECK_THAT(r.err, Catch::Contains("img3_astronaut_512x512.jpg: image is 512x512 = 262144 pixels, "
                                    "more than the limit of 100000"));
}

TEST_CASE("issue 10: --max-prompt-bytes, --max-line-bytes, --max-header-bytes", "[cli][score]") {
  const std::string dir = fixture_image_dir("limits");
  // The prompt (50 bytes) is over a 49-byte limit: every image is skipped for it.
  const auto prompt = run_prefscore("score " + kTinyPick + " -p '" + kPrompt0 + "' " + dir +
                                    " --max-prompt-bytes 49 --format jsonl");
  CHECK(prompt.exit_code == 1);
  CHECK_THAT(prompt.err, Catch::Contains("img0_rgb_300x200.png: prompt: text is 50 bytes, more than "
                                         "the limit of 49 bytes (raise it with --max-prompt-bytes)"));
  CHECK_THAT(prompt.err, Catch::Contains("prefscore: error: none of the 4 images could be scored"));
  const auto ok = run_prefscore("score " + kTinyPick + " -p '" + kPrompt0 + "' " + dir +
                                " --max-prompt-bytes 50 --format jsonl");
  CHECK(ok.exit_code == 0);
  CHECK(parse_jsonl(ok.out).size() == 4);

  {
    std::ofstream m(dir + "/manifest.csv");
    m << "image,prompt\nimg0_rgb_300x200.png,a cat\nimg1_gray_180x260.png,a much longer prompt\n";
  }
  const auto line = run_prefscore("score " + kTinyPick + " --manifest " + dir +
                                  "/manifest.csv --max-line-bytes 30 --format jsonl");
  CHECK(line.exit_code == 1);
  CHECK(line.err == "prefscore: error: " + dir + "/manifest.csv:3: line is longer than the limit of "
                    "30 bytes (raise it with --max-line-bytes)\n");
  const auto lines_ok = run_prefscore("score " + kTinyPick + " --manifest " + dir +
                                      "/manifest.csv --max-line-bytes 42 --format jsonl");
  CHECK(lines_ok.exit_code == 0);
  CHECK(parse_jsonl(lines_ok.out).size() == 2);

  const auto header = run_prefscore("score " + kTinyPick + " -p x " + dir + " --max-header-bytes 100");
  CHECK(header.exit_code == 1);
  CHECK_THAT(header.err, Catch::StartsWith("prefscore: error: " + data_path("models/hf/model.safetensors") +
                                           ": header length "));
  CHECK_THAT(header.err, Catch::Contains("bytes exceeds the limit of 100 bytes (not a safetensors "
                                         "file, or corrupt; raise the limit with --max-header-bytes)"));
  fs::remove_all(dir);
}

TEST_CASE("issue 10: tokenize --max-prompt-bytes skips longer texts", "[cli]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_tokenize_limit");
  std::ofstream(dir / "in.jsonl") << "{\"text\": \"abc\"}\n{\"text\": \"abcd\"}\n";
  const auto r = run_prefscore("tokenize --mode hf --max-prompt-bytes 3 --input " +
                               (dir / "in.jsonl").string());
  CHECK(r.exit_code == 3);
  CHECK(parse_jsonl(r.out).size() == 1);
  CHECK_THAT(r.err, Catch::Contains("in.jsonl:2: text is 4 bytes, more than the limit of 3 bytes"));
  fs::remove_all(dir);
}

TEST_CASE("--precision: auto by default, fp16 refused on CPU, --dtype kept as a hidden alias",
          "[cli][precision]") {
  const auto help = run_prefscore("score --help");
  CHECK_THAT(help.out, Catch::Contains("--precision") && Catch::Contains("[default: auto]") &&
                           Catch::Contains("one per physical core"));
  CHECK_THAT(help.out, !Catch::Contains("--dtype"));
  const std::string dir = fixture_image_dir("precision");
  const std::string tiny =
      "score --model-card " + data_path("cards/tiny-hf.json") + " --weights " + data_path("models/hf");
  const auto fp16 = run_prefscore(tiny + " -p x " + dir + " --precision fp16");
  CHECK(fp16.exit_code == 1);
  CHECK_THAT(fp16.err, Catch::Contains("--precision: fp16 is for CUDA"));
  const auto bad = run_prefscore(tiny + " -p x " + dir + " --dtype fp8");
  CHECK(bad.exit_code == 2);
  // bf16 differs from the fp32 golden scores only by bf16 rounding (8 significant bits).
  const auto fp32 = run_prefscore(tiny + " --dtype fp32 -p '" + kPrompt0 + "' " + dir + " --format jsonl");
  const auto bf16 = run_prefscore(tiny + " --precision bf16 -p '" + kPrompt0 + "' " + dir + " --format jsonl");
  INFO(bf16.err);
  REQUIRE(bf16.exit_code == 0);
  const auto a = parse_jsonl(fp32.out), b = parse_jsonl(bf16.out);
  REQUIRE(a.size() == b.size());
  REQUIRE(!a.empty());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(b[i]["image"] == a[i]["image"]);
    CHECK(b[i]["score"].get<double>() == Approx(a[i]["score"].get<double>()).margin(0.5));
  }
  // int8 (where this CPU has the kernel): the same rows, scores within int8's measured deviation
  // (<= 0.41 on the fixture's logit scale of 60, test_clip); named in the embedding cache's key.
  const auto int8 = run_prefscore(tiny + " --precision int8 -p '" + kPrompt0 + "' " + dir + " --format jsonl");
  if (prefscore::int8_image_linears_available()) {
    INFO(int8.err);
    REQUIRE(int8.exit_code == 0);
    const auto c = parse_jsonl(int8.out);
    REQUIRE(c.size() == a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(c[i]["image"] == a[i]["image"]);
      CHECK(c[i]["score"].get<double>() == Approx(a[i]["score"].get<double>()).margin(0.5));
    }
  } else {
    CHECK(int8.exit_code == 1);
    CHECK_THAT(int8.err, Catch::Contains("--precision int8: needs"));
  }
  const auto int8_cuda =
      run_prefscore(tiny + " -p x " + dir + " --precision int8 --device cuda");
  CHECK(int8_cuda.exit_code == 1);
  fs::remove_all(dir);
}

TEST_CASE("packed weights: kept on the first bf16 load, mapped after, same scores; "
          "--no-packed-cache keeps none; a damaged file is a warning", "[cli][precision]") {
  const std::string dir = fixture_image_dir("packed_cli");
  const fs::path cache = prefscore::testing::fresh_temp_dir("packed_cli_cache");
  const std::string tiny = "score --model-card " + data_path("cards/tiny-hf.json") + " --weights " +
                           data_path("models/hf") + " --precision bf16 -p '" + kPrompt0 + "' " +
                           dir + " --format jsonl";
  const std::string env = "PREFSCORE_CACHE_DIR=" + cache.string();
  CHECK_THAT(run_prefscore("score --help").out, Catch::Contains("--no-packed-cache"));

  const auto none = run_prefscore(tiny + " --no-packed-cache", env);
  INFO(none.err);
  REQUIRE(none.exit_code == 0);
  CHECK_FALSE(fs::exists(cache / "packed-weights"));
  const auto first = run_prefscore(tiny, env);
  REQUIRE(first.exit_code == 0);
  CHECK(first.out == none.out);
  if (!fs::exists(cache / "packed-weights")) {
    WARN("no oneDNN bf16 path on this CPU: nothing is packed, so nothing is cached");
  } else {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(cache / "packed-weights")) files.push_back(e.path());
    REQUIRE(files.size() == 2);  // image and text towers, no temporaries left
    const auto mapped = run_prefscore(tiny, env);
    CHECK(mapped.exit_code == 0);
    CHECK(mapped.out == none.out);
    CHECK(mapped.err.find("warning") == std::string::npos);

    fs::resize_file(files[0], fs::file_size(files[0]) - 1);
    const auto damaged = run_prefscore(tiny, env);
    CHECK(damaged.exit_code == 0);
    CHECK(damaged.out == none.out);
    CHECK_THAT(damaged.err, Catch::Contains("prefscore: warning: " + files[0].string()) &&
                                Catch::Contains("packed weights not used") &&
                                Catch::Contains("packed again"));
    CHECK(prefscore::testing::count_occurrences(damaged.err, "packed weights not used") == 1);
  }
  fs::remove_all(cache);
  fs::remove_all(dir);
}
