// Model files come from strangers: every class of hostile input found by hand (tokenizer.json,
// tokenizer.model, safetensors, config.json, llama2.c headers, FIFOs, huge text, signals) gets
// exit code 2 and one clear line on stderr from the real binary, within a time bound and, outside
// AddressSanitizer builds, a memory bound (docs/security.md states both).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_command.h"
#include "safetensors_fixtures.h"
#include "temp_dir.h"

namespace gqa::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMeasuresMemory = false;  // ASan's shadow memory dwarfs the program's own
#else
constexpr bool kMeasuresMemory = true;
#endif

// The bounds docs/security.md promises for a refused file.
constexpr double kRefusalSeconds = 10;
constexpr long kRefusalMaxRssKiB = 512 * 1024;

const fs::path kModels = fs::path(GQA_TEST_DATA) / ".." / ".." / "models";
const std::string kTiny =
    "--layers 2 --heads 4 --head-dim 8 --hidden 32 --intermediate 48 --vocab 64 --dtype f32";

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// The largest resident set of any child waited for so far, in KiB.
long children_max_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return u.ru_maxrss;
}

// Runs gqa under `timeout`; expects exit 2, one line on stderr that says `must_say`, and the
// bounds above. Children's peak RSS only grows, so each refusal runs in a fresh child process of
// its own (forked), whose children's peak is then its own.
void expect_refused(const std::string& args, const std::string& must_say) {
  SCOPED_TRACE(args);
  const auto t0 = Clock::now();
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    ::alarm(60);  // a gqa that blocks (a FIFO) ends this child: the test fails, it does not hang
    const CommandResult r = run_gqa(args);
    const json out{{"code", r.exit_code},
                   {"err", r.err},
                   {"out_bytes", r.out.size()},
                   {"rss", children_max_rss_kib()}};
    const std::string s = out.dump(-1, ' ', false, json::error_handler_t::replace);
    [[maybe_unused]] const auto n = ::write(pipefd[1], s.data(), s.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_FALSE(text.empty());
  const json r = json::parse(text);
  const std::string err = r["err"];
  EXPECT_EQ(r["code"].get<int>(), 2) << err;
  EXPECT_EQ(count_lines(err), 1) << err;
  EXPECT_TRUE(contains(err, must_say)) << err;
  EXPECT_LT(secs, kRefusalSeconds);
  if (kMeasuresMemory) {
    EXPECT_LT(r["rss"].get<long>(), kRefusalMaxRssKiB) << "KiB";
  }
}

// A folder with a tiny random f32 checkpoint and a byte-level tokenizer.json.
fs::path tiny_checkpoint(const TempDir& tmp, const std::string& name = "ck") {
  const fs::path dir = tmp / name;
  const CommandResult r = run_gqa("init " + dir.string() + " " + kTiny + " --seed 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

json small_tokenizer_json() {
  json vocab = json::object();
  for (int i = 0; i < 26; ++i) vocab[std::string(1, static_cast<char>('a' + i))] = i;
  vocab["Ġ"] = 26;
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"added_tokens", json::array()}};
}

fs::path tokenizer_folder(const TempDir& tmp, const std::string& name, const std::string& text) {
  const fs::path dir = tmp / name;
  fs::create_directories(dir);
  write_text(dir / "tokenizer.json", text);
  return dir;
}

// --- tokenizer.json ---------------------------------------------------------------------------

TEST(HostileTokenizerJson, AddedTokenIdsOutOfRangeAreRefused) {
  TempDir tmp;
  for (const int64_t id : {int64_t{-1}, int64_t{-2}, int64_t{1} << 31, int64_t{1} << 40}) {
    json t = small_tokenizer_json();
    t["added_tokens"] = json::array({{{"id", id}, {"content", "<s>"}, {"special", true}}});
    const fs::path dir = tokenizer_folder(tmp, "added" + std::to_string(id), t.dump());
    expect_refused("detokenize " + dir.string() + " --ids 1,2", "added token");
    expect_refused("tokenize " + dir.string() + " -p abc", "added token");
  }
}

TEST(HostileTokenizerJson, AVocabIdFarPastTheFileIsRefusedBeforeAllocating) {
  TempDir tmp;
  json t = small_tokenizer_json();
  t["model"]["vocab"]["zz"] = int64_t{1} << 28;  // 9 KB of file asking for 2^28 entries
  expect_refused("tokenize " + tokenizer_folder(tmp, "far", t.dump()).string() + " -p abc",
                 "has id 268435456");
  t["model"]["vocab"]["zz"] = -5;
  expect_refused("tokenize " + tokenizer_folder(tmp, "neg", t.dump()).string() + " -p abc",
                 "has id -5");
}

TEST(HostileTokenizerJson, DeeplyNestedSequencesAreRefused) {
  TempDir tmp;
  for (const char* part : {"normalizer", "pre_tokenizer", "decoder", "post_processor"}) {
    std::string text;
    for (int i = 0; i < 100000; ++i) text += "{\"type\":\"Sequence\",\"normalizers\":[";
    for (int i = 0; i < 100000; ++i) text += "]}";
    json t = small_tokenizer_json();
    const std::string base = t.dump();
    // Splice the raw nested text in as the part's value (json would refuse to hold it).
    const std::string full = base.substr(0, base.size() - 1) + ",\"" + part + "\":" + text + "}";
    expect_refused("tokenize " + tokenizer_folder(tmp, part, full).string() + " -p abc",
                   "nested deeper than 64");
  }
}

// --- tokenizer.model --------------------------------------------------------------------------

// The byte range of the first precompiled_charsmap (ModelProto field 3, NormalizerSpec field 2)
// in a serialized SentencePiece model: a test-side walk of the protobuf, so the test does not
// rely on the code it tests.
std::pair<size_t, size_t> charsmap_range(const std::string& m) {
  auto varint = [&](size_t& at) {
    uint64_t v = 0;
    for (int s = 0;; s += 7) {
      const auto b = static_cast<uint8_t>(m[at++]);
      v |= uint64_t{b & 0x7fu} << s;
      if (!(b & 0x80)) return v;
    }
  };
  auto skip = [&](size_t& at, int type) {
    if (type == 0) varint(at);
    if (type == 1) at += 8;
    if (type == 5) at += 4;
    if (type == 2) at += static_cast<size_t>(varint(at));
  };
  for (size_t at = 0; at < m.size();) {
    const uint64_t key = varint(at);
    if (key == ((3 << 3) | 2)) {
      const size_t len = static_cast<size_t>(varint(at)), end = at + len;
      while (at < end) {
        const uint64_t k = varint(at);
        if (k == ((2 << 3) | 2)) {
          const size_t n = static_cast<size_t>(varint(at));
          return {at, n};
        }
        skip(at, static_cast<int>(k & 7));
      }
    }
    skip(at, static_cast<int>(key & 7));
  }
  return {0, 0};
}

TEST(HostileTokenizerModel, ACorruptPrecompiledCharsmapIsRefused) {
  TempDir tmp;
  const std::string model = slurp(kModels / "kjv-mha" / "tokenizer.model");
  const auto [at, n] = charsmap_range(model);
  ASSERT_GT(n, 64u) << "the demo tokenizer has a normalization trie";
  const fs::path ck = tiny_checkpoint(tmp);
  struct Corruption {
    const char* name;
    size_t offset;  // within the charsmap
    uint32_t unit;
  };
  // The trie's first unit points the root far outside; a unit deep inside gets a huge offset;
  // the header claims a trie longer than the blob.
  for (const Corruption& c :
       {Corruption{"root", 4, 0xfffffc00u}, Corruption{"inner", 4 + 4 * 300, 0x7ffffc41u},
        Corruption{"header", 0, 0x7ffffff0u}}) {
    std::string bad = model;
    std::memcpy(bad.data() + at + c.offset, &c.unit, 4);
    write_text(ck / "tokenizer.model", bad);
    expect_refused("tokenize " + ck.string() + " -p 'In the beginning'", "precompiled_charsmap");
  }
  write_text(ck / "tokenizer.model", "\x0a\xff\xff\xff\xff\x0f");  // a length past the end
  expect_refused("tokenize " + ck.string() + " -p x", "not a SentencePiece model");
}

// --- safetensors and convert ------------------------------------------------------------------

TEST(HostileSafetensors, EmptyExtraTensorsConvertAndLeaveNoTemporaryFolder) {
  TempDir tmp;
  for (const char* shape : {"[0,4]", "[4,0]"}) {
    const fs::path ck = tiny_checkpoint(tmp, std::string("ck") + shape[1]);
    // Rewrite model.safetensors with one more tensor of the given empty shape at the end.
    const std::string file = slurp(ck / "model.safetensors");
    uint64_t n = 0;
    std::memcpy(&n, file.data(), 8);
    json header = json::parse(file.substr(8, n));
    const std::string data = file.substr(8 + n);
    header["extra.empty"] = {{"dtype", "F32"},
                             {"shape", json::parse(shape)},
                             {"data_offsets", {data.size(), data.size()}}};
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    write_bytes(ck / "model.safetensors", raw_safetensors(h, 0));
    {
      std::ofstream out(ck / "model.safetensors", std::ios::app | std::ios::binary);
      out << data;
    }
    const fs::path dst = tmp / (std::string("dst") + shape[1]);
    const CommandResult r =
        run_gqa("convert " + ck.string() + " " + dst.string() + " --kv-heads 2");
    EXPECT_EQ(r.exit_code, 0) << shape << ": " << r.err;
    const CommandResult in = run_gqa("inspect " + dst.string() + " --json");
    EXPECT_TRUE(contains(in.out, "extra.empty")) << in.out;
    for (const auto& e : fs::directory_iterator(tmp.path()))
      EXPECT_FALSE(contains(e.path().filename().string(), ".tmp-")) << e.path();
  }
}

TEST(HostileSafetensors, MoreTensorsThanAnyModelAreRefusedQuickly) {
  TempDir tmp;
  const fs::path ck = tiny_checkpoint(tmp);
  std::string h = "{";
  for (int i = 0; i < 300000; ++i)
    h += "\"t" + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},";
  h.back() = '}';
  write_bytes(ck / "model.safetensors", raw_safetensors(h, 0));
  expect_refused("inspect " + ck.string(), "tensors");
}

