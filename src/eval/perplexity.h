#pragma once
// Perplexity over non-overlapping windows of a token sequence, and the per-position
// log-probabilities that KL divergence against a baseline needs.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/model.h"
#include "model/session.h"

namespace gqa::eval {

struct PplResult {
  int64_t windows = 0;
  int64_t scored = 0;    // tokens predicted
  double nll_sum = 0.0;  // sum of -log p(target)
  double ppl() const;    // exp(nll_sum / scored)
};

// Windows [0, ctx), [ctx, 2 ctx), ... of `tokens` (the last may be shorter); each runs from an
// empty cache. Within a window every token but the first is scored, predicted from the tokens
// before it in the window. `visit(logprobs, target)` sees each scored position's log-softmax.
PplResult perplexity(const model::Model& m, const std::vector<int32_t>& tokens, int64_t ctx,
                     const model::CacheOptions& cache,
                     const std::function<void(std::span<const float>, int32_t)>& visit = {},
                     const std::function<void(int64_t, int64_t)>& progress = {});

// log-softmax of one row of logits, in place.
void log_softmax(std::span<float> x);

}  // namespace gqa::eval
