#include "ops/matmul_onednn.h"

#include <dnnl.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/cpu_features.h"
#include "ops/matvec_avx512bf16.h"

namespace gqa::ops {
namespace {

using dnnl::memory;
using Shape = std::tuple<int64_t, int64_t, int64_t>;  // n, rows, cols

// Primitives built for more shapes than this are dropped and built again when asked for.
constexpr size_t kMaxCachedShapes = 64;

memory::desc input_desc(int64_t n, int64_t cols) {  // the bf16 rows of round_inputs_to_bf16
  return memory::desc({n, cols}, memory::data_type::bf16, {bf16_input_stride(cols), 1});
}
memory::desc weight_desc(int64_t rows, int64_t cols) {  // W^T: [cols, rows], W row-major
  return memory::desc({cols, rows}, memory::data_type::bf16, memory::format_tag::ba);
}
memory::desc output_desc(int64_t n, int64_t rows) {
  return memory::desc({n, rows}, memory::data_type::f32, memory::format_tag::ab);
}

class OneDnn {
 public:
  OneDnn() : engine_(dnnl::engine::kind::cpu, 0) {}

  const dnnl::engine& engine() const { return engine_; }

  // The primitive for this shape (a handle sharing ownership, so it outlives the cache's copy),
  // or none when oneDNN offers only a reference kernel for it.
  std::optional<dnnl::matmul> primitive(int64_t n, int64_t rows, int64_t cols) {
    const std::lock_guard lock(mutex_);
    const Shape key{n, rows, cols};
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    if (cache_.size() >= kMaxCachedShapes) cache_.clear();
    std::optional<dnnl::matmul> made;
    try {
      const dnnl::matmul::desc d(input_desc(n, cols), weight_desc(rows, cols),
                                 output_desc(n, rows));
      const dnnl::matmul::primitive_desc pd(d, engine_);
      if (std::string(pd.impl_info_str()).rfind("ref", 0) != 0) made.emplace(pd);
    } catch (const dnnl::error&) {
      // no kernel for this shape: the caller takes the f32 path
    }
    cache_[key] = made;
    return made;
  }

 private:
  dnnl::engine engine_;
  std::mutex mutex_;
  std::map<Shape, std::optional<dnnl::matmul>> cache_;
};

OneDnn& onednn() {
  static OneDnn instance;
  return instance;
}

}  // namespace

bool have_matmul_onednn_bf16() {
  static const bool available = [] {
    if (!cpu_features().avx512bf16) return false;
    try {
      return onednn().primitive(16, 64, 64).has_value();
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return available;
}

bool matmul_onednn_bf16(const uint16_t* w, int64_t rows, int64_t cols, const float* x, int64_t n,
                        float* y) {
  const std::optional<dnnl::matmul> mm = onednn().primitive(n, rows, cols);
  if (!mm) return false;
  const uint16_t* xb = round_inputs_to_bf16(x, n, cols);
  const dnnl::engine& eng = onednn().engine();
  memory src(input_desc(n, cols), eng, const_cast<uint16_t*>(xb));     // only read
  memory wei(weight_desc(rows, cols), eng, const_cast<uint16_t*>(w));  // only read
  memory dst(output_desc(n, rows), eng, y);
  dnnl::stream s(eng);
  mm->execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
  s.wait();
  return true;
}

}  // namespace gqa::ops
