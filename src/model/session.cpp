#include "model/session.h"

#include <cstring>
#include <string>

#include "core/error.h"
#include "core/float_codec.h"
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/kv_quant.h"
#include "ops/matmul.h"
#include "ops/paged_attention.h"

namespace gqa::model {

Session::Session(const Model& model, int64_t capacity, const CacheOptions& cache)
    : model_(model), capacity_(capacity) {
  if (capacity <= 0) fail(ErrorKind::kInvalidArgument, "context capacity must be positive");
  const kv::KvLayout layout =
      kv::KvLayout::for_model(model.config(), cache.kv_dtype, cache.block_size);
  own_pool_ =
      std::make_unique<kv::BlockPool>(layout, kv::BlockPool::blocks_for_tokens(layout, capacity));
  seq_ = std::make_unique<kv::SequenceKv>(*own_pool_);
}

Session::Session(const Model& model, kv::BlockPool& pool, int64_t capacity)
    : model_(model), seq_(std::make_unique<kv::SequenceKv>(pool)), capacity_(capacity) {
  const kv::KvLayout& l = pool.layout();
  const ModelConfig& c = model.config();
  if (l.layers != c.layers || l.kv_heads != c.kv_heads || l.head_dim != c.head_dim)
    fail(ErrorKind::kInvalidArgument, "the KV pool's layout does not match the model");
  if (capacity <= 0) fail(ErrorKind::kInvalidArgument, "context capacity must be positive");
}

void Session::reset() {
  seq_->truncate(0);
  pos_ = 0;
}

void Session::reserve(int64_t n_tokens) {
  if (n_tokens > capacity_)
    fail(ErrorKind::kInvalidArgument, "context full: " + std::to_string(n_tokens) +
                                          " tokens exceed the " + std::to_string(capacity_) +
                                          "-token context");
  if (!seq_->reserve(n_tokens))
    fail(ErrorKind::kInvalidArgument,
         "KV cache full: no free blocks for " + std::to_string(n_tokens) + " tokens");
}

int64_t Session::kv_bytes_read() const {
  const ModelConfig& c = model_.config();
  return c.kv_bytes_per_token(seq_->pool().layout().dtype) * pos_;
}

void Session::fill_with_noise(int64_t depth, uint64_t seed) {
  if (depth < 0) fail(ErrorKind::kInvalidArgument, "negative depth");
  reserve(depth);
  const ModelConfig& c = model_.config();
  const KvDtype dtype = seq_->pool().layout().dtype;
  Rng rng(seed);
  std::vector<float> vec(static_cast<size_t>(c.head_dim));
  for (int64_t l = 0; l < c.layers; ++l)
    for (int64_t h = 0; h < c.kv_heads; ++h)
      for (int64_t t = 0; t < depth; ++t) {
        for (float& v : vec) v = static_cast<float>(rng.normal());
        ops::encode_kv_vector(dtype, vec.data(), c.head_dim, seq_->k_vector(l, h, t));
        for (float& v : vec) v = static_cast<float>(rng.normal());
        ops::encode_kv_vector(dtype, vec.data(), c.head_dim, seq_->v_vector(l, h, t));
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
  for (int32_t t : tokens)
    if (t < 0 || t >= c.vocab)
      fail(ErrorKind::kInvalidArgument, "token id " + std::to_string(t) +
                                            " is outside the vocabulary of " +
                                            std::to_string(c.vocab));
  reserve(pos_ + n);  // after validation: nothing changes on bad input
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

  const KvDtype kv_dtype = seq_->pool().layout().dtype;
  ops::AttentionShape shape{c.heads, c.kv_heads, hd, 0};
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
    for (int64_t t = 0; t < n; ++t) {
      model_.rope().apply(q.data() + t * qd, c.heads, pos_ + t);
      model_.rope().apply(k.data() + t * kvd, c.kv_heads, pos_ + t);
      for (int64_t h = 0; h < c.kv_heads; ++h) {
        ops::encode_kv_vector(kv_dtype, k.data() + t * kvd + h * hd, hd,
                              seq_->k_vector(l, h, pos_ + t));
        ops::encode_kv_vector(kv_dtype, v.data() + t * kvd + h * hd, hd,
                              seq_->v_vector(l, h, pos_ + t));
      }
    }
    shape.window = w.window;
    ops::paged_attention(shape, seq_->view(l, pos_ + n), q.data(), n, pos_, att.data());
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
