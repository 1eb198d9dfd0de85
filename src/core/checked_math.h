#pragma once
// int64 arithmetic that throws instead of overflowing: KV and weight sizes of absurd inputs
// (a billion-token context times a huge model) must give an error, never a wrapped number.
#include <cstdint>
#include <string>

#include "core/error.h"

namespace gqa {

inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    fail(ErrorKind::kInvalidArgument, std::string(what) + " overflows 64-bit arithmetic");
  return r;
}

inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    fail(ErrorKind::kInvalidArgument, std::string(what) + " overflows 64-bit arithmetic");
  return r;
}

// ceil(a / b) for a >= 0, b > 0.
inline int64_t ceil_div(int64_t a, int64_t b) {
  return a / b + (a % b != 0 ? 1 : 0);
}

}  // namespace gqa
