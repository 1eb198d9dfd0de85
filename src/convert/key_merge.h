#pragma once
// RoPE-aware key merge (gqa convert --method svd). RoPE turns the values (i, i + r/2) of a
// head's key, r the rotary dimension, into one complex number and multiplies it by e^{iθt},
// the same for every head; the score of query q against key k is Re(q · conj(k) · e^{iθ(m-n)})
// summed over the pairs. So a complex scalar c per head and pair commutes with RoPE: if head
// j's key is c_j · z for a shared key z, the score is Re((q · conj(c_j)) · conj(z) · …), and
// conj(c_j) folds into the query rows of the heads that read j (a 2×2 rotation-scale).
//
// For each group and pair, the heads' key rows as complex vectors Z_j (over the input [x; 1])
// are fitted by the best rank-1 c · zᵀ in the input's second moment C, each head weighted by
// the query energy E|q_p|² of the heads that read it (a key error costs in proportion to the
// query it meets). Mean pooling is c = 1, so the fit is never worse than the mean. Values past
// the rotary dimension are not rotated; there c is real. Layers without RoPE are fitted the
// same way (any pairing is exact there).
#include <cstdint>
#include <span>

#include "convert/attention_weights.h"

namespace gqa::convert {

// What a layer's key fits need, computed once: the gram of the key rows in C and every query
// row's energy in C. `moment` null: identity.
class KeyFit {
 public:
  KeyFit(const AttentionWeights& w, const InputMoment* moment, int64_t rotary_dim);

  // What merging the keys of `kv_heads` into one leaves unexplained: the weighted residual
  // energy over the weighted total, in [0, 1]. Used to choose groups.
  double residual(std::span<const int64_t> kv_heads) const;

  // Merges the keys of each group of S / G contiguous KV heads, folding every head's
  // coefficients into q (the layer's query rows, [H * d, hidden + 1]). Returns the new key rows
  // [G * d, hidden + 1].
  Eigen::MatrixXd merge(int64_t target_kv_heads, Eigen::MatrixXd& q) const;

 private:
  struct Slot;
  struct SlotFit;
  // The fit of one slot; the shared key row only when with_key (merging, not residuals).
  SlotFit fit(std::span<const int64_t> kv_heads, const Slot& slot, bool with_key) const;

  const AttentionWeights& w_;
  Eigen::MatrixXd gram_;      // k C kᵀ, [S·d, S·d]: every slot's fit reads its entries
  Eigen::VectorXd q_energy_;  // per query row: q C qᵀ
  int64_t rotary_dim_;
};

}  // namespace gqa::convert
