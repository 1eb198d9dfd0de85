#include "cli/human_format.h"

#include <array>
#include <cmath>
#include <string>

#include <fmt/format.h>

namespace gqa::cli {
namespace {

constexpr std::array<const char*, 6> kUnits{"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

std::string with_unit(int64_t bytes, double min_value) {
  size_t u = 0;
  auto v = static_cast<double>(bytes);
  while (u + 1 < kUnits.size() && v / 1024.0 >= min_value) {
    v /= 1024.0;
    ++u;
  }
  return format_decimal(v) + " " + kUnits[u];
}

}  // namespace

std::string format_decimal(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  std::string s = fmt::format("{:.3f}", v);
  while (s.size() > 1 && s.back() == '0' && s[s.size() - 3] != '.') s.pop_back();
  return s;
}

std::string format_bytes(int64_t bytes) {
  return with_unit(bytes, 10.0);
}
std::string format_bytes_small(int64_t bytes) {
  return with_unit(bytes, 0.1);
}

std::string format_ratio(double r) {
  return fmt::format("{:.2f}x", r);
}

std::string format_grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return (n < 0 ? "-" : "") + out;
}

std::string format_params(int64_t n) {
  const auto v = static_cast<double>(n);
  if (v >= 1e9) return fmt::format("{:.2f} B", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.0f} M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.0f} K", v / 1e3);
  return std::to_string(n);
}

}  // namespace gqa::cli
