#include "io/weights_writer.h"

#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/interrupt.h"

namespace gqa::io {

WeightsWriter::WeightsWriter(std::filesystem::path dir, std::vector<TensorInfo> tensors,
                             std::map<std::string, std::string> metadata, uint64_t max_shard_bytes)
    : dir_(std::move(dir)), metadata_(std::move(metadata)) {
  std::set<std::string> names;
  uint64_t shard_bytes = 0;
  for (auto& t : tensors) {
    if (!names.insert(t.name).second)
      fail(ErrorKind::kInvalidArgument, "tensor '" + t.name + "' is declared twice");
    const uint64_t n =
        static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(dtype_size(t.dtype));
    total_bytes_ += n;
    if (shards_.empty() ||
        (max_shard_bytes > 0 && shard_bytes > 0 && shard_bytes + n > max_shard_bytes)) {
      shards_.emplace_back();
      shard_bytes = 0;
    }
    shards_.back().push_back(std::move(t));
    shard_bytes += n;
  }
  if (shards_.empty()) shards_.emplace_back();
  for (size_t i = 0; i < shards_.size(); ++i)
    files_.push_back(dir_ / (shards_.size() == 1 ? std::string("model.safetensors")
                                                 : fmt::format("model-{:05d}-of-{:05d}.safetensors",
                                                               i + 1, shards_.size())));
}

WeightsWriter::~WeightsWriter() = default;

void WeightsWriter::open_shard(size_t shard) {
  if (out_) out_->close();
  shard_ = shard;
  tensor_ = 0;
  written_ = 0;
  const std::string header = make_safetensors_header(shards_[shard], metadata_);
  out_ = std::make_unique<FileOutput>(files_[shard]);
  const uint64_t n = header.size();
  out_->write(std::as_bytes(std::span(&n, 1)));
  out_->write(std::as_bytes(std::span(header.data(), header.size())));
  opened_ = true;
}

void WeightsWriter::write(const std::string& name, std::span<const std::byte> bytes) {
  throw_if_interrupted();  // a SIGINT between chunks unwinds, removing the unfinished output
  if (!opened_) open_shard(0);
  // Move past finished (and empty) tensors, opening the next shard when one is done.
  while (true) {
    if (tensor_ < shards_[shard_].size() && written_ < shards_[shard_][tensor_].nbytes()) break;
    if (tensor_ < shards_[shard_].size() && shards_[shard_][tensor_].name == name && bytes.empty())
      return;
    if (tensor_ + 1 < shards_[shard_].size()) {
      ++tensor_;
      written_ = 0;
    } else if (shard_ + 1 < shards_.size()) {
      open_shard(shard_ + 1);
    } else {
      fail(ErrorKind::kInvalidArgument,
           "tensor '" + name + "' written after every declared tensor");
    }
  }
  const TensorInfo& t = shards_[shard_][tensor_];
  if (t.name != name)
    fail(ErrorKind::kInvalidArgument,
         "tensor '" + name + "' written while '" + t.name + "' is incomplete");
  if (bytes.size() > t.nbytes() - written_)
    fail(ErrorKind::kInvalidArgument, "tensor '" + name + "' gets more bytes than its shape holds");
  out_->write(bytes);
  written_ += bytes.size();
}

void WeightsWriter::finish() {
  if (!opened_) open_shard(0);
  // Remaining tensors must all be empty.
  while (true) {
    const auto& tensors = shards_[shard_];
    if (tensor_ < tensors.size() && written_ < tensors[tensor_].nbytes())
      fail(ErrorKind::kInvalidArgument, "tensor '" + tensors[tensor_].name + "' is incomplete");
    if (tensor_ + 1 < tensors.size()) {
      ++tensor_;
      written_ = 0;
    } else if (shard_ + 1 < shards_.size()) {
      open_shard(shard_ + 1);
    } else {
      break;
    }
  }
  out_->close();
  out_.reset();
  if (shards_.size() > 1) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", total_bytes_}};
    nlohmann::ordered_json map = nlohmann::ordered_json::object();
    for (size_t s = 0; s < shards_.size(); ++s)
      for (const auto& t : shards_[s]) map[t.name] = files_[s].filename().string();
    index["weight_map"] = map;
    write_text_file(dir_ / "model.safetensors.index.json", index.dump(2) + "\n");
  }
}

}  // namespace gqa::io
