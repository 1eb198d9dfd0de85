#include "kv/kv_layout.h"

#include <string>

#include "core/error.h"
#include "ops/kv_quant.h"

namespace gqa::kv {

KvLayout KvLayout::for_model(const ModelConfig& m, KvDtype dtype, int64_t block_size) {
  ops::check_cache_dtype(dtype);
  if (block_size <= 0 || block_size > 4096)
    fail(ErrorKind::kInvalidArgument,
         "--block-size must be between 1 and 4096, got " + std::to_string(block_size));
  KvLayout l{m.layers, m.kv_heads, m.head_dim, block_size, dtype, m.layers, {}};
  auto window = [&](int64_t layer) {
    const bool sliding = !m.layer_types.empty() &&
                         m.layer_types[static_cast<size_t>(layer)] == LayerAttention::kSliding;
    return sliding ? *m.sliding_window : int64_t{0};
  };
  bool mixed = false;
  for (int64_t layer = 1; layer < m.layers; ++layer) mixed |= window(layer) != window(0);
  if (mixed) {
    l.block_layers = 1;
    for (int64_t layer = 0; layer < m.layers; ++layer) l.table_windows.push_back(window(layer));
  } else {
    l.table_windows.push_back(m.layers > 0 ? window(0) : 0);
  }
  return l;
}

}  // namespace gqa::kv
