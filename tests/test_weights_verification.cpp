// Weights trust (issue 10): a card's sha256 is checked before the file's tensors are used, once per
// file version (remembered by path, size and mtime), a mismatch is one error line and exit 1,
// --no-verify skips it. Expected digests come from /usr/bin/sha256sum, not from the code under
// test; every test keeps its records in a fresh folder (PREFSCORE_CACHE_DIR), never ~/.cache.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "pipeline_fixture.h"
#include "prefscore/error.h"
#include "prefscore/file_digest_memo.h"
#include "prefscore/model_card.h"
#include "prefscore/sha256.h"
#include "prefscore/weights_location.h"
#include "prefscore/weights_verification.h"
#include "test_utils.h"

namespace {

namespace fs = std::filesystem;
using prefscore::FileTrust;
using prefscore::testing::data_path;
using prefscore::testing::run_command;
using prefscore::testing::run_prefscore;

constexpr const char* kWeightsName = "open_clip_model.safetensors";

std::string sha256sum(const fs::path& file) {
  const auto r = run_command("/usr/bin/sha256sum '" + file.string() + "'");
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, 64);
}

// The tiny open_clip fixture copied to <dir>/weights/ and a card stating `sha256` for it at
// <dir>/card.json.
struct Fixture {
  fs::path dir;
  fs::path weights_dir;
  fs::path weights;
  fs::path card;
  std::string real_sha256;
};

Fixture make_fixture(const std::string& name, const std::string& stated = "real") {
  Fixture f;
  f.dir = prefscore::testing::fresh_temp_dir(name);
  f.weights_dir = f.dir / "weights";
  fs::create_directories(f.weights_dir);
  f.weights = f.weights_dir / kWeightsName;
  fs::copy_file(data_path("models/openclip/open_clip_model.safetensors"), f.weights);
  fs::copy_file(data_path("models/openclip/open_clip_config.json"),
                f.weights_dir / "open_clip_config.json");
  f.real_sha256 = sha256sum(f.weights);
  nlohmann::json card = nlohmann::json::parse(std::ifstream(data_path("cards/tiny-openclip.json")));
  card["checkpoint"]["files"][0]["sha256"] = stated == "real" ? f.real_sha256 : stated;
  f.card = f.dir / "card.json";
  std::ofstream(f.card) << card.dump(2);
  return f;
}

std::vector<prefscore::FileVerification> verify(const Fixture& f, const std::string& memo_dir,
                                                bool enabled = true,
                                                const std::string& weights = "") {
  const prefscore::ModelCard card = prefscore::load_model_card(f.card.string());
  const auto loc = prefscore::require_weights(
      card, weights.empty() ? f.weights_dir.string() : weights, "/unused");
  return prefscore::verify_weights(card, loc, prefscore::VerifyOptions{enabled, memo_dir});
}

// Overwrites one byte of the tensor data (size unchanged) and moves the mtime on.
void tamper(const fs::path& file) {
  const auto before = fs::last_write_time(file);
  {
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(-1, std::ios::end);
    const char last = static_cast<char>(io.get());
    io.seekp(-1, std::ios::end);
    io.put(static_cast<char>(last ^ 0x5a));
  }
  fs::last_write_time(file, before + std::chrono::seconds(7));
}

std::string mismatch_message(const fs::path& file, const std::string& card_says,
                             const std::string& file_has) {
  return file.string() + ": sha256 mismatch: card says " + card_says + ", file has " + file_has +
         " (pass --no-verify to skip)";
}

}  // namespace

