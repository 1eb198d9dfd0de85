#pragma once
// Encoding a text file of any size in bounded memory: the file is read in blocks and cut after a
// newline that printable ASCII follows; each piece is encoded on its own (BOS only before the
// first). Memory is a few blocks of text and their ids, whatever the file's size.
//
// Exactness: byte-level BPE with a splitting pre-tokenizer (Llama 3, Qwen2/3, SmolLM, Phi-4:
// their patterns always end a pre-token at such a newline, and no normalizer joins across it)
// gives exactly the ids of encoding the whole text at once. Tokenizers that merge across
// newlines (tokenizer.json without a pre-tokenizer, as Gemma 3's; SentencePiece models, which
// also start each piece with a dummy space) can differ at the cuts, one cut per block.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace gqa::tok {

inline constexpr size_t kEncodeBlockBytes = size_t{1} << 20;

// Where to cut `text` so that both sides encode as the whole would: just past the last "\n"
// that printable ASCII follows; 0 when there is no such place.
size_t safe_cut(std::string_view text);

// Feeds `sink` the ids of each piece of the file, in order, and returns the bytes read. The file
// must be a regular file. special_text: as in Tokenizer::encode (a cut never falls inside
// special-token text, which has no newline). Throws Error (kIo) naming the file.
uint64_t encode_file(const Tokenizer& tok, const std::filesystem::path& file, bool add_bos,
                     const std::function<void(std::span<const int32_t> ids)>& sink,
                     size_t block_bytes = kEncodeBlockBytes, bool special_text = true);

}  // namespace gqa::tok
