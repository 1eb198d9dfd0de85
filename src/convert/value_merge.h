#pragma once
// Value merge (gqa convert --method svd). Values carry no RoPE, so any d×d map M_j per head
// folds into o_proj: head h, reading KV head j, outputs O_h · v_j ≈ (O_h · M_j) · (P x) for a
// shared value projection P. The error is measured after o_proj: with R_jᵀR_j = Σ_{h reads j}
// O_hᵀO_h, minimise Σ_j E‖R_j (V_j x − M_j P x)‖². For a fixed P the best M_j is the
// least-squares map V_j C Pᵀ (P C Pᵀ)⁻¹ whatever R_j; the best row space of P is the top-d
// eigenspace of the stacked S = [R_1 V_1; …; R_r V_r] in C, so P = Uᵀ S with U the top d
// eigenvectors of S C Sᵀ (r·d square, small). Within its row space P is then whitened to the
// variance of an average head's value and rotated as close to the group's mean as a rotation
// can bring it, so the stored weights keep the scale of a pooled head and stay trainable.
#include <cstdint>
#include <span>

#include "convert/attention_weights.h"

namespace gqa::convert {

// What a layer's value fits need, computed once: every KV head's R_j V_j stacked, and their
// gram in C (S·d square), whose blocks every group's fit and every pair's residual read.
// `moment` null: identity.
class ValueFit {
 public:
  ValueFit(const AttentionWeights& w, const InputMoment* moment);

  // What merging the values of `kv_heads` into one leaves unexplained after o_proj, over the
  // total, in [0, 1].
  double residual(std::span<const int64_t> kv_heads) const;

  // Merges the values of each group of S / G contiguous KV heads, folding every head's map into
  // o (the layer's o_proj, [hidden, H * d]). Returns the new value rows [G * d, hidden + 1].
  Eigen::MatrixXd merge(int64_t target_kv_heads, Eigen::MatrixXd& o) const;

 private:
  // The group's S C Sᵀ, [r·d, r·d].
  Eigen::MatrixXd gram(std::span<const int64_t> kv_heads) const;

  const AttentionWeights& w_;
  const InputMoment* moment_;
  Eigen::MatrixXd s_;         // [S·d, hidden + 1]: R_j V_j, head after head
  Eigen::MatrixXd gram_all_;  // [S·d, S·d]: s_ C s_ᵀ
};

}  // namespace gqa::convert
