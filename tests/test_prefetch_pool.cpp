// The ordered worker pool behind the scoring pipeline: every job runs once, results land in their
// own slots whatever the thread count, workers never run further ahead than the window, and a
// job's exception reaches the consumer.
#include <atomic>
#include <vector>

#include "prefscore/error.h"
#include "prefscore/prefetch_pool.h"
#include "test_utils.h"

using prefscore::PrefetchPool;

TEST_CASE("PrefetchPool runs each job once, in windows, with any thread count", "[prefetch_pool]") {
  for (int threads : {0, 1, 3}) {
    constexpr std::size_t kJobs = 50, kWindow = 6, kStep = 3;
    std::vector<int> runs(kJobs, 0);
    std::vector<std::size_t> result(kJobs, 0);
    std::atomic<std::size_t> released{0};
    std::atomic<bool> beyond_window{false};
    PrefetchPool pool(kJobs, threads, kWindow, [&](std::size_t i) {
      if (i >= released.load() + kWindow) beyond_window = true;
      ++runs[i];
      result[i] = i * i;
    });
    for (std::size_t end = kStep; end < kJobs + kStep; end += kStep) {
      pool.wait_until(end);
      for (std::size_t i = end - kStep; i < std::min(end, kJobs); ++i) {
        INFO("threads " << threads << ", job " << i);
        CHECK(result[i] == i * i);
      }
      released = std::min(end, kJobs);
      pool.release(end);
    }
    CHECK_FALSE(beyond_window);
    for (int r : runs) CHECK(r == 1);
  }
}

TEST_CASE("PrefetchPool: a job's exception reaches wait_until; waiting past the window is refused",
          "[prefetch_pool]") {
  for (int threads : {0, 2}) {
    PrefetchPool pool(10, threads, 10, [](std::size_t i) {
      if (i == 4) throw prefscore::Error("job 4", "failed on purpose");
    });
    REQUIRE_THROWS_WITH(pool.wait_until(10), "job 4: failed on purpose");
  }
  PrefetchPool small(10, 1, 2, [](std::size_t) {});
  REQUIRE_THROWS_WITH(small.wait_until(3), Catch::Contains("beyond the window of 2 jobs"));
}
