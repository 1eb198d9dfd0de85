#include "serve/listener.h"

#include <httplib.h>

#include <fmt/format.h>

#include "core/error.h"
#include "serve/openai_api.h"

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

void use_json_errors(httplib::Server& svr) {
  auto send = [](httplib::Response& r, const ApiError& e) {
    r.status = e.status;
    r.set_content(e.body().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
  };
  svr.set_error_handler([send](const httplib::Request& q, httplib::Response& r) {
    if (!r.body.empty()) return;
    const std::string msg = r.status == 404   ? fmt::format("no route {} {}", q.method, q.path)
                            : r.status == 413 ? std::string("the request body is too large")
                                              : fmt::format("HTTP {}", r.status);
    send(r, ApiError(r.status, msg));
  });
  svr.set_exception_handler(
      [send](const httplib::Request&, httplib::Response& r, std::exception_ptr ep) {
        std::string msg = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          msg = e.what();
        } catch (...) {
        }
        send(r, ApiError(500, msg, "server_error"));
      });
}

}  // namespace gqa::serve
