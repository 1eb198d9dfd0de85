#pragma once
// A line chart as a standalone SVG document: axes with ticks, one polyline (or markers only)
// per series with its own marker shape, a legend. Enough for the reproduce plots; opens in any
// browser.
#include <string>
#include <utility>
#include <vector>

namespace gqa::reproduce {

enum class Marker { kCircle, kSquare, kTriangle, kDiamond, kTriangleDown, kCross, kPlus };
inline constexpr int kMarkers = 7;

struct Series {
  std::string name;
  std::string color;  // CSS color
  Marker marker = Marker::kCircle;
  std::vector<std::pair<double, double>> points;
  bool line = true;  // false: markers only
  bool dashed = false;
};

// The Okabe-Ito colours that read on white, which colour-blind readers can tell apart.
inline constexpr int kPaletteSize = 7;
inline constexpr const char* kPalette[kPaletteSize] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                       "#E69F00", "#56B4E9", "#000000"};

struct LineChart {
  std::string title;
  std::string x_label, y_label;
  std::vector<std::pair<double, std::string>> x_ticks;  // position, label
  bool x_reversed = false;                              // e.g. KV heads from MHA down to MQA
  // Series i is drawn (i - (n - 1) / 2) * dodge pixels to the side, so points of several series
  // at one x (and close in y) stay apart.
  double dodge = 0;
  std::vector<Series> series;
};

std::string render_svg(const LineChart& chart);

}  // namespace gqa::reproduce
