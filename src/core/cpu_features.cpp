#include "core/cpu_features.h"

#include <cstdlib>
#include <string>

#include "core/error.h"

namespace gqa {
namespace {

CpuFeatures detect_hardware() {
  CpuFeatures f;
#if GQA_X86
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  f.isa = avx512 ? Isa::kAvx512 : avx2 ? Isa::kAvx2 : Isa::kScalar;
  if (avx512) {
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.avx512vbmi = __builtin_cpu_supports("avx512vbmi");
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
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
  if (want == "avx512")
    cap = Isa::kAvx512;
  else if (want == "avx2")
    cap = Isa::kAvx2;
  else if (want != "scalar")
    fail(ErrorKind::kInvalidArgument,
         "GQA_ISA='" + want + "' names no kernel level (avx512, avx2 or scalar)");
  if (!f.at_least(cap))
    fail(ErrorKind::kInvalidArgument, "GQA_ISA=" + want + ", but this CPU runs at most " +
                                          std::string(isa_name(f.isa)) + " kernels");
  f.isa = cap;
  if (cap != Isa::kAvx512) f.avx512vnni = f.avx512vbmi = f.avx512bf16 = false;
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect_cpu_features(std::getenv("GQA_ISA"));
  return features;
}

}  // namespace gqa
