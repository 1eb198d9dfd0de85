#pragma once
// One layer's attention projections in f64, the form the merging methods work on. Biases ride
// along as an extra input column: a row [w | b] applied to [x; 1], so every method that
// combines rows combines biases the same way, and the input second moment gains E[x] and 1.
#include <cstdint>

#include <Eigen/Dense>

namespace gqa::convert {

struct AttentionWeights {
  int64_t heads = 0;     // query heads H
  int64_t kv_heads = 0;  // KV heads S
  int64_t head_dim = 0;  // d
  int64_t hidden = 0;
  bool has_bias = false;  // q, k, v biases stored (the last column); o's bias never changes
  Eigen::MatrixXd q;      // [H * d, hidden + 1]  rows head-major, last column the bias
  Eigen::MatrixXd k, v;   // [S * d, hidden + 1]
  Eigen::MatrixXd o;      // [hidden, H * d]      columns head-major

  int64_t n_rep() const { return heads / kv_heads; }  // query heads per KV head
  // The query heads that read KV head j: [j * n_rep, (j + 1) * n_rep).
  int64_t first_query_head(int64_t kv_head) const { return kv_head * n_rep(); }
};

// The second moment of the attention input with the constant 1 appended:
// [[E x xᵀ, E x], [E xᵀ, 1]], (hidden + 1)². Identity when no calibration is given (weights
// alone: every input direction counts the same, the bias as one more).
using InputMoment = Eigen::MatrixXd;

}  // namespace gqa::convert
