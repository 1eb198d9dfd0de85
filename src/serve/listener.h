#pragma once
// Binding an httplib server to an address, shared by gqa serve and gqa kv --ui.
#include <string>

namespace httplib {
class Server;
}

namespace gqa::serve {

// Binds `svr` to host:port (port 0: any free port) with a listen backlog of SOMAXCONN
// (httplib's own is 5, which resets a burst of clients) and returns the port. Throws Error when
// the address cannot be had.
int bind_listener(httplib::Server& svr, const std::string& host, int port);

}  // namespace gqa::serve
