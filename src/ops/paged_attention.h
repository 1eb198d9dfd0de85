#pragma once
// Attention over a paged KV cache, GQA by index mapping. One kernel serves decode and prefill:
// the queries of the n_rep heads that share KV head g (and, in prefill, of a tile of tokens)
// form a small matrix scored against each chunk of 16 keys, so each KV head's blocks are read
// once per group and widened once per group of up to 8 query rows, never once per query head
// (keys are stored dimension-major: kv/kv_layout.h). Softmax is online (running max, sum
// and accumulator), so no score matrix over the whole context is ever built. A long decode
// context is split across threads (flash-decoding): each split keeps partial max, sum and
// accumulator, and the splits are combined at the end.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/kv_dtype.h"
#include "ops/vec.h"

namespace gqa::ops {

// One layer's K and V of one sequence, as the cache lays them out.
struct PagedKv {
  KvDtype dtype = KvDtype::kF32;
  int64_t head_dim = 0;
  int64_t block_size = 0;                    // tokens per block
  size_t vector_bytes = 0;                   // kv_vector_bytes(dtype, head_dim)
  const std::byte* const* blocks = nullptr;  // the sequence's blocks in order
  int64_t n_tokens = 0;                      // positions 0 .. n_tokens - 1 are filled
  const size_t* k_offset = nullptr;  // [kv_heads]: bytes from a block's start to this layer's
  const size_t* v_offset = nullptr;  //   block_size K (V) vectors of that KV head
};

struct AttentionShape {
  int64_t heads = 0;     // query heads H
  int64_t kv_heads = 0;  // h_kv, divides H; query head h reads KV head h / (H / h_kv)
  int64_t head_dim = 0;
  int64_t window = 0;  // sliding window in tokens; 0: full causal attention
};

class AttentionScratch;

// q, out: [n_q][heads][head_dim] for positions first_pos .. first_pos + n_q - 1; query t sees
// positions <= first_pos + t (and within the window). Needs kv.n_tokens >= first_pos + n_q.
// `scratch` holds the call's buffers; one scratch serves one call at a time.
void paged_attention(const AttentionShape& s, const PagedKv& kv, const float* q, int64_t n_q,
                     int64_t first_pos, float* out, AttentionScratch& scratch,
                     const VecOps& vec = vec_ops());

// The buffers of paged_attention, kept between calls (work items, partial softmax states, each
// worker thread's scratch). reserve() sizes them for the largest call ahead, so that calls
// within those bounds allocate nothing; a larger call grows them.
class AttentionScratch {
 public:
  AttentionScratch();
  ~AttentionScratch();
  AttentionScratch(AttentionScratch&&) noexcept;
  AttentionScratch& operator=(AttentionScratch&&) noexcept;

  // For calls of up to max_queries queries over up to max_context tokens of a cache in blocks of
  // block_size, with up to omp_get_max_threads() threads.
  void reserve(const AttentionShape& s, int64_t block_size, int64_t max_queries,
               int64_t max_context);

 private:
  friend void paged_attention(const AttentionShape&, const PagedKv&, const float*, int64_t, int64_t,
                              float*, AttentionScratch&, const VecOps&);
  struct Buffers;
  std::unique_ptr<Buffers> b_;
};

// Dequantizes everything, then a plain softmax in double: the reference for tests. Like the
// kernels, it prescales the query in f32 and, for int8 keys, rounds it to int8
// (ops::round_query_int8), so that both compute the same scores.
void paged_attention_reference(const AttentionShape& s, const PagedKv& kv, const float* q,
                               int64_t n_q, int64_t first_pos, float* out);

}  // namespace gqa::ops
