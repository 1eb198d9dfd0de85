#include "model/resident_weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace gqa::model {
namespace {

struct Range {
  const std::byte* begin;
  const std::byte* end;
  size_t offset = 0;  // in the new buffer
};

size_t bytes_of(const ops::Matrix& m) {
  return static_cast<size_t>(m.rows * m.cols * dtype_size(m.dtype));
}

}  // namespace

HugeBuffer make_resident(std::span<ops::Matrix* const> matrices) {
  // The distinct byte ranges, overlapping ones merged, each 64-byte aligned in the new buffer.
  std::vector<Range> ranges;
  for (const ops::Matrix* m : matrices)
    if (m->data != nullptr) ranges.push_back({m->data, m->data + bytes_of(*m)});
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  std::vector<Range> merged;
  for (const Range& r : ranges) {
    if (!merged.empty() && r.begin <= merged.back().end)
      merged.back().end = std::max(merged.back().end, r.end);
    else
      merged.push_back(r);
  }
  size_t total = 0;
  for (Range& r : merged) {
    r.offset = total;
    total += (static_cast<size_t>(r.end - r.begin) + 63) / 64 * 64;
  }
  HugeBuffer buffer = allocate_huge_buffer(std::max<size_t>(total, 64), "model weights");
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (const Range& r : merged) {
    std::memcpy(buffer.get() + r.offset, r.begin, static_cast<size_t>(r.end - r.begin));
    // The source pages are no longer needed: dropping them as we go keeps the peak resident
    // memory near one copy. The read-only private file mapping stays valid (a later read faults
    // the page back in from the file).
    const uintptr_t b = (reinterpret_cast<uintptr_t>(r.begin) + page - 1) / page * page;
    const uintptr_t e = reinterpret_cast<uintptr_t>(r.end) / page * page;
    if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
  }
  for (ops::Matrix* m : matrices) {
    if (m->data == nullptr) continue;
    // The merged range holding m: the last one that begins at or before it.
    const auto it =
        std::upper_bound(merged.begin(), merged.end(), m->data,
                         [](const std::byte* p, const Range& r) { return p < r.begin; });
    const Range& r = *std::prev(it);
    m->data = buffer.get() + r.offset + (m->data - r.begin);
  }
  return buffer;
}

}  // namespace gqa::model
