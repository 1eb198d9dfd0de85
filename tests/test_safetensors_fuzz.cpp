// Thousands of mutated safetensors headers through the parser, built with AddressSanitizer and
// UBSan: every one must either parse or throw gqa::Error, never crash or read out of bounds.
// The file bytes live in an exactly-sized heap buffer so any over-read is caught.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors_header.h"

namespace gqa::io {
namespace {

std::vector<std::byte> seed_file() {
  const std::string h =
      R"({"__metadata__":{"format":"pt"},"model.embed.weight":{"dtype":"BF16","shape":[4,3],"data_offsets":[0,24]},"model.norm.weight":{"dtype":"F32","shape":[3],"data_offsets":[24,36]},"ids":{"dtype":"I64","shape":[1],"data_offsets":[36,44]}})";
  std::vector<std::byte> f(8 + h.size() + 44);
  const uint64_t n = h.size();
  std::memcpy(f.data(), &n, 8);
  std::memcpy(f.data() + 8, h.data(), h.size());
  return f;
}

void mutate(std::vector<std::byte>& f, std::mt19937_64& rng) {
  const char interesting[] = {'{', '}', '[', ']', '"',  ':', ',',
                              '-', '0', '9', 'e', '\\', ' ', '\0'};
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    switch (rng() % 6) {
      case 0:  // flip a byte anywhere, the length prefix included
        f[rng() % f.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
        break;
      case 1:  // a JSON-significant character in the header
        f[8 + rng() % (f.size() - 8)] =
            static_cast<std::byte>(interesting[rng() % sizeof(interesting)]);
        break;
      case 2:  // truncate
        f.resize(rng() % f.size());
        if (f.empty()) return;
        break;
      case 3: {  // a random length prefix, often near the real one
        uint64_t n = 0;
        if (f.size() >= 8) std::memcpy(&n, f.data(), 8);
        n = (rng() % 2) ? n + (rng() % 17) - 8 : rng();
        if (f.size() >= 8) std::memcpy(f.data(), &n, 8);
        break;
      }
      case 4: {  // a digit run replaced by a big number
        const std::string big = std::to_string(rng());
        const size_t at = 8 + rng() % (f.size() - 8);
        for (size_t i = 0; i < big.size() && at + i < f.size(); ++i)
          f[at + i] = static_cast<std::byte>(big[i]);
        break;
      }
      default:  // append junk
        for (int i = 0; i < 8; ++i) f.push_back(static_cast<std::byte>(rng()));
        break;
    }
    if (f.size() < 9) return;
  }
}

TEST(SafetensorsFuzz, MutatedHeadersParseOrThrowButNeverCrash) {
  std::mt19937_64 rng(2023);
  const auto base = seed_file();
  int parsed = 0, rejected = 0;
  for (int i = 0; i < 5000; ++i) {
    std::vector<std::byte> f = base;
    mutate(f, rng);
    // An exactly-sized allocation: ASan flags any read past its end.
    const auto buf = std::make_unique<std::byte[]>(f.size());
    std::memcpy(buf.get(), f.data(), f.size());
    try {
      const auto h = parse_safetensors_header({buf.get(), f.size()}, "fuzz.safetensors");
      for (const auto& t : h.tensors) ASSERT_LE(h.data_offset + t.end, f.size());
      ++parsed;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_EQ(parsed + rejected, 5000);
  EXPECT_GT(rejected, 4000);  // most mutations break something
  EXPECT_GT(parsed, 0);       // and a few (e.g. metadata edits) leave a valid file
}

}  // namespace
}  // namespace gqa::io
