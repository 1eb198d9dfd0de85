#include "serve/connection_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "serve/client_socket.h"

namespace gqa::serve {
namespace {

using Clock = std::chrono::steady_clock;

thread_local int t_client_socket = -1;

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

int millis_until(Clock::time_point t, Clock::time_point now) {
  if (t <= now) return 0;
  return static_cast<int>(
      std::min<int64_t>(std::chrono::ceil<std::chrono::milliseconds>(t - now).count(), 1 << 30));
}

// Waits up to `ms` for `events` on fd; false on a timeout, an error or a hang-up.
bool wait_for(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  int r;
  do r = ::poll(&p, 1, ms);
  while (r < 0 && errno == EINTR);
  return r > 0 && (p.revents & events) && !(p.revents & (POLLERR | POLLNVAL));
}

// A short answer written without blocking (a connection refused or timed out by the accept or
// reception thread, which must never wait on one client), then the end of our side. The
// request bytes already here are read first: closing a socket with unread bytes resets the
// connection, and the client may lose the answer.
void send_answer(int fd, int status, const char* reason, const char* message) {
  const std::string body = std::string(R"({"error":{"message":")") + message +
                           R"(","type":"server_error","code":null}})";
  const std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + reason +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      (status == 503 ? "\r\nRetry-After: 1" : "") + "\r\nConnection: close\r\n\r\n" + body;
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
  [[maybe_unused]] const ssize_t sent =
      ::send(fd, head.data(), head.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
}

// httplib's accept loop hands each socket to its task queue; ours runs the hand-off on the
// accept thread itself (process_and_close_socket only registers the socket and returns).
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

}  // namespace

struct ConnectionServer::Connection {
  int fd = -1;
  std::string in;           // bytes received and not yet parsed (the next request's head, or more)
  size_t head_scanned = 0;  // bytes of `in` already searched for the blank line
  int requests_left = 0;
  Clock::time_point deadline;
  // The head's clock runs (from the accept, or from a kept-alive connection's first byte of its
  // next request); a timeout then answers 408. Otherwise the connection is idle.
  bool partial = false;
  // Answered (408, 431, 503) and half-closed: the reception thread reads and drops what the
  // client still sends until it closes too or the deadline passes (a lingering close).
  bool closing = false;

  // The offset just past the head's blank line in `in`, or 0.
  size_t head_end() {
    const size_t from = head_scanned >= 3 ? head_scanned - 3 : 0;
    const size_t at = in.find("\r\n\r\n", from);
    head_scanned = in.size();
    return at == std::string::npos ? 0 : at + 4;
  }
};

// One request's view of its connection for httplib's parser and writers: buffered reads that
// give up at the body deadline, writes that give up when the client is gone.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(std::string& in, int fd, Clock::time_point body_deadline, double write_timeout)
      : in_(in), fd_(fd), body_deadline_(body_deadline), write_ms_(write_timeout * 1000) {}
  ~ConnectionStream() override { in_.erase(0, pos_); }  // what is left: a pipelined request

  bool is_readable() const override {
    return pos_ < in_.size() || wait_for(fd_, POLLIN, millis_until(body_deadline_, Clock::now()));
  }
  bool is_writable() const override {
    return wait_for(fd_, POLLOUT, write_ms_) && !client_closed(fd_);
  }
  ssize_t read(char* p, size_t n) override {
    if (pos_ == in_.size()) {
      in_.clear();
      pos_ = 0;
      char buf[16384];
      ssize_t got = -1;
      while (got < 0) {
        if (!wait_for(fd_, POLLIN, millis_until(body_deadline_, Clock::now()))) return fail();
        got = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (got < 0 && errno != EAGAIN && errno != EINTR) return fail();
      }
      if (got == 0) return 0;
      in_.assign(buf, static_cast<size_t>(got));
    }
    const size_t k = std::min(n, in_.size() - pos_);
    std::memcpy(p, in_.data() + pos_, k);
    pos_ += k;
    return static_cast<ssize_t>(k);
  }
  ssize_t write(const char* p, size_t n) override {
    if (!wait_for(fd_, POLLOUT, write_ms_)) return -1;
    return ::send(fd_, p, n, MSG_NOSIGNAL);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    remote_address(fd_, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    local_address(fd_, ip, port);
  }
  socket_t socket() const override { return fd_; }
  // A read failed (the body deadline passed, or the connection broke): whatever httplib
  // answers, the connection's bytes are out of step and it must close.
  bool broken() const { return broken_; }

 private:
  ssize_t fail() {
    broken_ = true;
    return -1;
  }

  std::string& in_;
  size_t pos_ = 0;
  int fd_;
  Clock::time_point body_deadline_;
  int write_ms_;
  bool broken_ = false;
};

