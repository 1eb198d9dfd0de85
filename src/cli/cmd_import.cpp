// gqa import-llama2c: a llama2.c model file into a Hugging Face checkpoint folder.
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/stop_signal.h"
#include "convert/import_llama2c.h"

namespace gqa::cli {
namespace {

struct ImportCli {
  std::string bin, out, tokenizer;
  bool force = false;
};

int run_import(const ImportCli& o) {
  convert::ImportLlama2cOptions opt;
  if (!o.tokenizer.empty()) opt.tokenizer = o.tokenizer;
  opt.force = o.force;
  prepare_output("gqa import-llama2c", o.out);
  convert::import_llama2c(o.bin, o.out, opt);
  fmt::print("{} -> {}\n", o.bin, o.out);
  return 0;
}

}  // namespace

Command add_import_command(CLI::App& root) {
  auto o = std::make_shared<ImportCli>();
  CLI::App* cmd = root.add_subcommand(
      "import-llama2c", "Import a llama2.c model.bin (v0 format) as a Hugging Face checkpoint");
  cmd->add_option("bin", o->bin, "llama2.c model file, e.g. stories15M.bin")->required();
  cmd->add_option("out", o->out, "Checkpoint folder to create")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "SentencePiece tokenizer.model to copy in");
  cmd->add_flag("--force", o->force, "Replace OUT if it exists");
  cmd->footer(R"(
wq and wk rows are permuted from llama2.c's interleaved RoPE pairs to HF's rotate-half layout
(as transformers' convert_llama_weights_to_hf does); a shared classifier becomes
tie_word_embeddings. Weights stay f32.
)");
  return {cmd, [o] { return run_import(*o); }};
}

}  // namespace gqa::cli
