#include "cli/blas_kernel.h"

#include <cblas.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include "core/cpu_features.h"

namespace gqa::cli {

void ensure_fast_blas_kernel(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("GQA_KEEP_BLAS_KERNEL")) return;
  std::string chosen = openblas_get_corename();
  for (char& c : chosen) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const char* wanted = nullptr;
  if (cpu_features().at_least(Isa::kAvx512))
    wanted = "SkylakeX";
  else if (cpu_features().at_least(Isa::kAvx2))
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

}  // namespace gqa::cli
