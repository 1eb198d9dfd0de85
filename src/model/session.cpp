#include "model/session.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/float_codec.h"
#include "core/random.h"
#include "ops/elementwise.h"
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
  seq_ = std::make_unique<kv::SequenceKv>(*own_pool_, capacity);
  act_.reserve(model.config(), 1, 1, cache.block_size, capacity);
}

Session::Session(const Model& model, kv::BlockPool& pool, int64_t capacity)
    : model_(model), capacity_(capacity) {
  const kv::KvLayout& l = pool.layout();
  const ModelConfig& c = model.config();
  if (l.layers != c.layers || l.kv_heads != c.kv_heads || l.head_dim != c.head_dim)
    fail(ErrorKind::kInvalidArgument, "the KV pool's layout does not match the model");
  if (capacity <= 0) fail(ErrorKind::kInvalidArgument, "context capacity must be positive");
  seq_ = std::make_unique<kv::SequenceKv>(pool, capacity);
  act_.reserve(c, 1, 1, l.block_size, capacity);
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
  const int64_t per_layer = c.kv_layer_bytes_per_token(seq_->pool().layout().dtype);
  int64_t bytes = 0;
  for (int64_t l = 0; l < c.layers; ++l) bytes += c.layer_tokens_held(l, pos_) * per_layer;
  return bytes;
}

int64_t Session::blocks_to_grow(int64_t n_tokens) const {
  return seq_->blocks_to_reserve(pos_ + n_tokens);
}

void Session::fill_with_noise(int64_t depth, uint64_t seed) {
  if (depth < 0) fail(ErrorKind::kInvalidArgument, "negative depth");
  reserve(depth);
  const ModelConfig& c = model_.config();
  Rng rng(seed);
  std::vector<float> vec(static_cast<size_t>(c.head_dim));
  for (int64_t l = 0; l < c.layers; ++l)
    for (int64_t h = 0; h < c.kv_heads; ++h)
      for (int64_t t = 0; t < depth; ++t) {
        for (float& v : vec) v = static_cast<float>(rng.normal());
        seq_->store_k(l, h, t, vec.data());
        for (float& v : vec) v = static_cast<float>(rng.normal());
        seq_->store_v(l, h, t, vec.data());
      }
  pos_ = depth;
  seq_->forget_before(pos_);
}

namespace {

void add_bias(float* x, const std::vector<float>& b, int64_t n) {
  if (b.empty()) return;
  const auto dim = static_cast<int64_t>(b.size());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < dim; ++i) x[t * dim + i] += b[static_cast<size_t>(i)];
}

// Per-head RMSNorm (Qwen3 and Gemma 3 q_norm / k_norm) over rows of n * heads vectors of head_dim.
void head_norm(float* x, const std::vector<float>& w, int64_t vectors, int64_t hd, float eps) {
  if (w.empty()) return;
  for (int64_t i = 0; i < vectors; ++i) ops::rmsnorm(x + i * hd, w.data(), hd, eps, x + i * hd);
}

// Gemma 3's norms on a sublayer's output, before it joins the residual: rows of n values.
void post_norm(float* x, const std::vector<float>& w, int64_t rows, int64_t n, float eps) {
  if (w.empty()) return;
  for (int64_t r = 0; r < rows; ++r) ops::rmsnorm(x + r * n, w.data(), n, eps, x + r * n);
}

}  // namespace

void Session::forward(std::span<const int32_t> tokens, std::vector<float>& logits,
                      bool all_logits) {
  const Segment one{this, tokens};
  forward_batch(std::span(&one, 1), logits, act_, all_logits);
}

