// Fixed- and dynamic-size instantiations of the Kalman arithmetic (see kalman_kernel.hpp).
#include "fmitwin/kalman_kernel.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace fmitwin {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kLog2Pi = 1.8378770664093454836;  // log(2 pi)

// Averages P with its transpose in place (rounding makes F P F' and the Joseph sum drift apart).
template <class Matrix>
void symmetrize(Matrix& P) {
  const Index n = P.rows();
  for (Index j = 0; j < n; ++j) {
    for (Index i = j + 1; i < n; ++i) {
      const double v = 0.5 * (P(i, j) + P(j, i));
      P(i, j) = v;
      P(j, i) = v;
    }
  }
}

// Overwrites the lower triangle of the symmetric A with its Cholesky factor L (A = L L');
// false when A is not positive definite. Plain loops: for the small m of measurement vectors they
// unroll at fixed sizes and beat a general blocked factorization.
template <class Matrix>
bool cholesky_lower(Matrix& A) {
  const Index m = A.rows();
  for (Index j = 0; j < m; ++j) {
    double d = A(j, j);
    for (Index k = 0; k < j; ++k) d -= A(j, k) * A(j, k);
    if (!(d > 0.0)) return false;
    d = std::sqrt(d);
    A(j, j) = d;
    for (Index i = j + 1; i < m; ++i) {
      double v = A(i, j);
      for (Index k = 0; k < j; ++k) v -= A(i, k) * A(j, k);
      A(i, j) = v / d;
    }
  }
  return true;
}

// Copies the lower triangle of P onto the upper one.
template <class Matrix>
void mirror_lower(Matrix& P) {
  const Index n = P.rows();
  for (Index j = 0; j < n; ++j) {
    for (Index i = j + 1; i < n; ++i) P(j, i) = P(i, j);
  }
}

// N, M: compile-time sizes or Eigen::Dynamic. Scratch members are sized once in the constructor,
// so no call allocates.
template <int N, int M>
class KernelImpl final : public Kernel {
  using VecN = Eigen::Matrix<double, N, 1>;
  using VecM = Eigen::Matrix<double, M, 1>;
  using MatNN = Eigen::Matrix<double, N, N>;
  using MatMM = Eigen::Matrix<double, M, M>;
  using MatMN = Eigen::Matrix<double, M, N>;
  using MatNM = Eigen::Matrix<double, N, M>;

 public:
  KernelImpl(Index n, Index m) : n_(n), m_(m) {
    x_next_.resize(n);
    FP_.resize(n, n);
    IKH_.resize(n, n);
    IKHP_.resize(n, n);
    PHt_.resize(n, m);
    KR_.resize(n, m);
    K_.resize(n, m);
    HP_.resize(m, n);
    S_.resize(m, m);
    y_.resize(m);
    w_.resize(m);
  }

  Index n() const override { return n_; }
  Index m() const override { return m_; }

  void predict(double* x, double* P, const double* F, const double* Q) override {
    Eigen::Map<VecN> xm(x, n_);
    Eigen::Map<const MatNN> Fm(F, n_, n_);
    x_next_.noalias() = Fm * xm;
    xm = x_next_;
    propagate_covariance(P, F, Q);
  }

  void propagate_covariance(double* P, const double* F, const double* Q) override {
    Eigen::Map<MatNN> Pm(P, n_, n_);
    Eigen::Map<const MatNN> Fm(F, n_, n_);
    Eigen::Map<const MatNN> Qm(Q, n_, n_);
    FP_.noalias() = Fm * Pm;
    if constexpr (N == Eigen::Dynamic) {
      // Large n: the result is symmetric, so only its lower triangle is computed (half the flops).
      Pm.template triangularView<Eigen::Lower>() = FP_ * Fm.transpose();
      Pm.template triangularView<Eigen::Lower>() += Qm;
      mirror_lower(Pm);
    } else {
      Pm.noalias() = FP_ * Fm.transpose();
      Pm += Qm;
      symmetrize(Pm);
    }
  }

