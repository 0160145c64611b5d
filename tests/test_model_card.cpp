// Model cards (models/*.json) and the weights lookup: the five shipped cards parse with the
// documented dims, malformed cards name the bad field, and a missing weight file is reported with
// where it is expected and how to get it.
#include <filesystem>
#include <fstream>

#include "prefscore/error.h"
#include "prefscore/model_card.h"
#include "prefscore/weights_location.h"
#include "test_utils.h"

using prefscore::Error;
using prefscore::load_model_card;
using prefscore::testing::data_path;

namespace {

namespace fs = std::filesystem;

std::string write_temp(const std::string& name, const std::string& contents) {
  const fs::path path = fs::temp_directory_path() / ("prefscore_card_test_" + name);
  std::ofstream(path) << contents;
  return path.string();
}

std::string card_error(const std::string& json) {
  const std::string path = write_temp("bad.json", json);
  try {
    load_model_card(path);
  } catch (const Error& e) {
    CHECK(e.path() == path);
    return e.reason();
  }
  FAIL("malformed card was accepted");
  return "";
}

// A valid card with one field replaced (by text substitution) for the rejection tests.
std::string tiny_card_with(const std::string& from, const std::string& to) {
  std::ifstream in(data_path("cards/tiny-hf.json"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("the five shipped cards parse with CLIP ViT-H/14 dims", "[model_card]") {
  const auto cards = prefscore::load_model_cards({PREFSCORE_MODELS_DIR});
  std::vector<std::string> names;
  for (const auto& c : cards) names.push_back(c.name);
  CHECK(names == std::vector<std::string>{"clip-h", "hpsv2", "hpsv2.1", "mps", "pickscore"});
  for (const auto& card : cards) {
    INFO(card.name);
    CHECK(card.architecture.vision_width == 1280);
    CHECK(card.architecture.vision_layers == 32);
    CHECK(card.architecture.vision_heads == 16);
    CHECK(card.architecture.text_width == 1024);
    CHECK(card.architecture.text_layers == 24);
    CHECK(card.architecture.embed_dim == 1024);
    CHECK(card.architecture.patch_size == 14);
    CHECK(card.architecture.activation == "gelu");
    CHECK_FALSE(card.source_url.empty());
    CHECK_FALSE(card.license.empty());
    CHECK_FALSE(card.obtain.empty());
  }
  const auto pick = prefscore::find_model_card({PREFSCORE_MODELS_DIR}, "pickscore");
  CHECK(pick.head == "pickscore");
  CHECK(pick.layout == "huggingface");
  CHECK(pick.preprocess == "hf");
  const auto hps = prefscore::find_model_card({PREFSCORE_MODELS_DIR}, "hpsv2.1");
  CHECK(hps.layout == "open_clip");
  CHECK(hps.preprocess == "hpsv2");
  CHECK(hps.tokenizer_mode == "openclip");
  CHECK(prefscore::find_model_card({PREFSCORE_MODELS_DIR}, "mps").layout == "mps");
}

TEST_CASE("unknown model names list the known ones", "[model_card]") {
  CHECK_THROWS_WITH(prefscore::find_model_card({PREFSCORE_MODELS_DIR}, "pickscor"),
                    Catch::Contains("pickscor: unknown model; known models: clip-h, hpsv2, "
                                    "hpsv2.1, mps, pickscore"));
}

TEST_CASE("malformed cards name the bad field", "[model_card]") {
  CHECK_THAT(card_error("{not json"), Catch::Contains("not valid JSON"));
  CHECK_THAT(card_error(tiny_card_with("\"head\": \"pickscore\"", "\"head\": \"pickscor\"")),
             Catch::Contains("field 'head' is \"pickscor\", expected one of pickscore, hpsv2, mps, clip"));
  CHECK_THAT(card_error(tiny_card_with("\"vision_width\": 64", "\"vision_widht\": 64")),
             Catch::Contains("unknown field 'architecture.vision_widht'"));
  CHECK_THAT(card_error(tiny_card_with("\"vision_heads\": 4", "\"vision_heads\": 0")),
             Catch::Contains("'architecture.vision_heads' must be a positive integer, got 0"));
  CHECK_THAT(card_error(tiny_card_with("\"vision_heads\": 4", "\"vision_heads\": 5")),
             Catch::Contains("multiples of their head counts"));
  CHECK_THAT(card_error(tiny_card_with("\"layout\": \"huggingface\"", "\"layout\": \"onnx\"")),
             Catch::Contains("'checkpoint.layout' is \"onnx\""));
  CHECK_THAT(card_error(tiny_card_with("{\"name\": \"config.json\"}",
                                       "{\"name\": \"config.json\", \"sha256\": \"abc\"}")),
             Catch::Contains("checkpoint.files[0].sha256' must be 64 lowercase hex digits"));
  CHECK_THAT(card_error(tiny_card_with("\"name\": \"tiny-hf\",", "")),
             Catch::Contains("missing field 'name'"));
  CHECK_THAT(card_error(tiny_card_with("\"preprocess\": \"hf\"", "\"preprocess\": 3")),
             Catch::Contains("field 'preprocess' must be a string, got 3"));
}

TEST_CASE("weights are found under --weights or PREFSCORE_HOME/<model>", "[model_card]") {
  const auto card = load_model_card(data_path("cards/tiny-hf.json"));
  SECTION("an explicit folder with every file") {
    const auto loc = prefscore::require_weights(card, data_path("models/hf"), "/unused");
    CHECK(loc.complete());
    CHECK(loc.files == std::vector<std::string>{data_path("models/hf") + "/config.json",
                                                data_path("models/hf") + "/model.safetensors"});
  }
  SECTION("the home folder: <home>/<model name>/") {
    const fs::path home = fs::temp_directory_path() / "prefscore_card_test_home";
    fs::create_directories(home / "tiny-hf");
    fs::copy_file(data_path("models/hf/config.json"), home / "tiny-hf" / "config.json",
                  fs::copy_options::overwrite_existing);
    const auto partial = prefscore::locate_weights(card, "", home.string());
    CHECK(partial.dir == (home / "tiny-hf").string());
    CHECK(partial.missing == std::vector<std::string>{(home / "tiny-hf" / "model.safetensors").string()});
    CHECK_THROWS_WITH(prefscore::require_weights(card, "", home.string()),
                      Catch::Contains((home / "tiny-hf" / "model.safetensors").string() +
                                      ": weights of model 'tiny-hf' not found (1 of 2 files "
                                      "missing; prefscore never downloads). It is in the "
                                      "repository"));
    fs::remove_all(home);
  }
  SECTION("a single file only for single-file layouts") {
    const auto oc = load_model_card(data_path("cards/tiny-openclip.json"));
    const std::string file = data_path("models/openclip/open_clip_model.safetensors");
    CHECK(prefscore::require_weights(oc, file, "/unused").files == std::vector<std::string>{file});
    CHECK_THROWS_WITH(prefscore::require_weights(card, data_path("models/hf/model.safetensors"), "/x"),
                      Catch::Contains("needs 2 files; pass their folder to --weights"));
  }
}

TEST_CASE("issue 10: a deeply nested card is refused before it can overflow the stack",
          "[model_card]") {
  // 100000 levels: dump() or a recursive destructor of such a value would overflow the stack.
  const std::string deep =
      "{\"name\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK(card_error(deep) == "JSON nests deeper than 64 levels");
  // The bound is the shared one of JSON inputs: 64 levels pass the reader (and fail as a card).
  const std::string ok_depth = "{\"name\": " + std::string(62, '[') + std::string(62, ']') + "}";
  CHECK_THAT(card_error(ok_depth), Catch::Contains("'name'"));
}
