#pragma once
// Streaming safetensors output: tensors are declared up front (so each file's header can be
// written first), then their bytes arrive in order, a chunk at a time; nothing holds the whole
// model. With a shard limit the tensors are split over model-0000i-of-0000N.safetensors files
// and model.safetensors.index.json maps each tensor to its file.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/file_output.h"
#include "io/safetensors_header.h"

namespace gqa::io {

class WeightsWriter {
 public:
  // `tensors` in the order their bytes will be written (begin/end are assigned here).
  // max_shard_bytes == 0: a single model.safetensors. Otherwise a new shard starts before a
  // tensor that would take the current one past the limit. Throws Error for duplicate names.
  WeightsWriter(std::filesystem::path dir, std::vector<TensorInfo> tensors,
                std::map<std::string, std::string> metadata, uint64_t max_shard_bytes);
  ~WeightsWriter();

  // The next bytes of tensor `name`, which must be the tensor being written. Throws Error when
  // the name is out of order or more bytes arrive than the tensor holds.
  void write(const std::string& name, std::span<const std::byte> bytes);
  // Checks every tensor is complete, closes the last file, writes the index when sharded.
  void finish();

  const std::vector<std::filesystem::path>& files() const { return files_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  void open_shard(size_t shard);
  std::filesystem::path dir_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::vector<TensorInfo>> shards_;
  std::vector<std::filesystem::path> files_;
  std::unique_ptr<FileOutput> out_;
  size_t shard_ = 0;      // current shard
  size_t tensor_ = 0;     // current tensor within it
  uint64_t written_ = 0;  // bytes of the current tensor written so far
  uint64_t total_bytes_ = 0;
  bool opened_ = false;
};

}  // namespace gqa::io
