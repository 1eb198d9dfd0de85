// How long the planner takes: a full sweep with capacity for every preset. It backs the web page's
// plan endpoint, which answers every slider move, so it must stay in microseconds.
#include <benchmark/benchmark.h>

#include "config/presets.h"
#include "plan/kv_report.h"

static void BM_SweepAllPresets(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& p : gqa::presets()) {
      gqa::plan::KvRequest r;
      r.model = p.config;
      r.sweep = true;
      r.users = 10;
      r.memory_bytes = int64_t{80} << 30;
      benchmark::DoNotOptimize(gqa::plan::make_report(r));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(gqa::presets().size()));
}
BENCHMARK(BM_SweepAllPresets);

BENCHMARK_MAIN();
