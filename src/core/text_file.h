#pragma once
// Reading a text file (config.json, tokenizer.json, a prompt) whole into memory, bounded: only a
// regular file is read (a FIFO or a device is refused before anything blocks), and its size is
// checked against a cap before any byte is allocated. Files come from strangers.
#include <cstdint>
#include <filesystem>
#include <string>

namespace gqa {

// Caps by what a file holds (bytes). Each is far above any published model's file: the largest
// config.json files are a few KiB, Gemma 3's tokenizer.json is 33 MB.
inline constexpr uint64_t kMaxConfigFileBytes = uint64_t{16} << 20;      // config-like JSON
inline constexpr uint64_t kMaxTokenizerFileBytes = uint64_t{256} << 20;  // tokenizer files
inline constexpr uint64_t kMaxPromptFileBytes = uint64_t{64} << 20;      // a prompt from --file

// The file's bytes. Throws Error (kIo) naming the path when it cannot be opened or read, is not
// a regular file, or is larger than max_bytes.
std::string read_text_file(const std::filesystem::path& path,
                           uint64_t max_bytes = kMaxConfigFileBytes);

// Opens `path` for reading without blocking (O_NONBLOCK, so a FIFO cannot hang the open) and
// checks that it is a regular file. Returns the descriptor (the caller closes it) and sets
// `size`. Throws Error (kIo).
int open_regular_file(const std::filesystem::path& path, uint64_t& size);

}  // namespace gqa
