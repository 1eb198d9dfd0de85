#include "convert/calibration.h"

#include <string>

#include "core/error.h"

namespace gqa::convert {

AttentionInputStats::AttentionInputStats(int64_t layers, int64_t hidden)
    : hidden_(hidden), tokens_(static_cast<size_t>(layers), 0) {
  for (int64_t l = 0; l < layers; ++l) {
    sum_xx_.push_back(Eigen::MatrixXd::Zero(hidden, hidden));
    sum_x_.push_back(Eigen::VectorXd::Zero(hidden));
  }
}

void AttentionInputStats::add(int64_t layer, const float* x, int64_t rows) {
  const auto l = static_cast<size_t>(layer);
  // Column-major [hidden, rows]: each column one input vector.
  const Eigen::MatrixXd xs = Eigen::Map<const Eigen::MatrixXf>(x, hidden_, rows).cast<double>();
  sum_xx_[l].selfadjointView<Eigen::Lower>().rankUpdate(xs);
  sum_x_[l] += xs.rowwise().sum();
  tokens_[l] += rows;
}

InputMoment AttentionInputStats::moment(int64_t layer) const {
  const auto l = static_cast<size_t>(layer);
  if (tokens_[l] == 0)
    fail(ErrorKind::kInvalidArgument,
         "calibration saw no tokens in layer " + std::to_string(layer));
  const auto n = static_cast<double>(tokens_[l]);
  InputMoment m(hidden_ + 1, hidden_ + 1);
  m.topLeftCorner(hidden_, hidden_) = sum_xx_[l].selfadjointView<Eigen::Lower>();
  m.topLeftCorner(hidden_, hidden_) /= n;
  m.col(hidden_).head(hidden_) = sum_x_[l] / n;
  m.row(hidden_).head(hidden_) = (sum_x_[l] / n).transpose();
  m(hidden_, hidden_) = 1.0;
  return m;
}

}  // namespace gqa::convert
