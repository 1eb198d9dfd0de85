#pragma once
// The one place that asks the CPU what it can do. Detected once per process; the environment
// variable GQA_ISA (avx512, avx512f, avx2 or scalar) lowers the level the kernels may use, so
// tests and benchmarks can run the AVX2 and scalar paths on an AVX-512 machine; avx512f keeps
// the AVX-512 level without the extensions below (the paths of AVX-512 CPUs that lack them).
// Kernels choose their path from cpu_features() alone, never from __builtin_cpu_supports.
#include <string_view>

// x86 intrinsics are compiled (behind target attributes and run-time checks) only where the
// compiler targets x86; elsewhere every kernel takes its scalar path.
#if defined(__x86_64__) || defined(__i386__)
#define GQA_X86 1
#else
#define GQA_X86 0
#endif

namespace gqa {

// Kernel levels, in order: each includes the one before.
//   kAvx2:   AVX2, FMA and F16C
//   kAvx512: the above and AVX-512 F, BW and VL
enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  Isa isa = Isa::kScalar;  // the widest level the kernels may use
  // Extensions past the level, each false when the level is below AVX-512.
  bool avx512vnni = false;  // int8 dot products (int8 KV keys)
  bool avx512vbmi = false;  // byte permutes (fp8 KV table lookups)
  bool avx512bf16 = false;  // bf16 dot products

  bool at_least(Isa level) const { return static_cast<int>(isa) >= static_cast<int>(level); }
};

// What this CPU has, lowered by GQA_ISA when it is set. Throws Error (kInvalidArgument) when
// GQA_ISA names no level or one the CPU lacks; the first call decides (main() makes it).
const CpuFeatures& cpu_features();

// The detection behind cpu_features(): the CPU's features capped at `requested` (the GQA_ISA
// text; null or empty: no cap). For tests.
CpuFeatures detect_cpu_features(const char* requested);

std::string_view isa_name(Isa isa);  // "avx512", "avx2", "scalar"

}  // namespace gqa
