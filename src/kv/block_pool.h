#pragma once
// A fixed pool of KV blocks (sized from a memory budget or a token count) and the block table
// of one sequence. Blocks are handed out as a sequence grows and returned when it ends.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/huge_buffer.h"
#include "kv/kv_layout.h"
#include "ops/paged_attention.h"

namespace gqa::kv {

class BlockPool {
 public:
  // Throws Error when n_blocks is not positive or the memory cannot be had.
  BlockPool(const KvLayout& layout, int64_t n_blocks);

  // floor(bytes / block_bytes): the same count the planner predicts for that memory.
  static int64_t blocks_for_memory(const KvLayout& layout, int64_t bytes);
  // ceil(tokens / block_size): one sequence of that many tokens.
  static int64_t blocks_for_tokens(const KvLayout& layout, int64_t tokens);

  // Thread-safe. allocate() returns nothing when every block is in use.
  std::optional<int32_t> allocate();
  void release(int32_t id);
  int64_t free_blocks() const;
  int64_t total_blocks() const { return n_blocks_; }

  std::byte* block(int32_t id) {
    return storage_.get() + static_cast<size_t>(id) * layout_.block_bytes();
  }
  const std::byte* block(int32_t id) const {
    return storage_.get() + static_cast<size_t>(id) * layout_.block_bytes();
  }
  const KvLayout& layout() const { return layout_; }

 private:
  KvLayout layout_;
  int64_t n_blocks_;
  HugeBuffer storage_;
  mutable std::mutex mutex_;
  std::vector<int32_t> free_;  // ids of free blocks (a stack)
};

// One sequence's blocks, in token order: token t lives in blocks()[t / block_size].
class SequenceKv {
 public:
  // max_tokens: the most the sequence will hold, to size its block table once (0: unknown).
  explicit SequenceKv(BlockPool& pool, int64_t max_tokens = 0);
  ~SequenceKv();  // returns every block to the pool
  SequenceKv(const SequenceKv&) = delete;
  SequenceKv& operator=(const SequenceKv&) = delete;

  // Makes positions 0 .. n_tokens - 1 writable, allocating blocks as needed. All or nothing:
  // returns false and changes nothing when the pool has too few free blocks.
  bool reserve(int64_t n_tokens);
  // Returns the blocks past n_tokens to the pool.
  void truncate(int64_t n_tokens);

  // Encodes head_dim floats in the cache's dtype as (layer, kv_head)'s key (value) at pos.
  void store_k(int64_t layer, int64_t kv_head, int64_t pos, const float* x);
  void store_v(int64_t layer, int64_t kv_head, int64_t pos, const float* x);
  // The attention kernel's view of one layer holding n_tokens positions.
  ops::PagedKv view(int64_t layer, int64_t n_tokens);
  const std::vector<int32_t>& block_ids() const { return ids_; }
  const BlockPool& pool() const { return pool_; }

 private:
  // The K (V) run of (layer, kv_head) in the sequence's block'th block: run_bytes() bytes.
  std::byte* k_run(int64_t layer, int64_t kv_head, int64_t block);
  std::byte* v_run(int64_t layer, int64_t kv_head, int64_t block);

  BlockPool& pool_;
  std::vector<int32_t> ids_;
  std::vector<const std::byte*> ptrs_;  // block base pointers, parallel to ids_
  std::vector<size_t> k_off_, v_off_;   // [layers][kv_heads]
};

}  // namespace gqa::kv
