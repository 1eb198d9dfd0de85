#pragma once
// Where each K and V vector lives inside a cache block.
//
// A block holds block_size tokens of every layer's K and V, laid out
//   [layer][kv_head][K run, then V run]
// where a V run is [token in block][one stored vector] and a K run is dimension-major,
// [dimension][token in block] (int8: the block_size f32 scales first, then
// [dimension / 4][token in block][dimension % 4]; ops/kv_quant.h). Why:
//   - one decode step, for one KV head of one layer, reads two contiguous runs per block, once
//     for all n_rep query heads of the group;
//   - scoring a query against keys is a dot product per token. Dimension-major keys make one
//     dimension of 16 tokens one vector load, so the scores of 16 tokens build up in one register
//     with broadcast FMAs (no horizontal sum per token), and a small matrix of the group's queries
//     reuses each load. int8 keys keep four dimensions of a token together, the operand shape of
//     a VNNI dot product (four byte products summed per 32-bit lane). Values are consumed as
//     p_j * v_j, which wants token-major rows.
// Blocks span all layers so that one allocation serves a token in every layer, as in vLLM; a
// block is 2 * block_size * h_kv * vector_bytes * L bytes, exactly the planner's block_bytes.
// When full-attention and sliding-window layers mix (Gemma 3: five local layers to one global),
// a block spans one layer instead and every layer has its own block table, so that a sliding
// layer gives back the blocks that fall out of its window and keeps what the planner's per-layer
// figure says (plan/kv_footprint.h); a model whose layers all slide (Mistral) gives back whole
// all-layer blocks.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "config/model_config.h"
#include "core/kv_dtype.h"

namespace gqa::kv {

struct KvLayout {
  int64_t layers = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t block_size = 16;
  KvDtype dtype = KvDtype::kF32;
  int64_t block_layers = 0;            // layers one block spans: all, or 1 (see above)
  std::vector<int64_t> table_windows;  // per block table: its layers' window, 0 for full

  // Throws Error for a dtype the cache does not store (q8_0, q4_0) or a bad block size.
  static KvLayout for_model(const ModelConfig& m, KvDtype dtype, int64_t block_size);

  int64_t tables() const { return static_cast<int64_t>(table_windows.size()); }
  int64_t table_of(int64_t layer) const { return layer / block_layers; }
  size_t vector_bytes() const { return static_cast<size_t>(kv_vector_bytes(dtype, head_dim)); }
  size_t run_bytes() const { return static_cast<size_t>(block_size) * vector_bytes(); }
  size_t block_bytes() const {
    return static_cast<size_t>(block_layers * kv_heads * 2) * run_bytes();
  }
  // Blocks a sequence takes to hold `tokens` positions in every table (a call's peak: the
  // tokens of one forward call are all stored before attention reads them).
  int64_t blocks_for_tokens(int64_t tokens) const {
    return tables() * ((tokens + block_size - 1) / block_size);
  }
  // Bytes from a block's start to the K (V) run of (layer, kv_head).
  size_t k_offset(int64_t layer, int64_t kv_head) const {
    return static_cast<size_t>(((layer % block_layers) * kv_heads + kv_head) * 2) * run_bytes();
  }
  size_t v_offset(int64_t layer, int64_t kv_head) const {
    return k_offset(layer, kv_head) + run_bytes();
  }
};

}  // namespace gqa::kv