void Session::forward_batch(std::span<const Segment> segments, std::vector<float>& logits,
                            Activations& act, bool all_logits) {
  if (segments.empty()) fail(ErrorKind::kInvalidArgument, "no sequences to run");
  const Model& model = segments[0].session->model_;
  const ModelConfig& c = model.config();
  int64_t n = 0;
  for (const Segment& sg : segments) n += static_cast<int64_t>(sg.tokens.size());
  act.start_pass(c, n);
  // Rows: every token of every segment, in order; row r is at position pos[r].
  std::vector<int32_t>& ids = act.ids;
  std::vector<int64_t>& pos = act.pos;
  std::vector<int64_t>& first_row = act.first_row;
  for (const Segment& sg : segments) {
    if (&sg.session->model_ != &model)
      fail(ErrorKind::kInvalidArgument, "a batch must run sessions of one model");
    if (sg.tokens.empty()) fail(ErrorKind::kInvalidArgument, "no tokens to run");
    for (const Segment& other : segments)
      if (&other != &sg && other.session == sg.session)
        fail(ErrorKind::kInvalidArgument, "a session appears twice in one batch");
    for (int32_t t : sg.tokens)
      if (t < 0 || t >= c.vocab)
        fail(ErrorKind::kInvalidArgument, "token id " + std::to_string(t) +
                                              " is outside the vocabulary of " +
                                              std::to_string(c.vocab));
    first_row.push_back(static_cast<int64_t>(ids.size()));
    for (size_t i = 0; i < sg.tokens.size(); ++i) {
      ids.push_back(sg.tokens[i]);
      pos.push_back(sg.session->pos_ + static_cast<int64_t>(i));
    }
  }
  first_row.push_back(static_cast<int64_t>(ids.size()));
  // All or nothing: if one sequence cannot grow, the others give back what they just took.
  for (size_t i = 0; i < segments.size(); ++i) {
    Session& s = *segments[i].session;
    try {
      s.reserve(s.pos_ + static_cast<int64_t>(segments[i].tokens.size()));
    } catch (const Error&) {
      for (size_t j = 0; j < i; ++j) segments[j].session->seq_->truncate(segments[j].session->pos_);
      throw;
    }
  }

  const int64_t H = c.hidden, hd = c.head_dim, qd = c.q_dim(), kvd = c.kv_dim(),
                ff = c.intermediate;
  const auto eps = static_cast<float>(c.norm_eps);
  // [n, H] x, xn, o; [n, q_dim] q, att; [n, kv_dim] k, v; [n, ff] g, u (model/activations.h).
  float *x = act.x.data(), *xn = act.xn.data(), *q = act.q.data(), *k = act.k.data(),
        *v = act.v.data(), *att = act.att.data(), *o = act.o.data(), *g = act.g.data(),
        *u = act.u.data();
  for (int64_t r = 0; r < n; ++r) {
    decode_to_f32(model.embed().dtype, model.embed().row(ids[static_cast<size_t>(r)]), H,
                  x + r * H);
    if (model.embed_scale() != 1.0f)
      for (int64_t i = 0; i < H; ++i) x[r * H + i] *= model.embed_scale();
  }

  // A decode step (one token per sequence) multiplies row by row, so that each sequence gets
  // bit for bit the logits it would get decoding alone: batching never changes a greedy output.
  const bool decode_step = std::all_of(segments.begin(), segments.end(),
                                       [](const Segment& sg) { return sg.tokens.size() == 1; });
  const auto project = decode_step ? ops::matmul_rowwise : ops::matmul;
  const auto gated = c.hidden_act == Activation::kGeluTanh ? ops::geglu_tanh : ops::swiglu;
  const float q_scale = model.query_scale();
  ops::AttentionShape shape{c.heads, c.kv_heads, hd, 0};
  for (int64_t l = 0; l < c.layers; ++l) {
    const LayerWeights& w = model.layers()[static_cast<size_t>(l)];
    for (int64_t r = 0; r < n; ++r) ops::rmsnorm(x + r * H, w.attn_norm.data(), H, eps, xn + r * H);
    if (act.attention_input_observer) act.attention_input_observer(l, xn, n);
    if (decode_step) {  // one parallel loop over the rows of all three
      const ops::Projection qkv[] = {{&w.wq, q}, {&w.wk, k}, {&w.wv, v}};
      ops::matmul_rowwise_shared_input(qkv, xn, n);
    } else {
      project(w.wq, xn, n, q);  // one matmul per projection for the batch
      project(w.wk, xn, n, k);
      project(w.wv, xn, n, v);
    }
    add_bias(q, w.bq, n);
    add_bias(k, w.bk, n);
    add_bias(v, w.bv, n);
    head_norm(q, w.q_norm, n * c.heads, hd, eps);
    head_norm(k, w.k_norm, n * c.kv_heads, hd, eps);
    if (q_scale != 1.0f)
      for (int64_t i = 0; i < n * qd; ++i) q[i] *= q_scale;
    shape.window = w.window;
    for (size_t sgi = 0; sgi < segments.size(); ++sgi) {
      Session& s = *segments[sgi].session;
      const int64_t r0 = first_row[sgi], r1 = first_row[sgi + 1];
      // The table of this call (longrope switches by the call's last position).
      const ops::Rope* rope =
          w.rope ? &w.rope->for_call(pos[static_cast<size_t>(r1 - 1)]) : nullptr;
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t p = pos[static_cast<size_t>(r)];
        if (rope) {
          rope->apply(q + r * qd, c.heads, p);
          rope->apply(k + r * kvd, c.kv_heads, p);
        }
        for (int64_t h = 0; h < c.kv_heads; ++h) {
          s.seq_->store_k(l, h, p, k + r * kvd + h * hd);
          s.seq_->store_v(l, h, p, v + r * kvd + h * hd);
        }
      }
      // Attention per sequence, over its own blocks.
      ops::paged_attention(shape, s.seq_->view(l, s.pos_ + (r1 - r0)), q + r0 * qd, r1 - r0, s.pos_,
                           att + r0 * qd, act.attention);
    }
    project(w.wo, att, n, o);
    add_bias(o, w.bo, n);
    post_norm(o, w.post_attn_norm, n, H, eps);
    for (int64_t i = 0; i < n * H; ++i) x[i] += o[i];

    for (int64_t r = 0; r < n; ++r) ops::rmsnorm(x + r * H, w.mlp_norm.data(), H, eps, xn + r * H);
    if (decode_step) {
      const ops::Projection gate_up[] = {{&w.gate, g}, {&w.up, u}};
      ops::matmul_rowwise_shared_input(gate_up, xn, n);
    } else {
      project(w.gate, xn, n, g);
      project(w.up, xn, n, u);
    }
    gated(g, u, n * ff);
    project(w.down, g, n, o);
    post_norm(o, w.post_mlp_norm, n, H, eps);
    for (int64_t i = 0; i < n * H; ++i) x[i] += o[i];
  }
  // Rows that need logits: every row, or the last row of each segment.
  std::vector<int64_t>& out_rows = act.out_rows;
  for (size_t sgi = 0; sgi < segments.size(); ++sgi)
    for (int64_t r = all_logits ? first_row[sgi] : first_row[sgi + 1] - 1; r < first_row[sgi + 1];
         ++r)
      out_rows.push_back(r);
  for (size_t i = 0; i < out_rows.size(); ++i)
    ops::rmsnorm(x + out_rows[i] * H, model.final_norm().data(), H, eps,
                 xn + static_cast<int64_t>(i) * H);
  const auto rows = static_cast<int64_t>(out_rows.size());
  logits.resize(static_cast<size_t>(rows * c.vocab));
  project(model.lm_head(), xn, rows, logits.data());
  if (c.final_logit_softcapping)
    ops::soft_cap(logits.data(), rows * c.vocab, static_cast<float>(*c.final_logit_softcapping));
  for (const Segment& sg : segments) {
    Session& s = *sg.session;
    s.pos_ += static_cast<int64_t>(sg.tokens.size());
    s.seq_->forget_before(s.pos_);  // sliding-window layers keep only what the next call sees
  }
}

}  // namespace gqa::model
