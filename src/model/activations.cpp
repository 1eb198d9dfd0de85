#include "model/activations.h"

namespace gqa::model {
namespace {

void reserve_rows(std::vector<float>& buf, int64_t rows, int64_t width) {
  buf.reserve(static_cast<size_t>(rows * width));
}
void resize_rows(std::vector<float>& buf, int64_t rows, int64_t width) {
  buf.resize(static_cast<size_t>(rows * width));
}

}  // namespace

void Activations::reserve(const ModelConfig& c, int64_t rows, int64_t segments, int64_t block_size,
                          int64_t max_context) {
  ids.reserve(static_cast<size_t>(rows));
  pos.reserve(static_cast<size_t>(rows));
  out_rows.reserve(static_cast<size_t>(rows));
  first_row.reserve(static_cast<size_t>(segments + 1));
  for (auto* b : {&x, &xn, &o}) reserve_rows(*b, rows, c.hidden);
  for (auto* b : {&q, &att}) reserve_rows(*b, rows, c.q_dim());
  for (auto* b : {&k, &v}) reserve_rows(*b, rows, c.kv_dim());
  for (auto* b : {&g, &u}) reserve_rows(*b, rows, c.intermediate);
  attention.reserve({c.heads, c.kv_heads, c.head_dim, 0}, block_size, rows, max_context);
}

void Activations::start_pass(const ModelConfig& c, int64_t rows) {
  ids.clear();
  pos.clear();
  first_row.clear();
  out_rows.clear();
  for (auto* b : {&x, &xn, &o}) resize_rows(*b, rows, c.hidden);
  for (auto* b : {&q, &att}) resize_rows(*b, rows, c.q_dim());
  for (auto* b : {&k, &v}) resize_rows(*b, rows, c.kv_dim());
  for (auto* b : {&g, &u}) resize_rows(*b, rows, c.intermediate);
}

}  // namespace gqa::model
