#pragma once
// The server's counters, gauges and latency histograms, rendered as Prometheus text. Updated
// by the scheduler thread and the HTTP handlers; every member is thread-safe.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace gqa::serve {

// Cumulative histogram with fixed upper bounds in seconds (Prometheus buckets).
class LatencyHistogram {
 public:
  void observe(double seconds);
  // "# TYPE name histogram" and its _bucket/_sum/_count lines.
  std::string render(const std::string& name, const std::string& help) const;
  int64_t count() const;

 private:
  static constexpr std::array<double, 14> kBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};
  mutable std::mutex mutex_;
  std::array<int64_t, kBounds.size() + 1> counts_{};  // the last is +Inf
  double sum_ = 0;
  int64_t n_ = 0;
};

// What the scheduler reports about the KV cache and its queues at one moment.
struct SchedulerGauges {
  int64_t kv_blocks_total = 0, kv_blocks_free = 0;
  int64_t running = 0, waiting = 0;
  int64_t running_peak = 0;  // most sequences ever decoding at once
};

// What the connection layer reports (connection_server.h).
struct ConnectionGauges {
  int64_t open = 0, accepted = 0, rejected = 0, timed_out = 0;
};

class Metrics {
 public:
  // One finished HTTP request: its route ("/v1/completions") and status code.
  void count_request(const std::string& route, int status);
  // A prefill of n tokens (again after a preemption).
  void add_prompt_tokens(int64_t n) { prompt_tokens_ += n; }
  // A sampled token's latency: since the request arrived (its first token) or since the
  // sequence's previous token. An end-of-sequence token counts here, not as generated.
  void observe_first_token(double seconds) { time_to_first_token_.observe(seconds); }
  void observe_next_token(double seconds) { inter_token_latency_.observe(seconds); }
  void count_generated_token() { ++generated_tokens_; }
  void count_preemption() { ++preemptions_; }
  void count_cancelled() { ++cancelled_; }

  int64_t prompt_tokens() const { return prompt_tokens_.load(); }
  int64_t generated_tokens() const { return generated_tokens_.load(); }
  int64_t preemptions() const { return preemptions_.load(); }
  int64_t cancelled() const { return cancelled_.load(); }

  std::string render(const SchedulerGauges& g, const ConnectionGauges& c = {}) const;

 private:
  std::atomic<int64_t> prompt_tokens_{0}, generated_tokens_{0}, preemptions_{0}, cancelled_{0};
  LatencyHistogram time_to_first_token_, inter_token_latency_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
};

}  // namespace gqa::serve
