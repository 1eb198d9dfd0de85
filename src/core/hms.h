#pragma once
// Durations as people read them on a clock: h:mm:ss, for progress lines and ETAs.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace gqa {

// 25.4 -> "0:00:25", 3725 -> "1:02:05"; negative or not finite -> "0:00:00".
inline std::string format_hms(double seconds) {
  const int64_t s = std::isfinite(seconds) && seconds > 0 ? std::llround(seconds) : 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

}  // namespace gqa