// --- config.json and llama2.c headers ----------------------------------------------------------

TEST(HostileConfig, AHugeLayerCountIsRefusedBeforeAnythingIsSized) {
  TempDir tmp;
  const fs::path ck = tiny_checkpoint(tmp);
  json c = json::parse(slurp(ck / "config.json"));
  c["num_hidden_layers"] = 2147483647;
  write_text(ck / "config.json", c.dump());
  expect_refused("inspect " + ck.string(), "num_hidden_layers");
  expect_refused("kv " + (ck / "config.json").string(), "num_hidden_layers");
  // llama2.c: dim 288, hidden 768, 2^31 - 1 layers, 6 heads, 6 KV heads, vocab 32000, seq 256.
  const int32_t header[7] = {288, 768, 2147483647, 6, 6, 32000, 256};
  std::string bin(reinterpret_cast<const char*>(header), sizeof header);
  bin.append(1024, '\0');
  write_text(tmp / "huge.bin", bin);
  expect_refused("import-llama2c " + (tmp / "huge.bin").string() + " " + (tmp / "out").string(),
                 "num_hidden_layers");
}

TEST(HostileConfig, NonsenseNumbersAreRefusedNamingTheField) {
  TempDir tmp;
  const fs::path ck = tiny_checkpoint(tmp);
  const json base = json::parse(slurp(ck / "config.json"));
  struct Case {
    const char* field;
    json value;
    const char* must_say;
  };
  const Case cases[] = {
      {"rope_theta", 1e-320, "rope_theta"},
      {"rope_theta", -1.0, "rope_theta"},
      {"rms_norm_eps", 1e308, "rms_norm_eps"},
      {"rms_norm_eps", 0.0, "rms_norm_eps"},
      {"rope_scaling", {{"rope_type", "linear"}, {"factor", 0}}, "factor"},
      {"rope_scaling", {{"rope_type", "linear"}, {"factor", -2.0}}, "factor"},
      {"rope_scaling",
       {{"rope_type", "llama3"},
        {"factor", 8},
        {"low_freq_factor", 4},
        {"high_freq_factor", 4},
        {"original_max_position_embeddings", 8192}},
       "high_freq_factor"},
      {"eos_token_id", int64_t{1} << 40, "eos_token_id"},
      {"eos_token_id", json::array({2, -7}), "eos_token_id"},
      {"bos_token_id", 64, "bos_token_id"},  // vocab is 64
      {"max_position_embeddings", int64_t{1} << 40, "max_position_embeddings"},
  };
  for (const Case& k : cases) {
    json c = base;
    c[k.field] = k.value;
    write_text(ck / "config.json", c.dump());
    expect_refused("kv " + (ck / "config.json").string(), k.must_say);
    expect_refused("generate " + ck.string() + " --tokens 1,2 -n 1", k.must_say);
  }
}

