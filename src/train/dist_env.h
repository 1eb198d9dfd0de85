#pragma once
// Where this process stands in a data-parallel run (train/distributed.h), from the environment
// torchrun and other launchers set; gqa --nproc N sets the same for its local workers.
#include <string>

namespace gqa::train {

// The torchrun environment: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, and
// GQA_DIST_TIMEOUT (seconds a collective may wait for a peer; default 120; joining the group
// waits at least 300). WORLD_SIZE unset or 1: a single process.
struct DistEnv {
  int rank = 0, world = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double timeout_s = 120;
  bool distributed() const { return world > 1; }
};
// Throws Error for values that are not numbers or out of range (RANK >= WORLD_SIZE, ...).
DistEnv dist_env_from_environment();

}  // namespace gqa::train