  UpdateOutcome update_full(double* x, double* P, const double* z, const double* hx,
                            const double* H, const double* R, double quality, double gate,
                            double* innovation_out, double* S_out) override {
    Eigen::Map<VecN> xm(x, n_);
    Eigen::Map<MatNN> Pm(P, n_, n_);
    Eigen::Map<const VecM> zm(z, m_);
    Eigen::Map<const MatMN> Hm(H, m_, n_);
    Eigen::Map<const MatMM> Rm(R, m_, m_);
    const double r_scale = 1.0 / quality;

    y_ = zm;
    if (hx != nullptr) {
      y_ -= Eigen::Map<const VecM>(hx, m_);
    } else {
      y_.noalias() -= Hm * xm;
    }
    PHt_.noalias() = Pm * Hm.transpose();
    S_.noalias() = Hm * PHt_;
    S_ += r_scale * Rm;
    if (innovation_out != nullptr) Eigen::Map<VecM>(innovation_out, m_) = y_;
    if (S_out != nullptr) Eigen::Map<MatMM>(S_out, m_, m_) = S_;
    if (!cholesky_lower(S_)) {
      if (!Pm.allFinite()) {
        throw std::runtime_error("the covariance P became non-finite: the filter diverged");
      }
      throw std::runtime_error(
          "the innovation covariance S = H P H' + R/q is not positive definite; check R and P");
    }
    const auto& L = S_;  // S_ now holds its Cholesky factor L (lower triangle), S = L L'

    UpdateOutcome out;
    out.used = static_cast<int>(m_);
    // NIS = y' S^-1 y = |w|^2 with L w = y.
    w_ = y_;
    for (Index i = 0; i < m_; ++i) {
      for (Index k = 0; k < i; ++k) w_(i) -= L(i, k) * w_(k);
      w_(i) /= L(i, i);
    }
    out.nis = w_.squaredNorm();
    // log det S = 2 log prod L_ii: one log instead of m, unless the product under- or overflows.
    double det_L = 1.0;
    for (Index i = 0; i < m_; ++i) det_L *= L(i, i);
    double log_det_L = std::log(det_L);
    if (!std::isnormal(det_L)) {
      log_det_L = 0.0;
      for (Index i = 0; i < m_; ++i) log_det_L += std::log(L(i, i));
    }
    out.log_likelihood =
        -0.5 * (out.nis + 2.0 * log_det_L + static_cast<double>(m_) * kLog2Pi);
    if (!(out.nis <= gate)) {
      out.gated = true;
      return out;
    }

    // K = P H' S^-1 from K L L' = P H', by columns (vectorised over the n rows):
    // first W L' = P H' (W = K L), then K L = W.
    for (Index j = 0; j < m_; ++j) {
      K_.col(j) = PHt_.col(j);
      for (Index k = 0; k < j; ++k) K_.col(j) -= L(j, k) * K_.col(k);
      K_.col(j) /= L(j, j);
    }
    for (Index j = m_ - 1; j >= 0; --j) {
      for (Index k = j + 1; k < m_; ++k) K_.col(j) -= L(k, j) * K_.col(k);
      K_.col(j) /= L(j, j);
    }
    xm.noalias() += K_ * y_;
    IKH_.noalias() = -K_ * Hm;
    IKH_.diagonal().array() += 1.0;
    // (I - K H) P = P - K (H P), with H P = (P H')' already at hand (n^2 m instead of n^3).
    HP_ = PHt_.transpose();
    IKHP_ = Pm;
    IKHP_.noalias() -= K_ * HP_;
    KR_.noalias() = r_scale * K_ * Rm;
    if constexpr (N == Eigen::Dynamic) {
      Pm.template triangularView<Eigen::Lower>() = IKHP_ * IKH_.transpose();
      Pm.template triangularView<Eigen::Lower>() += KR_ * K_.transpose();
      mirror_lower(Pm);
    } else {
      Pm.noalias() = IKHP_ * IKH_.transpose();
      Pm.noalias() += KR_ * K_.transpose();
      symmetrize(Pm);
    }
    out.accepted = true;
    return out;
  }

  void run_linear(double* x, double* P, const LinearModel& model, const Series& s) override {
    for (Index t = 0; t < s.steps; ++t) {
      predict(x, P, model.F, model.Q);
      const double* z = s.z + t * s.z_stride;
      const double quality = s.quality != nullptr ? s.quality[t * s.quality_stride] : 1.0;
      double* innovation = s.innovation != nullptr ? s.innovation + t * s.innovation_stride : nullptr;
      bool complete = quality > 0.0;
      for (Index i = 0; i < m_ && complete; ++i) complete = !std::isnan(z[i]);
      const UpdateOutcome out =
          complete ? update_full(x, P, z, nullptr, model.H, model.R, quality, model.gate[m_],
                                 innovation, nullptr)
                   : update(x, P, z, nullptr, model.H, model.R, quality, model.gate, innovation,
                            nullptr, nullptr);
      Eigen::Map<const MatNN> Pm(P, n_, n_);
      if (!std::isfinite(Pm.sum() + Eigen::Map<const VecN>(x, n_).sum())) {
        throw std::runtime_error("the filter diverged to non-finite values at step " +
                                 std::to_string(t));
      }
      if (s.state != nullptr) {
        Eigen::Map<VecN>(s.state + t * s.state_stride, n_) = Eigen::Map<const VecN>(x, n_);
      }
      if (s.covariance != nullptr) {
        Eigen::Map<MatNN>(s.covariance + t * s.covariance_stride, n_, n_) = Pm;
      }
      if (s.covariance_diagonal != nullptr) {
        Eigen::Map<VecN>(s.covariance_diagonal + t * s.covariance_diagonal_stride, n_) =
            Pm.diagonal();
      }
      if (s.nis != nullptr) s.nis[t * s.scalar_stride] = out.nis;
      if (s.log_likelihood != nullptr) s.log_likelihood[t * s.scalar_stride] = out.log_likelihood;
      if (s.accepted != nullptr) s.accepted[t * s.scalar_stride] = out.accepted ? 1 : 0;
    }
  }

