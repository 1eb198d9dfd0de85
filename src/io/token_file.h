#pragma once
// A tokenized corpus on disk: magic "GQATOKS1", uint64 count, int32 ids[count], little-endian.
// How tokenized text travels from the tokenizer (libsentencepiece) to the trainer (libtorch),
// which run in separate processes.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace gqa::io {

void write_token_file(const std::filesystem::path& path, const std::vector<int32_t>& ids);
// Throws Error naming the file when it is missing, truncated or not a token file.
std::vector<int32_t> read_token_file(const std::filesystem::path& path);

}  // namespace gqa::io
