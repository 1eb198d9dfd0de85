#include "serve/listener.h"

#include <httplib.h>

#include <fmt/format.h>

#include "core/error.h"

namespace gqa::serve {

int bind_listener(httplib::Server& svr, const std::string& host, int port) {
  socket_t listening = -1;
  svr.set_socket_options([&listening](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listening = sock;
  });
  int bound = -1;
  if (port == 0)
    bound = svr.bind_to_any_port(host);
  else if (svr.bind_to_port(host, port))
    bound = port;
  if (bound < 0)
    fail(ErrorKind::kIo,
         fmt::format("cannot listen on {}:{} (in use, or not an address here)", host, port));
  if (listening >= 0) ::listen(listening, SOMAXCONN);  // widen the backlog httplib set
  return bound;
}

}  // namespace gqa::serve
