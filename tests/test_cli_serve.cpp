// The gqa serve binary: 16 concurrent streaming clients get exactly what `gqa generate` prints
// for their prompts (greedy), SIGTERM stops it cleanly, and bad flags are refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_command.h"
#include "serve_fixtures.h"
#include "temp_dir.h"

extern char** environ;

namespace gqa::test {
namespace {

// `gqa serve ARGS --port 0` in the background; stderr goes to a file that gives the port.
class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> args) {
    args.insert(args.begin(), {GQA_BINARY, "serve"});
    args.insert(args.end(), {"--port", "0"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, (dir_ / "err").c_str(), O_WRONLY | O_CREAT, 0644);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    EXPECT_EQ(posix_spawn(&pid_, GQA_BINARY, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::smatch m;
      const std::string err = stderr_text();
      if (std::regex_search(err, m, listening))
        port_ = std::stoi(m[1]);
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServeProcess() {
    if (pid_ > 0) stop();
  }
  int port() const { return port_; }
  void signal(int sig) { kill(pid_, sig); }
  // Waits for the process to end; its exit code.
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string stderr_text() const { return slurp(dir_ / "err"); }
  // SIGTERM; the exit code.
  int stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST(CliServe, SixteenConcurrentStreamsMatchGqaGenerate) {
  const std::vector<std::string> prompts{
      "In the beginning",    "And God said",        "The LORD is my shepherd",
      "Blessed are the",     "For God so loved",    "Thou shalt not",
      "And Moses went up",   "The heavens declare", "Jesus wept",
      "And the children of", "Let there be",        "Honour thy father",
      "I am the way",        "Behold, a virgin",    "And the earth was",
      "Vanity of vanities"};
  constexpr int kTokens = 32;
  const std::string model = kjv_model_dir().string();
  ServeProcess server({model, "--kv-dtype", "f16", "--max-seqs", "16", "--kv-tokens", "8192"});
  ASSERT_GT(server.port(), 0) << server.stderr_text();
  // The startup line's planner command runs as printed and gives the same sessions.
  std::smatch said;
  const std::string startup = server.stderr_text();
  ASSERT_TRUE(std::regex_search(
      startup, said, std::regex("([0-9]+) sessions of [0-9]+ tokens fit \\(as `gqa (kv [^`]+)`")))
      << startup;
  const CommandResult plan = run_gqa(said[2].str() + " --json");
  ASSERT_EQ(plan.exit_code, 0) << said[2] << ": " << plan.err;
  EXPECT_EQ(nlohmann::json::parse(plan.out)["sessions_fit"].get<int64_t>(), std::stoll(said[1]));

  std::vector<std::future<HttpReply>> replies;
  for (const std::string& p : prompts)
    replies.push_back(std::async(std::launch::async, [&, p] {
      const nlohmann::json body = {
          {"prompt", p}, {"max_tokens", kTokens}, {"temperature", 0}, {"stream", true}};
      return post(server.port(), "/v1/completions", body.dump());
    }));
  for (size_t i = 0; i < prompts.size(); ++i) {
    const HttpReply r = replies[i].get();
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    const CommandResult g = run_gqa("generate " + model + " --kv-dtype f16 -n " +
                                    std::to_string(kTokens) + " -p '" + prompts[i] + "'");
    ASSERT_EQ(g.exit_code, 0) << g.err;
    EXPECT_EQ(r.text + "\n", g.out) << prompts[i];
    EXPECT_TRUE(r.done);
  }
  EXPECT_EQ(server.stop(), 0);
  EXPECT_NE(server.stderr_text().find("SIGTERM received, stopping"), std::string::npos)
      << server.stderr_text();
}

// Polls `until(status, body)` on GET `path` every 10 ms for up to 60 s; whether it held.
template <typename Pred>
bool poll(int port, const std::string& path, Pred until) {
  httplib::Client cli("127.0.0.1", port);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < end) {
    if (const auto r = cli.Get(path); r && until(r->status, r->body)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Whether /metrics says at least `n` sequences are being decoded.
bool running_at_least(int port, int n) {
  const std::regex running("\\ngqa_running_sequences ([0-9]+)\\n");
  return poll(port, "/metrics", [&](int status, const std::string& body) {
    std::smatch m;
    return status == 200 && std::regex_search(body, m, running) && std::stoi(m[1]) >= n;
  });
}

// SIGTERM with requests running: a stream that finishes within --shutdown-timeout ends
// normally; new requests and /health get 503 meanwhile; what outlives the timeout ends with an
// error event and [DONE] (stream) or a 503 JSON body, and the process exits 0 soon after.
// The test waits on the server's own gauges, not on sleeps, and sizes the drained stream from
// a measured decode rate, so a slow build (scalar kernels, sanitizers, a loaded machine) sees
// the same sequence of events as a fast one.
TEST(CliServe, SigtermDrainsRunningRequestsThenEndsTheRest) {
  const std::string model = kjv_model_dir().string();
  auto body = [](int tokens, bool stream) {
    return nlohmann::json{{"prompt", "In the beginning"},
                          {"max_tokens", tokens},
                          {"temperature", 0},
                          {"ignore_eos", true},
                          {"stream", stream}}
        .dump();
  };
  {
    ServeProcess server({model, "--kv-tokens", "8192", "--shutdown-timeout", "120"});
    ASSERT_GT(server.port(), 0) << server.stderr_text();
    // About 3 s of decoding here: long enough to outlive the steps below, well inside 120 s.
    constexpr int kProbe = 128;
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(post(server.port(), "/v1/completions", body(kProbe, false)).status, 200);
    const double rate =
        kProbe / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int drained = std::clamp(static_cast<int>(rate * 3.0), kProbe, 3500);
    auto short_stream = std::async(std::launch::async, [&] {
      return post(server.port(), "/v1/completions", body(drained, true));
    });
    ASSERT_TRUE(running_at_least(server.port(), 1));
    server.signal(SIGTERM);
    ASSERT_TRUE(poll(server.port(), "/health", [](int status, const std::string&) {
      return status == 503;
    })) << server.stderr_text();
    const HttpReply late = post(server.port(), "/v1/completions", body(4, false));
    EXPECT_EQ(late.status, 503) << late.body << late.error;
    EXPECT_NE(late.body.find("shutting_down"), std::string::npos) << late.body;
    const HttpReply r = short_stream.get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.finish_reason, "length")
        << drained << " tokens at " << rate << " tok/s; " << r.body;
    EXPECT_TRUE(r.done);
    EXPECT_EQ(server.wait(), 0);
  }
  {
    // 3500 tokens outlive a 0.5 s timeout on any build (about 3.5 s on the fastest).
    ServeProcess server({model, "--kv-tokens", "8192", "--shutdown-timeout", "0.5"});
    ASSERT_GT(server.port(), 0) << server.stderr_text();
    auto stream = std::async(std::launch::async, [&] {
      return post(server.port(), "/v1/completions", body(3500, true));
    });
    auto whole = std::async(std::launch::async, [&] {
      return post(server.port(), "/v1/completions", body(3500, false));
    });
    ASSERT_TRUE(running_at_least(server.port(), 2));
    const auto signalled = std::chrono::steady_clock::now();
    server.signal(SIGTERM);
    const HttpReply s = stream.get(), w = whole.get();
    EXPECT_EQ(server.wait(), 0);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
    EXPECT_LT(seconds, 5.0);
    EXPECT_TRUE(s.done) << s.body;
    EXPECT_NE(s.body.find("the server is shutting down"), std::string::npos) << s.body;
    EXPECT_EQ(w.status, 503) << w.body;
    EXPECT_NE(w.body.find("the server is shutting down"), std::string::npos) << w.body;
  }
}

// A checkpoint with a Jinja chat_template: the server renders it (the startup log says so), a
// chat answers as the completion of the rendered prompt does, and the template's
// raise_exception becomes a 400 with its message.
TEST(CliServe, ChatRendersTheCheckpointsJinjaTemplate) {
  TempDir ckpt;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model"})
    std::filesystem::create_symlink(kjv_model_dir() / f, ckpt / f);
  const nlohmann::json config = {
      {"bos_token", "<s>"},
      {"eos_token", "</s>"},
      {"chat_template",
       "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') "
       "}}{% endif %}{{ bos_token }}{% for m in messages %}{{ m.role | upper }}: "
       "{{ m.content | trim }}\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"}};
  std::ofstream(ckpt / "tokenizer_config.json") << config.dump();
  ServeProcess server({ckpt.path().string(), "--kv-tokens", "4096"});
  ASSERT_GT(server.port(), 0) << server.stderr_text();
  EXPECT_NE(server.stderr_text().find("chat format template (tokenizer_config.json chat_template)"),
            std::string::npos)
      << server.stderr_text();

  const HttpReply chat = post(server.port(), "/v1/chat/completions",
                              R"({"messages": [{"role": "user", "content": " In the beginning "}],)"
                              R"( "max_tokens": 12, "temperature": 0})");
  ASSERT_EQ(chat.status, 200) << chat.body;
  const HttpReply completion = post(server.port(), "/v1/completions",
                                    R"({"prompt": "USER: In the beginning\nASSISTANT:",)"
                                    R"( "max_tokens": 12, "temperature": 0})");
  ASSERT_EQ(completion.status, 200) << completion.body;
  const auto chat_json = nlohmann::json::parse(chat.body);
  const auto completion_json = nlohmann::json::parse(completion.body);
  EXPECT_EQ(chat_json["choices"][0]["message"]["content"], completion_json["choices"][0]["text"]);
  EXPECT_EQ(chat_json["usage"]["prompt_tokens"], completion_json["usage"]["prompt_tokens"]);

  const HttpReply refused = post(server.port(), "/v1/chat/completions",
                                 R"({"messages": [{"role": "system", "content": "x"},)"
                                 R"( {"role": "user", "content": "y"}]})");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("System role not supported"), std::string::npos) << refused.body;
  EXPECT_EQ(server.stop(), 0);
}

TEST(CliServe, RefusesBadFlagsWithAMessage) {
  const std::string model = kjv_model_dir().string();
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"/nonexistent/ckpt", "no such checkpoint folder"},
           {model + " --kv-memory 1KiB", "less than one"},
           {model + " --kv-memory 1MiB --ctx 4096", "fewer than one 4096-token context"},
           {model + " --ctx 9000", "more than the model's 4096 positions"},
           {model + " --port 70000", "--port"},
           {model + " --max-seqs 0", "--max-seqs"},
           {model + " --kv-dtype q4_0", "q4_0"},
           {model + " --chat-format jinja", "unknown chat format"},
           {model + " --kv-memory 1GiB --kv-tokens 100", "excludes"},
       }) {
    const CommandResult r = run_gqa("serve " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
  }
}

}  // namespace
}  // namespace gqa::test
