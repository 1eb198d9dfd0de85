#pragma once
// A line chart as a standalone SVG document: axes with ticks, one polyline (or markers only)
// per series, a legend. Enough for the reproduce plots; opens in any browser.
#include <string>
#include <utility>
#include <vector>

namespace gqa::reproduce {

struct Series {
  std::string name;
  std::string color;  // CSS color
  std::vector<std::pair<double, double>> points;
  bool line = true;  // false: markers only
  bool dashed = false;
};

struct LineChart {
  std::string title;
  std::string x_label, y_label;
  std::vector<std::pair<double, std::string>> x_ticks;  // position, label
  bool x_reversed = false;                              // e.g. KV heads from MHA down to MQA
  std::vector<Series> series;
};

std::string render_svg(const LineChart& chart);

}  // namespace gqa::reproduce
