#pragma once
// A subcommand: its CLI11 app (options bound to state the run function owns) and what runs it.
#include <functional>

#include <CLI/CLI.hpp>

namespace gqa::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;  // returns the exit code; throws gqa::Error for bad input
};

Command add_kv_command(CLI::App& root);
Command add_inspect_command(CLI::App& root);
Command add_init_command(CLI::App& root);
Command add_convert_command(CLI::App& root);
Command add_import_command(CLI::App& root);
Command add_generate_command(CLI::App& root);
Command add_ppl_command(CLI::App& root);
Command add_bench_command(CLI::App& root);
Command add_train_command(CLI::App& root);      // runs gqa-trainer (libtorch)
Command add_uptrain_command(CLI::App& root);    // runs gqa-trainer
Command add_reproduce_command(CLI::App& root);  // runs gqa-trainer
Command add_serve_command(CLI::App& root);
Command add_tokenize_command(CLI::App& root);
Command add_detokenize_command(CLI::App& root);

}  // namespace gqa::cli
