#pragma once
// Seeded, platform-independent random numbers for weight init and the random-pooling baseline:
// the same seed gives the same checkpoint on any machine (std:: distributions do not promise
// that across standard libraries).
#include <cmath>
#include <cstdint>
#include <numbers>

namespace gqa {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next_u64() {  // splitmix64
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1]: never 0, so log() below is finite.
  double uniform() { return (static_cast<double>(next_u64() >> 11) + 1.0) * 0x1p-53; }
  // Standard normal (Box-Muller; the second value is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double t = 2.0 * std::numbers::pi * uniform();
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }

 private:
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// A seed for stream `index` derived from a base seed, so tensors get independent streams.
inline uint64_t derive_seed(uint64_t seed, uint64_t index) {
  Rng r(seed ^ (0x632be59bd9b4e019ull * (index + 1)));
  return r.next_u64();
}

}  // namespace gqa
