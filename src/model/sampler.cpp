#include "model/sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace gqa::model {

Sampler::Sampler(const SamplerOptions& o) : o_(o), rng_(o.seed) {
  if (!(o.temperature >= 0)) fail(ErrorKind::kInvalidArgument, "--temp must be >= 0");
  if (o.top_k < 0) fail(ErrorKind::kInvalidArgument, "--top-k must be >= 0");
  if (!(o.top_p > 0 && o.top_p <= 1))
    fail(ErrorKind::kInvalidArgument, "--top-p must be in (0, 1]");
}

int32_t Sampler::sample(std::span<const float> logits) {
  const auto n = static_cast<int32_t>(logits.size());
  if (o_.temperature == 0.0 || o_.top_k == 1)
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  candidates_.resize(logits.size());
  for (int32_t i = 0; i < n; ++i) candidates_[i] = {logits[i], i};
  size_t keep = candidates_.size();
  if (o_.top_k > 0 && static_cast<size_t>(o_.top_k) < keep) keep = static_cast<size_t>(o_.top_k);
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<long>(keep),
                    candidates_.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  candidates_.resize(keep);
  // Softmax at the temperature over the kept candidates (largest first).
  const double top = candidates_[0].first;
  std::vector<double> p(keep);
  double sum = 0;
  for (size_t i = 0; i < keep; ++i)
    sum += p[i] = std::exp((candidates_[i].first - top) / o_.temperature);
  // Nucleus: the smallest prefix whose probability reaches top_p.
  size_t cut = keep;
  if (o_.top_p < 1.0) {
    double acc = 0;
    for (size_t i = 0; i < keep; ++i) {
      acc += p[i] / sum;
      if (acc >= o_.top_p) {
        cut = i + 1;
        break;
      }
    }
  }
  double total = 0;
  for (size_t i = 0; i < cut; ++i) total += p[i];
  double r = rng_.uniform() * total;
  for (size_t i = 0; i < cut; ++i) {
    r -= p[i];
    if (r <= 0) return candidates_[i].second;
  }
  return candidates_[cut - 1].second;
}

}  // namespace gqa::model
