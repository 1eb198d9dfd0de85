#pragma once
// Reads the golden logits written by tests/data/make_golden.py.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "run_command.h"

namespace gqa::test {

struct Golden {
  std::vector<int32_t> tokens;
  int64_t vocab = 0;
  std::vector<float> logits;  // [tokens][vocab], every position, causal
  const float* row(size_t t) const { return logits.data() + t * static_cast<size_t>(vocab); }
};

inline Golden read_golden(const std::filesystem::path& p) {
  const std::string b = slurp(p);
  if (b.size() < 20 || b.compare(0, 8, "GQAGOLD1") != 0)
    throw std::runtime_error(p.string() + ": not a golden file");
  uint32_t version, n, vocab;
  std::memcpy(&version, b.data() + 8, 4);
  std::memcpy(&n, b.data() + 12, 4);
  std::memcpy(&vocab, b.data() + 16, 4);
  if (version != 1)
    throw std::runtime_error(p.string() + ": golden version " + std::to_string(version));
  Golden g;
  g.vocab = vocab;
  g.tokens.resize(n);
  g.logits.resize(static_cast<size_t>(n) * vocab);
  if (b.size() != 20 + 4 * n + 4 * static_cast<size_t>(n) * vocab)
    throw std::runtime_error(p.string() + ": wrong size");
  std::memcpy(g.tokens.data(), b.data() + 20, 4 * n);
  std::memcpy(g.logits.data(), b.data() + 20 + 4 * n, 4 * g.logits.size());
  return g;
}

// max |a - b| / max |b| over one row of logits.
inline double relative_error(const float* a, const float* b, int64_t n) {
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  }
  return diff / scale;
}

}  // namespace gqa::test
