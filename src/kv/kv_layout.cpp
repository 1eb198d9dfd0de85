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
  return KvLayout{m.layers, m.kv_heads, m.head_dim, block_size, dtype};
}

}  // namespace gqa::kv
