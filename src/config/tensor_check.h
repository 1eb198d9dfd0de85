#pragma once
// Does a set of stored tensors hold what a config implies? Missing, mis-shaped and extra tensors.
// Pure: takes the stored names and shapes, so any reader of checkpoints can use it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "config/tensor_names.h"
#include "core/shape.h"

namespace gqa {

struct Misshaped {
  std::string name;
  std::vector<int64_t> expected;
  std::vector<int64_t> actual;
};

struct TensorCheck {
  TensorPrefix prefix;
  std::vector<ExpectedTensor> expected;  // what the config implies
  std::vector<std::string> missing;
  std::vector<Misshaped> misshaped;
  std::vector<std::string> extra;  // under the language model's names but not implied
  std::vector<std::string> other;  // other components (e.g. Gemma 3's vision tower)
  bool ok() const { return missing.empty() && misshaped.empty(); }
  // One line naming the first problem ("tensor 'x' is missing"), empty when ok().
  std::string first_problem(const std::string& where) const;
};

using TensorShapes = std::map<std::string, std::vector<int64_t>>;  // name -> shape

TensorCheck check_tensors(const TensorShapes& stored, const ModelConfig& m);

}  // namespace gqa