TEST_CASE("issue 10: a card's sha256 is verified once, then remembered by path, size and mtime",
          "[weights_verification]") {
  const Fixture f = make_fixture("verify_once");
  const std::string memo = (f.dir / "memo").string();
  const auto first = verify(f, memo);
  REQUIRE(first.size() == 1);
  CHECK(first[0].path == f.weights.string());
  CHECK(first[0].trust == FileTrust::kVerified);
  CHECK(first[0].file_sha256 == f.real_sha256);
  CHECK_FALSE(first[0].from_record);
  CHECK_FALSE(first[0].not_remembered);

  // The record: the absolute path, the stamp and the digest, under the memo folder.
  const prefscore::FileDigestMemo digests(memo);
  const fs::path record = digests.record_path(f.weights.string());
  CHECK(record.parent_path() == fs::path(memo));
  REQUIRE(fs::exists(record));
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(record));
  CHECK(j["path"] == fs::canonical(f.weights).string());
  CHECK(j["size"] == fs::file_size(f.weights));
  CHECK(j["sha256"] == f.real_sha256);

  const auto second = verify(f, memo);
  CHECK(second[0].trust == FileTrust::kVerified);
  CHECK(second[0].from_record);
  fs::remove_all(f.dir);
}

TEST_CASE("issue 10: a wrong card digest is refused; --no-verify skips the check",
          "[weights_verification]") {
  const std::string wrong(64, 'a');
  const Fixture f = make_fixture("verify_wrong", wrong);
  const std::string memo = (f.dir / "memo").string();
  REQUIRE_THROWS_WITH(verify(f, memo), mismatch_message(f.weights, wrong, f.real_sha256));
  // The file's own digest is remembered: the next refusal does not hash again, and still refuses.
  REQUIRE_THROWS_WITH(verify(f, memo), mismatch_message(f.weights, wrong, f.real_sha256));
  CHECK(prefscore::FileDigestMemo(memo).remembered(f.weights.string()) == f.real_sha256);

  const Fixture g = make_fixture("verify_skip", wrong);
  const auto skipped = verify(g, (g.dir / "memo").string(), /*enabled=*/false);
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].trust == FileTrust::kSkipped);
  CHECK_FALSE(fs::exists(g.dir / "memo"));  // nothing was hashed
  fs::remove_all(f.dir);
  fs::remove_all(g.dir);
}

TEST_CASE("issue 10: a file changed in place (same size, new mtime) is hashed again and refused",
          "[weights_verification]") {
  const Fixture f = make_fixture("verify_tamper");
  const std::string memo = (f.dir / "memo").string();
  CHECK(verify(f, memo)[0].trust == FileTrust::kVerified);
  const auto size = fs::file_size(f.weights);
  tamper(f.weights);
  REQUIRE(fs::file_size(f.weights) == size);
  const std::string tampered = sha256sum(f.weights);
  REQUIRE(tampered != f.real_sha256);
  REQUIRE_THROWS_WITH(verify(f, memo), mismatch_message(f.weights, f.real_sha256, tampered));
  fs::remove_all(f.dir);
}

TEST_CASE("issue 10: a corrupt verification record is ignored and rewritten, never trusted",
          "[weights_verification]") {
  const Fixture f = make_fixture("verify_corrupt");
  const std::string memo = (f.dir / "memo").string();
  REQUIRE(verify(f, memo)[0].trust == FileTrust::kVerified);
  const fs::path record = prefscore::FileDigestMemo(memo).record_path(f.weights.string());
  const nlohmann::json good = nlohmann::json::parse(std::ifstream(record));
  nlohmann::json bad_digest = good;
  bad_digest["sha256"] = "not a digest";
  nlohmann::json bad_size = good;
  bad_size["size"] = "7072148";
  nlohmann::json other_path = good;
  other_path["path"] = "/elsewhere/open_clip_model.safetensors";
  for (const std::string& text :
       {std::string("{not json"), std::string(""), std::string("[]"), std::string(100, '['),
        bad_digest.dump(), bad_size.dump(), other_path.dump()}) {
    INFO(text);
    std::ofstream(record, std::ios::trunc) << text;
    const auto v = verify(f, memo);
    CHECK(v[0].trust == FileTrust::kVerified);
    CHECK_FALSE(v[0].from_record);                                // hashed again
    CHECK(nlohmann::json::parse(std::ifstream(record)) == good);  // and rewritten
  }
  fs::remove_all(f.dir);
}

