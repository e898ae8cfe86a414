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

// What every update computes once S = L L' is factored (L in the lower triangle of `L`): the NIS
// y' S^-1 y = |w|^2 with L w = y (w: scratch of m entries), and the log-likelihood log N(y; 0, S).
template <class Lower, class Vector>
UpdateOutcome innovation_statistics(const Lower& L, const Vector& y, double* w, Index m) {
  UpdateOutcome out;
  out.used = static_cast<int>(m);
  double nis = 0.0;
  for (Index i = 0; i < m; ++i) {
    double v = y(i);
    for (Index k = 0; k < i; ++k) v -= L(i, k) * w[k];
    w[i] = v / L(i, i);
    nis += w[i] * w[i];
  }
  out.nis = nis;
  // log det S = 2 log prod L_ii: one log instead of m, unless the product under- or overflows.
  double det_L = 1.0;
  for (Index i = 0; i < m; ++i) det_L *= L(i, i);
  double log_det_L = std::log(det_L);
  if (!std::isnormal(det_L)) {
    log_det_L = 0.0;
    for (Index i = 0; i < m; ++i) log_det_L += std::log(L(i, i));
  }
  out.log_likelihood = -0.5 * (nis + 2.0 * log_det_L + static_cast<double>(m) * kLog2Pi);
  return out;
}

// Why S = H P H' + R/q could not be factored.
[[noreturn]] void throw_not_positive_definite(bool covariance_finite) {
  if (!covariance_finite) {
    throw std::runtime_error("the covariance P became non-finite: the filter diverged");
  }
  throw std::runtime_error(
      "the innovation covariance S = H P H' + R/q is not positive definite; check R and P");
}

[[noreturn]] void throw_diverged(Index step) {
  throw std::runtime_error("the filter diverged to non-finite values at step " +
                           std::to_string(step));
}

// Step t of a series: its measurement, its quality and where its innovation goes (or nullptr).
struct StepInput {
  const double* z;
  double quality;
  double* innovation;
};

StepInput step_input(const Series& s, Index t) {
  return {s.z + t * s.z_stride, s.quality != nullptr ? s.quality[t * s.quality_stride] : 1.0,
          s.innovation != nullptr ? s.innovation + t * s.innovation_stride : nullptr};
}

// Whether a step's update uses every entry of z (else Kernel::update's partial update runs).
bool complete_measurement(const double* z, Index m, double quality) {
  bool complete = quality > 0.0;
  for (Index i = 0; i < m && complete; ++i) complete = !std::isnan(z[i]);
  return complete;
}

// Step t's per-step results other than the state and covariance (which each kernel writes).
void record_outcome(const Series& s, Index t, const UpdateOutcome& out) {
  if (s.nis != nullptr) s.nis[t * s.scalar_stride] = out.nis;
  if (s.log_likelihood != nullptr) s.log_likelihood[t * s.scalar_stride] = out.log_likelihood;
  if (s.accepted != nullptr) s.accepted[t * s.scalar_stride] = out.accepted ? 1 : 0;
}

// Any (n, m), on Eigen's dynamic-size matrices. Scratch members are sized once in the
// constructor, so no call allocates. Symmetric results are computed on their lower triangle only
// (half the flops of the full product) and mirrored.
class DynamicKernel final : public Kernel {
 public:
  DynamicKernel(Index n, Index m)
      : n_(n),
        m_(m),
        x_next_(n),
        FP_(n, n),
        IKH_(n, n),
        IKHP_(n, n),
        PHt_(n, m),
        KR_(n, m),
        K_(n, m),
        HP_(m, n),
        S_(m, m),
        y_(m),
        w_(m) {}

  Index n() const override { return n_; }
  Index m() const override { return m_; }

  void predict(double* x, double* P, const double* F, const double* Q) override {
    Eigen::Map<Eigen::VectorXd> xm(x, n_);
    x_next_.noalias() = Eigen::Map<const Eigen::MatrixXd>(F, n_, n_) * xm;
    xm = x_next_;
    propagate_covariance(P, F, Q);
  }

