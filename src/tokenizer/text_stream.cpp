#include "tokenizer/text_stream.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace gqa::tok {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Length of the longest suffix of `text` that is a proper prefix of some stop string.
size_t partial_stop_suffix(std::string_view text, const std::vector<std::string>& stop) {
  size_t best = 0;
  for (const std::string& s : stop)
    for (size_t n = std::min(s.size() - 1, text.size()); n > best; --n)
      if (text.compare(text.size() - n, n, s, 0, n) == 0) {
        best = n;
        break;
      }
  return best;
}

}  // namespace

TextStream::TextStream(const Tokenizer& tok, std::vector<std::string> stop)
    : tok_(tok), stop_(std::move(stop)) {
  std::erase_if(stop_, [](const std::string& s) { return s.empty(); });
}

std::string TextStream::decode_range(size_t from, size_t to) const {
  return tok_.decode(std::vector<int32_t>(ids_.begin() + static_cast<std::ptrdiff_t>(from),
                                          ids_.begin() + static_cast<std::ptrdiff_t>(to)));
}

void TextStream::advance(bool force) {
  if (read_ == ids_.size()) return;
  const std::string now = decode_range(prefix_, ids_.size());
  if (!force && now.ends_with(kReplacement)) return;  // a character still incomplete
  // The window's text extends the previous token's own text, unless joining changed how that
  // token decodes; then nothing is released until it does again (or the end forces it).
  if (now.starts_with(window_text_))
    decoded_ += now.substr(window_text_.size());
  else if (force)
    decoded_ += decode_range(read_, ids_.size());
  else
    return;
  prefix_ = read_;
  read_ = ids_.size();
  window_text_ = decode_range(prefix_, read_);
}

std::string TextStream::release(bool at_end) {
  // A stop string may begin in text held back, never in text already emitted.
  size_t end = decoded_.size();
  for (const std::string& s : stop_) {
    const size_t from = emitted_.size() >= s.size() ? emitted_.size() - s.size() + 1 : 0;
    const size_t at = decoded_.find(s, from);
    if (at != std::string::npos && at < end) {
      end = at;
      stopped_ = true;
    }
  }
  if (!stopped_ && !at_end)
    end -= partial_stop_suffix(std::string_view(decoded_).substr(emitted_.size()), stop_);
  end = std::max(end, emitted_.size());
  std::string out = decoded_.substr(emitted_.size(), end - emitted_.size());
  emitted_ += out;
  return out;
}

std::string TextStream::push(int32_t id) {
  if (stopped_) return {};
  ids_.push_back(id);
  advance(false);
  return release(false);
}

std::string TextStream::finish() {
  if (stopped_) return {};
  advance(true);
  return release(true);
}

}  // namespace gqa::tok
