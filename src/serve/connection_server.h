#pragma once
// Connections in front of cpp-httplib's request handling. httplib 0.11 (Debian 12) gives each
// accepted connection a pool thread from accept to close, and its read timeout is per recv: a
// client sending one header byte every 2 s holds a thread as long as it likes, and so does an
// idle keep-alive connection, so a hundred slow sockets starve every other client.
// Here a connection costs a thread only while a request whose head has fully arrived is served:
//   accept --> reception: one poll(2) thread reads the heads of all waiting connections and
//              closes those past their deadline: header_timeout from the accept or from the
//              first byte of a kept-alive connection's next request (a partial head gets 408),
//              keep_alive_timeout for an idle kept-alive connection; a head over
//              max_head_bytes gets 431
//          --> a worker thread: the body (within body_timeout), the handler, the response
//          --> reception again (keep-alive, up to keep_alive_max requests), or close.
// Past max_connections open connections a new one gets a 503 and is closed, and so does a
// complete head when more than max_waiting heads already wait for a worker.
#include <httplib.h>

#include <memory>

#include "serve/connection_limits.h"

namespace gqa::serve {

class ConnectionServer : public httplib::Server {
 public:
  ConnectionServer();
  ~ConnectionServer() override;

  // Before serve().
  void set_limits(const ConnectionLimits& l);
  // Starts the reception and worker threads and runs httplib's accept loop on this thread
  // until stop(); then closes the connections that wait for a request and joins the workers
  // (each finishes the request it serves).
  void serve();
  ConnectionCounts counts() const;

 private:
  struct Connection;
  struct State;
  bool process_and_close_socket(socket_t sock) override;
  // One request of `c` on this worker thread; true when the connection stays open for another.
  bool serve_request(Connection& c);
  void reception_loop();
  void worker_loop();

  std::unique_ptr<State> s_;
};

// The socket of the connection whose request this thread is serving (inside a handler on a
// worker thread); -1 elsewhere.
int current_client_socket();

}  // namespace gqa::serve
