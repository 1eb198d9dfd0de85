#pragma once
// Batches of token ids: random training windows drawn by step number (so a resumed run sees the
// same batches) and fixed held-out windows.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gqa::train {

struct Batch {
  torch::Tensor ids;      // [batch, seq] int64
  torch::Tensor targets;  // [batch, seq] int64: ids shifted by one
};

class BatchSampler {
 public:
  // Throws Error when the corpus is shorter than one window of seq + 1 tokens.
  BatchSampler(const std::vector<int32_t>& tokens, int64_t batch, int64_t seq, uint64_t seed);
  // The batch of optimizer step `step`: windows at offsets drawn from (seed, step).
  Batch at(int64_t step) const;
  int64_t batch() const { return batch_; }
  int64_t seq() const { return seq_; }

 private:
  const std::vector<int32_t>& tokens_;
  int64_t batch_, seq_;
  uint64_t seed_;
};

// Consecutive non-overlapping windows of seq + 1 tokens from the start of `tokens`, at most
// `max_windows`, as batches of up to `batch` windows. Throws Error when not even one fits.
std::vector<Batch> heldout_batches(const std::vector<int32_t>& tokens, int64_t batch, int64_t seq,
                                   int64_t max_windows);

}  // namespace gqa::train
