#pragma once
// All-or-nothing output: a checkpoint is written into a temporary folder next to its
// destination and renamed into place at the end. Until commit() nothing exists at the
// destination; on any error the temporary folder is removed.
#include <filesystem>
#include <vector>

namespace gqa::io {

// Temporary folders of `dst` (".NAME.tmp-PID-...") left by a run that was killed before it
// could remove them: their process no longer exists.
std::vector<std::filesystem::path> stale_output_folders(const std::filesystem::path& dst);

class OutputFolder {
 public:
  // Throws Error when dst exists and force is false, or when dst is not a folder.
  OutputFolder(std::filesystem::path dst, bool force);
  ~OutputFolder();
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;

  const std::filesystem::path& tmp() const { return tmp_; }
  const std::filesystem::path& dst() const { return dst_; }
  // Moves the finished folder into place (replacing an existing one when forced).
  void commit();

 private:
  std::filesystem::path dst_;
  std::filesystem::path tmp_;
  bool force_ = false;
  bool committed_ = false;
};

}  // namespace gqa::io