struct ConnectionServer::State {
  ConnectionLimits limits;
  int wake_fd = -1;  // eventfd: the reception thread's poll wakes for its inbox
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> open{0}, accepted{0}, rejected{0}, timed_out{0};

  std::mutex inbox_mutex;
  std::vector<std::unique_ptr<Connection>> inbox;  // new and kept-alive connections

  std::mutex work_mutex;
  std::condition_variable work_ready;
  std::deque<std::unique_ptr<Connection>> work;  // complete heads for the workers
  int busy = 0;

  void wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(wake_fd, &one, sizeof one);
  }
  void to_reception(std::unique_ptr<Connection> c) {
    {
      std::lock_guard lock(inbox_mutex);
      inbox.push_back(std::move(c));
    }
    wake();
  }
  void close(Connection& c) {
    ::shutdown(c.fd, SHUT_RDWR);
    ::close(c.fd);
    c.fd = -1;
    --open;
  }
};

ConnectionServer::ConnectionServer() : s_(std::make_unique<State>()) {
  s_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  new_task_queue = [] { return new InlineQueue; };
}

ConnectionServer::~ConnectionServer() {
  stop();
  if (s_->wake_fd >= 0) ::close(s_->wake_fd);
}

void ConnectionServer::set_limits(const ConnectionLimits& l) {
  s_->limits = l;
  s_->limits.workers = std::max(1, l.workers);
  s_->limits.keep_alive_max = std::max(1, l.keep_alive_max);
  if (l.max_waiting <= 0) s_->limits.max_waiting = s_->limits.workers;
}

ConnectionCounts ConnectionServer::counts() const {
  return {s_->open.load(), s_->accepted.load(), s_->rejected.load(), s_->timed_out.load()};
}

bool ConnectionServer::process_and_close_socket(socket_t sock) {
  State& s = *s_;
  ++s.accepted;
  if (s.stopping || s.open >= s.limits.max_connections) {
    ++s.rejected;
    send_answer(sock, 503, "Service Unavailable",
                "the server has too many open connections; try again");
    ::close(sock);
    return false;
  }
  ++s.open;
  auto c = std::make_unique<Connection>();
  c->fd = sock;
  c->requests_left = s.limits.keep_alive_max;
  c->partial = true;  // the head's clock runs from the accept
  c->deadline = Clock::now() + seconds(s.limits.header_timeout);
  s.to_reception(std::move(c));
  return true;
}

void ConnectionServer::serve() {
  State& s = *s_;
  s.stopping = false;
  std::vector<std::thread> threads;
  threads.emplace_back([this] { reception_loop(); });
  for (int i = 0; i < s.limits.workers; ++i) threads.emplace_back([this] { worker_loop(); });
  listen_after_bind();
  s.stopping = true;
  s.wake();
  s.work_ready.notify_all();
  for (auto& t : threads) t.join();
  for (auto& c : s.work) s.close(*c);  // dispatched as the workers stopped
  s.work.clear();
}

