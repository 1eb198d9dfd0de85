#pragma once
// One .safetensors file, mapped read-only, its header validated on open.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "io/safetensors_header.h"
#include "io/tensor_view.h"

namespace gqa::io {

class SafetensorsFile {
 public:
  // Throws Error (kIo for an unreadable file, kParse for an invalid header).
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return map_.path(); }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }  // by offset
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws Error (kInvalidArgument) naming the file when there is no such tensor.
  TensorView view(const std::string& name) const;
  TensorView view(const TensorInfo& info) const;
  // Lets the kernel drop the pages of a tensor a streaming pass is done with.
  void release(const TensorInfo& info) const;

 private:
  MappedFile map_;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
};

}  // namespace gqa::io
