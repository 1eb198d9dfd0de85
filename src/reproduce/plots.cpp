#include "reproduce/plots.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "reproduce/svg_chart.h"

namespace gqa::reproduce {
std::string ppl_vs_kv_heads_svg(const Results& r) {
  LineChart c;
  c.title = "Held-out perplexity vs KV heads";
  c.x_label = "KV heads (log scale; MHA left, MQA right)";
  c.y_label = "held-out perplexity (lower is better)";
  c.x_reversed = true;
  c.dodge = 5;
  std::vector<double> alphas{0.0};
  alphas.insert(alphas.end(), r.alphas.begin(), r.alphas.end());
  int color = 0;
  std::vector<std::string> families;  // in order of first appearance
  for (const auto& v : r.variants)
    if (std::find(families.begin(), families.end(), v.variant.family()) == families.end())
      families.push_back(v.variant.family());
  for (const std::string& family : families) {
    for (size_t ai = 0; ai < alphas.size(); ++ai) {
      Series s;
      s.name = fmt::format("{}, alpha {:g}", family, alphas[ai]);
      s.dashed = ai == 0;
      for (const auto& v : r.variants) {
        if (v.variant.family() != family) continue;
        const auto it = v.ppl.find(alphas[ai]);
        if (it != v.ppl.end()) s.points.emplace_back(std::log2(v.variant.kv_heads), it->second);
      }
      if (s.points.empty()) continue;
      s.line = s.points.size() > 1;
      s.color = kPalette[color % kPaletteSize];
      s.marker = static_cast<Marker>(color++ % kMarkers);
      c.series.push_back(std::move(s));
    }
  }
  for (const auto& v : r.variants)
    if (v.variant.method == convert::PoolMethod::kMean)
      c.x_ticks.emplace_back(std::log2(v.variant.kv_heads), std::to_string(v.variant.kv_heads));
  return render_svg(c);
}

std::string ppl_vs_alpha_svg(const Results& r) {
  LineChart c;
  c.title = "Held-out perplexity vs uptraining (mean pooling)";
  c.x_label = "alpha: uptraining tokens / pretraining tokens";
  c.y_label = "held-out perplexity (lower is better)";
  c.dodge = 4;
  std::vector<double> alphas{0.0};
  alphas.insert(alphas.end(), r.alphas.begin(), r.alphas.end());
  for (double a : alphas) c.x_ticks.emplace_back(a, fmt::format("{:g}", a));
  int color = 0;
  for (const auto& v : r.variants) {
    if (v.variant.family() != "mean") continue;
    Series s;
    s.name = fmt::format("{} KV head{}", v.variant.kv_heads, v.variant.kv_heads == 1 ? "" : "s");
    s.color = kPalette[color % kPaletteSize];
    s.marker = static_cast<Marker>(color++ % kMarkers);
    for (const auto& [a, ppl] : v.ppl) s.points.emplace_back(a, ppl);
    c.series.push_back(std::move(s));
  }
  return render_svg(c);
}

}  // namespace gqa::reproduce
