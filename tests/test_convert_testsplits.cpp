// scripts/convert_pickapic.py, convert_hpdv2.py, convert_imagereward.py and parquet_lite.py on the
// fixtures of tests/data/convert/ (README there): parquet files written by three independent npm
// writers, hand-written test.json files in the official layouts. Expected rows and bytes come from
// the writers' input (the README's tables, the jpeg/ and image folders), not from the converters.
// Runs /usr/bin/python3 (standard library only; the Pick-a-Pic cases force the pure-Python reader).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_utils.h"

using prefscore::testing::CliResult;
using prefscore::testing::data_path;
using prefscore::testing::fresh_temp_dir;
using prefscore::testing::run_command;

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CliResult run_script(const std::string& script, const std::string& args) {
  return run_command("/usr/bin/python3 " +
                     quote(std::string(PREFSCORE_SOURCE_DIR) + "/scripts/" + script) + " " + args);
}

std::string convert_data(const std::string& relative) {
  return quote(data_path("convert/" + relative));
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<Json> read_jsonl(const fs::path& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<Json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(Json::parse(line));
  return rows;
}

std::size_t count_lines(const std::string& text) {
  std::size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

// The fake Pick-a-Pic uid whose last two hex digits are `tail`.
std::string uid(const std::string& tail) { return "0b7e2c1a-0000-4000-8000-0000000000" + tail; }

Json pair(const std::string& id, const std::string& split, const std::string& prompt,
          const std::string& uid0, const std::string& uid1, const std::string& label) {
  return Json{{"pair_id", id},
              {"split", split},
              {"prompt", prompt},
              {"image_0", "images/" + uid(uid0) + ".jpg"},
              {"image_1", "images/" + uid(uid1) + ".jpg"},
              {"label", label}};
}

// The README's tables.
std::vector<Json> validation_pairs() {
  return {pair("validation/0", "validation", "a red fox in the snow", "0a", "0b", "0"),
          pair("validation/1", "validation", "a red fox in the snow", "0a", "0c", "1"),
          pair("validation/2", "validation",
               "Ciudad de M\u00e9xico al atardecer, \u6771\u4eac\u30bf\u30ef\u30fc \"quoted\"",
               "0d", "0e", "tie"),
          pair("validation/3", "validation", "a bowl of ramen", "0f", "0b", "0"),
          pair("validation/4", "validation", "a bowl of ramen", "10", "11", "tie"),
          pair("validation/5", "validation", "a lighthouse at night", "0c", "10", "1")};
}

std::vector<Json> test_pairs() {
  return {pair("test/0", "test", "portrait of an old sailor, oil painting", "12", "13", "0"),
          pair("test/1", "test", "portrait of an old sailor, oil painting", "13", "0a", "tie"),
          pair("test/2", "test", "emoji \U0001F98A fox", "0b", "12", "1"),
          pair("test/3", "test", "a castle on a hill", "0d", "0f", "0"),
          pair("test/4", "test", "a castle on a hill", "0e", "0d", "1"),
          pair("test/5", "test", "tab\tand newline\nin a caption", "0c", "0e", "tie")};
}

void require_rows(const std::vector<Json>& got, const std::vector<Json>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("row " << i);
    CHECK(got[i] == want[i]);
  }
}

// Every file under out/images is one of `uids` and equals jpeg/<uid>.jpg byte for byte.
void require_pickapic_images(const fs::path& out, const std::vector<std::string>& uid_tails) {
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(out / "images"))
    files += entry.is_regular_file();
  CHECK(files == uid_tails.size());
  for (const auto& tail : uid_tails) {
    INFO(tail);
    const fs::path got = out / "images" / (uid(tail) + ".jpg");
    REQUIRE(fs::exists(got));
    CHECK(read_bytes(got) == read_bytes(data_path("convert/jpeg/" + uid(tail) + ".jpg")));
  }
}

CliResult pickapic(const std::string& files, const std::string& split, const fs::path& out,
                   const std::string& extra = "--parquet-reader lite") {
  return run_script("convert_pickapic.py",
                    files + " --split " + split + " --out " + quote(out.string()) + " " + extra);
}

// parquet_lite.py's dump of some columns, one JSON object per row.
std::vector<Json> dump(const std::string& file, const std::string& columns) {
  const auto r = run_script("parquet_lite.py", convert_data(file) + " " + columns);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<Json> rows;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) rows.push_back(Json::parse(line));
  return rows;
}

}  // namespace

