#include "convert/random_checkpoint.h"

#include <cmath>
#include <vector>

#include "config/hf_config_writer.h"
#include "config/tensor_names.h"
#include "core/error.h"
#include "core/float_codec.h"
#include "core/random.h"
#include "io/file_output.h"
#include "io/output_folder.h"
#include "io/weights_writer.h"

namespace gqa::convert {
namespace {

constexpr int64_t kChunk = 1 << 20;

}  // namespace

TensorInitializer::TensorInitializer(const ModelConfig& m, const ExpectedTensor& t, size_t index,
                                     const InitOptions& o)
    : kind_(t.init),
      is_bias_(t.name.ends_with(".bias")),
      std_(o.std),
      residual_std_(o.std / std::sqrt(2.0 * static_cast<double>(m.layers))),
      rng_(derive_seed(o.seed, index)) {}

void TensorInitializer::fill(float* out, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    float v = 0;
    switch (kind_) {
      case InitKind::kNormal:
        v = static_cast<float>(std_ * rng_.normal());
        break;
      case InitKind::kNormalScaled:
        v = static_cast<float>(residual_std_ * rng_.normal());
        break;
      case InitKind::kOnes:
        v = 1.0f;
        break;
      case InitKind::kZeros:
        // Biases of a fresh model are zero in HF; ours are small and random so that tests of
        // the bias paths (Qwen2 q/k/v biases, their pooling) exercise real numbers.
        v = is_bias_ ? static_cast<float>(std_ * rng_.normal()) : 0.0f;
        break;
    }
    out[k] = v;
  }
}

uint64_t write_random_checkpoint(const ModelConfig& model, const std::filesystem::path& out,
                                 const InitOptions& o,
                                 const std::function<void(uint64_t, uint64_t)>& progress) {
  if (!is_float_weight_dtype(o.dtype))
    fail(ErrorKind::kInvalidArgument, "--dtype must be f32, bf16 or f16");
  if (model.intermediate <= 0 || model.vocab <= 0)
    fail(ErrorKind::kInvalidArgument, "a checkpoint needs intermediate_size and vocab_size");
  model.validate();
  ModelConfig m = model;
  m.torch_dtype = torch_dtype_name(o.dtype);

  const std::vector<ExpectedTensor> tensors = expected_tensors(m);
  std::vector<io::TensorInfo> specs;
  for (const auto& t : tensors) specs.push_back({t.name, o.dtype, t.shape, 0, 0});
  io::OutputFolder folder(out, o.force);
  io::WeightsWriter writer(folder.tmp(), specs, {{"format", "pt"}}, o.max_shard_bytes);
  const uint64_t total = writer.total_bytes();
  uint64_t done = 0;
  std::vector<float> buf(kChunk);
  std::vector<std::byte> bytes(static_cast<size_t>(kChunk * dtype_size(o.dtype)));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const ExpectedTensor& t = tensors[i];
    TensorInitializer init(m, t, i, o);
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    for (int64_t off = 0; off < numel; off += kChunk) {
      const int64_t n = std::min(kChunk, numel - off);
      init.fill(buf.data(), n);
      encode_from_f32(o.dtype, buf.data(), n, bytes.data());
      const auto nbytes = static_cast<size_t>(n * dtype_size(o.dtype));
      writer.write(t.name, {bytes.data(), nbytes});
      done += nbytes;
      if (progress) progress(done, total);
    }
  }
  writer.finish();
  io::write_text_file(folder.tmp() / "config.json", to_hf_config_json(m));
  folder.commit();
  return total;
}

}  // namespace gqa::convert
