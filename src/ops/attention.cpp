#include "ops/attention.h"

#include <cmath>
#include <vector>

#include "ops/elementwise.h"

namespace gqa::ops {

void attend(const AttentionShape& s, const float* q, const float* k_cache, const float* v_cache,
            int64_t pos, float* out) {
  const int64_t hd = s.head_dim, n_rep = s.heads / s.kv_heads;
  const int64_t first = s.window > 0 ? std::max<int64_t>(0, pos - s.window + 1) : 0;
  const int64_t n = pos - first + 1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
#pragma omp parallel
  {
    std::vector<float> scores(static_cast<size_t>(n));
#pragma omp for schedule(static)
    for (int64_t h = 0; h < s.heads; ++h) {
      const int64_t kvh = h / n_rep;
      const float* qh = q + h * hd;
      const float* kh = k_cache + kvh * s.capacity * hd;
      const float* vh = v_cache + kvh * s.capacity * hd;
      for (int64_t t = 0; t < n; ++t) {
        const float* k = kh + (first + t) * hd;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t i = 0; i < hd; ++i) dot += qh[i] * k[i];
        scores[t] = dot * scale;
      }
      softmax(scores.data(), n);
      float* o = out + h * hd;
      for (int64_t i = 0; i < hd; ++i) o[i] = 0.0f;
      for (int64_t t = 0; t < n; ++t) {
        const float* v = vh + (first + t) * hd;
        const float p = scores[t];
#pragma omp simd
        for (int64_t i = 0; i < hd; ++i) o[i] += p * v[i];
      }
    }
  }
}

void attend_reference(const AttentionShape& s, const float* q, const float* k_cache,
                      const float* v_cache, int64_t pos, float* out) {
  const int64_t hd = s.head_dim, n_rep = s.heads / s.kv_heads;
  const int64_t first = s.window > 0 ? std::max<int64_t>(0, pos - s.window + 1) : 0;
  for (int64_t h = 0; h < s.heads; ++h) {
    const int64_t kvh = h / n_rep;
    std::vector<double> scores;
    double mx = -INFINITY;
    for (int64_t t = first; t <= pos; ++t) {
      double dot = 0;
      for (int64_t i = 0; i < hd; ++i)
        dot += static_cast<double>(q[h * hd + i]) * k_cache[(kvh * s.capacity + t) * hd + i];
      scores.push_back(dot / std::sqrt(static_cast<double>(hd)));
      mx = std::max(mx, scores.back());
    }
    double sum = 0;
    for (double& v : scores) sum += (v = std::exp(v - mx));
    for (int64_t i = 0; i < hd; ++i) {
      double acc = 0;
      for (int64_t t = first; t <= pos; ++t)
        acc +=
            scores[static_cast<size_t>(t - first)] / sum * v_cache[(kvh * s.capacity + t) * hd + i];
      out[h * hd + i] = static_cast<float>(acc);
    }
  }
}

}  // namespace gqa::ops
