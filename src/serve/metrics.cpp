#include "serve/metrics.h"

#include <fmt/format.h>

namespace gqa::serve {

void LatencyHistogram::observe(double seconds) {
  std::lock_guard lock(mutex_);
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++counts_[i];
  sum_ += seconds;
  ++n_;
}

int64_t LatencyHistogram::count() const {
  std::lock_guard lock(mutex_);
  return n_;
}

std::string LatencyHistogram::render(const std::string& name, const std::string& help) const {
  std::lock_guard lock(mutex_);
  std::string out = fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  int64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], cumulative);
  }
  cumulative += counts_.back();
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, cumulative,
                     name, sum_, name, n_);
  return out;
}

void Metrics::count_request(const std::string& route, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
}

std::string Metrics::render(const SchedulerGauges& g, const ConnectionGauges& c) const {
  std::string out;
  auto counter = [&](const char* name, const char* help, int64_t v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
  };
  auto gauge = [&](const char* name, const char* help, int64_t v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
  };
  {
    std::lock_guard lock(mutex_);
    out += "# HELP gqa_requests_total HTTP requests answered, by route and status code.\n";
    out += "# TYPE gqa_requests_total counter\n";
    for (const auto& [key, n] : requests_)
      out += fmt::format("gqa_requests_total{{route=\"{}\",code=\"{}\"}} {}\n", key.first,
                         key.second, n);
  }
  counter("gqa_prompt_tokens_total", "Prompt tokens prefilled (again after a preemption).",
          prompt_tokens_.load());
  counter("gqa_generated_tokens_total", "Tokens generated.", generated_tokens_.load());
  counter("gqa_preemptions_total",
          "Sequences paused because the KV cache was full (recomputed when resumed).",
          preemptions_.load());
  counter("gqa_cancelled_total", "Sequences ended because their client went away.",
          cancelled_.load());
  gauge("gqa_kv_blocks_used", "KV cache blocks in use.", g.kv_blocks_total - g.kv_blocks_free);
  gauge("gqa_kv_blocks_free", "KV cache blocks free.", g.kv_blocks_free);
  gauge("gqa_running_sequences", "Sequences being decoded.", g.running);
  gauge("gqa_running_sequences_peak", "Most sequences decoded at once since the start.",
        g.running_peak);
  gauge("gqa_queue_depth", "Sequences waiting for KV blocks or a batch slot.", g.waiting);
  gauge("gqa_connections_open", "HTTP connections open.", c.open);
  counter("gqa_connections_accepted_total", "HTTP connections accepted.", c.accepted);
  counter("gqa_connections_rejected_total",
          "HTTP connections answered 503 because too many were open or waiting.", c.rejected);
  counter("gqa_connections_timed_out_total",
          "HTTP connections closed because a request head came too slowly (408) or was too large "
          "(431).",
          c.timed_out);
  out += time_to_first_token_.render("gqa_time_to_first_token_seconds",
                                     "From a request's arrival to its first generated token.");
  out += inter_token_latency_.render("gqa_inter_token_latency_seconds",
                                     "Between consecutive generated tokens of one sequence.");
  return out;
}

}  // namespace gqa::serve
