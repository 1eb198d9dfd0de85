#pragma once
// A SentencePiece tokenizer.model checked before libsentencepiece sees it. The library trusts
// the model's precompiled_charsmap (the normalizer's double-array trie and its replacement
// strings) and reads wherever the trie's offsets point, so a corrupt one crashes it. This walks
// the protobuf (ModelProto: pieces = 1, normalizer_spec = 3, denormalizer_spec = 5; in a
// NormalizerSpec, precompiled_charsmap = 2) and every node of each trie reachable by any byte,
// and refuses an offset that leaves the array or a value that leaves the strings.
#include <filesystem>
#include <string>
#include <string_view>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace gqa::tok {

// Reads `model` (a regular file, at most kMaxTokenizerFileBytes), checks it as below and loads
// it into `sp`. Throws Error naming the file.
void load_sentencepiece_model(const std::filesystem::path& model,
                              sentencepiece::SentencePieceProcessor& sp);

// Throws Error (kParse) naming `source` and what is wrong.
void check_sentencepiece_model(std::string_view model, const std::string& source);

// The charsmap check alone: [u32 trie bytes][trie: u32 units][replacement strings, each ending
// in NUL]. An empty charsmap is valid (no normalization).
void check_precompiled_charsmap(std::string_view blob, const std::string& what);

}  // namespace gqa::tok
