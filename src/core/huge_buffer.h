#pragma once
// Large buffers that are read in scattered runs (the KV block pool) or streamed (the bandwidth
// probe): aligned to 2 MiB from 2 MiB up and advised to be backed by transparent huge pages,
// so that reading them costs few TLB misses (each a nested page walk under a hypervisor).
// Smaller ones are 64-byte aligned. Contents are uninitialized.
#include <cstddef>
#include <memory>

namespace gqa {

struct FreeBuffer {
  void operator()(std::byte* p) const;
};
using HugeBuffer = std::unique_ptr<std::byte[], FreeBuffer>;

// Throws Error (kInvalidArgument, naming `what` and the size) when the memory is not there.
HugeBuffer allocate_huge_buffer(size_t bytes, const char* what);

}  // namespace gqa