  void propagate_covariance(double* P, const double* F, const double* Q) override {
    Eigen::Map<Eigen::MatrixXd> Pm(P, n_, n_);
    Eigen::Map<const Eigen::MatrixXd> Fm(F, n_, n_);
    FP_.noalias() = Fm * Pm;
    Pm.triangularView<Eigen::Lower>() = FP_ * Fm.transpose();
    Pm.triangularView<Eigen::Lower>() += Eigen::Map<const Eigen::MatrixXd>(Q, n_, n_);
    mirror_lower(Pm);
  }

  UpdateOutcome update_full(double* x, double* P, const double* z, const double* hx,
                            const double* H, const double* R, double quality, double gate,
                            double* innovation_out, double* S_out) override {
    Eigen::Map<Eigen::VectorXd> xm(x, n_);
    Eigen::Map<Eigen::MatrixXd> Pm(P, n_, n_);
    Eigen::Map<const Eigen::MatrixXd> Hm(H, m_, n_);
    Eigen::Map<const Eigen::MatrixXd> Rm(R, m_, m_);
    const double r_scale = 1.0 / quality;

    y_ = Eigen::Map<const Eigen::VectorXd>(z, m_);
    if (hx != nullptr) {
      y_ -= Eigen::Map<const Eigen::VectorXd>(hx, m_);
    } else {
      y_.noalias() -= Hm * xm;
    }
    PHt_.noalias() = Pm * Hm.transpose();
    S_.noalias() = Hm * PHt_;
    S_ += r_scale * Rm;
    if (innovation_out != nullptr) Eigen::Map<Eigen::VectorXd>(innovation_out, m_) = y_;
    if (S_out != nullptr) Eigen::Map<Eigen::MatrixXd>(S_out, m_, m_) = S_;
    if (!cholesky_lower(S_)) throw_not_positive_definite(Pm.allFinite());
    const auto& L = S_;  // S_ now holds its Cholesky factor L (lower triangle), S = L L'
    UpdateOutcome out = innovation_statistics(L, y_, w_.data(), m_);
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
    Pm.triangularView<Eigen::Lower>() = IKHP_ * IKH_.transpose();
    Pm.triangularView<Eigen::Lower>() += KR_ * K_.transpose();
    mirror_lower(Pm);
    out.accepted = true;
    return out;
  }

  void run_linear(double* x, double* P, const LinearModel& model, const Series& s) override {
    for (Index t = 0; t < s.steps; ++t) {
      predict(x, P, model.F, model.Q);
      const StepInput in = step_input(s, t);
      const UpdateOutcome out =
          complete_measurement(in.z, m_, in.quality)
              ? update_full(x, P, in.z, nullptr, model.H, model.R, in.quality, model.gate[m_],
                            in.innovation, nullptr)
              : update(x, P, in.z, nullptr, model.H, model.R, in.quality, model.gate,
                       in.innovation, nullptr, nullptr);
      Eigen::Map<const Eigen::MatrixXd> Pm(P, n_, n_);
      Eigen::Map<const Eigen::VectorXd> xm(x, n_);
      if (!std::isfinite(Pm.sum() + xm.sum())) throw_diverged(t);
      if (s.state != nullptr) Eigen::Map<Eigen::VectorXd>(s.state + t * s.state_stride, n_) = xm;
      if (s.covariance != nullptr) {
        Eigen::Map<Eigen::MatrixXd>(s.covariance + t * s.covariance_stride, n_, n_) = Pm;
      }
      if (s.covariance_diagonal != nullptr) {
        Eigen::Map<Eigen::VectorXd>(s.covariance_diagonal + t * s.covariance_diagonal_stride, n_) =
            Pm.diagonal();
      }
      record_outcome(s, t, out);
    }
  }

 private:
  Index n_, m_;
  Eigen::VectorXd x_next_;
  Eigen::MatrixXd FP_, IKH_, IKHP_;
  Eigen::MatrixXd PHt_, KR_, K_;
  Eigen::MatrixXd HP_;
  Eigen::MatrixXd S_;
  Eigen::VectorXd y_, w_;
};

