#include "io/output_folder.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <chrono>
#include <string>

#include "core/error.h"

namespace gqa::io {

namespace fs = std::filesystem;

namespace {
std::string unique_suffix() {
  const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
  return std::to_string(::getpid()) + "-" + std::to_string(t);
}
}  // namespace

std::vector<fs::path> stale_output_folders(const fs::path& dst_in) {
  fs::path dst = dst_in.lexically_normal();
  if (dst.filename().empty()) dst = dst.parent_path();
  fs::path parent = dst.parent_path();
  if (parent.empty()) parent = ".";
  const std::string prefix = "." + dst.filename().string() + ".tmp-";
  std::vector<fs::path> stale;
  std::error_code ec;
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0) continue;
    long pid = 0;
    try {
      pid = std::stol(rest.substr(0, dash));
    } catch (const std::exception&) {
      continue;
    }
    if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH))
      stale.push_back(it->path());
  }
  return stale;
}

OutputFolder::OutputFolder(fs::path dst, bool force) : dst_(std::move(dst)), force_(force) {
  dst_ = dst_.lexically_normal();
  if (dst_.filename().empty()) dst_ = dst_.parent_path();
  std::error_code ec;
  if (fs::exists(dst_, ec)) {
    if (!force)
      fail(ErrorKind::kInvalidArgument, dst_.string() + " exists (use --force to replace it)");
    if (!fs::is_directory(dst_, ec))
      fail(ErrorKind::kInvalidArgument, dst_.string() + " exists and is not a folder");
  }
  fs::path parent = dst_.parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec))
    fail(ErrorKind::kIo, parent.string() + ": destination's parent folder does not exist");
  tmp_ = parent / ("." + dst_.filename().string() + ".tmp-" + unique_suffix());
  if (!fs::create_directory(tmp_, ec))
    fail(ErrorKind::kIo, tmp_.string() + ": cannot create: " + ec.message());
}

OutputFolder::~OutputFolder() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void OutputFolder::commit() {
  std::error_code ec;
  fs::path old;
  if (fs::exists(dst_, ec)) {
    if (!force_) fail(ErrorKind::kInvalidArgument, dst_.string() + " appeared while writing");
    old = dst_.parent_path() / ("." + dst_.filename().string() + ".old-" + unique_suffix());
    fs::rename(dst_, old, ec);
    if (ec) fail(ErrorKind::kIo, dst_.string() + ": cannot move aside: " + ec.message());
  }
  fs::rename(tmp_, dst_, ec);
  if (ec) {
    if (!old.empty()) fs::rename(old, dst_, ec);
    fail(ErrorKind::kIo, dst_.string() + ": cannot move the finished folder into place");
  }
  committed_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace gqa::io
