#include "serve/sequence_handle.h"

#include <utility>

namespace gqa::serve {

void SequenceHandle::push(StreamEvent e) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(e));
  }
  ready_.notify_one();
}

bool SequenceHandle::next(StreamEvent& e, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  e = std::move(events_.front());
  events_.pop_front();
  return true;
}

}  // namespace gqa::serve