TEST_CASE("issue 10: which files a card's digest applies to", "[weights_verification]") {
  const Fixture f = make_fixture("verify_which");
  const std::string memo = (f.dir / "memo").string();
  // A --weights file of the card's name is the card's file: verified.
  CHECK(verify(f, memo, true, f.weights.string())[0].trust == FileTrust::kVerified);
  // A --weights file of another name is the user's own: the card's digest is not about it.
  const fs::path own = f.dir / "my_finetune.safetensors";
  fs::copy_file(f.weights, own);
  tamper(own);
  const auto v = verify(f, memo, true, own.string());
  REQUIRE(v.size() == 1);
  CHECK(v[0].trust == FileTrust::kNotCardFile);
  CHECK(v[0].card_name == kWeightsName);
  // A card without a digest: nothing to check.
  nlohmann::json card = nlohmann::json::parse(std::ifstream(f.card));
  card["checkpoint"]["files"][0]["sha256"] = nullptr;
  std::ofstream(f.card, std::ios::trunc) << card.dump();
  CHECK(verify(f, memo)[0].trust == FileTrust::kNoDigest);
  fs::remove_all(f.dir);
}

TEST_CASE("issue 10: a digest that cannot be remembered is still verified, and says why",
          "[weights_verification]") {
  const Fixture f = make_fixture("verify_unwritable");
  // A folder below a regular file cannot be created, whoever runs the test (root included).
  std::ofstream(f.dir / "blocker") << "x";
  const std::string memo = (f.dir / "blocker" / "memo").string();
  const auto v = verify(f, memo);
  CHECK(v[0].trust == FileTrust::kVerified);
  REQUIRE(v[0].not_remembered);
  CHECK_THAT(v[0].not_remembered->what(), Catch::StartsWith(memo + ": cannot create folder: "));
  // ... and a wrong digest is refused all the same.
  const Fixture g = make_fixture("verify_unwritable_wrong", std::string(64, 'b'));
  CHECK_THROWS_WITH(verify(g, memo), Catch::Contains("sha256 mismatch"));
  fs::remove_all(f.dir);
  fs::remove_all(g.dir);
}

TEST_CASE("issue 10: remembered_verification reads records only", "[weights_verification]") {
  const Fixture f = make_fixture("verify_remembered");
  const std::string memo = (f.dir / "memo").string();
  const prefscore::ModelCard card = prefscore::load_model_card(f.card.string());
  const auto loc = prefscore::locate_weights(card, f.weights_dir.string(), "/unused");
  const prefscore::VerifyOptions options{/*verify=*/true, memo};
  CHECK(prefscore::remembered_verification(card, loc, options)[0].trust == FileTrust::kNotChecked);
  verify(f, memo);
  CHECK(prefscore::remembered_verification(card, loc, options)[0].trust == FileTrust::kVerified);
  tamper(f.weights);
  CHECK(prefscore::remembered_verification(card, loc, options)[0].trust == FileTrust::kNotChecked);
  fs::remove_all(f.dir);
}

