#pragma once
// Turns generated token ids into text as they arrive, for streaming: each push() returns the
// text that is now final. Pieces join across tokens (SentencePiece's leading spaces), and a
// character split over byte-fallback tokens decodes as U+FFFD until its last byte arrives, so
// such a token is held back. With stop strings, text that could be the start of one is held
// back too, and the stream ends (without the stop string) when one appears.
//
// Each push decodes a short window (the previous token and the new ones), not everything so
// far: the new text is what the window adds to the previous token's own decoding, so a long
// generation costs linear, not quadratic, time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace gqa::tok {

class TextStream {
 public:
  explicit TextStream(const Tokenizer& tok, std::vector<std::string> stop = {});

  // Adds a token; returns the newly final text (often empty while a piece is held back).
  std::string push(int32_t id);
  // Whatever was held back, at the end of generation (nothing after a stop string).
  std::string finish();
  bool stopped() const { return stopped_; }
  const std::string& text() const { return emitted_; }  // everything returned so far

 private:
  std::string decode_range(size_t from, size_t to) const;
  // Appends ids_[read_..] to decoded_ when they decode to whole characters (or `force`).
  void advance(bool force);
  // Returns decoded_ past emitted_ up to a stop string or a possible start of one.
  std::string release(bool at_end);

  const Tokenizer& tok_;
  std::vector<std::string> stop_;
  std::vector<int32_t> ids_;
  size_t prefix_ = 0, read_ = 0;  // ids_[prefix_, read_) decode to window_text_
  std::string window_text_;
  std::string decoded_;  // the text of ids_[0, read_)
  std::string emitted_;  // the prefix of decoded_ returned so far
  bool stopped_ = false;
};

}  // namespace gqa::tok
