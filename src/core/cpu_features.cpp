#include "core/cpu_features.h"

#if GQA_X86
#include <cpuid.h>
#endif

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace gqa {
namespace {

#if GQA_X86
// CPUID leaf/subleaf registers (zeros when the leaf does not exist).
struct CpuidRegs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};
CpuidRegs cpuid(unsigned leaf, unsigned sub) {
  CpuidRegs r;
  if (static_cast<unsigned>(__get_cpuid_max(0, nullptr)) < leaf) return r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
  return r;
}
bool bit(unsigned reg, int n) {
  return (reg >> n) & 1u;
}
// XCR0: which register states the OS saves (bits 1-2: XMM/YMM; 5-7: the AVX-512 state).
uint64_t xcr0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
#endif

// From CPUID directly (GCC's and clang's __builtin_cpu_supports know different feature names),
// with the OS's consent for the wide registers.
CpuFeatures detect_hardware() {
  CpuFeatures f;
#if GQA_X86
  const CpuidRegs l1 = cpuid(1, 0), l7 = cpuid(7, 0), l71 = cpuid(7, 1);
  const bool osxsave = bit(l1.c, 27);
  const uint64_t xcr = osxsave ? xcr0() : 0;
  const bool ymm_os = (xcr & 0x6) == 0x6, zmm_os = (xcr & 0xe6) == 0xe6;
  const bool avx2 = ymm_os && bit(l1.c, 28) /* AVX */ && bit(l1.c, 12) /* FMA */ &&
                    bit(l1.c, 29) /* F16C */ && bit(l7.b, 5) /* AVX2 */;
  const bool avx512 =
      avx2 && zmm_os && bit(l7.b, 16) /* F */ && bit(l7.b, 30) /* BW */ && bit(l7.b, 31) /* VL */;
  f.isa = avx512 ? Isa::kAvx512 : avx2 ? Isa::kAvx2 : Isa::kScalar;
  if (avx512) {
    f.avx512vnni = bit(l7.c, 11);
    f.avx512vbmi = bit(l7.c, 1);
    f.avx512bf16 = bit(l71.a, 5);
  }
#endif
  return f;
}

}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kScalar:
      break;
  }
  return "scalar";
}

CpuFeatures detect_cpu_features(const char* requested) {
  CpuFeatures f = detect_hardware();
  if (requested == nullptr || *requested == '\0') return f;
  const std::string want = requested;
  Isa cap = Isa::kScalar;
  const bool foundation_only = want == "avx512f";
  if (want == "avx512" || foundation_only)
    cap = Isa::kAvx512;
  else if (want == "avx2")
    cap = Isa::kAvx2;
  else if (want != "scalar")
    fail(ErrorKind::kInvalidArgument,
         "GQA_ISA='" + want + "' names no kernel level (avx512, avx512f, avx2 or scalar)");
  if (!f.at_least(cap))
    fail(ErrorKind::kInvalidArgument, "GQA_ISA=" + want + ", but this CPU runs at most " +
                                          std::string(isa_name(f.isa)) + " kernels");
  f.isa = cap;
  if (cap != Isa::kAvx512 || foundation_only) f.avx512vnni = f.avx512vbmi = f.avx512bf16 = false;
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect_cpu_features(std::getenv("GQA_ISA"));
  return features;
}

}  // namespace gqa
