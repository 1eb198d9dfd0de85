#include "convert/pooling.h"

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/float_codec.h"

namespace gqa::convert {
namespace {

// Rows per batch when copying: large enough for fast I/O, small against any tensor.
constexpr int64_t kCopyBatchElements = 1 << 20;

double block_stddev(const RowBlock& src) {
  std::vector<float> row(static_cast<size_t>(src.cols));
  const int64_t row_bytes = src.cols * dtype_size(src.dtype);
  double sum = 0, sum_sq = 0;
  for (int64_t r = 0; r < src.rows; ++r) {
    decode_to_f32(src.dtype, src.data + r * row_bytes, src.cols, row.data());
    for (float v : row) {
      sum += v;
      sum_sq += static_cast<double>(v) * v;
    }
  }
  const double n = static_cast<double>(src.rows * src.cols);
  const double mean = sum / n;
  return std::sqrt(std::max(0.0, sum_sq / n - mean * mean));
}

}  // namespace

void pool_rows(const RowBlock& src, const GroupPlan& plan, PoolMethod method, DType out_dtype,
               Rng& rng, const RowSink& sink) {
  const int64_t hd = plan.head_dim;
  if (src.rows != plan.source_kv_heads * hd)
    fail(ErrorKind::kInvalidArgument, "K/V block has " + std::to_string(src.rows) +
                                          " rows, expected " +
                                          std::to_string(plan.source_kv_heads * hd));
  const int64_t row_bytes = src.cols * dtype_size(src.dtype);
  const auto cols = static_cast<size_t>(src.cols);
  std::vector<float> acc(cols), row(cols);
  std::vector<std::byte> out(cols * static_cast<size_t>(dtype_size(out_dtype)));
  const double scale = method == PoolMethod::kRandom ? block_stddev(src) : 0.0;
  const int64_t r = plan.group_size();
  const auto rf = static_cast<float>(r);
  for (int64_t g = 0; g < plan.target_kv_heads; ++g) {
    for (int64_t i = 0; i < hd; ++i) {
      switch (method) {
        case PoolMethod::kMean:
          std::fill(acc.begin(), acc.end(), 0.0f);
          for (int64_t j = plan.first_source_head(g); j < plan.first_source_head(g) + r; ++j) {
            decode_to_f32(src.dtype, src.data + (j * hd + i) * row_bytes, src.cols, row.data());
            for (size_t c = 0; c < cols; ++c) acc[c] += row[c];
          }
          if (r > 1)
            for (float& v : acc) v /= rf;
          break;
        case PoolMethod::kFirst:
          decode_to_f32(src.dtype, src.data + (plan.first_source_head(g) * hd + i) * row_bytes,
                        src.cols, acc.data());
          break;
        case PoolMethod::kRandom:
          for (float& v : acc) v = static_cast<float>(scale * rng.normal());
          break;
        case PoolMethod::kSvd:  // rewrites whole layers (layer_rewrite.h), never row by row
          fail(ErrorKind::kInvalidArgument, "svd merging does not pool rows one by one");
      }
      encode_from_f32(out_dtype, acc.data(), src.cols, out.data());
      sink(out);
    }
  }
}

void copy_rows(const RowBlock& src, DType out_dtype, const RowSink& sink) {
  const int64_t in_size = dtype_size(src.dtype);
  const int64_t total = src.rows * src.cols;
  if (out_dtype == src.dtype) {
    // Plain bytes in large slices.
    const int64_t slice = kCopyBatchElements * 8;
    const int64_t bytes = total * in_size;
    for (int64_t off = 0; off < bytes; off += slice)
      sink({src.data + off, static_cast<size_t>(std::min(slice, bytes - off))});
    return;
  }
  std::vector<float> buf(static_cast<size_t>(std::min(total, kCopyBatchElements)));
  std::vector<std::byte> out(buf.size() * static_cast<size_t>(dtype_size(out_dtype)));
  for (int64_t off = 0; off < total; off += kCopyBatchElements) {
    const int64_t n = std::min(kCopyBatchElements, total - off);
    decode_to_f32(src.dtype, src.data + off * in_size, n, buf.data());
    encode_from_f32(out_dtype, buf.data(), n, out.data());
    sink({out.data(), static_cast<size_t>(n * dtype_size(out_dtype))});
  }
}

}  // namespace gqa::convert
