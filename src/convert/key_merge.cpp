#include "convert/key_merge.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include <Eigen/Eigenvalues>

namespace gqa::convert {

using Complex = std::complex<double>;

// One unit of the fit: a rotated pair (rows re and im of a head) or an unrotated value (im < 0).
struct KeyFit::Slot {
  int64_t re, im;
};

struct KeyFit::SlotFit {
  std::vector<Complex> c;  // per head of the group: its key ≈ c · z
  Eigen::RowVectorXcd z;   // the shared key row over [x; 1]
  double residual = 0, total = 0;
};

KeyFit::KeyFit(const AttentionWeights& w, const InputMoment* moment, int64_t rotary_dim)
    : w_(w), rotary_dim_(rotary_dim) {
  gram_ = moment ? Eigen::MatrixXd(w.k * *moment * w.k.transpose())
                 : Eigen::MatrixXd(w.k * w.k.transpose());
  const Eigen::MatrixXd qc = moment ? Eigen::MatrixXd(w.q * *moment) : w.q;
  q_energy_ = w.q.cwiseProduct(qc).rowwise().sum();
}

KeyFit::SlotFit KeyFit::fit(std::span<const int64_t> heads, const Slot& slot, bool with_key) const {
  const int64_t d = w_.head_dim, r = static_cast<int64_t>(heads.size()), rep = w_.n_rep();
  const int64_t n = w_.k.cols();
  // Weights: the query energy of the heads that read each KV head, on this slot.
  std::vector<double> weight(static_cast<size_t>(r));
  for (int64_t t = 0; t < r; ++t) {
    double e = 0;
    for (int64_t h = w_.first_query_head(heads[t]); h < w_.first_query_head(heads[t]) + rep; ++h) {
      e += q_energy_(h * d + slot.re);
      if (slot.im >= 0) e += q_energy_(h * d + slot.im);
    }
    weight[static_cast<size_t>(t)] = e;
  }
  const double top = *std::max_element(weight.begin(), weight.end());
  for (double& e : weight) e = top > 0 ? std::max(e / top, 1e-6) : 1.0;

  // A = Z C Zᴴ with Z = X + iY: X C Xᵀ + Y C Yᵀ + i (Y C Xᵀ − X C Yᵀ), weighted D A D.
  Eigen::MatrixXcd a(r, r);
  for (int64_t s = 0; s < r; ++s)
    for (int64_t t = 0; t < r; ++t) {
      const int64_t ks = heads[s] * d, kt = heads[t] * d;
      double re = gram_(ks + slot.re, kt + slot.re);
      double im = 0;
      if (slot.im >= 0) {
        re += gram_(ks + slot.im, kt + slot.im);
        im = gram_(ks + slot.im, kt + slot.re) - gram_(ks + slot.re, kt + slot.im);
      }
      a(s, t) = Complex(re, im) *
                std::sqrt(weight[static_cast<size_t>(s)] * weight[static_cast<size_t>(t)]);
    }
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> eig(a);
  const Eigen::VectorXcd u = eig.eigenvectors().col(r - 1);
  SlotFit f;
  f.total = a.trace().real();
  f.residual = std::max(0.0, f.total - eig.eigenvalues()(r - 1));

  // Rank-1 fit of D Z: u uᴴ D Z, so c_t = u_t / √w_t and z = Σ_t conj(u_t) √w_t Z_t.
  f.c.resize(static_cast<size_t>(r));
  if (with_key) f.z = Eigen::RowVectorXcd::Zero(n);
  double norm = 0;
  Complex sum = 0;
  for (int64_t t = 0; t < r; ++t) {
    const double sw = std::sqrt(weight[static_cast<size_t>(t)]);
    Complex& c = f.c[static_cast<size_t>(t)];
    c = u(t) / sw;
    norm += std::norm(c);
    sum += c;
    if (!with_key) continue;
    const int64_t row = heads[t] * d;
    Eigen::RowVectorXcd zt = w_.k.row(row + slot.re).cast<Complex>();
    if (slot.im >= 0) zt += Complex(0, 1) * w_.k.row(row + slot.im).cast<Complex>();
    f.z += std::conj(u(t)) * sw * zt;
  }
  // c · z is unchanged by c → c β, z → z / β: make Σ c real and positive and the mean |c|² one,
  // so identical heads give c = 1 and z their key, as mean pooling does.
  const Complex phase = std::abs(sum) > 1e-12 * std::sqrt(norm) ? sum / std::abs(sum) : 1.0;
  const Complex beta = std::conj(phase) * std::sqrt(static_cast<double>(r) / norm);
  for (Complex& c : f.c) c *= beta;
  if (with_key) f.z /= beta;
  if (slot.im < 0) {  // a real fit: drop the rounding's imaginary parts
    for (Complex& c : f.c) c = c.real();
    if (with_key) f.z = f.z.real().cast<Complex>();
  }
  return f;
}

namespace {

std::vector<int64_t> iota_from(int64_t first, int64_t count) {
  std::vector<int64_t> v(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) v[static_cast<size_t>(i)] = first + i;
  return v;
}

}  // namespace

double KeyFit::residual(std::span<const int64_t> heads) const {
  double residual = 0, total = 0;
  const int64_t half = rotary_dim_ / 2;
  for (int64_t i = 0; i < w_.head_dim; ++i) {
    if (i >= half && i < rotary_dim_) continue;  // the imaginary half of a pair
    const SlotFit f = fit(heads, Slot{i, i < half ? i + half : -1}, false);
    residual += f.residual;
    total += f.total;
  }
  return total > 0 ? residual / total : 0.0;
}

Eigen::MatrixXd KeyFit::merge(int64_t target_kv_heads, Eigen::MatrixXd& q) const {
  const int64_t d = w_.head_dim, r = w_.kv_heads / target_kv_heads, rep = w_.n_rep();
  const int64_t half = rotary_dim_ / 2;
  Eigen::MatrixXd k(target_kv_heads * d, w_.k.cols());
  for (int64_t g = 0; g < target_kv_heads; ++g) {
    const std::vector<int64_t> heads = iota_from(g * r, r);
    for (int64_t i = 0; i < d; ++i) {
      if (i >= half && i < rotary_dim_) continue;
      const Slot slot{i, i < half ? i + half : -1};
      const SlotFit f = fit(heads, slot, true);
      k.row(g * d + slot.re) = f.z.real();
      if (slot.im >= 0) k.row(g * d + slot.im) = f.z.imag();
      // q · conj(c): (Q_re + i Q_im)(a − i b) = (a Q_re + b Q_im) + i (a Q_im − b Q_re).
      for (int64_t t = 0; t < r; ++t) {
        const double a = f.c[static_cast<size_t>(t)].real(), b = f.c[static_cast<size_t>(t)].imag();
        for (int64_t h = w_.first_query_head(heads[t]); h < w_.first_query_head(heads[t]) + rep;
             ++h) {
          if (slot.im < 0) {
            q.row(h * d + slot.re) *= a;
            continue;
          }
          const Eigen::RowVectorXd qr = q.row(h * d + slot.re), qi = q.row(h * d + slot.im);
          q.row(h * d + slot.re) = a * qr + b * qi;
          q.row(h * d + slot.im) = a * qi - b * qr;
        }
      }
    }
  }
  return k;
}

}  // namespace gqa::convert
