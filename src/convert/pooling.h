#pragma once
// Pooling the rows of a K or V projection (or bias) from source KV heads to target KV heads.
// Rows are head-major: head j owns rows [j * head_dim, (j + 1) * head_dim). Each output row is
// produced on its own, so memory stays at a few rows whatever the model size.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "convert/group_plan.h"
#include "core/dtype.h"
#include "core/matrix_view.h"
#include "core/random.h"

namespace gqa::convert {

// A block of rows inside a stored tensor: `rows` rows of `cols` elements, row-major.
using RowBlock = MatrixView;

// Receives each output row's bytes, in order.
using RowSink = std::function<void(std::span<const std::byte>)>;

// Writes plan.target_kv_heads * head_dim rows of `cols` elements in `out_dtype`:
//   mean:   row (g, i) = mean over j in group g of source row (j, i), accumulated in f32;
//   first:  row (g, i) = source row (first head of g, i);
//   random: every element ~ N(0, s^2), s the standard deviation of the whole source block,
//           drawn from `rng`.
void pool_rows(const RowBlock& src, const GroupPlan& plan, PoolMethod method, DType out_dtype,
               Rng& rng, const RowSink& sink);

// Converts a whole block to out_dtype row by row (a plain copy when the dtypes match).
void copy_rows(const RowBlock& src, DType out_dtype, const RowSink& sink);

}  // namespace gqa::convert