#if defined(__GNUC__)
#define FMITWIN_PACKED_KERNELS 1

// The fixed-size kernels: the same arithmetic as DynamicKernel, written on pairs of doubles (one
// SSE2 / NEON register, through the GCC/Clang vector extension) with every loop bound known at
// compile time, so that a whole predict + update unrolls into straight-line SIMD code (the same
// kernel on Eigen's fixed-size matrices took 1.6x as long per step at n = 6, m = 3; 1.9x with the
// AVX2/FMA clone below).
typedef double Pair __attribute__((vector_size(16)));

// On x86-64 Linux, GCC builds every kernel entry point twice, for the baseline ISA and for
// x86-64-v3 (AVX2 + FMA: fused multiply-adds), and the loader picks one for the CPU it runs on:
// the speed of -march=native without giving up a portable binary.
#if defined(__x86_64__) && defined(__linux__) && !defined(__clang__) && __GNUC__ >= 12
#define FMITWIN_ISA_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FMITWIN_ISA_CLONES
#endif
// What the cloned entry points call is inlined into each clone, so it is compiled for its ISA too.
#define FMITWIN_INLINE [[gnu::always_inline]] inline

// A Rows x Cols matrix stored column by column, each column as ceil(Rows / 2) pairs; an odd row
// count leaves a padding entry per column that stays 0 through every product below.
template <int Rows, int Cols>
struct PairMatrix {
  static constexpr int kPairs = (Rows + 1) / 2;
  Pair col[Cols][kPairs];

  double& operator()(int i, int j) { return col[j][i / 2][i % 2]; }
  double operator()(int i, int j) const { return col[j][i / 2][i % 2]; }

  void load(const double* a) {  // from column-major storage with leading dimension Rows
    for (int j = 0; j < Cols; ++j) {
      col[j][kPairs - 1] = Pair{0.0, 0.0};
      for (int i = 0; i < Rows; ++i) (*this)(i, j) = a[i + Rows * j];
    }
  }
  void store(double* a) const {
    for (int j = 0; j < Cols; ++j) {
      for (int i = 0; i < Rows; ++i) a[i + Rows * j] = (*this)(i, j);
    }
  }
};

inline Pair broadcast(double v) { return Pair{v, v}; }

template <int N, int M>
class PackedKernel final : public Kernel {
  static constexpr int kPairs = (N + 1) / 2;

 public:
  Index n() const override { return N; }
  Index m() const override { return M; }

  // The overrides forward to the ISA-cloned bodies (GCC cannot clone a virtual function).
  void predict(double* x, double* P, const double* F, const double* Q) override {
    cloned_predict(x, P, F, Q);
  }
  void propagate_covariance(double* P, const double* F, const double* Q) override {
    cloned_propagate_covariance(P, F, Q);
  }
  UpdateOutcome update_full(double* x, double* P, const double* z, const double* hx,
                            const double* H, const double* R, double quality, double gate,
                            double* innovation_out, double* S_out) override {
    return cloned_update_full(x, P, z, hx, H, R, quality, gate, innovation_out, S_out);
  }
  void run_linear(double* x, double* P, const LinearModel& model, const Series& s) override {
    cloned_run_linear(x, P, model, s);
  }

 private:
  FMITWIN_ISA_CLONES void cloned_predict(double* x, double* P, const double* F, const double* Q) {
    F_.load(F);
    Q_.load(Q);
    x_.load(x);
    P_.load(P);
    predict_state();
    predict_covariance();
    x_.store(x);
    P_.store(P);
  }

  FMITWIN_ISA_CLONES void cloned_propagate_covariance(double* P, const double* F, const double* Q) {
    F_.load(F);
    Q_.load(Q);
    P_.load(P);
    predict_covariance();
    P_.store(P);
  }

  FMITWIN_ISA_CLONES UpdateOutcome cloned_update_full(double* x, double* P, const double* z,
                                                      const double* hx, const double* H,
                                                      const double* R, double quality, double gate,
                                                      double* innovation_out, double* S_out) {
    x_.load(x);
    P_.load(P);
    load_measurement_model(H, R);
    const UpdateOutcome out = correct(z, hx, quality, gate, innovation_out, S_out);
    if (out.accepted) {
      x_.store(x);
      P_.store(P);
    }
    return out;
  }