TEST_CASE("Pick-a-Pic: validation (arrow-rs, page v1) and test (hyparquet, page v2) merge",
          "[convert_testsplits]") {
  const fs::path out = fresh_temp_dir("convert_pickapic");
  auto r = pickapic(convert_data("pickapic_validation_arrowrs.parquet"), "validation_unique", out);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("6 validation pairs (2 ties)"));
  require_rows(read_jsonl(out / "pairs.jsonl"), validation_pairs());

  r = pickapic(convert_data("pickapic_test_hyparquet.parquet"), "test", out);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  std::vector<Json> want = validation_pairs();
  for (const Json& row : test_pairs()) want.push_back(row);
  require_rows(read_jsonl(out / "pairs.jsonl"), want);
  // Each uid once, the bytes as stored (0a, 0b, 0c, 0d, 0e are in both splits).
  require_pickapic_images(out, {"0a", "0b", "0c", "0d", "0e", "0f", "10", "11", "12", "13"});

  // Converting a split again replaces its rows and keeps the other split's.
  r = pickapic(convert_data("pickapic_validation_arrowrs.parquet"), "validation", out);
  REQUIRE(r.exit_code == 0);
  want = test_pairs();
  for (const Json& row : validation_pairs()) want.push_back(row);
  require_rows(read_jsonl(out / "pairs.jsonl"), want);
  // Only the outputs are left in the folder (no temporary files).
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(out)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"images", "pairs.jsonl"});
}

TEST_CASE("Pick-a-Pic: several files of one split are read in order", "[convert_testsplits]") {
  const fs::path out = fresh_temp_dir("convert_pickapic_two_files");
  const auto r = pickapic(convert_data("pickapic_test_hyparquet.parquet") + " " +
                              convert_data("pickapic_validation_arrowrs.parquet"),
                          "test", out);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<Json> want = test_pairs();
  std::size_t n = want.size();
  for (Json row : validation_pairs()) {
    row["pair_id"] = "test/" + std::to_string(n++);
    row["split"] = "test";
    want.push_back(row);
  }
  require_rows(read_jsonl(out / "pairs.jsonl"), want);
}

TEST_CASE("Pick-a-Pic: parquetjs GZIP page-v1 file, and --only-with-label",
          "[convert_testsplits]") {
  const fs::path out = fresh_temp_dir("convert_pickapic_gzip");
  auto r = pickapic(convert_data("pickapic_test_parquetjs_gzip.parquet"), "test", out);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const std::vector<Json> all = {
      pair("test/0", "test", "a red fox", "0a", "0b", "0"),
      pair("test/1", "test", "a red fox", "0b", "0c", "tie"),
      pair("test/2", "test", "un zorro rojo, \u00f1and\u00fa", "0c", "0d", "1"),
      pair("test/3", "test", "a red fox", "0d", "0a", "0")};
  require_rows(read_jsonl(out / "pairs.jsonl"), all);
  require_pickapic_images(out, {"0a", "0b", "0c", "0d"});

  // has_label null (row 1) and false (row 3) are dropped; ids stay those of the input rows.
  r = pickapic(convert_data("pickapic_test_parquetjs_gzip.parquet"), "test", out,
               "--parquet-reader lite --only-with-label");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("2 dropped (has_label)"));
  require_rows(read_jsonl(out / "pairs.jsonl"), {all[0], all[2]});
}

TEST_CASE("Pick-a-Pic: the default reader (pyarrow when installed) gives the same rows",
          "[convert_testsplits]") {
  const fs::path out = fresh_temp_dir("convert_pickapic_auto");
  const auto r =
      pickapic(convert_data("pickapic_validation_arrowrs.parquet"), "validation", out, "");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  require_rows(read_jsonl(out / "pairs.jsonl"), validation_pairs());
}

