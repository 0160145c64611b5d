// Issue 11: N processes, each given its shard through the environment a scheduler sets (a Slurm
// job array, a Kubernetes Indexed Job), score a fixture folder; `prefscore merge` joins their
// outputs into exactly what one unsharded run writes. A missing, duplicated, truncated or foreign
// shard makes merge fail with a message saying which.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pipeline_fixture.h"
#include "test_utils.h"

using prefscore::testing::copied_image_folder;
using prefscore::testing::data_path;
using prefscore::testing::read_text;
using prefscore::testing::pipeline_images;
using prefscore::testing::run_command;
using prefscore::testing::run_prefscore;

namespace {

namespace fs = std::filesystem;

const std::string kModel = "--model-card '" + data_path("cards/tiny-hf.json") + "' --weights '" +
                           data_path("models/hf") + "' --threads 1";
const std::string kPrompt = "a photo of an astronaut riding a horse on the moon";

// Runs `count` shell commands at once, command(i) for process i, and waits for all. Returns how
// many exited with a status other than 0 or 3; process i's stderr is left in dir/err<i>.
int run_shards(const fs::path& dir, int count, const std::function<std::string(int)>& command) {
  std::string script;
  for (int i = 0; i < count; ++i) {
    script += "(" + command(i) + " 2>'" + (dir / ("err" + std::to_string(i))).string() +
              "'; echo $? > '" + (dir / ("rc" + std::to_string(i))).string() + "') & ";
  }
  script += "wait";
  REQUIRE(run_command(script).exit_code == 0);
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    const int rc = std::stoi(read_text(dir / ("rc" + std::to_string(i))));
    if (rc != 0 && rc != 3) {
      ++failures;
      WARN("shard " << i << " exit " << rc << ": " << read_text(dir / ("err" + std::to_string(i))));
    }
  }
  return failures;
}

std::string shard_path(const fs::path& dir, int i) {
  return (dir / ("shard" + std::to_string(i) + ".jsonl")).string();
}

std::string shard_list(const fs::path& dir, const std::vector<int>& shards) {
  std::string list;
  for (int i : shards) list += " '" + shard_path(dir, i) + "'";
  return list;
}

}  // namespace

TEST_CASE("issue 11: score sharded over a Slurm job array merges to the unsharded output",
          "[shards]") {
  const fs::path dir = copied_image_folder("shards_slurm", 6, "3_broken.png");
  const std::string images = "'" + (dir / "images").string() + "'";
  // Batches of one: float32 results can depend on which images share a batch.
  const std::string score = "score " + kModel + " --batch-size 1 -p '" + kPrompt + "' " + images;
  const auto whole = run_prefscore(score + " -o '" + (dir / "whole.jsonl").string() + "'");
  REQUIRE(whole.exit_code == 3);  // the broken image is skipped
  REQUIRE(run_prefscore(score + " -o '" + (dir / "whole.csv").string() + "'").exit_code == 3);

  // --array=1-3: task ids 1, 2, 3.
  const int shards = 3;
  REQUIRE(run_shards(dir, shards, [&](int i) {
            return "SLURM_ARRAY_TASK_ID=" + std::to_string(i + 1) +
                   " SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=1 " + PREFSCORE_BINARY + " " +
                   score + " -o '" + shard_path(dir, i) + "'";
          }) == 0);
  std::size_t shard_rows = 0;
  for (int i = 0; i < shards; ++i) {
    const std::string err = read_text(dir / ("err" + std::to_string(i)));
    CHECK_THAT(err, Catch::Contains("prefscore: shard " + std::to_string(i) +
                                    "/3 (from SLURM_ARRAY_TASK_ID=" + std::to_string(i + 1) +
                                    " of SLURM_ARRAY_TASK_COUNT=3, SLURM_ARRAY_TASK_MIN=1)"));
    const std::string text = read_text(shard_path(dir, i));
    CHECK(text.rfind("{\"prefscore_shard\":1,\"command\":\"score\",\"shard\":\"" +
                         std::to_string(i) + "/3\"",
                     0) == 0);
    shard_rows += static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) - 1;
  }
  CHECK(shard_rows == 25);  // 24 scored + 1 skipped, each in exactly one shard

  // Shards given in any order.
  const auto merged = run_prefscore("merge '" + (dir / "merged.jsonl").string() + "'" +
                                    shard_list(dir, {2, 0, 1}));
  CHECK(merged.exit_code == 3);  // the skipped image is reported again
  CHECK_THAT(merged.err, Catch::Contains("3_broken.png"));
  CHECK_THAT(merged.err, Catch::Contains("merged 3 shards of `score`: 24 items scored, 1 skipped"));
  CHECK(read_text(dir / "merged.jsonl") == read_text(dir / "whole.jsonl"));
  REQUIRE(run_prefscore("merge '" + (dir / "merged.csv").string() + "'" +
                        shard_list(dir, {0, 1, 2}))
              .exit_code == 3);
  CHECK(read_text(dir / "merged.csv") == read_text(dir / "whole.csv"));
  // `eval --scores` reads the merged file like any score output (its rows parse).
  CHECK(read_text(dir / "merged.jsonl").find("\"prob\":") != std::string::npos);

  // What merge refuses (each check leaves no output file).
  const std::string m = "merge '" + (dir / "m.jsonl").string() + "'";
  auto r = run_prefscore(m + shard_list(dir, {0, 2}));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("merge: shard 1 of 3 missing: every shard's output is needed"));
  r = run_prefscore(m + shard_list(dir, {0, 1, 2, 1}));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("shard1.jsonl: shard 1/3 is given twice (also " +
                                    shard_path(dir, 1) + ")"));
  r = run_prefscore(m + " '" + (dir / "whole.jsonl").string() + "'");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("whole.jsonl:1: not a prefscore shard output"));

  std::string text = read_text(shard_path(dir, 1));
  text.erase(text.rfind('\n', text.size() - 2) + 1);  // drop the last row
  const std::string cut = (dir / "cut.jsonl").string();
  std::ofstream(cut, std::ios::binary) << text;
  r = run_prefscore(m + shard_list(dir, {0, 2}) + " '" + cut + "'");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("cut.jsonl: holds"));
  CHECK_THAT(r.err, Catch::Contains("items: the file is incomplete"));

  const std::string other = (dir / "other.jsonl").string();
  const int rc = run_prefscore("score " + kModel + " --batch-size 1 -p 'another prompt' " + images +
                               " --shard 1/3 -o '" + other + "'")
                     .exit_code;
  REQUIRE((rc == 0 || rc == 3));
  r = run_prefscore(m + shard_list(dir, {0, 2}) + " '" + other + "'");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("other.jsonl: comes from another work list (other images, "
                                    "prompts or order) (unlike " + shard_path(dir, 0) + ")"));
  CHECK_FALSE(fs::exists(dir / "m.jsonl"));
}

