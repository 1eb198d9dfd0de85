#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/session.h"

namespace gqa::eval {

double PplResult::ppl() const {
  return scored ? std::exp(nll_sum / static_cast<double>(scored)) : NAN;
}

void log_softmax(std::span<float> x) {
  const float mx = *std::max_element(x.begin(), x.end());
  double sum = 0;
  for (float v : x) sum += std::exp(static_cast<double>(v - mx));
  const auto lse = static_cast<float>(mx + std::log(sum));
  for (float& v : x) v -= lse;
}

PplResult perplexity(const model::Model& m, const std::vector<int32_t>& tokens, int64_t ctx,
                     const model::CacheOptions& cache,
                     const std::function<void(std::span<const float>, int32_t)>& visit,
                     const std::function<void(int64_t, int64_t)>& progress) {
  if (ctx < 2) fail(ErrorKind::kInvalidArgument, "--ctx must be at least 2");
  const auto total = static_cast<int64_t>(tokens.size());
  if (total < 2) fail(ErrorKind::kInvalidArgument, "the text has fewer than 2 tokens to score");
  const int64_t vocab = m.config().vocab;
  model::Session session(m, ctx, cache);
  std::vector<float> logits;
  PplResult r;
  for (int64_t start = 0; start + 1 < total; start += ctx) {
    const int64_t len = std::min(ctx, total - start);
    session.reset();
    session.forward(std::span(tokens.data() + start, static_cast<size_t>(len)), logits, true);
    for (int64_t i = 0; i + 1 < len; ++i) {
      const std::span<float> row(logits.data() + i * vocab, static_cast<size_t>(vocab));
      log_softmax(row);
      const int32_t target = tokens[static_cast<size_t>(start + i + 1)];
      r.nll_sum -= row[static_cast<size_t>(target)];
      ++r.scored;
      if (visit) visit(row, target);
    }
    ++r.windows;
    if (progress) progress(start + len, total);
  }
  return r;
}

}  // namespace gqa::eval
