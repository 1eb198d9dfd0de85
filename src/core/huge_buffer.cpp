#include "core/huge_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <string>

#include "core/error.h"

namespace gqa {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

void FreeBuffer::operator()(std::byte* p) const {
  std::free(p);
}

HugeBuffer allocate_huge_buffer(size_t bytes, const char* what) {
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  const size_t rounded = (bytes + align - 1) / align * align;  // aligned_alloc: a multiple
  HugeBuffer buffer(static_cast<std::byte*>(std::aligned_alloc(align, rounded)));
  if (!buffer)
    fail(ErrorKind::kInvalidArgument,
         "cannot allocate " + std::to_string(bytes) + " bytes of " + what);
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) madvise(buffer.get(), rounded, MADV_HUGEPAGE);  // advice only
#endif
  return buffer;
}

}  // namespace gqa
