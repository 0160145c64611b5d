// What scoring commands read: image files collected from folders, and manifests (JSONL, CSV).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "prefscore/error.h"
#include "prefscore/inputs.h"
#include "test_utils.h"

namespace {

namespace fs = std::filesystem;

void touch(const fs::path& p) { std::ofstream(p) << "x"; }

}  // namespace

TEST_CASE("folders are walked recursively, image extensions only, sorted, loops skipped", "[inputs]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("inputs_walk");
  fs::create_directories(dir / "b" / "deep");
  touch(dir / "z.PNG");
  touch(dir / "a.jpg");
  touch(dir / "notes.txt");
  touch(dir / "b" / "c.webp");
  touch(dir / "b" / "deep" / "d.jpeg");
  touch(dir / "b" / "e.bmp");
  fs::create_directory_symlink(dir, dir / "b" / "loop");  // back to the root
  const auto listing = prefscore::collect_image_files({dir.string()});
  const auto& files = listing.files;
  CHECK(files == std::vector<std::string>{(dir / "a.jpg").string(), (dir / "b" / "c.webp").string(),
                                          (dir / "b" / "deep" / "d.jpeg").string(),
                                          (dir / "b" / "e.bmp").string(), (dir / "z.PNG").string()});
  // A file named directly is kept whatever its extension; argument order is kept.
  // The loop is reported once, as a warning (nothing is skipped).
  CHECK(listing.warnings ==
        std::vector<std::string>{(dir / "b" / "loop").string() + ": folder " +
                                 fs::canonical(dir).string() +
                                 " is listed already (symlink loop, or a second link to it); not "
                                 "listed again"});
  CHECK(listing.skipped.empty());
  const auto mixed =
      prefscore::collect_image_files({(dir / "notes.txt").string(), (dir / "b" / "deep").string()})
          .files;
  CHECK(mixed == std::vector<std::string>{(dir / "notes.txt").string(), (dir / "b" / "deep" / "d.jpeg").string()});
  CHECK_THROWS_WITH(prefscore::collect_image_files({(dir / "missing").string()}),
                    Catch::Contains("missing: no such file or folder"));
  fs::remove_all(dir);
}

TEST_CASE("issue 10: folders with link cycles, unreadable folders and non-UTF-8 names",
          "[inputs]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("inputs_paths");
  fs::create_directories(dir / "sub");
  fs::create_directories(dir / "locked");
  touch(dir / "a.png");
  touch(dir / "locked" / "hidden.png");
  const std::string latin1 = std::string("caf\xe9_\xff.png");  // not UTF-8
  touch(dir / "sub" / latin1);
  // Two links that point at each other (ELOOP), one named like an image; a dangling image link;
  // two links to a folder that is also reached directly (listed once, as the real folder).
  fs::create_symlink(dir / "cycle_b", dir / "cycle_a.png");
  fs::create_symlink(dir / "cycle_a.png", dir / "cycle_b");
  fs::create_symlink(dir / "nowhere.png", dir / "dangling.png");
  fs::create_directory_symlink(dir / "sub", dir / "link1");
  fs::create_directory_symlink(dir / "sub", dir / "link2");
  fs::permissions(dir / "locked", fs::perms::none);
  const bool root_reads_anything = ::access((dir / "locked").c_str(), R_OK) == 0;
  const auto listing = prefscore::collect_image_files({dir.string()});
  fs::permissions(dir / "locked", fs::perms::owner_all);

  // The real folder is listed, not a link to it, whatever the links' names.
  std::vector<std::string> want = {(dir / "a.png").string(), (dir / "sub" / latin1).string()};
  if (root_reads_anything) want.push_back((dir / "locked" / "hidden.png").string());
  std::sort(want.begin(), want.end());
  CHECK(listing.files == want);
  const std::string again = ": folder " + fs::canonical(dir / "sub").string() +
                            " is listed already (symlink loop, or a second link to it); not "
                            "listed again";
  CHECK(listing.warnings == std::vector<std::string>{(dir / "link1").string() + again,
                                                     (dir / "link2").string() + again});
  std::vector<std::string> skipped = {
      (dir / "cycle_a.png").string() + ": cannot follow symlink: Too many levels of symbolic links",
      (dir / "cycle_b").string() + ": cannot follow symlink: Too many levels of symbolic links",
      (dir / "dangling.png").string() + ": cannot follow symlink: No such file or directory"};
  if (root_reads_anything) {
    WARN("running as root: a folder without permissions is still readable, so the "
         "permission-denied report is not checked");
  } else {
    skipped.push_back((dir / "locked").string() + ": cannot list folder: Permission denied");
  }
  CHECK(listing.skipped == skipped);
  fs::remove_all(dir);
}

