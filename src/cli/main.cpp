// gqa: one executable, one subcommand per capability. The only place that turns errors into
// exit codes: 0 success, 2 bad input (usage, files, values), 1 an internal failure.
#include <algorithm>
#include <cstdint>
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

namespace {

// Edits (insert, delete, substitute) between a and b.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean --model?)" for the first --flag of argv that `cmd` does not have and that is
// close to one it has; "" otherwise.
std::string closest_flag(const CLI::App& cmd, int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.starts_with("--") || arg == "--") continue;
    arg = arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
    if (cmd.get_option_no_throw("--" + arg)) continue;
    std::string best;
    size_t best_distance = SIZE_MAX;
    for (const CLI::Option* o : cmd.get_options())
      for (const std::string& name : o->get_lnames())
        if (const size_t d = edit_distance(arg, name); d < best_distance) {
          best_distance = d;
          best = name;
        }
    if (!best.empty() && best_distance <= std::max<size_t>(2, arg.size() / 3))
      return " (did you mean --" + best + "?)";
    return "";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    gqa::cpu_features();  // a bad GQA_ISA is a usage error, before any kernel runs
  } catch (const gqa::Error& e) {
    fmt::print(stderr, "gqa: error: {}\n", e.what());
    return 2;
  }
  gqa::cli::ensure_fast_blas_kernel(argv);
  // Named here, so usage lines say "gqa", not the path the binary was started by.
  CLI::App app{"gqa: grouped-query attention and the KV cache, from planning to serving", "gqa"};
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
    std::string hint;
    if (dynamic_cast<const CLI::ExtrasError*>(&e) || dynamic_cast<const CLI::ArgumentMismatch*>(&e))
      for (const auto& c : commands)
        if (argc > 1 && c.app->get_name() == argv[1]) hint = closest_flag(*c.app, argc, argv);
    fmt::print(stderr, "gqa: error: {}{} (see --help)\n", e.what(), hint);
    return 2;
  }
  for (const auto& c : commands) {
    if (!c.app->parsed()) continue;
    try {
      return c.run();
    } catch (const gqa::Error& e) {
      if (e.kind() == gqa::ErrorKind::kInterrupted) {
        // One line: a command that knows what it kept says so; otherwise the writers removed
        // their unfinished output (io/weights_writer.h).
        const std::string what = e.what();
        fmt::print(stderr, "gqa {}: {}\n", c.app->get_name(),
                   what.find(';') == std::string::npos
                       ? what + "; the unfinished output was removed"
                       : what);
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