  FMITWIN_ISA_CLONES void cloned_run_linear(double* x, double* P, const LinearModel& model,
                                            const Series& s) {
    F_.load(model.F);
    Q_.load(model.Q);
    load_measurement_model(model.H, model.R);
    x_.load(x);
    P_.load(P);
    for (Index t = 0; t < s.steps; ++t) {
      predict_state();
      predict_covariance();
      const StepInput in = step_input(s, t);
      UpdateOutcome out;
      if (complete_measurement(in.z, M, in.quality)) {
        out = correct(in.z, nullptr, in.quality, model.gate[M], in.innovation, nullptr);
      } else {
        // Partial updates are rare: the generic reduced problem runs on plain storage.
        x_.store(x);
        P_.store(P);
        out = update(x, P, in.z, nullptr, model.H, model.R, in.quality, model.gate, in.innovation,
                     nullptr, nullptr);
        x_.load(x);
        P_.load(P);
      }
      Pair sum = x_.col[0][0];
      for (int i = 1; i < kPairs; ++i) sum += x_.col[0][i];
      for (int j = 0; j < N; ++j) {
        for (int i = 0; i < kPairs; ++i) sum += P_.col[j][i];
      }
      if (!std::isfinite(sum[0] + sum[1])) throw_diverged(t);
      if (s.state != nullptr) x_.store(s.state + t * s.state_stride);
      if (s.covariance != nullptr) P_.store(s.covariance + t * s.covariance_stride);
      if (s.covariance_diagonal != nullptr) {
        double* diagonal = s.covariance_diagonal + t * s.covariance_diagonal_stride;
        for (int i = 0; i < N; ++i) diagonal[i] = P_(i, i);
      }
      record_outcome(s, t, out);
    }
    x_.store(x);
    P_.store(P);
  }

  FMITWIN_INLINE void load_measurement_model(const double* H, const double* R) {
    for (int i = 0; i < M * N; ++i) H_[i] = H[i];
    for (int i = 0; i < M * M; ++i) R_[i] = R[i];
  }
  double H(int i, int j) const { return H_[i + M * j]; }
  double R(int i, int j) const { return R_[i + M * j]; }

  // x <- F x
  FMITWIN_INLINE void predict_state() {
    Pair next[kPairs] = {};
    for (int k = 0; k < N; ++k) {
      const Pair xk = broadcast(x_(k, 0));
      for (int i = 0; i < kPairs; ++i) next[i] += F_.col[k][i] * xk;
    }
    for (int i = 0; i < kPairs; ++i) x_.col[0][i] = next[i];
  }