TEST_CASE("Pick-a-Pic: malformed inputs", "[convert_testsplits]") {
  const fs::path out = fresh_temp_dir("convert_pickapic_bad");
  SECTION("a missing column is fatal, nothing is written") {
    const auto r = pickapic(convert_data("pickapic_missing_label_1.parquet"), "test", out);
    CHECK(r.exit_code == 1);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::StartsWith("convert_pickapic.py: ") &&
                          Catch::Contains("pickapic_missing_label_1.parquet: no column 'label_1'"));
    CHECK_FALSE(fs::exists(out / "pairs.jsonl"));
  }
  SECTION("a truncated file is fatal") {
    const std::string whole = read_bytes(data_path("convert/pickapic_test_hyparquet.parquet"));
    const fs::path cut = out / "cut.parquet";
    std::ofstream(cut, std::ios::binary) << whole.substr(0, 3000);
    const auto r = pickapic(quote(cut.string()), "test", out / "o");
    CHECK(r.exit_code == 1);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains("cut.parquet: not a Parquet file or truncated (3000 bytes"));
  }
  SECTION("a file whose footer survives but whose pages are cut is fatal") {
    // The footer and the last 8 bytes moved up over the data: page offsets now point past it.
    const std::string whole = read_bytes(data_path("convert/pickapic_validation_arrowrs.parquet"));
    const std::uint32_t footer = static_cast<unsigned char>(whole[whole.size() - 8]) |
                                 static_cast<unsigned char>(whole[whole.size() - 7]) << 8 |
                                 static_cast<unsigned char>(whole[whole.size() - 6]) << 16;
    const std::string tail = whole.substr(whole.size() - 8 - footer);
    const fs::path cut = out / "pages_cut.parquet";
    std::ofstream(cut, std::ios::binary) << whole.substr(0, 2000) << tail;
    const auto r = pickapic(quote(cut.string()), "test", out / "o");
    CHECK(r.exit_code == 1);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains("pages_cut.parquet: column '") &&
                          Catch::Contains("corrupt or truncated data"));
  }
  SECTION("a bad label skips that row, the others are converted, exit 3") {
    const auto r = pickapic(convert_data("pickapic_bad_label.parquet"), "test", out);
    CHECK(r.exit_code == 3);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains("skipped ") &&
                          Catch::Contains("pickapic_bad_label.parquet:row 1: label_0/label_1 = "
                                          "0.3/0.7, expected 1/0, 0/1 or 0.5/0.5"));
    require_rows(read_jsonl(out / "pairs.jsonl"), {test_pairs()[0]});
  }
  SECTION("an image already in the folder with other bytes skips the rows that need it") {
    REQUIRE(pickapic(convert_data("pickapic_test_hyparquet.parquet"), "test", out).exit_code == 0);
    std::ofstream(out / "images" / (uid("13") + ".jpg"), std::ios::binary) << "not the same bytes";
    const auto r = pickapic(convert_data("pickapic_test_hyparquet.parquet"), "test", out);
    CHECK(r.exit_code == 3);
    CHECK(count_lines(r.err) == 2);  // rows 0 and 1 use uid 13
    CHECK_THAT(r.err, Catch::Contains("pickapic_test_hyparquet.parquet:row 0: image_1_uid " +
                                      uid("13") + ": ") &&
                          Catch::Contains("already holds different bytes for this image"));
    const std::vector<Json> all = test_pairs();
    require_rows(read_jsonl(out / "pairs.jsonl"), {all[2], all[3], all[4], all[5]});
  }
  SECTION("an unknown split is a usage error") {
    const auto r = pickapic(convert_data("pickapic_bad_label.parquet"), "train", out);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--split"));
  }
}

