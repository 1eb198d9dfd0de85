#pragma once
// Reading a Hugging Face config.json into ModelConfig.
#include <filesystem>
#include <string>
#include <string_view>

#include "config/model_config.h"

namespace gqa {

// Parses config.json text. `source` names the file in error messages. Reads a nested
// text_config (Gemma 3) and fills fields that a model type's transformers config class
// defaults (e.g. gemma3_text's head_dim 256) when the file leaves them out. The result is
// validated. Throws Error (kParse for malformed JSON or wrong types, kInvalidArgument for bad
// values, kUnsupported for an unknown architecture).
ModelConfig parse_hf_config(std::string_view json_text, const std::string& source);

// Reads `path`, either a config.json file or a checkpoint folder that holds one.
ModelConfig load_hf_config(const std::filesystem::path& path);

}  // namespace gqa
