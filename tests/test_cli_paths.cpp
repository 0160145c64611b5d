// Paths a downloaded or generated folder may hold (issue 10): symlink loops, unreadable files and
// folders, file names that are not UTF-8, and names with control characters shown by `inspect`;
// `rank --copy-to/--link-to` never overwrite without --force.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pipeline_fixture.h"
#include "test_utils.h"

namespace {

namespace fs = std::filesystem;
using prefscore::testing::data_path;
using prefscore::testing::fixture_image_dir;
using prefscore::testing::run_prefscore;

const std::string kTinyPick = "--model-card " + data_path("cards/tiny-hf.json") + " --weights " +
                              data_path("models/hf") + " --precision fp32";
const std::string kLatin1Name = "caf\xe9.png";            // ISO-8859-1 bytes: not UTF-8
const std::string kReplacedName = "caf\xef\xbf\xbd.png";  // ... as printed in JSON: U+FFFD

// Each line must parse: nlohmann's parser rejects invalid UTF-8.
std::vector<nlohmann::json> parse_jsonl(const std::string& text) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// Runs the command as user `nobody` when the tests run as root, for whom permissions do not
// block reads; "" when that is not possible (no setpriv).
std::string unprivileged_prefix() {
  if (::geteuid() != 0) return "";
  if (!fs::exists("/usr/bin/setpriv")) return "";
  return "/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups";
}

}  // namespace

TEST_CASE("issue 10: a folder with a non-UTF-8 name, an unreadable file and a symlink loop",
          "[cli][paths]") {
  const std::string dir = fixture_image_dir("paths");
  fs::rename(dir + "/img0_rgb_300x200.png", dir + "/" + kLatin1Name);
  fs::copy_file(dir + "/img1_gray_180x260.png", dir + "/locked.png");
  fs::permissions(dir + "/locked.png", fs::perms::none);
  fs::create_directory(dir + "/locked_dir");
  fs::copy_file(dir + "/img2_rgba_512x512.png", dir + "/locked_dir/hidden.png");
  fs::permissions(dir + "/locked_dir", fs::perms::none);
  fs::create_directory_symlink(dir, dir + "/loop");
  const std::string prefix = unprivileged_prefix();
  const bool can_deny = ::geteuid() != 0 || !prefix.empty();
  if (!can_deny) WARN("root without setpriv: the unreadable-file check is not made");
  const auto r =
      prefscore::testing::run_command(prefix + (prefix.empty() ? "" : " ") + PREFSCORE_BINARY +
                                      " score " + kTinyPick + " -p 'a cat' --format jsonl " + dir);
  INFO(r.err);
  const std::string loop_warning = "prefscore: warning: " + dir + "/loop: folder " +
                                   fs::canonical(dir).string() +
                                   " is listed already (symlink loop, or a second link to it); "
                                   "not listed again\n";
  CHECK_THAT(r.err, Catch::StartsWith(loop_warning));
  const auto rows = parse_jsonl(r.out);
  std::vector<std::string> images;
  for (const auto& row : rows) images.push_back(row["image"].get<std::string>());
  CHECK(std::count(images.begin(), images.end(), dir + "/" + kReplacedName) == 1);
  if (can_deny) {
    CHECK(r.exit_code == 3);
    CHECK(r.err == loop_warning + "prefscore: skipped: " + dir +
                       "/locked_dir: cannot list folder: Permission denied\n" +
                       "prefscore: skipped: " + dir +
                       "/locked.png: cannot open for reading: Permission denied\n");
    CHECK(rows.size() == 4);  // 5 images listed, the unreadable one skipped, none twice
  } else {
    CHECK(r.exit_code == 0);
    CHECK(rows.size() == 6);
  }

  // rank: JSON lines and CSV print the name with U+FFFD; --copy-to keeps the real bytes.
  fs::permissions(dir + "/locked.png", fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(dir + "/locked_dir", fs::perms::owner_all);
  fs::remove(dir + "/loop");
  const auto csv = run_prefscore("rank " + kTinyPick + " -p 'a cat' --format csv " + dir);
  CHECK(csv.exit_code == 0);
  CHECK_THAT(csv.out, Catch::Contains("\"" + dir + "/" + kReplacedName + "\""));
  CHECK(csv.out.find(kLatin1Name) == std::string::npos);
  const std::string dest = dir + "_ranked";
  fs::remove_all(dest);
  const auto copied = run_prefscore("rank " + kTinyPick + " -p 'a cat' --format jsonl --copy-to " +
                                    dest + " " + dir);
  CHECK(copied.exit_code == 0);
  int latin1_copies = 0;
  for (const auto& e : fs::directory_iterator(dest)) {
    const std::string name = e.path().filename().string();
    latin1_copies += name.size() > 4 && name.substr(4) == kLatin1Name;
  }
  CHECK(latin1_copies == 1);
  fs::remove_all(dir);
  fs::remove_all(dest);
}

TEST_CASE("issue 10: rank --link-to never overwrites without --force", "[cli][paths]") {
  const std::string dir = fixture_image_dir("paths_link");
  const std::string dest = dir + "_links";
  fs::remove_all(dest);
  const std::string args =
      "rank " + kTinyPick + " -p 'a cat' --top 1 --format jsonl --link-to " + dest + " " + dir;
  const auto first = run_prefscore(args);
  REQUIRE(first.exit_code == 0);
  const std::string best = parse_jsonl(first.out).at(0)["image"].get<std::string>();
  const fs::path link = fs::path(dest) / ("001_" + fs::path(best).filename().string());
  REQUIRE(fs::is_symlink(link));
  CHECK(fs::equivalent(link, best));
  // Replace the link with a file of our own: a second run must leave it alone.
  fs::remove(link);
  std::ofstream(link) << "mine";
  const auto again = run_prefscore(args);
  CHECK(again.exit_code == 1);
  CHECK(again.err ==
        "prefscore: error: " + link.string() + ": already exists; pass --force to overwrite\n");
  CHECK_FALSE(fs::is_symlink(link));
  std::ifstream kept(link);
  CHECK(std::string(std::istreambuf_iterator<char>(kept), {}) == "mine");
  CHECK(run_prefscore(args + " --force").exit_code == 0);
  CHECK(fs::is_symlink(link));
  CHECK(fs::equivalent(link, best));
  fs::remove_all(dir);
  fs::remove_all(dest);
}

TEST_CASE("issue 10: inspect escapes control characters in tensor names and metadata",
          "[cli][paths]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("paths_inspect");
  const std::string path = (dir / "evil.safetensors").string();
  // ESC [ 2 J clears the screen; OSC 0 sets the window title; U+009B is a one-byte CSI.
  const std::string header = R"({"\u001b[2Jevil":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("__metadata__":{"note\u009b":"\u001b]0;pwned\u0007"}})";
  {
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out << header << std::string(4, '\0');
  }
  const auto table = run_prefscore("inspect " + path);
  INFO(table.err);
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find('\x1b') == std::string::npos);
  CHECK(table.out.find('\x07') == std::string::npos);
  CHECK(table.out.find("\xc2\x9b") == std::string::npos);
  CHECK_THAT(table.out, Catch::Contains("\\x1b[2Jevil  F32"));
  CHECK_THAT(table.out, Catch::Contains("note\\u009b: \\x1b]0;pwned\\x07"));
  const auto json = run_prefscore("inspect --format json " + path);
  REQUIRE(json.exit_code == 0);
  CHECK(json.out.find('\x1b') == std::string::npos);
  CHECK(nlohmann::json::parse(json.out)["tensors"][0]["name"] == "\x1b[2Jevil");
  fs::remove_all(dir);
}