// --- special files and sizes -------------------------------------------------------------------

TEST(HostileFiles, AFifoOrADeviceIsRefusedWithoutBlocking) {
  TempDir tmp;
  const fs::path ck = tiny_checkpoint(tmp);
  fs::rename(ck / "model.safetensors", tmp / "weights");
  ASSERT_EQ(::mkfifo((ck / "model.safetensors").c_str(), 0600), 0);
  expect_refused("inspect " + ck.string(), "not a regular file");
  fs::remove(ck / "model.safetensors");
  fs::rename(tmp / "weights", ck / "model.safetensors");
  fs::rename(ck / "config.json", tmp / "config");
  fs::create_symlink("/dev/zero", ck / "config.json");
  expect_refused("inspect " + ck.string(), "not a regular file");
  expect_refused("kv " + (ck / "config.json").string(), "not a regular file");
  fs::remove(ck / "config.json");
  ASSERT_EQ(::mkfifo((ck / "config.json").c_str(), 0600), 0);
  expect_refused("kv " + (ck / "config.json").string(), "not a regular file");
  expect_refused(
      "tokenize " + (kModels / "kjv-mha").string() + " --file " + (ck / "config.json").string(),
      "not a regular file");
}

TEST(HostileFiles, AConfigLargerThanItsCapIsRefused) {
  TempDir tmp;
  const fs::path ck = tiny_checkpoint(tmp);
  json c = json::parse(slurp(ck / "config.json"));
  c["padding"] = std::string(17 << 20, 'x');
  write_text(ck / "config.json", c.dump());
  expect_refused("inspect " + ck.string(), "more than the 16777216");
}

