#pragma once
// A file being written: buffered appends through a file descriptor, errors that name the path.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace gqa::io {

class FileOutput {
 public:
  // Creates (truncates) the file. Throws Error (kIo).
  explicit FileOutput(const std::filesystem::path& path);
  ~FileOutput();
  FileOutput(const FileOutput&) = delete;
  FileOutput& operator=(const FileOutput&) = delete;

  void write(std::span<const std::byte> bytes);
  // Flushes, fsyncs and closes; throws on any failure (a full disk shows up here).
  void close();
  const std::filesystem::path& path() const { return path_; }

 private:
  void flush();
  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<std::byte> buffer_;
  size_t used_ = 0;
};

// Writes a whole text file through FileOutput.
void write_text_file(const std::filesystem::path& path, const std::string& text);

// Copies a file; throws Error (kIo) naming both paths.
void copy_file(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace gqa::io
