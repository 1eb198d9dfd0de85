#include "io/checkpoint.h"

#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_parse.h"
#include "core/text_file.h"

namespace gqa::io {

namespace fs = std::filesystem;

const std::vector<std::string>& carried_file_names() {
  static const std::vector<std::string> names{"tokenizer.model",
                                              "tokenizer.json",
                                              "tokenizer_config.json",
                                              "special_tokens_map.json",
                                              "generation_config.json",
                                              "added_tokens.json",
                                              "vocab.json",
                                              "merges.txt",
                                              "chat_template.jinja",
                                              "training_state.json"};
  return names;
}

std::map<std::string, std::string> parse_safetensors_index(std::string_view text,
                                                           const std::string& source) {
  const nlohmann::json index = parse_json(text, source);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    fail(ErrorKind::kParse, source + ": no 'weight_map' object");
  std::map<std::string, std::string> weight_map;
  for (const auto& [tensor, file] : index["weight_map"].items()) {
    if (!file.is_string())
      fail(ErrorKind::kParse, source + ": weight_map['" + tensor + "'] is not a string");
    const std::string f = file.get<std::string>();
    if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
      fail(ErrorKind::kParse,
           source + ": weight_map['" + tensor + "'] names '" + f + "', not a file in the folder");
    weight_map[tensor] = f;
  }
  return weight_map;
}

Checkpoint::Checkpoint(const fs::path& dir) : dir_(dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail(ErrorKind::kIo,
         dir.string() + (fs::exists(dir, ec) ? ": is a file, not a checkpoint folder (a folder "
                                               "with config.json and *.safetensors)"
                                             : ": no such checkpoint folder"));
  if (!fs::exists(dir / "config.json", ec))
    fail(ErrorKind::kIo, dir.string() + ": no config.json in the checkpoint folder");
  config_text_ = read_text_file(dir / "config.json", kMaxConfigFileBytes);

  const fs::path index_path = dir / "model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;  // tensor -> file name
  if (fs::exists(index_path, ec)) {
    sharded_ = true;
    weight_map = parse_safetensors_index(read_text_file(index_path, kMaxConfigFileBytes),
                                         index_path.string());
    std::set<std::string> names;
    for (const auto& [tensor, file] : weight_map) names.insert(file);
    for (const auto& f : names) files_.push_back(dir / f);
  } else if (fs::exists(dir / "model.safetensors", ec)) {
    files_.push_back(dir / "model.safetensors");
  } else {
    fail(ErrorKind::kIo, dir.string() + ": no model.safetensors or model.safetensors.index.json");
  }

  for (const auto& f : files_) shards_.push_back(std::make_unique<SafetensorsFile>(f));
  for (const auto& shard : shards_) {
    for (const auto& t : shard->tensors()) {
      if (sharded_) {
        const auto it = weight_map.find(t.name);
        if (it == weight_map.end() || dir / it->second != shard->path())
          fail(ErrorKind::kParse, shard->path().string() + ": tensor '" + t.name +
                                      "' is not mapped to this file by the index");
      }
      if (by_name_.count(t.name))
        fail(ErrorKind::kParse,
             shard->path().string() + ": tensor '" + t.name + "' is stored twice");
      by_name_[t.name] = order_.size();
      order_.push_back({shard.get(), &t});
    }
  }
  for (const auto& [tensor, file] : weight_map)
    if (!by_name_.count(tensor))
      fail(ErrorKind::kParse, index_path.string() + ": tensor '" + tensor + "' is not in " + file);
}

const std::map<std::string, std::string>& Checkpoint::metadata() const {
  return shards_.front()->metadata();
}

TensorView Checkpoint::view(const std::string& name) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end())
    fail(ErrorKind::kInvalidArgument, dir_.string() + ": no tensor named '" + name + "'");
  return view(order_[it->second]);
}

std::vector<fs::path> Checkpoint::carried_files() const {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& name : carried_file_names())
    if (fs::is_regular_file(dir_ / name, ec)) out.push_back(dir_ / name);
  return out;
}

std::map<std::string, std::vector<int64_t>> Checkpoint::shapes() const {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& e : order_) out[e.info->name] = e.info->shape;
  return out;
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t n = 0;
  for (const auto& e : order_) n += e.info->nbytes();
  return n;
}

}  // namespace gqa::io
