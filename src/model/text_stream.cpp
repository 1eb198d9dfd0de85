#include "model/text_stream.h"

#include <algorithm>
#include <utility>

namespace gqa::model {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Length of the longest suffix of `text` that is a proper prefix of some stop string.
size_t partial_stop_suffix(const std::string& text, const std::vector<std::string>& stop) {
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

std::string TextStream::take(const std::string& full, size_t end) {
  // `full` starts with emitted_ unless an earlier piece decoded differently once joined; then
  // nothing more is emitted until it does again (as gqa generate prints).
  if (end <= emitted_.size() || full.compare(0, emitted_.size(), emitted_) != 0) return {};
  std::string out = full.substr(emitted_.size(), end - emitted_.size());
  emitted_ += out;
  return out;
}

std::string TextStream::push(int32_t id) {
  if (stopped_) return {};
  ids_.push_back(id);
  std::string full = tok_.decode(ids_);
  if (!stop_.empty()) {
    // A stop string may begin in text already held back, never in text already emitted.
    size_t first = std::string::npos;
    for (const std::string& s : stop_) {
      const size_t from = emitted_.size() >= s.size() ? emitted_.size() - s.size() + 1 : 0;
      const size_t at = full.find(s, from);
      if (at != std::string::npos) first = std::min(first, at);
    }
    if (first != std::string::npos) {
      stopped_ = true;
      return take(full, std::max(first, emitted_.size()));
    }
  }
  size_t end = full.size();
  while (end >= kReplacement.size() &&
         std::string_view(full).substr(end - kReplacement.size(), kReplacement.size()) ==
             kReplacement)
    end -= kReplacement.size();
  end -= partial_stop_suffix(full.substr(0, end), stop_);
  return take(full, end);
}

std::string TextStream::finish() {
  if (stopped_) return {};
  return take(tok_.decode(ids_), std::string::npos);
}

}  // namespace gqa::model
