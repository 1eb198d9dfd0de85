#include "io/token_file.h"

#include <cstring>
#include <span>
#include <string>

#include "core/error.h"
#include "core/mapped_file.h"
#include "io/file_output.h"

namespace gqa::io {
namespace {

constexpr char kMagic[8] = {'G', 'Q', 'A', 'T', 'O', 'K', 'S', '1'};

}  // namespace

void write_token_file(const std::filesystem::path& path, const std::vector<int32_t>& ids) {
  FileOutput out(path);
  out.write(std::as_bytes(std::span(kMagic)));
  const uint64_t n = ids.size();
  out.write(std::as_bytes(std::span(&n, 1)));
  out.write(std::as_bytes(std::span(ids)));
  out.close();
}

std::vector<int32_t> read_token_file(const std::filesystem::path& path) {
  const gqa::MappedFile file(path);
  const std::span<const std::byte> bytes = file.bytes();
  uint64_t n = 0;
  if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    fail(ErrorKind::kParse, path.string() + ": not a gqa token file");
  std::memcpy(&n, bytes.data() + 8, 8);
  if (n > (bytes.size() - 16) / 4 || bytes.size() != 16 + n * 4)
    fail(ErrorKind::kParse, path.string() + ": truncated token file (" +
                                std::to_string(bytes.size()) + " bytes for " + std::to_string(n) +
                                " ids)");
  std::vector<int32_t> ids(n);
  std::memcpy(ids.data(), bytes.data() + 16, n * 4);
  return ids;
}

}  // namespace gqa::io