// The whole file was encoded in one call before: ~90 bytes of memory per byte of text.
TEST(HostileFiles, TokenizingALargeFileStaysWithinBoundedMemory) {
  TempDir tmp;
  std::string verse = "And God said, Let there be light: and there was light.\n";
  std::string text;
  while (text.size() < (8u << 20)) text += verse;
  write_text(tmp / "big.txt", text);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(240);
    const CommandResult r = run_gqa("tokenize " + (kModels / "kjv-mha").string() + " --file " +
                                    (tmp / "big.txt").string() + " --ids > /dev/null");
    ::_exit(r.exit_code == 0 && (!kMeasuresMemory || children_max_rss_kib() < 300 * 1024) ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "tokenize --file on 8 MiB failed or took 300 MiB or more (767 MiB before streaming)";
}

// --- interruption -------------------------------------------------------------------------------

// Starts `gqa ARGS` (stderr to err_file), waits until its temporary output folder in `dir` holds
// a file, sends `sig`, and expects exit 130 within 5 s with nothing left behind.
void expect_signal_cleans_up(const TempDir& tmp, const std::string& args, const fs::path& out,
                             int sig, const std::string& must_say) {
  const fs::path err = tmp / "err";
  const std::string cmd = std::string(GQA_BINARY) + " " + args + " 2>" + err.string();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto t0 = Clock::now();
  bool writing = false;
  while (!writing && Clock::now() - t0 < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (const auto& e : fs::directory_iterator(tmp.path()))
      if (contains(e.path().filename().string(), ".tmp-") && !fs::is_empty(e.path()))
        writing = true;
  }
  ASSERT_TRUE(writing) << args;
  ::kill(pid, sig);
  int status = 0;
  const auto t1 = Clock::now();
  ::waitpid(pid, &status, 0);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t1).count(), 5.0);
  ASSERT_TRUE(WIFEXITED(status)) << args;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  // The last line (progress may come before it) says what happened.
  std::string text = slurp(err);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const std::string last = text.substr(
      text.find_last_of("\n\r") == std::string::npos ? 0 : text.find_last_of("\n\r") + 1);
  EXPECT_TRUE(contains(last, must_say)) << text;
  EXPECT_TRUE(contains(last, "unfinished output was removed")) << text;
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(tmp.path()))
    EXPECT_FALSE(contains(e.path().filename().string(), ".tmp-")) << e.path();
}

TEST(HostileFiles, SigintDuringInitAndSigtermDuringConvertRemoveTheUnfinishedOutput) {
  TempDir tmp;
  const std::string shape =
      "--layers 16 --heads 8 --head-dim 64 --hidden 1024 --intermediate 4096 --vocab 32000";
  expect_signal_cleans_up(tmp, "init " + (tmp / "big").string() + " " + shape + " --dtype f32",
                          tmp / "big", SIGINT, "interrupted (SIGINT)");
  // A source of ~600 MB (bf16) to convert, written in full first.
  const CommandResult made = run_gqa("init " + (tmp / "src").string() + " " + shape);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  expect_signal_cleans_up(tmp,
                          "convert " + (tmp / "src").string() + " " + (tmp / "dst").string() +
                              " --kv-heads 2 --dtype f32 --json",
                          tmp / "dst", SIGTERM, "interrupted (SIGTERM)");
}

TEST(HostileFiles, ATemporaryFolderLeftByAKilledRunIsNamed) {
  TempDir tmp;
  fs::create_directories(tmp / ".out.tmp-999999999-12345");  // no such process
  const CommandResult r = run_gqa("init " + (tmp / "out").string() + " " + kTiny);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, ".out.tmp-999999999-12345")) << r.err;
  EXPECT_TRUE(contains(r.err, "interrupted run")) << r.err;
}

}  // namespace
}  // namespace gqa::test
