#pragma once
// The buffers of a forward pass, kept between calls as llama2.c's RunState is: sized for the
// rows (tokens of every sequence in a batch) and the context a caller expects, so that a decode
// step allocates nothing. A call with more rows grows them; they never shrink.
#include <cstdint>
#include <functional>
#include <vector>

#include "config/model_config.h"
#include "ops/paged_attention.h"

namespace gqa::model {

struct Activations {
  // Row r of a pass: token ids[r] at position pos[r]; segment i's rows are
  // [first_row[i], first_row[i + 1]). out_rows: the rows whose logits are wanted.
  std::vector<int32_t> ids;
  std::vector<int64_t> pos, first_row, out_rows;
  std::vector<float> x, xn, o;  // [rows, hidden]: residual stream, its norm, a layer's output
  std::vector<float> q, att;    // [rows, q_dim]: queries, attention output
  std::vector<float> k, v;      // [rows, kv_dim]
  std::vector<float> g, u;      // [rows, intermediate]: MLP gate and up
  ops::AttentionScratch attention;
  // When set, sees every layer's attention input (after input_layernorm) of each pass:
  // (layer, [rows, hidden] row-major, rows). Calibration for gqa convert --calib.
  std::function<void(int64_t, const float*, int64_t)> attention_input_observer;

  // Room for `rows` rows of c's model in `segments` sequences, and attention over up to
  // max_context tokens of a cache in blocks of block_size. Allocates only past what it holds.
  void reserve(const ModelConfig& c, int64_t rows, int64_t segments, int64_t block_size,
               int64_t max_context);
  // Sets the float buffers' sizes to `rows` rows (within what reserve() made room for, no
  // allocation) and empties the index lists.
  void start_pass(const ModelConfig& c, int64_t rows);
};

}  // namespace gqa::model
