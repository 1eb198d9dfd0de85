#pragma once
// The connected socket of a client, as the connection layer (connection_server.h) and the
// handlers see it: its two ends' addresses, and whether the client has hung up.
#include <string>

namespace gqa::serve {

// The peer's (remote) or this side's (local) address and port, as httplib writes them
// ("127.0.0.1", "::1"); false for a socket that is not an IPv4/IPv6 connection.
bool remote_address(int fd, std::string& ip, int& port);
bool local_address(int fd, std::string& ip, int& port);

// True when the peer closed its side or reset the connection. Bytes waiting to be read (a
// pipelined next request) are not a close.
bool client_closed(int fd);

}  // namespace gqa::serve
