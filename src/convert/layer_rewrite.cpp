#include "convert/layer_rewrite.h"

#include <numeric>
#include <vector>

#include "convert/head_grouping.h"
#include "convert/key_merge.h"
#include "convert/value_merge.h"
#include "core/error.h"
#include "core/float_codec.h"

namespace gqa::convert {
namespace {

// Rows of a stored matrix into columns [0, cols) of `out`.
void load_rows(const MatrixView& m, Eigen::MatrixXd& out) {
  std::vector<float> row(static_cast<size_t>(m.cols));
  for (int64_t r = 0; r < m.rows; ++r) {
    decode_to_f32(m.dtype, m.row(r), m.cols, row.data());
    for (int64_t c = 0; c < m.cols; ++c) out(r, c) = row[static_cast<size_t>(c)];
  }
}

void load_bias(const std::optional<MatrixView>& b, Eigen::MatrixXd& out) {
  if (!b) return;
  std::vector<float> v(static_cast<size_t>(b->rows));
  decode_to_f32(b->dtype, b->data, b->rows, v.data());
  for (int64_t r = 0; r < b->rows; ++r) out(r, out.cols() - 1) = v[static_cast<size_t>(r)];
}

// ‖A‖² in C: tr(A C Aᵀ), with ac = A C.
double energy(const Eigen::MatrixXd& a, const Eigen::MatrixXd& ac) {
  return a.cwiseProduct(ac).sum();
}

// How far apart two heads' K and V rows are, relative to their size: what pooling them by mean
// (or keeping one) loses.
double mean_pair_cost(const AttentionWeights& w, const Eigen::MatrixXd& kc,
                      const Eigen::MatrixXd& vc, int64_t a, int64_t b) {
  const int64_t d = w.head_dim;
  double cost = 0;
  for (const auto* pair : {&w.k, &w.v}) {
    const Eigen::MatrixXd& c = pair == &w.k ? kc : vc;
    const auto ra = pair->middleRows(a * d, d), rb = pair->middleRows(b * d, d);
    const auto ca = c.middleRows(a * d, d), cb = c.middleRows(b * d, d);
    const double diff = energy(ra - rb, ca - cb), total = energy(ra, ca) + energy(rb, cb);
    cost += total > 0 ? diff / total : 0.0;
  }
  return cost;
}

// Mean or first of each group's rows, [G * d, cols].
Eigen::MatrixXd pool(const Eigen::MatrixXd& rows, const GroupPlan& plan, PoolMethod method) {
  const int64_t d = plan.head_dim, r = plan.group_size();
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(plan.target_kv_heads * d, rows.cols());
  for (int64_t g = 0; g < plan.target_kv_heads; ++g) {
    if (method == PoolMethod::kFirst) {
      out.middleRows(g * d, d) = rows.middleRows(g * r * d, d);
      continue;
    }
    for (int64_t t = 0; t < r; ++t) out.middleRows(g * d, d) += rows.middleRows((g * r + t) * d, d);
    out.middleRows(g * d, d) /= static_cast<double>(r);
  }
  return out;
}

}  // namespace

AttentionWeights load_attention(const StoredAttention& s, int64_t heads, int64_t kv_heads,
                                int64_t head_dim) {
  AttentionWeights w;
  w.heads = heads;
  w.kv_heads = kv_heads;
  w.head_dim = head_dim;
  w.hidden = s.q.cols;
  w.has_bias = s.q_bias.has_value();
  const int64_t n = w.hidden + 1;
  w.q = Eigen::MatrixXd::Zero(heads * head_dim, n);
  w.k = Eigen::MatrixXd::Zero(kv_heads * head_dim, n);
  w.v = Eigen::MatrixXd::Zero(kv_heads * head_dim, n);
  w.o = Eigen::MatrixXd::Zero(w.hidden, heads * head_dim);
  load_rows(s.q, w.q);
  load_rows(s.k, w.k);
  load_rows(s.v, w.v);
  load_rows(s.o, w.o);
  load_bias(s.q_bias, w.q);
  load_bias(s.k_bias, w.k);
  load_bias(s.v_bias, w.v);
  return w;
}

RewrittenAttention rewrite_attention(AttentionWeights w, const GroupPlan& plan,
                                     const LayerConversion& how) {
  if (how.method == PoolMethod::kRandom)
    fail(ErrorKind::kInvalidArgument, "random initialisation has no grouping to choose");
  RewrittenAttention out;
  out.order.resize(static_cast<size_t>(w.kv_heads));
  std::iota(out.order.begin(), out.order.end(), 0);
  const InputMoment* m = how.moment;
  if (how.grouping == Grouping::kSimilar && plan.group_size() > 1 && plan.target_kv_heads > 1) {
    if (how.method == PoolMethod::kSvd) {
      const KeyFit keys(w, m, how.rotary_dim);
      const ValueFit values(w, m);
      out.order = similar_head_order(w.kv_heads, plan.target_kv_heads, [&](int64_t a, int64_t b) {
        const int64_t pair[] = {a, b};
        return keys.residual(pair) + values.residual(pair);
      });
    } else {
      const Eigen::MatrixXd kc = m ? Eigen::MatrixXd(w.k * *m) : w.k;
      const Eigen::MatrixXd vc = m ? Eigen::MatrixXd(w.v * *m) : w.v;
      out.order = similar_head_order(w.kv_heads, plan.target_kv_heads, [&](int64_t a, int64_t b) {
        return mean_pair_cost(w, kc, vc, a, b);
      });
    }
    permute_kv_heads(w, out.order);
  }
  if (plan.group_size() > 1) {
    if (how.method == PoolMethod::kSvd) {
      Eigen::MatrixXd q = w.q, o = w.o;
      Eigen::MatrixXd k = KeyFit(w, m, how.rotary_dim).merge(plan.target_kv_heads, q);
      Eigen::MatrixXd v = ValueFit(w, m).merge(plan.target_kv_heads, o);
      w.q = std::move(q);
      w.o = std::move(o);
      w.k = std::move(k);
      w.v = std::move(v);
    } else {
      w.k = pool(w.k, plan, how.method);
      w.v = pool(w.v, plan, how.method);
    }
  }
  w.kv_heads = plan.target_kv_heads;
  out.w = std::move(w);
  return out;
}

}  // namespace gqa::convert
