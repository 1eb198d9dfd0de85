#pragma once
// One sequence being decoded: its position and its KV blocks. The model is shared and
// read-only; everything that changes per sequence lives here.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "kv/block_pool.h"
#include "model/activations.h"
#include "model/model.h"

namespace gqa::model {

struct CacheOptions {
  KvDtype kv_dtype = KvDtype::kF32;
  int64_t block_size = 16;
};

class Session {
 public:
  // A session with a private pool of ceil(capacity / block_size) blocks.
  Session(const Model& model, int64_t capacity, const CacheOptions& cache = {});
  // A session drawing blocks from a shared pool, holding at most `capacity` tokens.
  Session(const Model& model, kv::BlockPool& pool, int64_t capacity);

  // Runs tokens at positions position() .. position() + n - 1 and advances. With all_logits the
  // logits of every token are written ([n, vocab]), otherwise those of the last ([vocab]).
  // Throws Error when a token id is out of range, the capacity would be exceeded or the pool
  // has too few free blocks; the session is unchanged then. Uses the session's own
  // activations: once `logits` has its size, a decode step (one token) allocates nothing.
  void forward(std::span<const int32_t> tokens, std::vector<float>& logits,
               bool all_logits = false);

  // Several sequences of one model at once (continuous batching): each segment's tokens run at
  // its session's position; the projections and the MLP are one matmul over all rows, attention
  // runs per sequence over its own blocks. logits: the last token of each segment
  // ([segments, vocab]), or with all_logits every token in segment order. `act` holds the
  // pass's buffers (the caller's, sized for its batches). All or nothing: on any error no
  // session changes.
  struct Segment {
    Session* session;
    std::span<const int32_t> tokens;
  };
  static void forward_batch(std::span<const Segment> segments, std::vector<float>& logits,
                            Activations& act, bool all_logits = false);

  int64_t position() const { return pos_; }
  int64_t capacity() const { return capacity_; }
  // Back to an empty sequence; its blocks return to the pool.
  void reset();
  // For speed measurements at a context depth: fills positions 0 .. depth-1 of the cache with
  // seeded random K/V values (as if tokens had been run) without computing them.
  void fill_with_noise(int64_t depth, uint64_t seed);
  // Bytes of KV one decode step at the current depth reads (every layer's K and V up to pos, a
  // sliding-window layer's within its window).
  int64_t kv_bytes_read() const;
  // KV blocks that running n_tokens more tokens takes from the pool.
  int64_t blocks_to_grow(int64_t n_tokens) const;
  // Calls `observer(layer, x, rows)` with every layer's attention input of each forward()
  // ([rows, hidden], after input_layernorm); an empty function stops it.
  void observe_attention_inputs(std::function<void(int64_t, const float*, int64_t)> observer) {
    act_.attention_input_observer = std::move(observer);
  }
  // KV blocks the sequence holds now.
  int64_t held_blocks() const { return seq_->held_blocks(); }

 private:
  void reserve(int64_t n_tokens);

  const Model& model_;
  std::unique_ptr<kv::BlockPool> own_pool_;  // null when the pool is shared
  std::unique_ptr<kv::SequenceKv> seq_;
  int64_t capacity_;
  int64_t pos_ = 0;
  Activations act_;  // of forward(); sized for one token over the whole capacity
};

}  // namespace gqa::model
