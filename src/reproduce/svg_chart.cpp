#include "reproduce/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace gqa::reproduce {
namespace {

constexpr double kWidth = 720, kHeight = 440;
constexpr double kLeft = 70, kRight = 190, kTop = 50, kBottom = 60;

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// One marker of radius r at (x, y).
std::string marker_svg(Marker m, double x, double y, const std::string& color, double r = 4.5) {
  const auto poly = [&](std::initializer_list<std::pair<double, double>> pts) {
    std::string p;
    for (const auto& [dx, dy] : pts) p += fmt::format("{:.1f},{:.1f} ", x + dx * r, y + dy * r);
    return fmt::format("<polygon points=\"{}\" fill=\"{}\"/>", p, color);
  };
  switch (m) {
    case Marker::kCircle:
      return fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\"/>", x, y, r,
                         color);
    case Marker::kSquare:
      return poly({{-0.9, -0.9}, {0.9, -0.9}, {0.9, 0.9}, {-0.9, 0.9}});
    case Marker::kTriangle:
      return poly({{0, -1.2}, {1.1, 0.8}, {-1.1, 0.8}});
    case Marker::kDiamond:
      return poly({{0, -1.25}, {1.1, 0}, {0, 1.25}, {-1.1, 0}});
    case Marker::kTriangleDown:
      return poly({{0, 1.2}, {1.1, -0.8}, {-1.1, -0.8}});
    case Marker::kCross:
    case Marker::kPlus: {
      const double a = m == Marker::kCross ? r * 0.9 : 0, b = m == Marker::kCross ? r * 0.9 : r;
      return fmt::format(
          "<path d=\"M{:.1f},{:.1f}L{:.1f},{:.1f}M{:.1f},{:.1f}L{:.1f},{:.1f}\" stroke=\"{}\" "
          "stroke-width=\"2.5\"/>",
          x - b, y - a, x + b, y + a, x - a, y + b, x + a, y - b, color);
    }
  }
  return {};
}

// About five round steps covering [lo, hi].
double nice_step(double span) {
  const double raw = span / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

}  // namespace

std::string render_svg(const LineChart& c) {
  double x_lo = std::numeric_limits<double>::max(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const auto& s : c.series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(y)) continue;
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  for (const auto& [x, label] : c.x_ticks) x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
  if (x_lo > x_hi) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  if (x_hi == x_lo) x_hi = x_lo + 1;
  const double step = nice_step(std::max(y_hi - y_lo, 1e-9));
  y_lo = std::floor(y_lo / step) * step;
  y_hi = std::ceil(y_hi / step) * step;
  if (y_hi == y_lo) y_hi = y_lo + step;
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  // Dodged series need room inside the frame at both ends.
  const double pad = c.dodge > 0 ? c.dodge * static_cast<double>(c.series.size()) / 2 + 10 : 0.0;
  auto px = [&](double x) {
    const double t = (x - x_lo) / (x_hi - x_lo);
    return kLeft + pad + (pw - 2 * pad) * (c.x_reversed ? 1 - t : t);
  };
  auto py = [&](double y) { return kTop + ph * (1 - (y - y_lo) / (y_hi - y_lo)); };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"28\" font-size=\"16\" font-weight=\"bold\">{3}</text>\n",
      kWidth, kHeight, kLeft, escape(c.title));
  // Grid and y ticks.
  for (double y = y_lo; y <= y_hi + step / 2; y += step)
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5:g}</text>\n",
        kLeft, kLeft + pw, py(y), kLeft - 6, py(y) + 4, y);
  for (const auto& [x, label] : c.x_ticks)
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#eee\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        px(x), kTop, kTop + ph, kTop + ph + 18, escape(label));
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n"
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n"
      "<text transform=\"translate(18 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
      kLeft, kTop, pw, ph, kLeft + pw / 2, kHeight - 18, escape(c.x_label), kTop + ph / 2,
      escape(c.y_label));
  // Series and legend.
  double legend_y = kTop + 10;
  for (size_t i = 0; i < c.series.size(); ++i) {
    const Series& s = c.series[i];
    const double shift =
        c.dodge * (static_cast<double>(i) - static_cast<double>(c.series.size() - 1) / 2);
    std::string pts;
    for (const auto& [x, y] : s.points)
      if (std::isfinite(y)) pts += fmt::format("{:.1f},{:.1f} ", px(x) + shift, py(y));
    if (s.line && !pts.empty())
      svg += fmt::format(
          "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", pts,
          s.color, s.dashed ? " stroke-dasharray=\"6 4\"" : "");
    for (const auto& [x, y] : s.points)
      if (std::isfinite(y)) svg += marker_svg(s.marker, px(x) + shift, py(y), s.color) + "\n";
    if (s.line)  // the legend shows the line's style too
      svg += fmt::format(
          "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>",
          kLeft + pw + 4, kLeft + pw + 28, legend_y, legend_y, s.color,
          s.dashed ? " stroke-dasharray=\"4 3\"" : "");
    svg += marker_svg(s.marker, kLeft + pw + 16, legend_y, s.color) +
           fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", kLeft + pw + 32, legend_y + 4,
                       escape(s.name));
    legend_y += 20;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace gqa::reproduce