TEST_CASE("parquet_lite.py reads nullable columns of all three writers", "[convert_testsplits]") {
  const auto arrowrs = dump("pickapic_validation_arrowrs.parquet",
                            "best_image_uid has_label ranking_id label_1 model_1");
  REQUIRE(arrowrs.size() == 6);
  const std::vector<Json> best = {uid("0a"), uid("0c"), nullptr, uid("0f"), nullptr, uid("10")};
  for (std::size_t i = 0; i < 6; ++i) {
    INFO("arrow-rs row " << i);
    CHECK(arrowrs[i]["best_image_uid"] == best[i]);
    CHECK(arrowrs[i]["has_label"] == (i != 5));
    CHECK(arrowrs[i]["ranking_id"] == 5001 + static_cast<int>(i));
    CHECK(arrowrs[i]["model_1"] == "sdxl-beta");
  }
  CHECK(arrowrs[2]["label_1"] == 0.5);

  const auto hyparquet = dump("pickapic_test_hyparquet.parquet", "best_image_uid ranking_id");
  const std::vector<Json> best_test = {uid("12"), nullptr,   uid("12"),
                                       uid("0d"), uid("0d"), nullptr};
  REQUIRE(hyparquet.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) {
    INFO("hyparquet row " << i);
    CHECK(hyparquet[i]["best_image_uid"] == best_test[i]);
    CHECK(hyparquet[i]["ranking_id"] == 7001 + static_cast<int>(i));
  }

  const auto parquetjs = dump("pickapic_test_parquetjs_gzip.parquet",
                              "has_label best_image_uid num_example_per_prompt");
  REQUIRE(parquetjs.size() == 4);
  CHECK(parquetjs[0] ==
        Json{{"has_label", true}, {"best_image_uid", uid("0a")}, {"num_example_per_prompt", 2}});
  CHECK(parquetjs[1] ==
        Json{{"has_label", nullptr}, {"best_image_uid", nullptr}, {"num_example_per_prompt", 2}});
  CHECK(parquetjs[2] == Json{{"has_label", true},
                             {"best_image_uid", uid("0d")},
                             {"num_example_per_prompt", nullptr}});
  CHECK(parquetjs[3] ==
        Json{{"has_label", false}, {"best_image_uid", nullptr}, {"num_example_per_prompt", 2}});

  // JPEG bytes come back as stored.
  const auto jpg = dump("pickapic_test_parquetjs_gzip.parquet", "jpg_1");
  CHECK(jpg[0]["jpg_1"].contains("base64"));
}

namespace {

CliResult rankings(const std::string& script, const std::string& json, const fs::path& out,
                   const std::string& extra = "") {
  return run_script(script, convert_data(json) + " --out " + quote(out.string()) + " " + extra);
}

// Each listed image of `rows` under out/ equals the source file under `source_dir`.
void require_copied(const fs::path& out, const std::vector<Json>& rows, const fs::path& source_dir,
                    bool link) {
  for (const Json& row : rows) {
    for (const Json& image : row["images"]) {
      const std::string rel = image.get<std::string>().substr(std::string("images/").size());
      INFO(rel);
      const fs::path got = out / image.get<std::string>();
      REQUIRE(fs::exists(got));
      CHECK(fs::is_symlink(got) == link);
      if (link) CHECK(fs::equivalent(fs::read_symlink(got), source_dir / rel));
      CHECK(read_bytes(got) == read_bytes(source_dir / rel));
    }
  }
}

}  // namespace

TEST_CASE("HPD v2 test.json converts to rankings with rank unchanged (0 = best)",
          "[convert_testsplits]") {
  const bool link = GENERATE(false, true);
  const fs::path out = fresh_temp_dir(link ? "convert_hpdv2_link" : "convert_hpdv2");
  const auto r = rankings("convert_hpdv2.py", "hpdv2/test.json", out, link ? "--link" : "");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const std::vector<Json> want = {
      {{"prompt_id", "0"},
       {"prompt", "A cat wearing a wizard hat, digital art"},
       {"images", {"images/00000.jpg", "images/00001.jpg", "images/00002.jpg", "images/00003.jpg"}},
       {"human_rank", {1, 0, 3, 2}}},
      {{"prompt_id", "1"},
       {"prompt", "Stra\u00dfe in M\u00fcnchen bei Nacht, \u591c\u666f"},
       {"images", {"images/00004.jpg", "images/00005.jpg"}},
       {"human_rank", {0, 1}}},
      {{"prompt_id", "2"},
       {"prompt", "a watercolor lighthouse"},
       {"images", {"images/00006.jpg", "images/00007.jpg", "images/00008.jpg"}},
       {"human_rank", {2, 0, 1}}}};
  require_rows(read_jsonl(out / "rankings.jsonl"), want);
  require_copied(out, want, data_path("convert/hpdv2/test"), link);
}

TEST_CASE("HPD v2: bad entries are reported and skipped, exit 3", "[convert_testsplits]") {
  const fs::path out = fresh_temp_dir("convert_hpdv2_bad");
  const auto r = rankings("convert_hpdv2.py", "hpdv2/test_bad.json", out);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK(count_lines(r.err) == 4);
  CHECK_THAT(r.err, Catch::Contains("test_bad.json[0]: image ") &&
                        Catch::Contains("99999.jpg does not exist"));
  CHECK_THAT(r.err,
             Catch::Contains(
                 "test_bad.json[1]: \"rank\" must be a list of 2 ints (one per image), got [0]"));
  CHECK_THAT(r.err,
             Catch::Contains("test_bad.json[2]: \"rank\" must hold ints >= 0, got [0.5, 1]"));
  CHECK_THAT(r.err, Catch::Contains(
                        "test_bad.json[3]: image path \"../test.json\" is not a relative path"));
  require_rows(read_jsonl(out / "rankings.jsonl"),
               {{{"prompt_id", "4"},
                 {"prompt", "the one good entry"},
                 {"images", {"images/00002.jpg", "images/00003.jpg"}},
                 {"human_rank", {1, 0}}}});
  // A skipped entry leaves no image behind.
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(out / "images"))
    files += entry.is_regular_file();
  CHECK(files == 2);
}