TEST_CASE("issue 11: rank sharded over a Kubernetes Indexed Job merges to the unsharded ranking",
          "[shards]") {
  const fs::path dir = copied_image_folder("shards_k8s", 6, "3_broken.png");
  // Two groups whose candidates are spread over the shards: probabilities are over whole groups.
  std::ofstream manifest(dir / "manifest.jsonl");
  int row = 0;
  for (const auto& entry : fs::directory_iterator(dir / "images")) {
    if (entry.path().filename() == "3_broken.png") continue;
    manifest << "{\"image\": \"" << entry.path().string() << "\", \"prompt\": \"" << kPrompt
             << "\", \"group\": \"" << (row++ % 2 ? "even" : "odd") << "\"}\n";
  }
  manifest.close();
  const std::string rank = "rank " + kModel + " --batch-size 1 --top 3 --manifest '" +
                           (dir / "manifest.jsonl").string() + "'";
  REQUIRE(run_prefscore(rank + " -o '" + (dir / "whole.jsonl").string() + "'").exit_code == 0);
  REQUIRE(run_shards(dir, 4, [&](int i) {
            return "JOB_COMPLETION_INDEX=" + std::to_string(i) + " " + PREFSCORE_BINARY + " " +
                   rank + " --shard-count 4 -o '" + shard_path(dir, i) + "'";
          }) == 0);
  CHECK_THAT(read_text(dir / "err2"), Catch::Contains("prefscore: shard 2/4 (from JOB_COMPLETION_INDEX=2 of --shard-count 4)"));
  const fs::path best = dir / "best";
  const auto merged = run_prefscore("merge '" + (dir / "merged.jsonl").string() + "'" +
                                    shard_list(dir, {0, 1, 2, 3}) + " --copy-to '" +
                                    best.string() + "'");
  REQUIRE(merged.exit_code == 0);
  const std::string whole = read_text(dir / "whole.jsonl");
  CHECK(read_text(dir / "merged.jsonl") == whole);
  CHECK(std::count(whole.begin(), whole.end(), '\n') == 6);  // top 3 of 2 groups
  CHECK(std::distance(fs::directory_iterator(best), fs::directory_iterator()) == 6);

  // A shard cannot export: it sees only part of each group.
  const auto r = run_prefscore(rank + " --shard 0/4 --copy-to '" + best.string() + "'");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("a shard holds only part of each group"));
}

