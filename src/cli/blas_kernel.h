#pragma once
// OpenBLAS picks its GEMM kernels from the CPU model it recognises. On virtual CPUs that report
// a generic model ("Intel Xeon Processor") Debian's OpenBLAS falls back to its SSE3 (Prescott)
// kernels, which halves prefill and evaluation speed here; OPENBLAS_CORETYPE, read when the
// library loads, overrides the choice. This runs the program again with it set when the CPU
// has AVX-512 or AVX2 and OpenBLAS chose something older.
namespace gqa::cli {

// Call first thing in main. Returns only when no restart is needed (or it failed, in which
// case the program simply runs with the kernels OpenBLAS chose). GQA_KEEP_BLAS_KERNEL=1 turns
// it off; an OPENBLAS_CORETYPE already set is respected. The CPU's level is cpu_features()'s,
// so GQA_ISA=avx2 asks for AVX2 kernels and GQA_ISA=scalar leaves OpenBLAS's own choice.
void ensure_fast_blas_kernel(char** argv);

}  // namespace gqa::cli
