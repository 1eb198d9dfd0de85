#pragma once
// Numbers for people: binary byte units (KiB, MiB, GiB), ratios, parameter counts.
#include <cstdint>
#include <string>

namespace gqa::cli {

// A decimal with at most three places, at least two unless it is whole: 0.50, 0.125, 2048.
std::string format_decimal(double v);

// Totals: the largest binary unit in which the value is at least 10 (2048 MiB, 20 GiB, 512 MiB,
// 6912 B). Matches how the GQA lesson writes its figures.
std::string format_bytes(int64_t bytes);

// Per-token sizes: the largest binary unit in which the value is at least 0.1
// (0.50 MiB, 0.125 MiB, 6.75 KiB).
std::string format_bytes_small(int64_t bytes);

std::string format_ratio(double r);     // "4.00x"
std::string format_grouped(int64_t n);  // "6,738,415,616"
std::string format_params(int64_t n);   // "6.74 B", "135 M"

}  // namespace gqa::cli
