#include "train/dist_env.h"

#include <cstdlib>

#include "core/error.h"

namespace gqa::train {
namespace {

int env_int(const char* name, int def, int lo, int hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi)
    fail(ErrorKind::kInvalidArgument, std::string(name) + "=" + v + " is not a number from " +
                                          std::to_string(lo) + " to " + std::to_string(hi));
  return static_cast<int>(x);
}

}  // namespace

DistEnv dist_env_from_environment() {
  DistEnv e;
  e.world = env_int("WORLD_SIZE", 1, 1, 65536);
  e.rank = env_int("RANK", 0, 0, e.world - 1);
  e.local_rank = env_int("LOCAL_RANK", e.rank, 0, 65535);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  e.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  if (const char* t = std::getenv("GQA_DIST_TIMEOUT"); t && *t) {
    char* end = nullptr;
    e.timeout_s = std::strtod(t, &end);
    if (*end != '\0' || !(e.timeout_s > 0 && e.timeout_s <= 86400))
      fail(ErrorKind::kInvalidArgument,
           std::string("GQA_DIST_TIMEOUT=") + t + " is not a number of seconds (0 to 86400)");
  }
  if (e.distributed() && !std::getenv("MASTER_PORT"))
    fail(ErrorKind::kInvalidArgument,
         "WORLD_SIZE is " + std::to_string(e.world) + " but MASTER_PORT is not set");
  return e;
}

}  // namespace gqa::train
