#include "train/token_data.h"

#include <string>

#include "core/error.h"
#include "core/random.h"

namespace gqa::train {
namespace {

Batch make_batch(const std::vector<int32_t>& tokens, const std::vector<int64_t>& offsets,
                 int64_t seq) {
  const auto n = static_cast<int64_t>(offsets.size());
  torch::Tensor window = torch::empty({n, seq + 1}, torch::kLong);
  auto w = window.accessor<int64_t, 2>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t t = 0; t <= seq; ++t)
      w[b][t] = tokens[static_cast<size_t>(offsets[static_cast<size_t>(b)] + t)];
  return {window.narrow(1, 0, seq).contiguous(), window.narrow(1, 1, seq).contiguous()};
}

}  // namespace

BatchSampler::BatchSampler(const std::vector<int32_t>& tokens, int64_t batch, int64_t seq,
                           uint64_t seed)
    : tokens_(tokens), batch_(batch), seq_(seq), seed_(seed) {
  if (batch < 1 || seq < 1) fail(ErrorKind::kInvalidArgument, "batch and seq must be positive");
  if (static_cast<int64_t>(tokens.size()) < seq + 1)
    fail(ErrorKind::kInvalidArgument, "the training text has " + std::to_string(tokens.size()) +
                                          " tokens, fewer than one " +
                                          "window of --seq + 1 = " + std::to_string(seq + 1));
}

Batch BatchSampler::at(int64_t step) const {
  Rng rng(derive_seed(seed_, static_cast<uint64_t>(step)));
  const auto span = static_cast<uint64_t>(static_cast<int64_t>(tokens_.size()) - seq_);
  std::vector<int64_t> offsets(static_cast<size_t>(batch_));
  for (auto& o : offsets) o = static_cast<int64_t>(rng.next_u64() % span);
  return make_batch(tokens_, offsets, seq_);
}

std::vector<Batch> heldout_batches(const std::vector<int32_t>& tokens, int64_t batch, int64_t seq,
                                   int64_t max_windows) {
  const int64_t fit = (static_cast<int64_t>(tokens.size()) - 1) / seq;
  const int64_t windows = std::min(fit, max_windows);
  if (windows < 1)
    fail(ErrorKind::kInvalidArgument, "the held-out text has " + std::to_string(tokens.size()) +
                                          " tokens, fewer than one window of " +
                                          std::to_string(seq + 1));
  std::vector<Batch> out;
  for (int64_t w = 0; w < windows; w += batch) {
    std::vector<int64_t> offsets;
    for (int64_t k = w; k < std::min(windows, w + batch); ++k) offsets.push_back(k * seq);
    out.push_back(make_batch(tokens, offsets, seq));
  }
  return out;
}

}  // namespace gqa::train
