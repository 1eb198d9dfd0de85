#pragma once
// One sequence being decoded: its position and its KV cache. The model is shared and read-only;
// everything that changes per sequence lives here.
#include <cstdint>
#include <span>
#include <vector>

#include "model/model.h"

namespace gqa::model {

class Session {
 public:
  // A contiguous KV cache of `capacity` positions per layer and KV head, in f32.
  Session(const Model& model, int64_t capacity);

  // Runs tokens at positions position() .. position() + n - 1 and advances. With all_logits the
  // logits of every token are written ([n, vocab]), otherwise those of the last ([vocab]).
  // Throws Error when a token id is out of range or the cache would overflow; the session is
  // unchanged then.
  void forward(std::span<const int32_t> tokens, std::vector<float>& logits,
               bool all_logits = false);

  int64_t position() const { return pos_; }
  int64_t capacity() const { return capacity_; }
  void reset() { pos_ = 0; }
  // For speed measurements at a context depth: fills positions 0 .. depth-1 of the cache with
  // seeded random K/V values (as if tokens had been run) without computing them.
  void fill_with_noise(int64_t depth, uint64_t seed);
  // Bytes of KV one decode step at the current depth reads (every layer's K and V up to pos).
  int64_t kv_bytes_read() const;

 private:
  float* k_layer(int64_t l) { return k_.data() + l * layer_stride_; }
  float* v_layer(int64_t l) { return v_.data() + l * layer_stride_; }

  const Model& model_;
  int64_t capacity_;
  int64_t pos_ = 0;
  int64_t layer_stride_;      // kv_heads * capacity * head_dim
  std::vector<float> k_, v_;  // [layers][kv_heads][capacity][head_dim]
};

}  // namespace gqa::model
