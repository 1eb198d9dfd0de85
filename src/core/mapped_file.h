#pragma once
// A read-only memory map of a whole file. Tensor views point into it; release() lets the kernel
// drop pages a streaming pass is done with, so resident memory stays bounded by what is in use.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace gqa {

class MappedFile {
 public:
  // Throws Error (kIo) naming the path when it cannot be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

  // Tells the kernel the bytes [offset, offset + n) are not needed for now (MADV_DONTNEED on the
  // whole pages inside the range). Reading them again later is still valid.
  void release(size_t offset, size_t n) const;

 private:
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace gqa