TEST_CASE("issue 11: embed sharded over a job array merges to the unsharded safetensors file",
          "[shards]") {
  const fs::path dir = copied_image_folder("shards_embed", 6, "3_broken.png");
  const std::string embed = "embed " + kModel + " --batch-size 1 --text 'a horse' '" +
                            (dir / "images").string() + "'";
  REQUIRE(run_prefscore(embed + " -o '" + (dir / "whole.safetensors").string() + "'").exit_code == 3);
  REQUIRE(run_shards(dir, 3, [&](int i) {
            return "SLURM_ARRAY_TASK_ID=" + std::to_string(i) + " SLURM_ARRAY_TASK_COUNT=3 " +
                   PREFSCORE_BINARY + " " + embed + " -o '" +
                   (dir / ("e" + std::to_string(i) + ".safetensors")).string() + "'";
          }) == 0);
  const std::string shards = " '" + (dir / "e1.safetensors").string() + "' '" +
                             (dir / "e2.safetensors").string() + "' '" +
                             (dir / "e0.safetensors").string() + "'";
  const auto merged = run_prefscore("merge '" + (dir / "merged.safetensors").string() + "'" + shards);
  CHECK(merged.exit_code == 3);
  CHECK_THAT(merged.err, Catch::Contains("merged 3 shards of `embed`: 24 images embedded, 1 skipped"));
  CHECK(read_text(dir / "merged.safetensors") == read_text(dir / "whole.safetensors"));
  // A missing embed shard is refused like any other.
  const auto missing = run_prefscore("merge '" + (dir / "m.safetensors").string() + "' '" +
                                     (dir / "e0.safetensors").string() + "'");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("merge: shards 1, 2 of 3 missing"));
}

TEST_CASE("issue 11: a shard's output format and inputs are checked before the model loads",
          "[shards]") {
  const fs::path dir = copied_image_folder("shards_flags", 6, "3_broken.png");
  const std::string score = "score " + kModel + " -p x '" + (dir / "images").string() + "'";
  auto r = run_prefscore(score + " --shard 0/2 --format csv");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--format: a shard writes a shard file (JSON lines)"));
  r = run_prefscore(score + " --shard 0/2 -o '" + (dir / "s.csv").string() + "'");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("s.csv: a shard writes a shard file (JSON lines)"));
  r = run_prefscore(score + " --shard 2/2");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--shard: shard index must be in 0..1, got \"2/2\""));
  r = run_prefscore(score, "SLURM_ARRAY_TASK_ID=1");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("SLURM_ARRAY_TASK_COUNT: not set"));
}

TEST_CASE("issue 11: eval's images scored in shards, merged, evaluate as with --model",
          "[shards]") {
  const fs::path dir = copied_image_folder("shards_eval", 6, "3_broken.png");
  std::ofstream pairs(dir / "pairs.jsonl");
  const std::vector<std::string> images = pipeline_images();
  const char* labels[] = {"0", "1", "tie"};
  for (int i = 0; i < 12; ++i) {
    pairs << "{\"split\": \"" << (i % 2 ? "test" : "validation") << "\", \"label\": \""
          << labels[i % 3] << "\", \"prompt\": \"" << kPrompt << " " << i % 4
          << "\", \"image_0\": \"images/" << i % 6 << "_" << images[i % images.size()]
          << "\", \"image_1\": \"images/" << (i + 1) % 6 << "_"
          << images[(i + 1) % images.size()] << "\"}\n";
  }
  pairs.close();
  const std::string eval =
      "eval pairs '" + (dir / "pairs.jsonl").string() + "' " + kModel + " --batch-size 1";
  const auto whole = run_prefscore(eval + " --format json --save-scores '" +
                                   (dir / "saved.jsonl").string() + "'");
  REQUIRE(whole.exit_code == 0);
  REQUIRE(run_shards(dir, 2, [&](int i) {
            return std::string(PREFSCORE_BINARY) + " " + eval +
                   " --shard " + std::to_string(i) + "/2 -o '" + shard_path(dir, i) + "'";
          }) == 0);
  const auto merged =
      run_prefscore("merge '" + (dir / "merged.jsonl").string() + "'" + shard_list(dir, {0, 1}));
  REQUIRE(merged.exit_code == 0);
  CHECK(read_text(dir / "merged.jsonl") == read_text(dir / "saved.jsonl"));
  const auto from_scores = run_prefscore("eval pairs '" + (dir / "pairs.jsonl").string() +
                                         "' --format json --scores '" +
                                         (dir / "merged.jsonl").string() + "'");
  REQUIRE(from_scores.exit_code == 0);
  // The same accuracy figures; only the line naming the scores' source differs.
  const auto accuracy = [](const std::string& json) {
    const std::size_t at = json.find("\"test_accuracy\"");
    return at == std::string::npos ? std::string("(none)") : json.substr(at, 60);
  };
  CHECK(accuracy(from_scores.out) == accuracy(whole.out));
  CHECK(accuracy(whole.out) != "(none)");
}

