#include "serve/planner_routes.h"

#include <httplib.h>

#include <map>
#include <string_view>

#include <nlohmann/json.hpp>

#include "serve/listener.h"
#include "serve/openai_api.h"
#include "serve/plan_api.h"
#include "serve/web_assets.h"

namespace gqa::serve {

void add_planner_routes(httplib::Server& svr) {
  for (const WebAsset& a : web_assets()) {
    const std::string path = a.path == "index.html" ? "/" : "/" + std::string(a.path);
    svr.Get(path, [&a](const httplib::Request&, httplib::Response& res) {
      res.set_content(a.data.data(), a.data.size(), std::string(a.content_type));
    });
  }
  svr.Get("/v1/plan", [](const httplib::Request& req, httplib::Response& res) {
    try {
      const std::multimap<std::string, std::string> params(req.params.begin(), req.params.end());
      res.set_content(plan_query(params).dump(), "application/json");
    } catch (const ApiError& e) {
      res.status = e.status;
      res.set_content(e.body().dump(), "application/json");
    }
  });
  svr.Get("/v1/presets", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(preset_list().dump(), "application/json");
  });
  svr.Get("/v1/gpus", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(gpu_list().dump(), "application/json");
  });
}

PlannerServer::PlannerServer() : svr_(std::make_unique<httplib::Server>()) {
  add_planner_routes(*svr_);
  use_json_errors(*svr_);
}

PlannerServer::~PlannerServer() {
  stop();
}

int PlannerServer::bind(const std::string& host, int port) {
  return bind_listener(*svr_, host, port);
}

void PlannerServer::listen() {
  svr_->listen_after_bind();
}

void PlannerServer::stop() {
  svr_->stop();
}

}  // namespace gqa::serve
