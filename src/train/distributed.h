#pragma once
// Data-parallel training on libtorch's c10d, the engine torchrun-launched PyTorch jobs use: a
// TCPStore rendezvous at MASTER_ADDR:MASTER_PORT and ProcessGroupGloo collectives over TCP.
// Every rank holds the whole model, takes its slice of each global batch, and all-reduces the
// gradients (averaged) in buckets that start while the backward pass is still running, so every
// rank takes the same optimizer step. NCCL would take Gloo's place on GPUs in a CUDA build of
// libtorch; Debian's is CPU-only.
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "train/dist_env.h"

namespace gqa::train {

class DataParallel {
 public:
  // Joins the group (rank 0 serves the store). Throws Error, naming this rank, when the
  // rendezvous does not complete within the timeout.
  explicit DataParallel(const DistEnv& env);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return env_.rank; }
  int world() const { return env_.world; }

  // Rank 0's tensors (same shapes everywhere) and bytes to every rank.
  void broadcast(std::vector<torch::Tensor> tensors);
  std::string broadcast_bytes(const std::string& bytes);
  double mean(double value);  // over the ranks

  // Gradient averaging for `params`: arm() before each backward pass hooks every parameter's
  // gradient into buckets of about bucket_bytes, each all-reduced as soon as all its gradients
  // have arrived; finish() after backward waits for them and writes the averages to .grad().
  // Seconds spent waiting in finish() accumulate in wait_seconds() (communication not hidden
  // behind the backward pass).
  void attach(const std::vector<torch::Tensor>& params, int64_t bucket_bytes = 8 << 20);
  void arm();
  void finish();
  double wait_seconds() const { return wait_s_; }
  int64_t bytes_per_step() const;  // gradient bytes all-reduced per step
  // Seconds one step's all-reduce takes alone (every bucket, nothing else running), the mean
  // of `reps` timed rounds. A collective: every rank must call it.
  double time_allreduce(int reps = 3);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DistEnv env_;
  double wait_s_ = 0;
};

// Rethrows a failed collective as an Error that names this rank and the likely cause.
[[noreturn]] void fail_collective(const DistEnv& env, const std::exception& e);

}  // namespace gqa::train
