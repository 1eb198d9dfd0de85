// gqa: one executable, one subcommand per capability. The only place that turns errors into
// exit codes: 0 success, 2 bad input (usage, files, values), 1 an internal failure.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/blas_kernel.h"
#include "cli/command.h"
#include "core/cpu_features.h"
#include "core/error.h"

#ifndef GQA_VERSION
#define GQA_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  try {
    gqa::cpu_features();  // a bad GQA_ISA is a usage error, before any kernel runs
  } catch (const gqa::Error& e) {
    fmt::print(stderr, "gqa: error: {}\n", e.what());
    return 2;
  }
  gqa::cli::ensure_fast_blas_kernel(argv);
  CLI::App app{"gqa: grouped-query attention and the KV cache, from planning to serving"};
  app.set_version_flag("--version", std::string("gqa ") + GQA_VERSION);
  app.require_subcommand(1);
  app.footer("Run 'gqa COMMAND --help' for a command's options.");

  std::vector<gqa::cli::Command> commands{
      gqa::cli::add_kv_command(app),        gqa::cli::add_inspect_command(app),
      gqa::cli::add_init_command(app),      gqa::cli::add_convert_command(app),
      gqa::cli::add_import_command(app),    gqa::cli::add_generate_command(app),
      gqa::cli::add_ppl_command(app),       gqa::cli::add_bench_command(app),
      gqa::cli::add_train_command(app),     gqa::cli::add_uptrain_command(app),
      gqa::cli::add_reproduce_command(app), gqa::cli::add_serve_command(app),
      gqa::cli::add_tokenize_command(app),  gqa::cli::add_detokenize_command(app)};

  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const auto& c : commands) {
      names += (names.empty() ? "" : ", ") + c.app->get_name();
      known = known || c.app->get_name() == argv[1];
    }
    if (!known) {
      fmt::print(stderr, "gqa: error: unknown command '{}' (commands: {})\n", argv[1], names);
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    fmt::print(stderr, "gqa: error: {} (see --help)\n", e.what());
    return 2;
  }
  for (const auto& c : commands) {
    if (!c.app->parsed()) continue;
    try {
      return c.run();
    } catch (const gqa::Error& e) {
      if (e.kind() == gqa::ErrorKind::kInterrupted) {
        fmt::print(stderr, "gqa {}: {}; the unfinished output was removed\n", c.app->get_name(),
                   e.what());
        return 130;
      }
      fmt::print(stderr, "gqa {}: error: {}\n", c.app->get_name(), e.what());
      return 2;
    } catch (const std::exception& e) {
      fmt::print(stderr, "gqa {}: internal error: {}\n", c.app->get_name(), e.what());
      return 1;
    }
  }
  return 2;
}
