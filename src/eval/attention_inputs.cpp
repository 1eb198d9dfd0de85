#include "eval/attention_inputs.h"

#include <algorithm>
#include <span>

#include "core/error.h"
#include "model/session.h"

namespace gqa::eval {

convert::AttentionInputStats attention_input_stats(
    const model::Model& m, const std::vector<int32_t>& tokens, int64_t max_tokens, int64_t window,
    const std::function<void(int64_t, int64_t)>& progress) {
  const ModelConfig& c = m.config();
  const int64_t total = std::min<int64_t>(max_tokens, static_cast<int64_t>(tokens.size()));
  if (total < 1) fail(ErrorKind::kInvalidArgument, "the calibration text has no tokens");
  if (window < 1) fail(ErrorKind::kInvalidArgument, "the calibration window must be positive");
  convert::AttentionInputStats stats(c.layers, c.hidden);
  model::Session session(m, window);
  session.observe_attention_inputs(
      [&](int64_t layer, const float* x, int64_t rows) { stats.add(layer, x, rows); });
  std::vector<float> logits;
  for (int64_t start = 0; start < total; start += window) {
    const int64_t len = std::min(window, total - start);
    session.reset();
    session.forward(std::span(tokens.data() + start, static_cast<size_t>(len)), logits);
    if (progress) progress(start + len, total);
  }
  return stats;
}

}  // namespace gqa::eval
