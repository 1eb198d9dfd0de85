#include "train/distributed.h"

#define USE_C10D_GLOO 1  // Debian's libtorch is built with Gloo; the header wants the flag
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"

namespace gqa::train {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kRendezvousSeconds = 300;  // the least time the group waits for every rank

std::string who(const DistEnv& env) {
  return "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world);
}

}  // namespace

void fail_collective(const DistEnv& env, const std::exception& e) {
  std::string what = e.what();
  if (const size_t nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
  fail(ErrorKind::kIo, who(env) +
                           ": a collective with the other ranks failed (a worker died, hung past "
                           "GQA_DIST_TIMEOUT, or cannot be reached): " +
                           what);
}

// A bucket: consecutive parameters (in the order gradients arrive: last layer first) whose
// gradients are copied into one flat tensor and all-reduced together.
struct Bucket {
  std::vector<size_t> params;
  std::vector<int64_t> offsets;
  torch::Tensor flat;
  size_t ready = 0;
  c10::intrusive_ptr<c10d::Work> work;
};

struct DataParallel::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::vector<torch::Tensor> params;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucket_of;  // parameter -> bucket
  std::vector<size_t> slot_of;    // parameter -> its position in that bucket
  std::vector<bool> arrived;      // this step
  size_t next_launch = 0;         // buckets launch in order on every rank
  std::chrono::milliseconds timeout{0};

  void launch_ready() {
    while (next_launch < buckets.size() &&
           buckets[next_launch].ready == buckets[next_launch].params.size()) {
      std::vector<at::Tensor> t{buckets[next_launch].flat};
      buckets[next_launch].work = pg->allreduce(t);
      ++next_launch;
    }
  }
};

DataParallel::DataParallel(const DistEnv& env) : impl_(std::make_unique<Impl>()), env_(env) {
  impl_->timeout = std::chrono::milliseconds(static_cast<int64_t>(env.timeout_s * 1000));
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<size_t>(env.world);
    so.waitWorkers = true;
    // Joining waits longer than a collective: a rank may still be loading libtorch or its data.
    so.timeout = std::chrono::milliseconds(
        static_cast<int64_t>(std::max(env.timeout_s, kRendezvousSeconds) * 1000));
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    auto opts = c10d::ProcessGroupGloo::Options::create(impl_->timeout);
    const bool loopback = env.master_addr == "localhost" || env.master_addr.rfind("127.", 0) == 0;
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (loopback)
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 2;
    impl_->pg =
        c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env.rank, env.world, opts);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (const size_t nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    fail(ErrorKind::kIo,
         who(env) + ": cannot join the group at " + env.master_addr + ":" +
             std::to_string(env.master_port) + " within " +
             std::to_string(static_cast<int>(std::max(env.timeout_s, kRendezvousSeconds))) +
             " s: " + what);
  }
}

DataParallel::~DataParallel() = default;

void DataParallel::broadcast(std::vector<torch::Tensor> tensors) {
  torch::NoGradGuard no_grad;
  try {
    for (torch::Tensor& t : tensors) {
      std::vector<at::Tensor> one{t};
      c10d::BroadcastOptions o;
      o.rootRank = 0;
      impl_->pg->broadcast(one, o)->wait(impl_->timeout);
    }
  } catch (const std::exception& e) {
    fail_collective(env_, e);
  }
}

std::string DataParallel::broadcast_bytes(const std::string& bytes) {
  torch::Tensor n = torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kInt64);
  broadcast({n});
  torch::Tensor data = torch::zeros({n.item<int64_t>()}, torch::kUInt8);
  if (env_.rank == 0) std::memcpy(data.data_ptr(), bytes.data(), bytes.size());
  broadcast({data});
  return std::string(static_cast<const char*>(data.data_ptr()), static_cast<size_t>(data.numel()));
}

double DataParallel::mean(double value) {
  std::vector<at::Tensor> t{torch::tensor({value}, torch::kFloat64)};
  try {
    impl_->pg->allreduce(t)->wait(impl_->timeout);
  } catch (const std::exception& e) {
    fail_collective(env_, e);
  }
  return t[0].item<double>() / env_.world;
}

