#include "model/session.h"

#include <cstring>
#include <string>

#include "core/error.h"
#include "core/float_codec.h"
#include "core/random.h"
#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"

namespace gqa::model {

Session::Session(const Model& model, int64_t capacity) : model_(model), capacity_(capacity) {
  const ModelConfig& c = model.config();
  if (capacity <= 0) fail(ErrorKind::kInvalidArgument, "context capacity must be positive");
  layer_stride_ = c.kv_heads * capacity * c.head_dim;
  k_.assign(static_cast<size_t>(c.layers * layer_stride_), 0.0f);
  v_.assign(static_cast<size_t>(c.layers * layer_stride_), 0.0f);
}

int64_t Session::kv_bytes_read() const {
  const ModelConfig& c = model_.config();
  return 2 * c.layers * c.kv_heads * pos_ * c.head_dim * static_cast<int64_t>(sizeof(float));
}

void Session::fill_with_noise(int64_t depth, uint64_t seed) {
  if (depth < 0 || depth > capacity_)
    fail(ErrorKind::kInvalidArgument, "depth " + std::to_string(depth) + " exceeds the cache");
  const ModelConfig& c = model_.config();
  Rng rng(seed);
  for (int64_t l = 0; l < c.layers; ++l)
    for (int64_t h = 0; h < c.kv_heads; ++h)
      for (int64_t t = 0; t < depth; ++t)
        for (int64_t i = 0; i < c.head_dim; ++i) {
          const size_t at = static_cast<size_t>(((h * capacity_) + t) * c.head_dim + i);
          k_layer(l)[at] = static_cast<float>(rng.normal());
          v_layer(l)[at] = static_cast<float>(rng.normal());
        }
  pos_ = depth;
}

namespace {

void add_bias(float* x, const std::vector<float>& b, int64_t n) {
  if (b.empty()) return;
  const auto dim = static_cast<int64_t>(b.size());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < dim; ++i) x[t * dim + i] += b[static_cast<size_t>(i)];
}

// Per-head RMSNorm (Qwen3 q_norm / k_norm) over rows of n * heads vectors of head_dim.
void head_norm(float* x, const std::vector<float>& w, int64_t vectors, int64_t hd, float eps) {
  if (w.empty()) return;
  for (int64_t i = 0; i < vectors; ++i) ops::rmsnorm(x + i * hd, w.data(), hd, eps, x + i * hd);
}

}  // namespace

void Session::forward(std::span<const int32_t> tokens, std::vector<float>& logits,
                      bool all_logits) {
  const ModelConfig& c = model_.config();
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) fail(ErrorKind::kInvalidArgument, "no tokens to run");
  if (pos_ + n > capacity_)
    fail(ErrorKind::kInvalidArgument, "context full: " + std::to_string(pos_) + " + " +
                                          std::to_string(n) + " tokens exceed the " +
                                          std::to_string(capacity_) + "-token cache");
  for (int32_t t : tokens)
    if (t < 0 || t >= c.vocab)
      fail(ErrorKind::kInvalidArgument, "token id " + std::to_string(t) +
                                            " is outside the vocabulary of " +
                                            std::to_string(c.vocab));
  const int64_t H = c.hidden, hd = c.head_dim, qd = c.q_dim(), kvd = c.kv_dim(),
                ff = c.intermediate;
  const auto eps = static_cast<float>(c.norm_eps);
  auto buf = [&](int64_t count) { return std::vector<float>(static_cast<size_t>(count)); };
  std::vector<float> x = buf(n * H), xn = buf(n * H), q = buf(n * qd), k = buf(n * kvd),
                     v = buf(n * kvd), att = buf(n * qd), o = buf(n * H), g = buf(n * ff),
                     u = buf(n * ff);
  for (int64_t t = 0; t < n; ++t)
    decode_to_f32(model_.embed().dtype, model_.embed().row(tokens[static_cast<size_t>(t)]), H,
                  x.data() + t * H);

  ops::AttentionShape shape{c.heads, c.kv_heads, hd, capacity_, 0};
  for (int64_t l = 0; l < c.layers; ++l) {
    const LayerWeights& w = model_.layers()[static_cast<size_t>(l)];
    for (int64_t t = 0; t < n; ++t)
      ops::rmsnorm(x.data() + t * H, w.attn_norm.data(), H, eps, xn.data() + t * H);
    ops::matmul(w.wq, xn.data(), n, q.data());
    ops::matmul(w.wk, xn.data(), n, k.data());
    ops::matmul(w.wv, xn.data(), n, v.data());
    add_bias(q.data(), w.bq, n);
    add_bias(k.data(), w.bk, n);
    add_bias(v.data(), w.bv, n);
    head_norm(q.data(), w.q_norm, n * c.heads, hd, eps);
    head_norm(k.data(), w.k_norm, n * c.kv_heads, hd, eps);
    float* kc = k_layer(l);
    float* vc = v_layer(l);
    for (int64_t t = 0; t < n; ++t) {
      model_.rope().apply(q.data() + t * qd, c.heads, pos_ + t);
      model_.rope().apply(k.data() + t * kvd, c.kv_heads, pos_ + t);
      for (int64_t h = 0; h < c.kv_heads; ++h) {
        const size_t at = static_cast<size_t>((h * capacity_ + pos_ + t) * hd);
        std::memcpy(kc + at, k.data() + t * kvd + h * hd, static_cast<size_t>(hd) * sizeof(float));
        std::memcpy(vc + at, v.data() + t * kvd + h * hd, static_cast<size_t>(hd) * sizeof(float));
      }
    }
    shape.window = w.window;
    for (int64_t t = 0; t < n; ++t)
      ops::attend(shape, q.data() + t * qd, kc, vc, pos_ + t, att.data() + t * qd);
    ops::matmul(w.wo, att.data(), n, o.data());
    add_bias(o.data(), w.bo, n);
    for (int64_t i = 0; i < n * H; ++i) x[static_cast<size_t>(i)] += o[static_cast<size_t>(i)];

    for (int64_t t = 0; t < n; ++t)
      ops::rmsnorm(x.data() + t * H, w.mlp_norm.data(), H, eps, xn.data() + t * H);
    ops::matmul(w.gate, xn.data(), n, g.data());
    ops::matmul(w.up, xn.data(), n, u.data());
    ops::swiglu(g.data(), u.data(), n * ff);
    ops::matmul(w.down, g.data(), n, o.data());
    for (int64_t i = 0; i < n * H; ++i) x[static_cast<size_t>(i)] += o[static_cast<size_t>(i)];
  }
  const int64_t first = all_logits ? 0 : n - 1;
  const int64_t rows = n - first;
  for (int64_t t = first; t < n; ++t)
    ops::rmsnorm(x.data() + t * H, model_.final_norm().data(), H, eps, xn.data() + (t - first) * H);
  logits.resize(static_cast<size_t>(rows * c.vocab));
  ops::matmul(model_.lm_head(), xn.data(), rows, logits.data());
  pos_ += n;
}

}  // namespace gqa::model
