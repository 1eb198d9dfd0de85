// gqa tokenize / gqa detokenize: look at how a checkpoint's tokenizer (tokenizer.model or
// tokenizer.json) cuts text, and turn ids back into text.
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/text_table.h"
#include "config/hf_config.h"
#include "core/error.h"
#include "tokenizer/file_encoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_stand_ins.h"

namespace gqa::cli {
namespace {

namespace fs = std::filesystem;

struct TokenizeCli {
  std::string dir, ids;
  std::optional<std::string> prompt, file;  // -p "" is an empty text, not a missing one
  bool ids_only = false, json = false, no_special = false, split_special = false;
};

// The tokenizer of a checkpoint folder (or of any folder with the tokenizer files); BOS/EOS
// from config.json when there is one.
tok::Tokenizer open_tokenizer(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(ErrorKind::kIo, dir + ": not a folder");
  const ModelConfig config =
      fs::exists(fs::path(dir) / "config.json", ec) ? load_hf_config(dir) : ModelConfig{};
  return tok::Tokenizer(dir, config);
}

// A token's string with control characters and spaces made visible.
std::string visible(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c < 0x20)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

int run_tokenize(const TokenizeCli& o) {
  if (o.prompt.has_value() == o.file.has_value())
    fail(ErrorKind::kInvalidArgument, "give exactly one of -p TEXT or --file FILE");
  const tok::Tokenizer tok = open_tokenizer(o.dir);
  // A file is encoded a block at a time (tokenizer/file_encoder.h) and printed as it goes: the
  // ids and the table take constant memory whatever the file's size; --json holds the ids
  // (4 bytes a token), since it lists them twice.
  using A = TextTable::Align;
  constexpr size_t kRowsPerTable = 4096;  // a long file prints table after table
  uint64_t count = 0;                     // ids printed (or held, with --json)
  std::vector<int32_t> held;              // --json: every id; the table: rows not yet printed
  auto print_table = [&] {
    TextTable t({A::kRight, A::kRight, A::kLeft, A::kLeft});
    t.add_row({"#", "id", "token", "text"});
    const uint64_t first = count - held.size();
    for (size_t i = 0; i < held.size(); ++i)
      t.add_row({std::to_string(first + i), std::to_string(held[i]),
                 visible(tok.token_text(held[i])), "'" + visible(tok.decode({held[i]})) + "'"});
    std::cout << t.render();
    held.clear();
  };
  auto take = [&](std::span<const int32_t> ids) {
    for (int32_t id : ids) {
      if (o.ids_only && !o.json) {
        std::cout << (count ? "," : "") << id;
      } else {
        held.push_back(id);
      }
      ++count;
      if (!o.json && !o.ids_only && held.size() == kRowsPerTable) print_table();
    }
  };
  const bool add_bos = !o.no_special && tok.adds_bos();
  uint64_t text_bytes = 0;
  if (o.prompt) {
    text_bytes = o.prompt->size();
    take(tok.encode(*o.prompt, add_bos, !o.split_special));
  } else {
    text_bytes =
        tok::encode_file(tok, *o.file, add_bos, take, tok::kEncodeBlockBytes, !o.split_special);
  }
  if (o.json) {
    auto dump = [](const nlohmann::json& j) {
      return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    std::cout << "{\"tokenizer\":" << dump(tok.kind());
    // The Unicode version of the pre-tokenizer's character classes (tokenizer.json only).
    if (std::string_view(tok.kind()) == "tokenizer.json")
      std::cout << ",\"unicode\":" << dump(tok::kUnicodeVersion);
    std::cout << ",\"ids\":[";
    for (size_t i = 0; i < held.size(); ++i) std::cout << (i ? "," : "") << held[i];
    std::cout << "],\"tokens\":[";
    for (size_t i = 0; i < held.size(); ++i)
      std::cout << (i ? "," : "") << dump(tok.token_text(held[i]));
    std::cout << "]}\n";
    return 0;
  }
  if (o.ids_only) {
    std::cout << "\n";
    return 0;
  }
  if (!held.empty() || count == 0) print_table();
  std::cout << fmt::format("{} tokens, {} bytes of text ({})\n", count, text_bytes, tok.kind());
  return 0;
}

int run_detokenize(const TokenizeCli& o) {
  const tok::Tokenizer tok = open_tokenizer(o.dir);
  const std::vector<int32_t> ids = tok::parse_token_list(o.ids, "--ids");
  for (int32_t id : ids)
    if (id < 0 || id >= tok.vocab_size())
      fail(ErrorKind::kInvalidArgument,
           fmt::format("token id {} is outside the vocabulary of {}", id, tok.vocab_size()));
  std::cout << tok.decode(ids) << "\n";
  return 0;
}

}  // namespace

Command add_tokenize_command(CLI::App& root) {
  auto o = std::make_shared<TokenizeCli>();
  CLI::App* cmd = root.add_subcommand(
      "tokenize",
      "Show how a checkpoint's tokenizer (tokenizer.model or tokenizer.json) cuts text");
  cmd->add_option("dir", o->dir, "Checkpoint folder (or a folder with tokenizer files)")
      ->required();
  cmd->add_option("-p,--prompt", o->prompt, "Text to tokenize");
  cmd->add_option("--file", o->file,
                  "Tokenize a file's bytes instead (any size, a block at a time)");
  cmd->add_flag("--ids", o->ids_only, "Print only the ids, comma-separated");
  cmd->add_flag("--json", o->json,
                "One JSON object: tokenizer, unicode (the version of tokenizer.json's character "
                "classes), ids, tokens");
  cmd->add_flag("--no-special", o->no_special,
                "Without the BOS (or other tokens) the tokenizer adds around the text");
  cmd->add_flag("--split-special", o->split_special,
                "Read special-token text in the input (<|im_start|>, <|eot_id|>...) as plain "
                "text, as transformers' split_special_tokens=True; what gqa serve does with "
                "chat content");
  cmd->footer(std::string("\nInvalid UTF-8 is read as U+FFFD. tokenizer.json pre-tokenizers "
                          "classify characters by Unicode ") +
              tok::kUnicodeVersion +
              ", as Hugging Face's tokenizers do.\nExample: gqa tokenize ckpt -p 'Hello world'\n");
  return {cmd, [o] { return run_tokenize(*o); }};
}

Command add_detokenize_command(CLI::App& root) {
  auto o = std::make_shared<TokenizeCli>();
  CLI::App* cmd = root.add_subcommand("detokenize", "Turn token ids back into text");
  cmd->add_option("dir", o->dir, "Checkpoint folder (or a folder with tokenizer files)")
      ->required();
  cmd->add_option("--ids", o->ids, "Token ids, e.g. 9906,1917")->required();
  cmd->footer("\nSpecial tokens (BOS, EOS) are left out of the text.\n");
  return {cmd, [o] { return run_detokenize(*o); }};
}

}  // namespace gqa::cli
