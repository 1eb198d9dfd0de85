#pragma once
// Turns generated token ids into text as they arrive, for streaming: each push() returns the
// text that is now final. Pieces join across tokens (SentencePiece's leading spaces), and a
// character split over byte-fallback tokens decodes as U+FFFD until its last byte arrives, so
// a trailing U+FFFD is held back. With stop strings, text that could be the start of one is
// held back too, and the stream ends (without the stop string) when one appears.
#include <cstdint>
#include <string>
#include <vector>

#include "model/tokenizer.h"

namespace gqa::model {

class TextStream {
 public:
  explicit TextStream(const Tokenizer& tok, std::vector<std::string> stop = {});

  // Adds a token; returns the newly final text (often empty while a piece is held back).
  std::string push(int32_t id);
  // Whatever was held back, at the end of generation (nothing after a stop string).
  std::string finish();
  bool stopped() const { return stopped_; }
  const std::vector<int32_t>& ids() const { return ids_; }
  const std::string& text() const { return emitted_; }  // everything returned so far

 private:
  std::string take(const std::string& full, size_t keep_from);

  const Tokenizer& tok_;
  std::vector<std::string> stop_;
  std::vector<int32_t> ids_;
  std::string emitted_;
  bool stopped_ = false;
};

}  // namespace gqa::model