void ConnectionServer::reception_loop() {
  State& s = *s_;
  std::vector<std::unique_ptr<Connection>> waiting;
  std::vector<pollfd> fds;
  char buf[16384];

  std::vector<std::unique_ptr<Connection>> answered;  // to wait in `waiting` while closing
  auto linger = [&](std::unique_ptr<Connection> c, int status, const char* reason,
                    const char* message) {
    send_answer(c->fd, status, reason, message);
    c->closing = true;
    c->deadline = Clock::now() + std::chrono::seconds(1);
    answered.push_back(std::move(c));
  };
  // A connection whose head is complete goes to the workers, or gets a 503 when too many
  // heads already wait for one.
  auto dispatch = [&](std::unique_ptr<Connection> c) {
    {
      std::lock_guard lock(s.work_mutex);
      if (static_cast<int>(s.work.size()) < s.limits.max_waiting || s.busy < s.limits.workers) {
        s.work.push_back(std::move(c));
        s.work_ready.notify_one();
        return;
      }
    }
    ++s.rejected;
    linger(std::move(c), 503, "Service Unavailable", "the server is busy; try again");
  };

  while (!s.stopping) {
    {
      std::lock_guard lock(s.inbox_mutex);
      for (auto& c : s.inbox) waiting.push_back(std::move(c));
      s.inbox.clear();
    }
    // A kept-alive connection may hold the next (pipelined) request already.
    for (auto& c : waiting)
      if (!c->closing && c->head_end() > 0) dispatch(std::move(c));
    std::erase(waiting, nullptr);
    for (auto& c : answered) waiting.push_back(std::move(c));
    answered.clear();

    auto now = Clock::now();
    int timeout = 100;
    fds.assign(1, pollfd{s.wake_fd, POLLIN, 0});
    for (const auto& c : waiting) {
      fds.push_back(pollfd{c->fd, POLLIN, 0});
      timeout = std::min(timeout, millis_until(c->deadline, now));
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      uint64_t n;
      [[maybe_unused]] const ssize_t r = ::read(s.wake_fd, &n, sizeof n);
    }

    now = Clock::now();
    for (size_t i = 0; i < waiting.size(); ++i) {
      Connection& c = *waiting[i];
      bool gone = false;
      if (c.closing) {
        if (fds[i + 1].revents) {
          ssize_t got;
          while ((got = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
          }
          gone = got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR);
        }
        if (gone || now >= c.deadline) {
          s.close(c);
          waiting[i] = nullptr;
        }
        continue;
      }
      if (fds[i + 1].revents) {
        ssize_t got;
        while ((got = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
          if (!c.partial) {  // the first byte of a kept-alive connection's next request
            c.partial = true;
            c.deadline = now + seconds(s.limits.header_timeout);
          }
          c.in.append(buf, static_cast<size_t>(got));
          if (static_cast<int64_t>(c.in.size()) > s.limits.max_head_bytes) break;
        }
        gone = got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR);
      }
      if (!gone && c.head_end() > 0) {
        dispatch(std::move(waiting[i]));
        continue;
      }
      if (!gone && static_cast<int64_t>(c.in.size()) > s.limits.max_head_bytes) {
        ++s.timed_out;
        linger(std::move(waiting[i]), 431, "Request Header Fields Too Large",
               "the request line and headers are too large");
        continue;
      }
      if (!gone && now >= c.deadline) {
        if (c.partial) {
          ++s.timed_out;
          linger(std::move(waiting[i]), 408, "Request Timeout",
                 "the request head did not arrive in time");
        } else {
          s.close(c);  // an idle connection: closing it is all
          waiting[i] = nullptr;
        }
        continue;
      }
      if (gone) {
        s.close(c);
        waiting[i] = nullptr;
      }
    }
    std::erase(waiting, nullptr);
    for (auto& c : answered) waiting.push_back(std::move(c));
    answered.clear();
  }

  // Stopping: the connections waiting for a request close; those in the inbox too.
  std::lock_guard lock(s.inbox_mutex);
  for (auto& c : s.inbox) waiting.push_back(std::move(c));
  s.inbox.clear();
  for (auto& c : waiting) s.close(*c);
}

void ConnectionServer::worker_loop() {
  State& s = *s_;
  for (;;) {
    std::unique_ptr<Connection> c;
    {
      std::unique_lock lock(s.work_mutex);
      s.work_ready.wait(lock, [&] { return s.stopping || !s.work.empty(); });
      if (s.work.empty()) return;
      c = std::move(s.work.front());
      s.work.pop_front();
      ++s.busy;
    }
    const bool keep = serve_request(*c);
    {
      std::lock_guard lock(s.work_mutex);
      --s.busy;
    }
    if (keep && !s.stopping) {
      c->partial = !c->in.empty();
      c->head_scanned = 0;
      c->deadline = Clock::now() +
                    seconds(c->partial ? s.limits.header_timeout : s.limits.keep_alive_timeout);
      s.to_reception(std::move(c));
    } else {
      s.close(*c);
    }
  }
}

bool ConnectionServer::serve_request(Connection& c) {
  const ConnectionLimits& l = s_->limits;
  const bool last = c.requests_left <= 1 || s_->stopping;
  bool closed = false;
  bool ok;
  {
    ConnectionStream strm(c.in, c.fd, Clock::now() + seconds(l.body_timeout),
                          static_cast<double>(write_timeout_sec_) + write_timeout_usec_ * 1e-6);
    t_client_socket = c.fd;
    ok = process_request(strm, last, closed, nullptr) && !strm.broken();
    t_client_socket = -1;
  }
  --c.requests_left;
  return ok && !closed && !last;
}

int current_client_socket() {
  return t_client_socket;
}

}  // namespace gqa::serve
