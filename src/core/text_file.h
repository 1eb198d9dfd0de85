#pragma once
// Reading a small text file (config.json, tokenizer.json, a prompt) whole into memory.
#include <filesystem>
#include <string>

namespace gqa {

// The file's bytes. Throws Error (kIo) naming the path when it cannot be opened or read.
std::string read_text_file(const std::filesystem::path& path);

}  // namespace gqa
