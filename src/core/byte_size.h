#pragma once
// Memory sizes written by people: "80GiB", "24 GB", "512MiB", "1.5TiB", "1000000".
#include <cstdint>
#include <string_view>

namespace gqa {

// Binary units (KiB, MiB, GiB, TiB, and the bare K, M, G, T, which mean the same) and decimal
// units (KB, MB, GB, TB); no unit or "B" means bytes. Case-insensitive, optional space.
// Throws Error on anything else, on negative sizes, on zero unless zero_ok (a weight size of 0:
// the KV cache alone), and beyond 2^60 bytes.
int64_t parse_byte_size(std::string_view s, bool zero_ok = false);

}  // namespace gqa
