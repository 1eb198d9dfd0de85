#pragma once
// Calibration statistics for gqa convert --calib: each layer's attention input (the hidden
// state after input_layernorm, what q/k/v_proj multiply) summed over the calibration tokens as
// Σ x and Σ x xᵀ in f64. The runtime fills them (eval/attention_inputs.h); the merging methods
// read the second moment of [x; 1]. hidden² doubles per layer: 2.1 GB for a 28-layer,
// 3072-wide model.
#include <cstdint>
#include <vector>

#include "convert/attention_weights.h"

namespace gqa::convert {

class AttentionInputStats {
 public:
  AttentionInputStats(int64_t layers, int64_t hidden);

  // Adds `rows` input vectors of `layer`, row-major [rows, hidden].
  void add(int64_t layer, const float* x, int64_t rows);

  int64_t layers() const { return static_cast<int64_t>(sum_x_.size()); }
  int64_t hidden() const { return hidden_; }
  int64_t tokens(int64_t layer) const { return tokens_[static_cast<size_t>(layer)]; }
  // [[E x xᵀ, E x], [E xᵀ, 1]] of `layer`. Throws Error when it saw no tokens.
  InputMoment moment(int64_t layer) const;

 private:
  int64_t hidden_;
  std::vector<int64_t> tokens_;
  std::vector<Eigen::MatrixXd> sum_xx_;  // lower triangle filled
  std::vector<Eigen::VectorXd> sum_x_;
};

}  // namespace gqa::convert
