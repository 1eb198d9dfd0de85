#pragma once
// The meeting point of one request's two sides: the scheduler thread pushes events for each of
// its sequences (choices: new text, then a final event each), the HTTP handler waits for them
// and may cancel them all.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gqa::serve {

// The log-probability of a generated token under the model (log-softmax of its logits, before
// temperature and truncation), and of the most likely tokens at that step, most likely first.
struct TokenLogprob {
  int32_t token = -1;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;
};

struct StreamEvent {
  int64_t choice = 0;                   // which of the request's sequences
  std::string text;                     // text that became final with this event (may be empty)
  int32_t token = -1;                   // the generated token; -1 on the final event
  std::optional<TokenLogprob> logprob;  // of `token`, when the request asked for logprobs
  bool done = false;                    // the last event of the sequence
  std::string finish_reason;            // on done: "stop", "length", or "error"
  std::string error;                    // on "error": what went wrong
  int64_t prompt_tokens = 0, completion_tokens = 0;  // on done
};

class SequenceHandle {
 public:
  // Scheduler side.
  void push(StreamEvent e);
  bool cancelled() const { return cancelled_.load(); }

  // HTTP side: waits up to `timeout` for the next event; false when none came.
  bool next(StreamEvent& e, std::chrono::milliseconds timeout);
  // The client went away: the scheduler ends the sequence and frees its blocks.
  void cancel() { cancelled_.store(true); }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<StreamEvent> events_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace gqa::serve
