#pragma once
// A Hugging Face checkpoint folder: config.json, model.safetensors or shards listed in
// model.safetensors.index.json, and the tokenizer and generation files carried with them.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/safetensors_file.h"

namespace gqa::io {

// model.safetensors.index.json's weight_map: tensor name -> file name (a plain name in the
// folder, never a path). Throws Error (kParse) naming `source`.
std::map<std::string, std::string> parse_safetensors_index(std::string_view text,
                                                           const std::string& source);

// Files a converter copies unchanged from source to destination when present.
const std::vector<std::string>& carried_file_names();

class Checkpoint {
 public:
  struct Entry {
    const SafetensorsFile* file;
    const TensorInfo* info;
  };

  // Opens and validates every shard header and the index. Throws Error naming the file.
  explicit Checkpoint(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& config_text() const { return config_text_; }
  const std::map<std::string, std::string>& metadata() const;  // of the first file
  // Every tensor, in storage order (file by file, by offset): the order a streaming pass reads.
  const std::vector<Entry>& tensors() const { return order_; }
  bool contains(const std::string& name) const { return by_name_.count(name) != 0; }
  TensorView view(const std::string& name) const;
  TensorView view(const Entry& e) const { return e.file->view(*e.info); }
  void release(const Entry& e) const { e.file->release(*e.info); }
  const std::vector<std::filesystem::path>& weight_files() const { return files_; }
  bool sharded() const { return sharded_; }
  // Tokenizer and generation files present in the folder (full paths).
  std::vector<std::filesystem::path> carried_files() const;
  uint64_t total_bytes() const;
  // name -> shape of every stored tensor.
  std::map<std::string, std::vector<int64_t>> shapes() const;

 private:
  std::filesystem::path dir_;
  std::string config_text_;
  std::vector<std::filesystem::path> files_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<Entry> order_;
  std::map<std::string, size_t> by_name_;  // index into order_
  bool sharded_ = false;
};

}  // namespace gqa::io