  // P <- F P F' + Q (symmetric: its lower triangle, mirrored).
  FMITWIN_INLINE void predict_covariance() {
    for (int j = 0; j < N; ++j) {  // FP = F P
      Pair acc[kPairs] = {};
      for (int k = 0; k < N; ++k) {
        const Pair p = broadcast(P_(k, j));
        for (int i = 0; i < kPairs; ++i) acc[i] += F_.col[k][i] * p;
      }
      for (int i = 0; i < kPairs; ++i) FP_.col[j][i] = acc[i];
    }
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) {  // T = FP F' + Q, lower triangle
      const int first = j / 2;  // the first pair holding a row >= j
      Pair acc[kPairs];
      for (int i = first; i < kPairs; ++i) acc[i] = Q_.col[j][i];
      for (int k = 0; k < N; ++k) {
        const Pair f = broadcast(F_(j, k));
        for (int i = first; i < kPairs; ++i) acc[i] += FP_.col[k][i] * f;
      }
      for (int i = first; i < kPairs; ++i) T_.col[j][i] = acc[i];
    }
    mirror_into_P();
  }

  // P <- T with its upper triangle mirrored from the lower one (only the lower one is computed, as
  // in DynamicKernel), written a pair at a time: whole-register stores keep the next loads of P
  // fast.
  FMITWIN_INLINE void mirror_into_P() {
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) {
      for (int i = 0; i < kPairs; ++i) {
        const int top = 2 * i, bottom = 2 * i + 1;
        if (top >= j) {
          P_.col[j][i] = T_.col[j][i];
        } else {
          const double below = bottom >= N ? 0.0 : bottom >= j ? T_(bottom, j) : T_(j, bottom);
          P_.col[j][i] = Pair{T_(j, top), below};
        }
      }
    }
  }

  // The update of DynamicKernel::update_full on the loaded x_, P_, H_, R_.
  FMITWIN_INLINE UpdateOutcome correct(const double* z, const double* hx, double quality,
                                       double gate, double* innovation_out, double* S_out) {
    const double r_scale = 1.0 / quality;
    for (int i = 0; i < M; ++i) {  // y = z - h(x)
      double hxi = 0.0;
      if (hx != nullptr) {
        hxi = hx[i];
      } else {
        for (int k = 0; k < N; ++k) hxi += H(i, k) * x_(k, 0);
      }
      y_(i) = z[i] - hxi;
    }
    for (int j = 0; j < M; ++j) {  // P H'
      Pair acc[kPairs] = {};
      for (int k = 0; k < N; ++k) {
        const Pair h = broadcast(H(j, k));
        for (int i = 0; i < kPairs; ++i) acc[i] += P_.col[k][i] * h;
      }
      for (int i = 0; i < kPairs; ++i) PHt_.col[j][i] = acc[i];
    }
    for (int j = 0; j < M; ++j) {  // S = H P H' + R / q, lower triangle
      for (int i = j; i < M; ++i) {
        double v = 0.0;
        for (int k = 0; k < N; ++k) v += H(i, k) * PHt_(k, j);
        S_(i, j) = v + r_scale * R(i, j);
      }
    }
    if (innovation_out != nullptr) {
      for (int i = 0; i < M; ++i) innovation_out[i] = y_(i);
    }
    if (S_out != nullptr) {
      for (int j = 0; j < M; ++j) {
        for (int i = 0; i < M; ++i) S_out[i + M * j] = i >= j ? S_(i, j) : S_(j, i);
      }
    }
    if (!cholesky_lower(S_)) {
      bool finite = true;
      for (int j = 0; j < N; ++j) {
        for (int i = 0; i < N; ++i) finite = finite && std::isfinite(P_(i, j));
      }
      throw_not_positive_definite(finite);
    }
    const auto& L = S_;  // S_ now holds its Cholesky factor L (lower triangle), S = L L'
    UpdateOutcome out = innovation_statistics(L, y_, w_, M);
    if (!(out.nis <= gate)) {
      out.gated = true;
      return out;
    }

    // K = P H' S^-1 from K L L' = P H' (as in DynamicKernel), a pair of rows at a time.
    for (int j = 0; j < M; ++j) {
      const Pair inverse = broadcast(1.0 / L(j, j));
      for (int i = 0; i < kPairs; ++i) {
        Pair v = PHt_.col[j][i];
        for (int k = 0; k < j; ++k) v -= broadcast(L(j, k)) * K_.col[k][i];
        K_.col[j][i] = v * inverse;
      }
    }
    for (int j = M - 1; j >= 0; --j) {
      const Pair inverse = broadcast(1.0 / L(j, j));
      for (int i = 0; i < kPairs; ++i) {
        Pair v = K_.col[j][i];
        for (int k = j + 1; k < M; ++k) v -= broadcast(L(k, j)) * K_.col[k][i];
        K_.col[j][i] = v * inverse;
      }
    }
    for (int k = 0; k < M; ++k) {  // x += K y
      const Pair yk = broadcast(y_(k));
      for (int i = 0; i < kPairs; ++i) x_.col[0][i] += K_.col[k][i] * yk;
    }
    // Joseph form P <- (I - K H) P (I - K H)' + K (R / q) K', with (I - K H) P = P - K (P H')'.
    for (int j = 0; j < N; ++j) {
      Pair a[kPairs], ikh[kPairs] = {};
      for (int i = 0; i < kPairs; ++i) a[i] = P_.col[j][i];
      for (int k = 0; k < M; ++k) {
        const Pair hp = broadcast(PHt_(j, k));
        const Pair h = broadcast(H(k, j));
        for (int i = 0; i < kPairs; ++i) {
          a[i] -= K_.col[k][i] * hp;
          ikh[i] -= K_.col[k][i] * h;
        }
      }
      for (int i = 0; i < kPairs; ++i) {
        IKHP_.col[j][i] = a[i];
        IKH_.col[j][i] = ikh[i];
      }
      IKH_(j, j) += 1.0;
    }
    for (int j = 0; j < M; ++j) {  // K R / q
      Pair acc[kPairs] = {};
      for (int k = 0; k < M; ++k) {
        const Pair r = broadcast(r_scale * R(k, j));
        for (int i = 0; i < kPairs; ++i) acc[i] += K_.col[k][i] * r;
      }
      for (int i = 0; i < kPairs; ++i) KR_.col[j][i] = acc[i];
    }
#pragma GCC unroll 16
    for (int j = 0; j < N; ++j) {  // lower triangle of (I - K H) P (I - K H)' + K R K' / q
      const int first = j / 2;
      Pair acc[kPairs] = {};
      for (int k = 0; k < N; ++k) {
        const Pair b = broadcast(IKH_(j, k));
        for (int i = first; i < kPairs; ++i) acc[i] += IKHP_.col[k][i] * b;
      }
      for (int k = 0; k < M; ++k) {
        const Pair b = broadcast(K_(j, k));
        for (int i = first; i < kPairs; ++i) acc[i] += KR_.col[k][i] * b;
      }
      for (int i = first; i < kPairs; ++i) T_.col[j][i] = acc[i];
    }
    mirror_into_P();
    out.accepted = true;
    return out;
  }

  PairMatrix<N, N> F_, Q_, P_, FP_, T_, IKHP_, IKH_;
  PairMatrix<N, M> PHt_, K_, KR_;
  PairMatrix<N, 1> x_;
  double H_[M * N], R_[M * M];
  Eigen::Matrix<double, M, M> S_;
  Eigen::Matrix<double, M, 1> y_;
  double w_[M];
};