 private:
  Index n_, m_;
  VecN x_next_;
  MatNN FP_, IKH_, IKHP_;
  MatNM PHt_, KR_, K_;
  MatMN HP_;
  MatMM S_;
  VecM y_, w_;
};

// The fixed sizes compiled in: the small state/measurement pairs of typical machine models
// (position/velocity, motor, pendulum with a parameter, 3-D pose rates). Each pair costs compile
// time, so the list stays short; everything else takes the dynamic path.
template <int N, int M>
bool try_make(Index n, Index m, std::unique_ptr<Kernel>& out) {
  if (n != N || m != M) return false;
  out = std::make_unique<KernelImpl<N, M>>(n, m);
  return true;
}

std::unique_ptr<Kernel> make_fixed(Index n, Index m) {
  std::unique_ptr<Kernel> k;
  (void)(try_make<1, 1>(n, m, k) || try_make<2, 1>(n, m, k) || try_make<2, 2>(n, m, k) ||
         try_make<3, 1>(n, m, k) || try_make<3, 2>(n, m, k) || try_make<4, 2>(n, m, k) ||
         try_make<6, 3>(n, m, k));
  return k;
}

}  // namespace

bool has_fixed_kernel(Index n, Index m) { return make_fixed(n, m) != nullptr; }

std::unique_ptr<Kernel> make_kernel(Index n, Index m) {
  if (n < 1 || m < 1) throw std::invalid_argument("a kernel needs n >= 1 and m >= 1");
  if (auto fixed = make_fixed(n, m)) return fixed;
  return std::make_unique<KernelImpl<Eigen::Dynamic, Eigen::Dynamic>>(n, m);
}

UpdateOutcome Kernel::update(double* x, double* P, const double* z, const double* hx,
                             const double* H, const double* R, double quality,
                             const double* gate_table, double* innovation_out, double* S_out,
                             std::uint8_t* used_out) {
  const Index nn = n();
  const Index mm = m();
  Index k = 0;
  for (Index i = 0; i < mm; ++i) {
    const bool present = quality > 0.0 && !std::isnan(z[i]);
    k += present ? 1 : 0;
    if (used_out != nullptr) used_out[i] = present ? 1 : 0;
  }
  if (k == mm) {
    return update_full(x, P, z, hx, H, R, quality, gate_table[mm], innovation_out, S_out);
  }
  std::vector<Index> used;
  used.reserve(static_cast<std::size_t>(k));
  for (Index i = 0; i < mm && k > 0; ++i) {
    if (!std::isnan(z[i])) used.push_back(i);
  }
  if (innovation_out != nullptr) Eigen::Map<Eigen::VectorXd>(innovation_out, mm).setConstant(kNaN);
  if (S_out != nullptr) Eigen::Map<Eigen::MatrixXd>(S_out, mm, mm).setConstant(kNaN);
  UpdateOutcome out;
  if (k == 0) {
    out.nis = kNaN;
    out.log_likelihood = kNaN;
    return out;
  }
  // The reduced problem: the rows of z, h(x), H and the rows/columns of R that are present.
  Eigen::Map<const Eigen::MatrixXd> Hm(H, mm, nn);
  Eigen::Map<const Eigen::MatrixXd> Rm(R, mm, mm);
  Eigen::VectorXd z_used(k), hx_used(k), y_used(k);
  Eigen::MatrixXd H_used(k, nn), R_used(k, k), S_used(k, k);
  for (Index a = 0; a < k; ++a) {
    const Index i = used[static_cast<std::size_t>(a)];
    z_used(a) = z[i];
    if (hx != nullptr) hx_used(a) = hx[i];
    H_used.row(a) = Hm.row(i);
    for (Index b = 0; b < k; ++b) R_used(a, b) = Rm(i, used[static_cast<std::size_t>(b)]);
  }
  out = make_kernel(nn, k)->update_full(x, P, z_used.data(),
                                        hx != nullptr ? hx_used.data() : nullptr, H_used.data(),
                                        R_used.data(), quality, gate_table[k], y_used.data(),
                                        S_used.data());
  for (Index a = 0; a < k; ++a) {
    const Index i = used[static_cast<std::size_t>(a)];
    if (innovation_out != nullptr) innovation_out[i] = y_used(a);
    for (Index b = 0; b < k && S_out != nullptr; ++b) {
      S_out[i + mm * used[static_cast<std::size_t>(b)]] = S_used(a, b);
    }
  }
  return out;
}

}  // namespace fmitwin
