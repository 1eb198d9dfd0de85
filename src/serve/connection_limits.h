#pragma once
// The limits and counts of the server's connection layer (connection_server.h), apart from
// cpp-httplib so that its users need not include it.
#include <cstdint>

namespace gqa::serve {

struct ConnectionLimits {
  int workers = 16;                   // threads serving requests whose head has arrived
  int max_waiting = 64;               // complete heads queued for a busy worker pool
  int max_connections = 512;          // open connections, reading or served
  double header_timeout = 10;         // seconds for a request's head to arrive
  double body_timeout = 30;           // seconds for its body, from the end of the head
  double keep_alive_timeout = 5;      // seconds an idle kept-alive connection stays open
  int keep_alive_max = 100;           // requests per connection
  int64_t max_head_bytes = 64 << 10;  // request line and headers
};

struct ConnectionCounts {
  int64_t open = 0;       // connections now open
  int64_t accepted = 0;   // since start
  int64_t rejected = 0;   // answered 503 (over max_connections or max_waiting)
  int64_t timed_out = 0;  // closed at the head deadline (408) or too large (431)
};

}  // namespace gqa::serve
