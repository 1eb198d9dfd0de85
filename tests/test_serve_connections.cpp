// The connection layer (serve/connection_server.h) through a live server on loopback: slow
// clients, the connection cap, keep-alive, oversized heads and stalled bodies. Each test waits on
// events (a socket's answer or close), with deadlines far above what the server needs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "serve_fixtures.h"

namespace gqa::serve {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

SchedulerOptions small_server() {
  SchedulerOptions o;
  o.kv_blocks = 256;
  o.kv_dtype = KvDtype::kF16;
  o.block_size = 16;
  o.max_seqs = 2;
  o.max_queue = 4;  // 2 + 4 + 8 = 14 worker threads
  o.ctx = 512;
  return o;
}

HttpOptions with_limits(const ConnectionLimits& l) {
  HttpOptions o = test::LiveServer::default_options();
  o.connections = l;
  return o;
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

void send_all(int fd, const std::string& s) {
  ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
}

// Everything the server writes until it closes the connection (or `limit` passes).
std::string read_until_closed(int fd, std::chrono::duration<double> limit) {
  std::string out;
  const auto end = Clock::now() + limit;
  char buf[4096];
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Polls the server's connection counts until `done` holds (or 20 s pass).
template <typename Pred>
bool wait_for_connections(test::LiveServer& server, Pred done) {
  const auto end = Clock::now() + 20s;
  while (Clock::now() < end) {
    if (done(server.http().connections())) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

const std::string kHealth = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

// The slow clients' head deadline: long enough for a completion to be answered first, also at
// AddressSanitizer's speed.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kHeadDeadline = 15.0;
#else
constexpr double kHeadDeadline = 3.0;
#endif

// 100 clients each send a header byte every 0.25 s and never finish, more than the 14 workers:
// a completion and /health still answer at once, and each slow client gets a 408 and is closed
// at the head deadline.
TEST(ServeConnections, SlowHeaderClientsNeitherStarveOthersNorStayPastTheDeadline) {
  test::LiveServer server(small_server(),
                          with_limits({.workers = 0, .header_timeout = kHeadDeadline}));
  std::vector<int> slow;
  const std::string head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i) {
    slow.push_back(connect_to(server.port()));
    send_all(slow.back(), head.substr(0, 1));
  }
  ASSERT_TRUE(
      wait_for_connections(server, [](const ConnectionCounts& c) { return c.open >= 100; }));
  const auto opened = Clock::now();

  // A client trickles bytes into every slow socket meanwhile.
  std::atomic<bool> trickling{true};
  std::thread trickle([&] {
    for (size_t k = 1; trickling && k < head.size(); ++k) {
      for (int fd : slow) ::send(fd, head.data() + k, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      std::this_thread::sleep_for(250ms);
    }
  });

  const auto t0 = Clock::now();
  const test::HttpReply reply =
      test::post(server.port(), "/v1/completions",
                 R"({"prompt": "And it came to pass", "max_tokens": 4, "temperature": 0})");
  EXPECT_EQ(reply.status, 200) << reply.error << reply.body;
  httplib::Client cli("127.0.0.1", server.port());
  const auto health = cli.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
  // Both were answered while all 100 slow clients were still connected.
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - opened).count(), kHeadDeadline) << waited;
  EXPECT_GE(server.http().connections().open, 100);

  int timed_out = 0;
  for (int fd : slow) {
    const std::string answer =
        read_until_closed(fd, std::chrono::duration<double>(kHeadDeadline + 10));
    timed_out += answer.rfind("HTTP/1.1 408", 0) == 0;
  }
  const double closed_after = std::chrono::duration<double>(Clock::now() - opened).count();
  trickling = false;
  trickle.join();
  for (int fd : slow) ::close(fd);
  EXPECT_EQ(timed_out, 100);
  EXPECT_GE(closed_after, kHeadDeadline - 0.5);  // not before the deadline...
  EXPECT_LT(closed_after, kHeadDeadline + 7);    // ...and not much after it
  EXPECT_EQ(server.http().connections().timed_out, 100);
  EXPECT_TRUE(wait_for_connections(server, [](const ConnectionCounts& c) { return c.open == 0; }));
}

// Past max_connections a new connection gets a 503 with Retry-After; once others close, it is
// served again.
TEST(ServeConnections, PastTheConnectionCapANewClientGets503) {
  test::LiveServer server(small_server(), with_limits({.workers = 0, .max_connections = 8}));
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(connect_to(server.port()));
  ASSERT_TRUE(wait_for_connections(server, [](const ConnectionCounts& c) { return c.open == 8; }));

  const int extra = connect_to(server.port());
  const std::string answer = read_until_closed(extra, 10s);
  ::close(extra);
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
  EXPECT_EQ(server.http().connections().rejected, 1);

  for (int fd : idle) ::close(fd);
  ASSERT_TRUE(wait_for_connections(server, [](const ConnectionCounts& c) { return c.open == 0; }));
  httplib::Client cli("127.0.0.1", server.port());
  const auto health = cli.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// Two pipelined requests on one connection get two answers, the last with "Connection: close"
// at keep_alive_max; an idle kept-alive connection is closed after keep_alive_timeout.
TEST(ServeConnections, KeepAliveServesPipelinedRequestsAndClosesIdleOnes) {
  test::LiveServer server(
      small_server(), with_limits({.workers = 0, .keep_alive_timeout = 0.5, .keep_alive_max = 2}));
  const int fd = connect_to(server.port());
  send_all(fd, kHealth + kHealth);
  const std::string both = read_until_closed(fd, 10s);
  ::close(fd);
  const size_t first = both.find("HTTP/1.1 200");
  const size_t second = both.find("HTTP/1.1 200", first + 1);
  EXPECT_NE(first, std::string::npos) << both;
  EXPECT_NE(second, std::string::npos) << both;
  EXPECT_NE(both.find("Connection: close", second), std::string::npos) << both;

  const int idle = connect_to(server.port());
  send_all(idle, kHealth);
  const auto sent = Clock::now();
  const std::string one = read_until_closed(idle, 10s);
  const double open_for = std::chrono::duration<double>(Clock::now() - sent).count();
  ::close(idle);
  EXPECT_EQ(one.rfind("HTTP/1.1 200", 0), 0u) << one;
  EXPECT_EQ(one.find("HTTP/1.1", 1), std::string::npos);  // one answer, then the close
  EXPECT_GE(open_for, 0.4);
  EXPECT_LT(open_for, 5.0);
}

// A head over 64 KiB gets 431; a body that stops coming frees its worker at the body deadline.
TEST(ServeConnections, OversizedHeadsAndStalledBodiesAreCut) {
  test::LiveServer server(small_server(), with_limits({.workers = 0, .body_timeout = 1.0}));
  const int big = connect_to(server.port());
  std::string head = "GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: ";
  head += std::string(70 << 10, 'a');
  ::send(big, head.data(), head.size(), MSG_NOSIGNAL);
  const std::string refused = read_until_closed(big, 10s);
  ::close(big);
  EXPECT_EQ(refused.rfind("HTTP/1.1 431", 0), 0u) << refused.substr(0, 200);

  const int stalled = connect_to(server.port());
  send_all(stalled,
           "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: 100\r\n\r\n{\"prompt\": ");
  const auto sent = Clock::now();
  const std::string answer = read_until_closed(stalled, 10s);
  const double held = std::chrono::duration<double>(Clock::now() - sent).count();
  ::close(stalled);
  EXPECT_GE(held, 0.9);
  EXPECT_LT(held, 5.0);
  EXPECT_EQ(server.scheduler().gauges().running, 0);
  EXPECT_TRUE(wait_for_connections(server, [](const ConnectionCounts& c) { return c.open == 0; }));
}

}  // namespace
}  // namespace gqa::serve