TEST_CASE("ImageReward test.json converts to rankings with ranking unchanged (1 = best, ties)",
          "[convert_testsplits]") {
  const fs::path out = fresh_temp_dir("convert_imagereward");
  const auto r = rankings("convert_imagereward.py", "imagereward/test.json", out);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const std::string a = "images/part-000101/images/0007/6a1f0c2e-1111-4aaa-8bbb-00000000000";
  const std::string b = "images/part-000102/images/0150/6a1f0c2e-1111-4aaa-8bbb-00000000000";
  const std::vector<Json> want = {
      {{"prompt_id", "000101-0007"},
       {"prompt", "cyberpunk city at dusk, 8 k, octane render"},
       {"images", {a + "1.webp", a + "2.webp", a + "3.webp", a + "4.webp"}},
       {"human_rank", {1, 2, 5, 3}}},
      {{"prompt_id", "000102-0150"},
       {"prompt", "une tasse de caf\u00e9, \"cozy\""},
       {"images", {b + "5.webp", b + "6.webp", b + "7.webp"}},
       {"human_rank", {1, 1, 2}}}};
  require_rows(read_jsonl(out / "rankings.jsonl"), want);
  require_copied(out, want, data_path("convert/imagereward/test_images"), /*link=*/false);

  // A second run over the same folder finds the same files and rewrites the same rows.
  const auto again = rankings("convert_imagereward.py", "imagereward/test.json", out);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("(0 copied, 7 already there)"));
  require_rows(read_jsonl(out / "rankings.jsonl"), want);
}

TEST_CASE("ImageReward: bad entries are reported and skipped, exit 3", "[convert_testsplits]") {
  const fs::path out = fresh_temp_dir("convert_imagereward_bad");
  const auto r = rankings("convert_imagereward.py", "imagereward/test_bad.json", out);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK(count_lines(r.err) == 3);
  CHECK_THAT(r.err,
             Catch::Contains("test_bad.json[1]: prompt id '000101-0007' repeats an earlier entry"));
  CHECK_THAT(r.err,
             Catch::Contains("test_bad.json[2]: \"ranking\" must hold ints >= 1, got [0, 1]"));
  CHECK_THAT(r.err, Catch::Contains("test_bad.json[3]: \"id\" is missing"));
  const auto rows = read_jsonl(out / "rankings.jsonl");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["human_rank"] == Json({2, 1}));
}

TEST_CASE("Rankings converters: fatal input errors are one line, exit 1", "[convert_testsplits]") {
  const fs::path out = fresh_temp_dir("convert_rankings_fatal");
  const std::string script =
      GENERATE(std::string("convert_hpdv2.py"), std::string("convert_imagereward.py"));
  INFO(script);
  SECTION("not a list") {
    std::ofstream(out / "test.json") << "{\"prompt\": \"x\"}";
    const auto r =
        run_script(script, quote((out / "test.json").string()) + " --out " +
                               quote((out / "o").string()) + " --images " + quote(out.string()));
    CHECK(r.exit_code == 1);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains("test.json: expected a JSON list of prompts, got a dict"));
  }
  SECTION("not JSON") {
    std::ofstream(out / "test.json") << "[{\"prompt\": ";
    const auto r =
        run_script(script, quote((out / "test.json").string()) + " --out " +
                               quote((out / "o").string()) + " --images " + quote(out.string()));
    CHECK(r.exit_code == 1);
    CHECK(count_lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains("test.json: not valid JSON"));
  }
  SECTION("no image folder") {
    std::ofstream(out / "test.json") << "[]";
    const auto r = run_script(
        script, quote((out / "test.json").string()) + " --out " + quote((out / "o").string()));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("image folder does not exist"));
  }
}
