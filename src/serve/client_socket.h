#pragma once
// Has a client hung up? cpp-httplib 0.11 (Debian 12) neither tells a handler when its client
// closes the connection nor hands it the socket, so a non-streaming request would generate to
// the end for nobody. The handler finds its connection's socket among the process's open
// descriptors by the two ends' addresses (Request::remote_addr/remote_port and the server's
// port; the connection stays open while the handler runs, so the descriptor cannot be reused
// meanwhile) and polls it between waits.
#include <string>

namespace gqa::serve {

// The connected TCP socket whose peer is remote_addr:remote_port and whose local port is
// local_port; -1 when there is none.
int find_client_socket(const std::string& remote_addr, int remote_port, int local_port);

// True when the peer closed its side or reset the connection. Bytes waiting to be read (a
// pipelined next request) are not a close.
bool client_closed(int fd);

}  // namespace gqa::serve
