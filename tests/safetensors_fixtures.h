#pragma once
// Building safetensors files in tests: raw files from a header string and data, and random
// tensors written through WeightsWriter.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/safetensors_header.h"
#include "io/weights_writer.h"

namespace gqa::test {

// 8-byte length + header text + data, exactly as given (no validation).
inline std::vector<std::byte> raw_safetensors(const std::string& header, size_t data_bytes,
                                              uint64_t claimed_length = UINT64_MAX) {
  std::vector<std::byte> f(8 + header.size() + data_bytes);
  const uint64_t n = claimed_length == UINT64_MAX ? header.size() : claimed_length;
  std::memcpy(f.data(), &n, 8);
  std::memcpy(f.data() + 8, header.data(), header.size());
  for (size_t i = 0; i < data_bytes; ++i) f[8 + header.size() + i] = static_cast<std::byte>(i * 7);
  return f;
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<std::byte>& b) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

struct RandomTensor {
  io::TensorInfo info;
  std::vector<std::byte> bytes;
};

inline std::vector<RandomTensor> random_tensors(uint64_t seed, int count) {
  std::mt19937_64 rng(seed);
  const DType types[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kF8E4M3, DType::kF8E5M2,
                         DType::kI8,  DType::kU8,  DType::kI32,  DType::kI64};
  std::vector<RandomTensor> out;
  for (int i = 0; i < count; ++i) {
    RandomTensor t;
    t.info.name = "t" + std::to_string(i) + (i % 3 ? ".weight" : ".bias");
    t.info.dtype = types[rng() % 9];
    const int rank = static_cast<int>(rng() % 4);  // scalars too
    for (int d = 0; d < rank; ++d) t.info.shape.push_back(static_cast<int64_t>(rng() % 37));
    int64_t n = 1;
    for (int64_t d : t.info.shape) n *= d;
    t.bytes.resize(static_cast<size_t>(n * dtype_size(t.info.dtype)));
    for (auto& b : t.bytes) b = static_cast<std::byte>(rng());
    out.push_back(std::move(t));
  }
  return out;
}

inline std::vector<std::filesystem::path> write_tensors(
    const std::filesystem::path& dir, const std::vector<RandomTensor>& tensors,
    const std::map<std::string, std::string>& metadata, uint64_t max_shard) {
  std::vector<io::TensorInfo> specs;
  for (const auto& t : tensors) specs.push_back(t.info);
  io::WeightsWriter w(dir, specs, metadata, max_shard);
  for (const auto& t : tensors) {
    // In two chunks, to exercise streaming.
    const size_t half = t.bytes.size() / 2;
    w.write(t.info.name, {t.bytes.data(), half});
    w.write(t.info.name, {t.bytes.data() + half, t.bytes.size() - half});
  }
  w.finish();
  return w.files();
}

}  // namespace gqa::test
