#include "convert/checkpoint_check.h"

#include <set>

#include "io/safetensors_header.h"

namespace gqa::convert {

TensorCheck check_tensors(const io::Checkpoint& ck, const ModelConfig& m) {
  std::set<std::string> names;
  for (const auto& e : ck.tensors()) names.insert(e.info->name);
  TensorCheck c;
  c.prefix = detect_prefix(names);
  c.expected = expected_tensors(m, c.prefix);
  std::set<std::string> implied;
  for (const auto& t : c.expected) {
    implied.insert(t.name);
    if (!ck.contains(t.name)) {
      c.missing.push_back(t.name);
      continue;
    }
    const auto v = ck.view(t.name);
    if (v.shape != t.shape) c.misshaped.push_back({t.name, t.shape, v.shape});
  }
  for (const auto& e : ck.tensors()) {
    const std::string& n = e.info->name;
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
           io::shape_string(misshaped.front().actual) + ", the config implies " +
           io::shape_string(misshaped.front().expected);
  return "";
}

}  // namespace gqa::convert
