#include "tokenizer/file_encoder.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/text_file.h"

namespace gqa::tok {

size_t safe_cut(std::string_view text) {
  for (size_t i = text.size(); i-- > 1;) {
    const auto next = static_cast<unsigned char>(text[i]);
    if (text[i - 1] == '\n' && next > 0x20 && next < 0x7f) return i;
  }
  return 0;
}

uint64_t encode_file(const Tokenizer& tok, const std::filesystem::path& file, bool add_bos,
                     const std::function<void(std::span<const int32_t> ids)>& sink,
                     size_t block_bytes, bool special_text) {
  uint64_t size = 0;
  const int fd = open_regular_file(file, size);
  std::string pending;  // read, not yet encoded
  std::vector<char> block(block_bytes);
  uint64_t total = 0;
  bool first = true;
  auto encode = [&](std::string_view piece) {
    const std::vector<int32_t> ids = tok.encode(std::string(piece), first && add_bos, special_text);
    first = false;
    sink(ids);
  };
  try {
    while (true) {
      const ssize_t n = ::read(fd, block.data(), block.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail(ErrorKind::kIo, file.string() + ": read error: " + std::strerror(errno));
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      pending.append(block.data(), static_cast<size_t>(n));
      if (pending.size() < block_bytes) continue;
      // Cut where it is exact; with no such place in 4 blocks (one endless line), at the
      // last newline or, failing that, anywhere outside a UTF-8 sequence.
      size_t cut = safe_cut(pending);
      if (cut == 0 && pending.size() >= 4 * block_bytes) {
        cut = pending.rfind('\n') + 1;  // npos + 1 == 0
        if (cut == 0) {
          cut = pending.size();
          while (cut > 0 && (static_cast<unsigned char>(pending[cut - 1]) & 0xc0) == 0x80) --cut;
          if (cut > 0 && static_cast<unsigned char>(pending[cut - 1]) >= 0xc0) --cut;
          if (cut == 0) cut = pending.size();
        }
      }
      if (cut == 0) continue;
      encode(std::string_view(pending).substr(0, cut));
      pending.erase(0, cut);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  if (!pending.empty() || first) encode(pending);
  return total;
}

}  // namespace gqa::tok
