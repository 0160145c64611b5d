// Runs numbered jobs 0, 1, ..., count-1 on a few worker threads ahead of one consumer that takes
// their results in order: a scoring run decodes and preprocesses the images of batch k+1 while the
// model runs batch k. The consumer bounds how far ahead the workers may go (`window` jobs past the
// last job it released), so results fit in a fixed set of buffers and memory stays bounded.
// Each job writes only its own slot, so the results do not depend on the number of threads or on
// which thread ran a job; with 0 threads the consumer runs the jobs itself, in order.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace prefscore {

class PrefetchPool {
 public:
  // Job i may start once i < released + window (release() below). A job that throws stops the
  // pool; the exception is rethrown by wait_until().
  PrefetchPool(std::size_t count, int threads, std::size_t window,
               std::function<void(std::size_t)> job);
  // Waits for the jobs already running, starts no new one.
  ~PrefetchPool();
  PrefetchPool(const PrefetchPool&) = delete;
  PrefetchPool& operator=(const PrefetchPool&) = delete;

  // Blocks until jobs [0, end) have finished; with 0 threads, runs those not yet run. Throws
  // Error when `end` is beyond the window (a caller bug), or what a job threw.
  void wait_until(std::size_t end);
  // The consumer is done with jobs [0, end): their buffers may be reused by later jobs.
  void release(std::size_t end);

 private:
  void work();
  bool may_start() const;  // under mutex_

  const std::size_t count_;
  const std::size_t window_;
  const std::function<void(std::size_t)> job_;
  std::mutex mutex_;
  std::condition_variable start_;     // may_start() or stop_ changed
  std::condition_variable finished_;  // done_prefix_ or error_ changed
  std::size_t next_ = 0;              // first job not started
  std::size_t released_ = 0;
  std::vector<bool> done_;
  std::size_t done_prefix_ = 0;       // jobs [0, done_prefix_) have finished
  std::exception_ptr error_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace prefscore