// The fixed sizes compiled in: the small state/measurement pairs of typical machine models
// (position/velocity, motor, pendulum with a parameter, 3-D pose rates). Each pair costs compile
// time, so the list stays short; everything else takes the dynamic path.
template <int N, int M>
bool try_make(Index n, Index m, std::unique_ptr<Kernel>& out) {
  if (n != N || m != M) return false;
  out = std::make_unique<PackedKernel<N, M>>();
  return true;
}
#endif

std::unique_ptr<Kernel> make_fixed([[maybe_unused]] Index n, [[maybe_unused]] Index m) {
  std::unique_ptr<Kernel> k;
#ifdef FMITWIN_PACKED_KERNELS
  (void)(try_make<1, 1>(n, m, k) || try_make<2, 1>(n, m, k) || try_make<2, 2>(n, m, k) ||
         try_make<3, 1>(n, m, k) || try_make<3, 2>(n, m, k) || try_make<4, 2>(n, m, k) ||
         try_make<6, 3>(n, m, k));
#endif
  return k;
}

}  // namespace

bool has_fixed_kernel(Index n, Index m) { return make_fixed(n, m) != nullptr; }

std::unique_ptr<Kernel> make_kernel(Index n, Index m) {
  if (n < 1 || m < 1) throw std::invalid_argument("a kernel needs n >= 1 and m >= 1");
  if (auto fixed = make_fixed(n, m)) return fixed;
  return std::make_unique<DynamicKernel>(n, m);
}

UpdateOutcome innovation_outcome(const Eigen::Ref<const Eigen::MatrixXd>& L,
                                 const Eigen::Ref<const Eigen::VectorXd>& y) {
  std::vector<double> w(static_cast<std::size_t>(y.size()));
  return innovation_statistics(L, y, w.data(), y.size());
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