TEST_CASE("issue 10: score verifies the card's digest, refuses a mismatch, --no-verify skips it",
          "[weights_verification][cli]") {
  const std::string images = prefscore::testing::fixture_image_dir("verify_cli");
  const std::string image = images + "/img0_rgb_300x200.png";
  const auto score = [&](const Fixture& f, const std::string& flags, const fs::path& cache) {
    return run_prefscore("score --model-card " + f.card.string() + " --weights " +
                             f.weights_dir.string() + " --precision fp32 -p 'a cat' " +
                             "--format jsonl " + flags + " " + image,
                         "PREFSCORE_CACHE_DIR=" + cache.string());
  };
  const Fixture f = make_fixture("verify_cli_ok");
  const fs::path cache = f.dir / "cache";
  const auto ok = score(f, "", cache);
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(ok.err.empty());
  CHECK(nlohmann::json::parse(ok.out)["score"].is_number());
  const fs::path record = cache / "weights-sha256" /
                          (prefscore::sha256_hex(fs::canonical(f.weights).string()) + ".json");
  REQUIRE(fs::exists(record));
  CHECK(nlohmann::json::parse(std::ifstream(record))["sha256"] == f.real_sha256);
  // `models show` tells the file is verified (from the record, without hashing).
  const auto show =
      run_prefscore("models show " + f.card.string() + " --weights " + f.weights_dir.string(),
                    "PREFSCORE_CACHE_DIR=" + cache.string());
  CHECK_THAT(show.out, Catch::Contains("sha256 " + f.real_sha256 + "  (verified)"));
  // The second run uses the record: plant a wrong digest for the same stamp and it is believed
  // (a mismatch now), which shows the file was not hashed again.
  nlohmann::json planted = nlohmann::json::parse(std::ifstream(record));
  planted["sha256"] = std::string(64, 'e');
  std::ofstream(record, std::ios::trunc) << planted.dump();
  const auto remembered = score(f, "", cache);
  CHECK(remembered.exit_code == 1);
  CHECK(remembered.err ==
        "prefscore: error: " + mismatch_message(f.weights, f.real_sha256, std::string(64, 'e')) +
            "\n");

  // A wrong card digest: one line, exit 1, nothing on stdout.
  const std::string wrong(64, '0');
  const Fixture w = make_fixture("verify_cli_wrong", wrong);
  const auto refused = score(w, "", w.dir / "cache");
  CHECK(refused.exit_code == 1);
  CHECK(refused.out.empty());
  CHECK(refused.err ==
        "prefscore: error: " + mismatch_message(w.weights, wrong, w.real_sha256) + "\n");
  // --no-verify: scored, one warning line.
  const auto skipped = score(w, "--no-verify", w.dir / "cache");
  CHECK(skipped.exit_code == 0);
  CHECK(skipped.err ==
        "prefscore: warning: --no-verify: weights files are not checked against the sha256 of "
        "their model card\n");
  CHECK(nlohmann::json::parse(skipped.out)["score"] == nlohmann::json::parse(ok.out)["score"]);

  // A cache folder that cannot be written: verified all the same, one warning line.
  std::ofstream(f.dir / "blocker") << "x";
  const auto unwritable = score(f, "", f.dir / "blocker" / "cache");
  CHECK(unwritable.exit_code == 0);
  CHECK_THAT(unwritable.err,
             Catch::StartsWith("prefscore: warning: " + (f.dir / "blocker" / "cache").string() +
                               "/weights-sha256: cannot create folder: "));
  CHECK_THAT(unwritable.err, Catch::EndsWith("the verified sha256 could not be remembered (it is "
                                             "computed again next time)\n"));
  CHECK(std::count(unwritable.err.begin(), unwritable.err.end(), '\n') == 1);

  // embed has --no-verify too.
  const auto embed = run_prefscore("embed --model-card " + w.card.string() + " --weights " +
                                       w.weights_dir.string() + " --text x -o " +
                                       (w.dir / "e.safetensors").string(),
                                   "PREFSCORE_CACHE_DIR=" + (w.dir / "cache").string());
  CHECK(embed.exit_code == 1);
  CHECK_THAT(embed.err, Catch::Contains("sha256 mismatch"));
  CHECK(run_prefscore("embed --no-verify --model-card " + w.card.string() + " --weights " +
                          w.weights_dir.string() + " --text x -o " +
                          (w.dir / "e.safetensors").string(),
                      "PREFSCORE_CACHE_DIR=" + (w.dir / "cache").string())
            .exit_code == 0);
  fs::remove_all(f.dir);
  fs::remove_all(w.dir);
  fs::remove_all(images);
}