TEST_CASE("issue 11: the Slurm and Kubernetes examples run as their schedulers would run them",
          "[shards]") {
  const fs::path dir = copied_image_folder("shards_examples", 6, "3_broken.png");
  const std::string source = PREFSCORE_SOURCE_DIR;
  const std::string sbatch = source + "/scripts/slurm/score_array.sbatch";
  const std::string yaml = source + "/scripts/k8s/score-indexed-job.yaml";
  REQUIRE(run_command("bash -n '" + sbatch + "'").exit_code == 0);
  const std::string bin_dir = fs::path(PREFSCORE_BINARY).parent_path().string();
  const std::string model_args = "--model-card " + data_path("cards/tiny-hf.json") +
                                 " --weights " + data_path("models/hf") + " --batch-size 1";
  const std::string images = (dir / "images").string();
  REQUIRE(run_prefscore("score " + model_args + " --threads 1 -p '" + kPrompt + "' '" + images +
                        "' -o '" + (dir / "whole.jsonl").string() + "'")
              .exit_code == 3);

  SECTION("the sbatch script as tasks 0..2 of a job array") {
    const fs::path out = dir / "slurm_out";
    REQUIRE(run_shards(dir, 3, [&](int i) {
              return "PATH='" + bin_dir + "':\"$PATH\" PREFSCORE_ARGS='" + model_args +
                     "' SLURM_CPUS_PER_TASK=1 SLURM_ARRAY_TASK_ID=" + std::to_string(i) +
                     " SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=0 bash '" + sbatch + "' '" +
                     images + "' '" + kPrompt + "' '" + out.string() + "'";
            }) == 0);
    // A task run again (a requeue after it finished) leaves its shard alone.
    const auto again = run_command("PATH='" + bin_dir + "':\"$PATH\" SLURM_ARRAY_TASK_ID=1 bash '" +
                                   sbatch + "' '" + images + "' '" + kPrompt + "' '" +
                                   out.string() + "'");
    CHECK(again.exit_code == 0);
    CHECK_THAT(again.out, Catch::Contains("shard_1.jsonl is complete; nothing to do"));
    REQUIRE(run_prefscore("merge '" + (out / "scores.jsonl").string() + "' " + out.string() +
                          "/shard_*.jsonl")
                .exit_code == 3);
    CHECK(read_text(out / "scores.jsonl") == read_text(dir / "whole.jsonl"));
  }

  SECTION("the Indexed Job's container command, once per completion index") {
    // The pod's command and environment, taken from the YAML; /data is this test's folder.
    const std::string extract =
        "/usr/bin/python3 -c \"import sys, yaml, shlex; job = yaml.safe_load(open(sys.argv[1])); "
        "spec = job['spec']; c = spec['template']['spec']['containers'][0]; "
        "env = ' '.join(e['name'] + '=' + shlex.quote(e['value']) for e in c['env']); "
        "print(spec['completionMode'], spec['completions']); print(env); "
        "print(shlex.quote(c['args'][0]))\" '" + yaml + "'";
    const auto parsed = run_command(extract);
    REQUIRE(parsed.exit_code == 0);
    std::istringstream lines(parsed.out);
    std::string mode, env, script;
    int completions = 0;
    lines >> mode >> completions;
    lines.ignore();
    std::getline(lines, env);
    std::getline(lines, script);
    REQUIRE(mode == "Indexed");
    REQUIRE(completions == 8);
    CHECK_THAT(env, Catch::Contains("SHARDS=8"));
    auto replace_all = [](std::string text, const std::string& from, const std::string& to) {
      for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
      }
      return text;
    };
    script = replace_all(replace_all(script, "/data/", dir.string() + "/"), "--threads 8", "--threads 1");
    REQUIRE(run_shards(dir, completions, [&](int i) {
              return "env " + env + " PREFSCORE_ARGS='" + model_args + "' PATH='" + bin_dir +
                     "':\"$PATH\" JOB_COMPLETION_INDEX=" + std::to_string(i) + " /bin/sh -c " +
                     script;
            }) == 0);
    REQUIRE(run_prefscore("merge '" + (dir / "k8s.jsonl").string() + "' " + dir.string() +
                          "/out/shard-*.jsonl")
                .exit_code == 3);
    CHECK(read_text(dir / "k8s.jsonl") == read_text(dir / "whole.jsonl"));
  }
}
