#include "core/text_file.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace gqa {

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::kIo, path.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(ErrorKind::kIo, path.string() + ": read error");
  return ss.str();
}

}  // namespace gqa