void DataParallel::attach(const std::vector<torch::Tensor>& params, int64_t bucket_bytes) {
  Impl& m = *impl_;
  m.params = params;
  m.bucket_of.assign(params.size(), 0);
  m.slot_of.assign(params.size(), 0);
  m.arrived.assign(params.size(), false);
  // Gradients arrive roughly from the last parameter to the first: buckets follow that order.
  int64_t bytes = 0;
  for (size_t k = params.size(); k-- > 0;) {
    if (m.buckets.empty() || bytes >= bucket_bytes) {
      m.buckets.emplace_back();
      bytes = 0;
    }
    Bucket& b = m.buckets.back();
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params[b.params.back()].numel());
    m.slot_of[k] = b.params.size();
    b.params.push_back(k);
    m.bucket_of[k] = m.buckets.size() - 1;
    bytes += params[k].numel() * static_cast<int64_t>(sizeof(float));
  }
  for (Bucket& b : m.buckets) {
    const int64_t n = b.offsets.back() + params[b.params.back()].numel();
    b.flat = torch::zeros({n}, torch::kFloat32);
  }
  for (size_t k = 0; k < params.size(); ++k)
    m.params[k].register_hook([this, k](torch::Tensor grad) {
      Impl& im = *impl_;
      Bucket& b = im.buckets[im.bucket_of[k]];
      auto slot = b.flat.narrow(0, b.offsets[im.slot_of[k]], grad.numel());
      if (im.arrived[k]) {  // a second contribution (a parameter used twice): add it
        slot.add_(grad.detach().reshape(-1).to(torch::kFloat32));
        return;
      }
      slot.copy_(grad.detach().reshape(-1));
      im.arrived[k] = true;
      ++b.ready;
      im.launch_ready();
    });
}

void DataParallel::arm() {
  Impl& m = *impl_;
  std::fill(m.arrived.begin(), m.arrived.end(), false);
  for (Bucket& b : m.buckets) {
    b.ready = 0;
    b.work.reset();
  }
  m.next_launch = 0;
}

void DataParallel::finish() {
  Impl& m = *impl_;
  const auto t0 = Clock::now();
  try {
    // Parameters that got no gradient this step contribute zeros.
    for (size_t k = 0; k < m.params.size(); ++k)
      if (!m.arrived[k]) {
        Bucket& b = m.buckets[m.bucket_of[k]];
        b.flat.narrow(0, b.offsets[m.slot_of[k]], m.params[k].numel()).zero_();
        m.arrived[k] = true;
        ++b.ready;
      }
    m.launch_ready();
    for (Bucket& b : m.buckets) b.work->wait(m.timeout);
  } catch (const std::exception& e) {
    fail_collective(env_, e);
  }
  wait_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
  torch::NoGradGuard no_grad;
  for (Bucket& b : m.buckets) {
    b.flat.div_(env_.world);
    for (size_t j = 0; j < b.params.size(); ++j) {
      torch::Tensor& p = m.params[b.params[j]];
      auto avg = b.flat.narrow(0, b.offsets[j], p.numel()).view_as(p);
      if (p.grad().defined())
        p.mutable_grad().copy_(avg);
      else
        p.mutable_grad() = avg.clone();
    }
  }
}

double DataParallel::time_allreduce(int reps) {
  std::vector<at::Tensor> buffers;
  for (const Bucket& b : impl_->buckets) buffers.push_back(torch::zeros_like(b.flat));
  const auto t0 = Clock::now();
  try {
    for (int r = 0; r < reps; ++r) {
      std::vector<c10::intrusive_ptr<c10d::Work>> works;
      for (at::Tensor& t : buffers) {
        std::vector<at::Tensor> one{t};
        works.push_back(impl_->pg->allreduce(one));
      }
      for (auto& w : works) w->wait(impl_->timeout);
    }
  } catch (const std::exception& e) {
    fail_collective(env_, e);
  }
  return std::chrono::duration<double>(Clock::now() - t0).count() / reps;
}

int64_t DataParallel::bytes_per_step() const {
  int64_t n = 0;
  for (const Bucket& b : impl_->buckets) n += b.flat.numel() * static_cast<int64_t>(sizeof(float));
  return n;
}

}  // namespace gqa::train
