#pragma once
// A compiled PCRE2 pattern (UTF, Unicode properties for \s \w \d, JIT when available) and the
// byte ranges of its non-overlapping matches in a UTF-8 subject, left to right. Character classes
// follow Unicode 16.0 as Hugging Face's tokenizers do (see unicode_stand_ins.h), \s is White_Space.
// Character classes follow Unicode 16.0 as Hugging Face's tokenizers do (see unicode_stand_ins.h),
// \s is White_Space.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gqa::tok {

class Regex {
 public:
  // Throws Error with PCRE2's message and offset when the pattern does not compile.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // [begin, end) byte offsets of every match, as a global JavaScript/Rust regex search finds
  // them (an empty match advances by one character). Thread-safe.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view subject) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `s` with regex metacharacters escaped, for a pattern that matches it literally.
std::string regex_escape(std::string_view s);

}  // namespace gqa::tok
