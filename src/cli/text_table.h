#pragma once
// A plain-text table with aligned columns, for terminal output.
#include <string>
#include <vector>

namespace gqa::cli {

class TextTable {
 public:
  enum class Align { kLeft, kRight };
  // One alignment per column; the header row is the first add_row.
  explicit TextTable(std::vector<Align> align) : align_(std::move(align)) {}
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  std::string render(const std::string& indent = "") const;

 private:
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace gqa::cli
