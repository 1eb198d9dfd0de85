#include "convert/value_merge.h"

#include <algorithm>

#include <Eigen/Eigenvalues>

namespace gqa::convert {
namespace {

// (A + εI)⁻¹ B for a symmetric positive semi-definite A: a ridge of 1e-12 of its mean diagonal
// keeps heads whose values span fewer than d directions solvable.
Eigen::MatrixXd solve_psd(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  const double ridge = 1e-12 * std::max(a.trace() / static_cast<double>(a.rows()), 1e-300);
  Eigen::MatrixXd reg = a;
  reg.diagonal().array() += ridge;
  return reg.ldlt().solve(b);
}

struct Eigenspace {
  Eigen::MatrixXd top;  // the top-d eigenvectors of the group's gram, as columns
  double residual = 0, total = 0;
};

}  // namespace

ValueFit::ValueFit(const AttentionWeights& w, const InputMoment* moment) : w_(w), moment_(moment) {
  const int64_t d = w.head_dim, rep = w.n_rep();
  s_.resize(w.kv_heads * d, w.v.cols());
  for (int64_t j = 0; j < w.kv_heads; ++j) {
    // R_jᵀ R_j = Σ_{h reads j} O_hᵀ O_h: how head j's values are seen after o_proj.
    Eigen::MatrixXd seen = Eigen::MatrixXd::Zero(d, d);
    for (int64_t h = w.first_query_head(j); h < w.first_query_head(j) + rep; ++h) {
      const auto o_h = w.o.middleCols(h * d, d);
      seen += o_h.transpose() * o_h;
    }
    seen.diagonal().array() += 1e-12 * std::max(seen.trace() / static_cast<double>(d), 1e-300);
    const Eigen::MatrixXd r = seen.llt().matrixU();
    s_.middleRows(j * d, d) = r * w.v.middleRows(j * d, d);
  }
  gram_all_ = moment ? Eigen::MatrixXd(s_ * *moment * s_.transpose())
                     : Eigen::MatrixXd(s_ * s_.transpose());
}

Eigen::MatrixXd ValueFit::gram(std::span<const int64_t> heads) const {
  const int64_t d = w_.head_dim, r = static_cast<int64_t>(heads.size());
  Eigen::MatrixXd g(r * d, r * d);
  for (int64_t s = 0; s < r; ++s)
    for (int64_t t = 0; t < r; ++t)
      g.block(s * d, t * d, d, d) = gram_all_.block(heads[static_cast<size_t>(s)] * d,
                                                    heads[static_cast<size_t>(t)] * d, d, d);
  return g;
}

double ValueFit::residual(std::span<const int64_t> heads) const {
  const Eigen::MatrixXd g = gram(heads);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(g, Eigen::EigenvaluesOnly);
  const double total = g.trace();
  const double kept = eig.eigenvalues().tail(w_.head_dim).sum();
  return total > 0 ? std::clamp((total - kept) / total, 0.0, 1.0) : 0.0;
}

Eigen::MatrixXd ValueFit::merge(int64_t target_kv_heads, Eigen::MatrixXd& o) const {
  const int64_t d = w_.head_dim, r = w_.kv_heads / target_kv_heads, rep = w_.n_rep();
  const int64_t cols = w_.v.cols();
  Eigen::MatrixXd v(target_kv_heads * d, cols);
  auto times_moment = [&](const Eigen::MatrixXd& rows) {
    return moment_ ? Eigen::MatrixXd(rows * *moment_) : rows;
  };
  std::vector<int64_t> heads(static_cast<size_t>(r));
  for (int64_t g = 0; g < target_kv_heads; ++g) {
    for (int64_t t = 0; t < r; ++t) heads[static_cast<size_t>(t)] = g * r + t;
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram(heads));
    const Eigen::MatrixXd u = eig.eigenvectors().rightCols(d);  // [r * d, d], ascending
    // P = Uᵀ S = Σ_t U_tᵀ R_t V_t: a combination of the group's value rows, with P C Pᵀ = Λ
    // (the top eigenvalues). Any invertible T with P -> T P, M_t -> M_t T⁻¹ gives the same
    // model; the one chosen keeps the weights trainable: P whitened to the variance of an
    // average head's value (σ² per row, so every M_t is O(1) and o_proj keeps its scale; left
    // as Λ, uptraining's first Adam step blows the weak directions up through large M_t), then
    // the rotation that brings it closest to the group's mean (orthogonal Procrustes), so a
    // group whose mean lies in the subspace gets its mean back, up to scale.
    const Eigen::VectorXd lambda = eig.eigenvalues().tail(d);
    Eigen::MatrixXd p = Eigen::MatrixXd::Zero(d, cols);
    for (int64_t t = 0; t < r; ++t)
      p += u.middleRows(t * d, d).transpose() * s_.middleRows(heads[static_cast<size_t>(t)] * d, d);
    Eigen::MatrixXd mean = Eigen::MatrixXd::Zero(d, cols);
    double variance = 0;  // of one value dimension of the group's heads, on average
    for (int64_t t = 0; t < r; ++t) {
      const auto vt = w_.v.middleRows(heads[static_cast<size_t>(t)] * d, d);
      mean += vt;
      variance += vt.cwiseProduct(times_moment(vt)).sum();
    }
    mean /= static_cast<double>(r);
    variance /= static_cast<double>(r * d);
    const double floor = 1e-12 * std::max(lambda.maxCoeff(), 1e-300);
    for (int64_t i = 0; i < d; ++i) p.row(i) *= std::sqrt(variance / std::max(lambda(i), floor));
    Eigen::MatrixXd pc = times_moment(p);
    const Eigen::JacobiSVD<Eigen::MatrixXd> svd(pc * mean.transpose(),
                                                Eigen::ComputeFullU | Eigen::ComputeFullV);
    p = svd.matrixV() * svd.matrixU().transpose() * p;
    pc = times_moment(p);
    v.middleRows(g * d, d) = p;
    // M_t = V_t C Pᵀ (P C Pᵀ)⁻¹, folded into the o_proj columns of the heads that read t.
    const Eigen::MatrixXd pcp = pc * p.transpose();
    for (int64_t t = 0; t < r; ++t) {
      const Eigen::MatrixXd mt =
          solve_psd(pcp, pc * w_.v.middleRows(heads[static_cast<size_t>(t)] * d, d).transpose())
              .transpose();
      for (int64_t h = w_.first_query_head(heads[static_cast<size_t>(t)]);
           h < w_.first_query_head(heads[static_cast<size_t>(t)]) + rep; ++h)
        o.middleCols(h * d, d) = o.middleCols(h * d, d) * mt;
    }
  }
  return v;
}

}  // namespace gqa::convert
