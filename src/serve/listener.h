#pragma once
// What gqa serve and gqa kv --ui set up alike on their httplib servers: the listening socket
// and JSON error answers.
#include <string>

namespace httplib {
class Server;
}

namespace gqa::serve {

// Binds `svr` to host:port (port 0: any free port) with a listen backlog of SOMAXCONN
// (httplib's own is 5, which resets a burst of clients) and returns the port. Throws Error when
// the address cannot be had.
int bind_listener(httplib::Server& svr, const std::string& host, int port);

// Unknown routes, bodies over the limit, other httplib-level failures and exceptions a handler
// let through are answered with an OpenAI-style JSON error, not an empty body.
void use_json_errors(httplib::Server& svr);

}  // namespace gqa::serve
