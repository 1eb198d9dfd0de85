#pragma once
// The planner web page (web/planner, compiled in) and its JSON endpoints, on any httplib
// server: GET / (the page and its script and style), GET /v1/plan, GET /v1/presets.
#include <memory>
#include <string>

namespace httplib {
class Server;
}

namespace gqa::serve {

void add_planner_routes(httplib::Server& svr);

// gqa kv --ui: a server with only the planner routes (no model loaded).
class PlannerServer {
 public:
  PlannerServer();
  ~PlannerServer();
  int bind(const std::string& host, int port);  // the port; throws Error
  void listen();                                // until stop()
  void stop();

 private:
  std::unique_ptr<httplib::Server> svr_;
};

}  // namespace gqa::serve
