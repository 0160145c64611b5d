#include "prefscore/prefetch_pool.h"

#include <algorithm>
#include <string>

#include "prefscore/error.h"

namespace prefscore {

PrefetchPool::PrefetchPool(std::size_t count, int threads, std::size_t window,
                           std::function<void(std::size_t)> job)
    : count_(count), window_(std::max<std::size_t>(1, window)), job_(std::move(job)),
      done_(count, false) {
  for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { work(); });
}

PrefetchPool::~PrefetchPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  start_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool PrefetchPool::may_start() const { return next_ < count_ && next_ < released_ + window_; }

void PrefetchPool::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    start_.wait(lock, [this] { return stop_ || next_ >= count_ || may_start(); });
    if (stop_ || next_ >= count_) return;
    const std::size_t i = next_++;
    lock.unlock();
    std::exception_ptr error;
    try {
      job_(i);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    done_[i] = true;
    while (done_prefix_ < count_ && done_[done_prefix_]) ++done_prefix_;
    if (error && !error_) {
      error_ = error;
      stop_ = true;
      start_.notify_all();
    }
    finished_.notify_all();
  }
}

void PrefetchPool::wait_until(std::size_t end) {
  end = std::min(end, count_);
  std::unique_lock<std::mutex> lock(mutex_);
  if (end > released_ + window_) {
    throw Error("PrefetchPool", "waiting for job " + std::to_string(end - 1) +
                                    ", beyond the window of " + std::to_string(window_) +
                                    " jobs after the " + std::to_string(released_) + " released");
  }
  if (threads_.empty()) {
    while (next_ < end) {
      const std::size_t i = next_++;
      lock.unlock();
      job_(i);
      lock.lock();
      done_[i] = true;
      done_prefix_ = i + 1;
    }
    return;
  }
  finished_.wait(lock, [&] { return error_ || done_prefix_ >= end; });
  if (error_) std::rethrow_exception(error_);
}

void PrefetchPool::release(std::size_t end) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = std::max(released_, std::min(end, count_));
  }
  start_.notify_all();
}

}  // namespace prefscore
