#include "core/byte_size.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

#include "core/error.h"

namespace gqa {
namespace {

struct Unit {
  std::string_view suffix;  // lower case
  double bytes;
};

constexpr double kKi = 1024.0;
constexpr std::array<Unit, 14> kUnits{{
    {"", 1},
    {"b", 1},
    {"k", kKi},
    {"kib", kKi},
    {"m", kKi* kKi},
    {"mib", kKi* kKi},
    {"g", kKi* kKi* kKi},
    {"gib", kKi* kKi* kKi},
    {"t", kKi* kKi* kKi* kKi},
    {"tib", kKi* kKi* kKi* kKi},
    {"kb", 1e3},
    {"mb", 1e6},
    {"gb", 1e9},
    {"tb", 1e12},
}};

}  // namespace

int64_t parse_byte_size(std::string_view s, bool zero_ok) {
  const std::string original(s);
  auto bad = [&](const std::string& why) -> int64_t {
    fail(ErrorKind::kInvalidArgument,
         "bad memory size '" + original + "': " + why + " (examples: 80GiB, 24GB, 512MiB)");
  };
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
                          s[i] == '-' || s[i] == '+'))
    ++i;
  double value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + i, value);
  if (i == 0 || ec != std::errc() || ptr != s.data() + i) return bad("no number");
  std::string suffix;
  for (size_t j = i; j < s.size(); ++j) {
    if (s[j] == ' ' && suffix.empty()) continue;
    suffix.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s[j]))));
  }
  for (const auto& u : kUnits) {
    if (suffix != u.suffix) continue;
    const double bytes = std::floor(value * u.bytes);
    if (!(bytes >= (zero_ok ? 0 : 1)) || std::signbit(value))
      return bad(zero_ok ? "must not be negative" : "must be at least one byte");
    if (bytes > std::ldexp(1.0, 60)) return bad("larger than 1 EiB");
    return static_cast<int64_t>(bytes);
  }
  return bad("unknown unit '" + suffix + "'");
}

}  // namespace gqa
