#include "io/file_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"

namespace gqa::io {
namespace {
constexpr size_t kBufferBytes = 4 << 20;
}

FileOutput::FileOutput(const std::filesystem::path& path) : path_(path), buffer_(kBufferBytes) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(ErrorKind::kIo, path.string() + ": cannot create: " + std::strerror(errno));
}

FileOutput::~FileOutput() {
  if (fd_ >= 0) ::close(fd_);
}

void FileOutput::flush() {
  const std::byte* p = buffer_.data();
  size_t left = used_;
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(ErrorKind::kIo, path_.string() + ": write failed: " + std::strerror(errno));
    p += n;
    left -= static_cast<size_t>(n);
  }
  used_ = 0;
}

void FileOutput::write(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const size_t n = std::min(bytes.size(), buffer_.size() - used_);
    std::memcpy(buffer_.data() + used_, bytes.data(), n);
    used_ += n;
    bytes = bytes.subspan(n);
    if (used_ == buffer_.size()) flush();
  }
}

void FileOutput::close() {
  if (fd_ < 0) return;
  flush();
  const bool synced = ::fsync(fd_) == 0;
  const int err = errno;
  const bool closed = ::close(fd_) == 0;
  fd_ = -1;
  if (!synced || !closed)
    fail(ErrorKind::kIo, path_.string() + ": cannot finish writing: " + std::strerror(err));
}

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  FileOutput out(path);
  out.write(std::as_bytes(std::span(text.data(), text.size())));
  out.close();
}

}  // namespace gqa::io

namespace gqa::io {

void copy_file(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code ec;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec)
    fail(ErrorKind::kIo,
         "cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
}

}  // namespace gqa::io