TEST_CASE("manifests: JSONL and CSV rows, paths relative to the manifest", "[inputs]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("inputs_manifest");
  {
    std::ofstream j(dir / "m.jsonl");
    j << R"({"image": "a.png", "prompt": "a cat", "group": "g1"})" << "\n\n"
      << R"({"image": "/abs/b.png", "prompt": "a \"dog\"", "group": 7})" << "\n";
    std::ofstream c(dir / "m.csv");
    c << "prompt,image\n\"a cat, sitting\",sub/a.png\n\"say \"\"hi\"\"\",b.jpg\r\n";
  }
  const auto rows = prefscore::read_manifest((dir / "m.jsonl").string());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].image == (dir / "a.png").string());
  CHECK(rows[0].group == "g1");
  CHECK(rows[1].image == "/abs/b.png");
  CHECK(rows[1].prompt == "a \"dog\"");
  CHECK(rows[1].group == "7");
  const auto csv = prefscore::read_manifest((dir / "m.csv").string());
  REQUIRE(csv.size() == 2);
  CHECK(csv[0].prompt == "a cat, sitting");
  CHECK(csv[0].image == (dir / "sub" / "a.png").string());
  CHECK(csv[1].prompt == "say \"hi\"");
  CHECK(csv[1].image == (dir / "b.jpg").string());
  fs::remove_all(dir);
}

TEST_CASE("malformed manifests name file and line", "[inputs]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("inputs_bad");
  auto error_of = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    try {
      prefscore::read_manifest((dir / name).string());
    } catch (const prefscore::Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(error_of("a.jsonl", "{\"image\": \"x.png\", \"prompt\": \"p\"}\n{oops\n"),
             Catch::Contains("a.jsonl:2: not valid JSON"));
  CHECK_THAT(error_of("b.jsonl", "{\"image\": \"x.png\"}\n"),
             Catch::Contains("b.jsonl:1: needs string fields \"image\" and \"prompt\""));
  CHECK_THAT(error_of("c.csv", "file,text\nx.png,p\n"),
             Catch::Contains("c.csv:1: CSV header must name the columns image and prompt"));
  CHECK_THAT(error_of("d.csv", "image,prompt\n\"x.png,p\n"), Catch::Contains("d.csv:2: unterminated quoted field"));
  CHECK_THAT(error_of("e.csv", "image,prompt,group\nx.png,p\n"),
             Catch::Contains("e.csv:2: has 2 fields, the header needs 3"));
  CHECK_THAT(error_of("f.jsonl", "\n\n"), Catch::Contains("f.jsonl: manifest has no rows"));
  CHECK_THAT(error_of("g.jsonl", "{\"image\": \"\", \"prompt\": \"p\"}\n"), Catch::Contains("g.jsonl:1: empty image path"));
  fs::remove_all(dir);
}

TEST_CASE("issue 10: manifest line length and JSON nesting limits", "[inputs]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("inputs_limits");
  const std::string row = R"({"image": "a.png", "prompt": "p"})";  // 33 bytes
  const std::string path = (dir / "m.jsonl").string();
  std::ofstream(path) << row << "\n" << row << "\n";
  prefscore::ManifestOptions options;
  options.max_line_bytes = row.size();  // exactly the longest line: accepted
  CHECK(prefscore::read_manifest(path, options).size() == 2);
  options.max_line_bytes = row.size() - 1;
  CHECK_THROWS_WITH(prefscore::read_manifest(path, options),
                    Catch::Equals(path + ":1: line is longer than the limit of 32 bytes (raise it "
                                         "with --max-line-bytes)"));
  // The default (1 MiB) refuses a file that is one long line, without reading all of it.
  const std::string csv = (dir / "long.csv").string();
  std::ofstream(csv) << "image,prompt\nx.png," << std::string((1 << 20) + 10, 'p') << "\n";
  CHECK_THROWS_WITH(prefscore::read_manifest(csv),
                    Catch::Equals(csv + ":2: line is longer than the limit of 1048576 bytes (raise "
                                        "it with --max-line-bytes)"));
  // A group nested 100,000 levels deep would overflow the stack when printed: refused while
  // parsing (the reader used to crash here).
  const std::string deep = (dir / "deep.jsonl").string();
  std::ofstream(deep) << R"({"image": "a.png", "prompt": "p", "group": )" << std::string(100000, '[')
                      << std::string(100000, ']') << "}\n";
  CHECK_THROWS_WITH(prefscore::read_manifest(deep),
                    Catch::Equals(deep + ":1: JSON nests deeper than 64 levels"));
  CHECK_THROWS_WITH(prefscore::read_manifest(dir.string()),
                    Catch::Equals(dir.string() + ": is a directory, expected a manifest file"));
  fs::remove_all(dir);
}
