#pragma once
// The weight matrices copied out of the mapped checkpoint into one buffer on transparent huge
// pages. Decode streams every matrix once per token; from the page cache (4 KiB pages) that
// stream pays a TLB miss, a nested page walk under a hypervisor, every 4 KiB: on the development
// VM a two-thread bf16 stream read 35-36 GB/s from 4 KiB pages and 44-47 GB/s from huge pages.
#include <span>

#include "core/huge_buffer.h"
#include "ops/matrix.h"

namespace gqa::model {

// Copies the bytes under `matrices` into a new buffer and points each matrix there. Matrices
// that share bytes (tied embeddings, row ranges of Phi-3's fused projections) still share them
// afterwards. The sources must lie in read-only file mappings (a checkpoint's MappedFile): their
// pages are released as they are copied.
// Throws Error when the memory cannot be allocated.
HugeBuffer make_resident(std::span<ops::Matrix* const> matrices);

}  // namespace gqa::model
