// Issue 11: the shard an item belongs to, the shard a process runs (flag, Slurm job array,
// Kubernetes Indexed Job), and the errors for inconsistent settings.
#include <catch2/catch.hpp>

#include <set>

#include "prefscore/error.h"
#include "prefscore/sharding.h"
#include "test_utils.h"

using prefscore::Error;
using prefscore::testing::error_of;
using prefscore::ScoreItem;
using prefscore::Shard;
using prefscore::ShardEnvironment;

TEST_CASE("shard_of is the first 8 bytes of sha256(image NUL prompt NUL group), big-endian, mod N",
          "[sharding]") {
  // Expected values from Python: int.from_bytes(hashlib.sha256(key).digest()[:8], 'big') % n.
  CHECK(prefscore::shard_of(ScoreItem{"images/0_a.png", "a prompt", ""}, 4) == 0);
  CHECK(prefscore::shard_of(ScoreItem{"x.jpg", "cat", "g1"}, 9) == 7);
  CHECK(prefscore::shard_of(ScoreItem{"images/1_b.png", "a prompt", ""}, 13) == 11);
  CHECK(prefscore::shard_of(ScoreItem{"\xc3\xbc/\xc3\x9f.webp", "", ""}, 1000003) == 478877);
  CHECK(prefscore::shard_of(ScoreItem{"a", "b", "c"}, 4294967311ULL) == 2553341759ULL);
}

TEST_CASE("shards partition a work list, balanced and independent of its order", "[sharding]") {
  std::vector<ScoreItem> items;
  for (int i = 0; i < 1000; ++i) items.push_back(ScoreItem{"img/" + std::to_string(i) + ".png", "p", ""});
  std::set<std::size_t> seen;
  for (std::size_t s = 0; s < 4; ++s) {
    const auto positions = prefscore::shard_positions(items, Shard{s, 4, ""});
    CHECK(positions.size() > 200);  // 250 expected; a binomial sd of ~14
    CHECK(positions.size() < 300);
    for (std::size_t p : positions) CHECK(seen.insert(p).second);
  }
  CHECK(seen.size() == items.size());
  // Reversing the list moves no item to another shard.
  std::vector<ScoreItem> reversed(items.rbegin(), items.rend());
  for (std::size_t i = 0; i < items.size(); ++i) {
    CHECK(prefscore::shard_of(items[i], 4) == prefscore::shard_of(reversed[items.size() - 1 - i], 4));
  }
  CHECK(prefscore::shard_positions(items, Shard{0, 1, ""}).size() == items.size());
}

TEST_CASE("work_list_sha256 changes with the items, their order and field boundaries", "[sharding]") {
  const std::vector<ScoreItem> a = {{"x", "y", ""}, {"z", "y", ""}};
  const std::vector<ScoreItem> b = {{"z", "y", ""}, {"x", "y", ""}};
  const std::vector<ScoreItem> c = {{"xy", "", ""}, {"z", "y", ""}};
  CHECK(prefscore::work_list_sha256(a) == prefscore::work_list_sha256(a));
  CHECK(prefscore::work_list_sha256(a) != prefscore::work_list_sha256(b));
  CHECK(prefscore::work_list_sha256({{"x", "y", ""}}) != prefscore::work_list_sha256({{"xy", "", ""}}));
  CHECK(prefscore::work_list_sha256(a) != prefscore::work_list_sha256(c));
  CHECK(prefscore::work_list_sha256(a).size() == 64);
}

TEST_CASE("--shard I/N", "[sharding]") {
  const Shard s = prefscore::parse_shard("3/8");
  CHECK(s.index == 3);
  CHECK(s.count == 8);
  CHECK(s.active());
  CHECK(s.name() == "3/8");
  CHECK_FALSE(prefscore::parse_shard("0/1").active());
  CHECK(error_of([] { prefscore::parse_shard("8/8"); }) ==
        "--shard: shard index must be in 0..7, got \"8/8\"");
  CHECK(error_of([] { prefscore::parse_shard("1/0"); }) ==
        "--shard: shard index must be in 0..0, got \"1/0\"");
  for (const char* bad : {"", "3", "3/", "/8", "-1/8", "a/8", "3/8/1", " 3/8", "1.5/8"}) {
    CHECK(error_of([&] { prefscore::parse_shard(bad); }) ==
          "--shard: expected I/N (shard I of N, counting from 0), got \"" + std::string(bad) + "\"");
  }
}

TEST_CASE("the shard comes from the flag, a Slurm job array or a Kubernetes Indexed Job",
          "[sharding]") {
  ShardEnvironment none;
  CHECK_FALSE(prefscore::resolve_shard("", 0, none).active());

  ShardEnvironment slurm;
  slurm.slurm_array_task_id = "5";
  slurm.slurm_array_task_count = "8";
  slurm.slurm_array_task_min = "0";
  Shard s = prefscore::resolve_shard("", 0, slurm);
  CHECK(s.name() == "5/8");
  CHECK(s.origin == "SLURM_ARRAY_TASK_ID=5 of SLURM_ARRAY_TASK_COUNT=8");
  // --array=1-8: ids start at 1.
  slurm.slurm_array_task_min = "1";
  CHECK(prefscore::resolve_shard("", 0, slurm).name() == "4/8");
  // --array=10-24:2 (8 tasks: 10, 12, ..., 24).
  slurm.slurm_array_task_id = "14";
  slurm.slurm_array_task_min = "10";
  slurm.slurm_array_task_step = "2";
  CHECK(prefscore::resolve_shard("", 0, slurm).name() == "2/8");
  slurm.slurm_array_task_id = "15";
  CHECK(error_of([&] { prefscore::resolve_shard("", 0, slurm); }).rfind(
            "SLURM_ARRAY_TASK_ID: cannot number this task as a shard", 0) == 0);
  // The flag wins; 0/1 turns the environment off.
  CHECK(prefscore::resolve_shard("1/2", 0, slurm).name() == "1/2");
  CHECK_FALSE(prefscore::resolve_shard("0/1", 0, slurm).active());
  slurm.slurm_array_task_count = "";
  CHECK(error_of([&] { prefscore::resolve_shard("", 0, slurm); }) ==
        "SLURM_ARRAY_TASK_COUNT: not set (an old Slurm?): pass --shard I/N");
  slurm.slurm_array_task_count = "eight";
  CHECK(error_of([&] { prefscore::resolve_shard("", 0, slurm); }) ==
        "SLURM_ARRAY_TASK_COUNT: expected a non-negative integer, got \"eight\"");

  ShardEnvironment k8s;
  k8s.job_completion_index = "2";
  // Without --shard-count, an Indexed Job's index alone does not shard (the count is unknown).
  CHECK_FALSE(prefscore::resolve_shard("", 0, k8s).active());
  s = prefscore::resolve_shard("", 3, k8s);
  CHECK(s.name() == "2/3");
  CHECK(s.origin == "JOB_COMPLETION_INDEX=2 of --shard-count 3");
  CHECK(error_of([&] { prefscore::resolve_shard("", 2, k8s); }) ==
        "JOB_COMPLETION_INDEX: 2 is not below --shard-count 2");
  CHECK(error_of([&] { prefscore::resolve_shard("", 3, none); }).rfind(
            "--shard-count: needs JOB_COMPLETION_INDEX", 0) == 0);
  CHECK(error_of([&] { prefscore::resolve_shard("0/3", 3, k8s); }) ==
        "--shard-count: give --shard I/N or --shard-count, not both");
}
