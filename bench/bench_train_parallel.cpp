// Data-parallel training on this machine: tokens/s of one process with 2 threads against two
// processes with 1 thread each (gqa train --nproc 2, c10d/Gloo on loopback), the same global
// batch, in alternating rounds; the gradient bytes all-reduced per step and the time a step
// waits for them; and what that predicts for N machines on 1, 10 and 100 Gbit/s links.
// Two models: models/kjv-mha's shape (6 layers, hidden 256) and one 4x wider (hidden 1024,
// 32 heads, FFN 2816), both trained from fresh weights on the KJV text with kjv-mha's tokenizer.
//
// Usage: bench_train_parallel [--rounds R] [--steps N] [--data TRAIN.txt]
//        (defaults: 3 rounds, 12 steps of 16 x 128 tokens; the text from the bible program)
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "reproduce/kjv_corpus.h"

namespace {

namespace fs = std::filesystem;

struct Shape {
  std::string name, flags;
};

struct RunResult {
  double tokens_per_s = 0;
  double mb_per_step = 0, alone_ms = 0, wait_ms = 0, step_ms = 0;  // data parallel only
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult run(const std::string& gqa, const Shape& s, const std::string& data, int nproc, int steps,
              const fs::path& work) {
  const fs::path out = work / "run";
  fs::remove_all(out);
  fs::remove_all(work / "run.partial");
  const int threads = 2 / nproc;
  const std::string cmd = fmt::format(
      "{} train {} --data {} --tokenizer {} --batch 16 --seq 128 --tokens {} --precision f32 "
      "--eval-every 1000000 --eval-windows 1 --threads {} --nproc {} --json --out {} "
      ">{} 2>{}",
      gqa, s.flags, data, (fs::path(GQA_SOURCE_DIR) / "models/kjv-mha/tokenizer.model").string(),
      steps * 16 * 128, threads, nproc, out.string(), (work / "out.json").string(),
      (work / "err.txt").string());
  if (std::system(cmd.c_str()) != 0)
    throw std::runtime_error("failed: " + cmd + "\n" + slurp(work / "err.txt"));
  const auto state = nlohmann::json::parse(slurp(work / "out.json"));
  RunResult r;
  r.tokens_per_s = state["tokens_seen"].get<double>() / state["seconds"].get<double>();
  std::smatch m;
  const std::string err = slurp(work / "err.txt");
  if (std::regex_search(err, m,
                        std::regex("([0-9.]+) MB of gradients all-reduced per step, ([0-9.]+) ms "
                                   "alone; a step of ([0-9.]+) ms waited ([0-9.]+) ms"))) {
    r.mb_per_step = std::stod(m[1]);
    r.alone_ms = std::stod(m[2]);
    r.step_ms = std::stod(m[3]);
    r.wait_ms = std::stod(m[4]);
  }
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3, steps = 12;
  std::string data;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--rounds") rounds = std::max(1, std::stoi(argv[i + 1]));
    if (a == "--steps") steps = std::max(2, std::stoi(argv[i + 1]));
    if (a == "--data") data = argv[i + 1];
  }
  try {
    const fs::path work = fs::temp_directory_path() / "gqa-bench-train-parallel";
    fs::create_directories(work);
    if (data.empty()) data = gqa::reproduce::write_kjv_split(work / "kjv").train.string();
    const std::string gqa = (fs::path(GQA_BINARY_DIR) / "gqa").string();
    const std::vector<Shape> shapes = {
        {"kjv-mha shape (6 x 256, 8 heads, FFN 704)",
         "--layers 6 --heads 8 --head-dim 32 --hidden 256 --intermediate 704"},
        {"4x wider (6 x 1024, 32 heads, FFN 2816)",
         "--layers 6 --heads 32 --head-dim 32 --hidden 1024 --intermediate 2816"},
    };
    fmt::print("{} steps of 16 x 128 tokens, f32, {} alternating rounds, medians\n\n", steps,
               rounds);
    for (const Shape& s : shapes) {
      std::map<int, std::vector<double>> tps;
      std::vector<double> mb, alone, wait, step;
      for (int r = 0; r < rounds; ++r)
        for (int nproc : r % 2 == 0 ? std::vector<int>{1, 2} : std::vector<int>{2, 1}) {
          const RunResult x = run(gqa, s, data, nproc, steps, work);
          tps[nproc].push_back(x.tokens_per_s);
          if (nproc == 2) {
            mb.push_back(x.mb_per_step);
            alone.push_back(x.alone_ms);
            wait.push_back(x.wait_ms);
            step.push_back(x.step_ms);
          }
        }
      const double one = median(tps[1]), two = median(tps[2]);
      fmt::print("{}\n", s.name);
      fmt::print("  1 process x 2 threads: {:>9.0f} tokens/s\n", one);
      fmt::print("  2 processes x 1 thread: {:>8.0f} tokens/s   ({:.2f}x)\n", two, two / one);
      const double bytes = median(mb) * 1e6, t1 = 16.0 * 128 / one;  // s per step, one machine
      fmt::print(
          "  all-reduce: {:.2f} MB per step, {:.1f} ms alone ({:.0f}% of a {:.1f} ms step); the "
          "step waits {:.1f} ms for it after the backward pass ({:.0f}%)\n",
          median(mb), median(alone), 100 * median(alone) / median(step), median(step), median(wait),
          100 * median(wait) / median(step));
      fmt::print("  predicted speedup on N machines (ring all-reduce, no overlap):\n");
      fmt::print("  {:>4} {:>12} {:>12} {:>12}\n", "N", "1 Gbit/s", "10 Gbit/s", "100 Gbit/s");
      for (int n : {2, 4, 8, 16}) {
        std::string row = fmt::format("  {:>4}", n);
        for (double gbit : {1.0, 10.0, 100.0}) {
          const double comm = 2.0 * (n - 1) / n * bytes / (gbit * 1e9 / 8);
          row += fmt::format(" {:>11.2f}x", t1 / (t1 / n + comm));
        }
        fmt::print("{}\n", row);
      }
      fmt::print("\n");
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_train_parallel: {}\n", e.what());
    return 1;
  }
}
