#include "config/tensor_check.h"

#include <set>

namespace gqa {

TensorCheck check_tensors(const TensorShapes& stored, const ModelConfig& m) {
  std::set<std::string> names;
  for (const auto& [name, shape] : stored) names.insert(name);
  TensorCheck c;
  c.prefix = detect_prefix(names);
  c.expected = expected_tensors(m, c.prefix);
  std::set<std::string> implied;
  for (const auto& t : c.expected) {
    implied.insert(t.name);
    const auto it = stored.find(t.name);
    if (it == stored.end()) {
      c.missing.push_back(t.name);
    } else if (it->second != t.shape) {
      c.misshaped.push_back({t.name, t.shape, it->second});
    }
  }
  for (const auto& [n, shape] : stored) {
    if (implied.count(n)) continue;
    const bool ours = n.starts_with(c.prefix.body) || n == c.prefix.head + "lm_head.weight";
    (ours ? c.extra : c.other).push_back(n);
  }
  return c;
}

std::string TensorCheck::first_problem(const std::string& where) const {
  if (!missing.empty()) return where + ": tensor '" + missing.front() + "' is missing";
  if (!misshaped.empty())
    return where + ": tensor '" + misshaped.front().name + "' has shape " +
           shape_string(misshaped.front().actual) + ", the config implies " +
           shape_string(misshaped.front().expected);
  return "";
}

}  // namespace gqa
