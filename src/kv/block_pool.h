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
  // One sequence of that many tokens: ceil(tokens / block_size) per block table.
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

// One sequence's blocks, in token order per block table: token t of a layer lives in its
// table's blocks()[t / block_size]. A sliding-window table gives back the blocks wholly before
// the window of the next position (forget_before); their entries stay, empty.
class SequenceKv {
 public:
  // max_tokens: the most the sequence will hold, to size its block tables once (0: unknown).
  explicit SequenceKv(BlockPool& pool, int64_t max_tokens = 0);
  ~SequenceKv();  // returns every block to the pool
  SequenceKv(const SequenceKv&) = delete;
  SequenceKv& operator=(const SequenceKv&) = delete;

  // Makes positions 0 .. n_tokens - 1 writable (those a sliding table has not given back),
  // allocating blocks as needed. All or nothing: returns false and changes nothing when the
  // pool has too few free blocks.
  bool reserve(int64_t n_tokens);
  // The blocks reserve(n_tokens) would take.
  int64_t blocks_to_reserve(int64_t n_tokens) const;
  // Returns the blocks past n_tokens to the pool.
  void truncate(int64_t n_tokens);
  // Sliding tables give back the blocks that the next call, starting at position `next`, does
  // not see: those wholly before next - window + 1.
  void forget_before(int64_t next);
  // Blocks held now, over all tables.
  int64_t held_blocks() const;
  // The block ids of layer's table in token order (-1: given back).
  const std::vector<int32_t>& block_ids(int64_t layer) const {
    return tables_[static_cast<size_t>(pool_.layout().table_of(layer))].ids;
  }

  // Encodes head_dim floats in the cache's dtype as (layer, kv_head)'s key (value) at pos.
  void store_k(int64_t layer, int64_t kv_head, int64_t pos, const float* x);
  void store_v(int64_t layer, int64_t kv_head, int64_t pos, const float* x);
  // The attention kernel's view of one layer holding n_tokens positions.
  ops::PagedKv view(int64_t layer, int64_t n_tokens);
  const BlockPool& pool() const { return pool_; }

 private:
  struct Table {
    std::vector<int32_t> ids;            // -1: given back (before the window)
    std::vector<const std::byte*> ptrs;  // block base pointers, parallel to ids
    int64_t window = 0;                  // 0: full attention
    int64_t forgotten = 0;               // blocks [0, forgotten) are given back
  };
  // The K (V) run of (layer, kv_head) in its table's block'th block: run_bytes() bytes.
  std::byte* k_run(int64_t layer, int64_t kv_head, int64_t block);
  std::byte* v_run(int64_t layer, int64_t kv_head, int64_t block);
  Table& table(int64_t layer) {
    return tables_[static_cast<size_t>(pool_.layout().table_of(layer))];
  }

  BlockPool& pool_;
  std::vector<Table> tables_;
  std::vector<size_t> k_off_, v_off_;  // [layers][kv_heads]
};

}  // namespace gqa::kv
