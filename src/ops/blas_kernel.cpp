#include "ops/blas_kernel.h"

#include <cblas.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <string>

namespace gqa::ops {

void ensure_fast_blas_kernel(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("GQA_KEEP_BLAS_KERNEL")) return;
  std::string chosen = openblas_get_corename();
  for (char& c : chosen) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const char* wanted = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    wanted = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    wanted = "Haswell";
  if (!wanted) return;
  // Kernel families at least as wide as the wanted one are left alone.
  for (const char* good : {"skylakex", "cooperlake", "sapphirerapids", "haswell", "zen"}) {
    if (chosen.find(good) != std::string::npos) {
      if (std::string(wanted) == "SkylakeX" && chosen.find("haswell") != std::string::npos)
        break;  // AVX2 kernels on an AVX-512 CPU: upgrade
      return;
    }
  }
  setenv("OPENBLAS_CORETYPE", wanted, 1);
  execv("/proc/self/exe", argv);  // returns only on failure: run on as we are
}

}  // namespace gqa::ops
