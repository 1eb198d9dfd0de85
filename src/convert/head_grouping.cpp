#include "convert/head_grouping.h"

#include <algorithm>

namespace gqa::convert {

std::vector<int64_t> similar_head_order(int64_t kv_heads, int64_t target_kv_heads,
                                        const std::function<double(int64_t, int64_t)>& pair_cost) {
  const int64_t r = kv_heads / target_kv_heads;
  const auto n = static_cast<size_t>(kv_heads);
  std::vector<double> cost(n * n, 0.0);
  for (int64_t a = 0; a < kv_heads; ++a)
    for (int64_t b = a + 1; b < kv_heads; ++b)
      cost[static_cast<size_t>(a) * n + static_cast<size_t>(b)] =
          cost[static_cast<size_t>(b) * n + static_cast<size_t>(a)] = pair_cost(a, b);
  auto c = [&](int64_t a, int64_t b) {
    return cost[static_cast<size_t>(a) * n + static_cast<size_t>(b)];
  };
  std::vector<int64_t> group(n);  // head -> group
  for (int64_t h = 0; h < kv_heads; ++h) group[static_cast<size_t>(h)] = h / r;
  // Cost of head h against the members of group g other than itself.
  auto affinity = [&](int64_t h, int64_t g, int64_t skip) {
    double s = 0;
    for (int64_t o = 0; o < kv_heads; ++o)
      if (o != h && o != skip && group[static_cast<size_t>(o)] == g) s += c(h, o);
    return s;
  };
  if (r > 1 && target_kv_heads > 1) {
    for (int round = 0; round < 1000; ++round) {
      double best = -1e-12;
      int64_t best_a = -1, best_b = -1;
      for (int64_t a = 0; a < kv_heads; ++a)
        for (int64_t b = a + 1; b < kv_heads; ++b) {
          const int64_t ga = group[static_cast<size_t>(a)], gb = group[static_cast<size_t>(b)];
          if (ga == gb) continue;
          const double delta =
              affinity(a, gb, b) + affinity(b, ga, a) - affinity(a, ga, a) - affinity(b, gb, b);
          if (delta < best) {
            best = delta;
            best_a = a;
            best_b = b;
          }
        }
      if (best_a < 0) break;
      std::swap(group[static_cast<size_t>(best_a)], group[static_cast<size_t>(best_b)]);
    }
  }
  std::vector<std::vector<int64_t>> groups(static_cast<size_t>(target_kv_heads));
  for (int64_t h = 0; h < kv_heads; ++h)
    groups[static_cast<size_t>(group[static_cast<size_t>(h)])].push_back(h);
  std::sort(groups.begin(), groups.end());  // each is ascending already; by first head
  std::vector<int64_t> order;
  for (const auto& g : groups) order.insert(order.end(), g.begin(), g.end());
  return order;
}

void permute_kv_heads(AttentionWeights& w, std::span<const int64_t> order) {
  const int64_t d = w.head_dim, rep = w.n_rep(), qd = rep * d;
  const Eigen::MatrixXd q = w.q, k = w.k, v = w.v, o = w.o;
  for (int64_t n = 0; n < w.kv_heads; ++n) {
    const int64_t j = order[static_cast<size_t>(n)];
    w.k.middleRows(n * d, d) = k.middleRows(j * d, d);
    w.v.middleRows(n * d, d) = v.middleRows(j * d, d);
    w.q.middleRows(n * qd, qd) = q.middleRows(j * qd, qd);
    w.o.middleCols(n * qd, qd) = o.middleCols(j * qd, qd);
  }
}

}  // namespace gqa::convert
