// The Kalman filters' shared state and batch loop, and the extended Kalman filter (see ekf.hpp).
#include "fmitwin/ekf.hpp"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "fmitwin/models.hpp"

namespace fmitwin {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string shape_text(Eigen::Index rows, Eigen::Index cols) {
  return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
}

bool all_finite(const Eigen::Ref<const Eigen::MatrixXd>& a) { return a.allFinite(); }

// Restores a filter's estimate when a multi-step call fails part-way.
class Snapshot {
 public:
  Snapshot(Eigen::VectorXd& x, Eigen::MatrixXd& P, Eigen::VectorXd& u)
      : x_(x), P_(P), u_(u), x0_(x), P0_(P), u0_(u) {}
  ~Snapshot() {
    if (!committed_) {
      x_ = std::move(x0_);
      P_ = std::move(P0_);
      u_ = std::move(u0_);
    }
  }
  void commit() { committed_ = true; }

 private:
  Eigen::VectorXd& x_;
  Eigen::MatrixXd& P_;
  Eigen::VectorXd& u_;
  Eigen::VectorXd x0_;
  Eigen::MatrixXd P0_;
  Eigen::VectorXd u0_;
  bool committed_ = false;
};

}  // namespace

std::string number_text(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

void check_finite(const std::string& name, const Eigen::Ref<const Eigen::MatrixXd>& a) {
  if (!all_finite(a)) {
    throw std::invalid_argument(name + " must contain only finite numbers, found NaN or inf");
  }
}

void check_shape(const std::string& name, const Eigen::Ref<const Eigen::MatrixXd>& a,
                 Eigen::Index rows, Eigen::Index cols) {
  if (a.rows() != rows || a.cols() != cols) {
    throw std::invalid_argument(name + " must have shape " + shape_text(rows, cols) + ", got " +
                                shape_text(a.rows(), a.cols()));
  }
}

void check_vector(const std::string& name, const Eigen::Ref<const Eigen::VectorXd>& v,
                  Eigen::Index size, bool allow_nan) {
  if (v.size() != size) {
    throw std::invalid_argument(name + " must have shape (" + std::to_string(size) + ",), got (" +
                                std::to_string(v.size()) + ",)");
  }
  for (Eigen::Index i = 0; i < size; ++i) {
    if (std::isinf(v[i]) || (!allow_nan && std::isnan(v[i]))) {
      throw std::invalid_argument(name + " must contain only finite numbers" +
                                  (allow_nan ? std::string(" or NaN (missing)") : "") + ", found " +
                                  number_text(v[i]) + " at index " + std::to_string(i));
    }
  }
}

void check_covariance(const std::string& name, const Eigen::Ref<const Eigen::MatrixXd>& a,
                      Eigen::Index n, bool strict) {
  check_shape(name, a, n, n);
  check_finite(name, a);
  const double scale = a.cwiseAbs().maxCoeff();
  const double asymmetry = (a - a.transpose()).cwiseAbs().maxCoeff();
  if (asymmetry > 1e-9 * scale) {
    throw std::invalid_argument(name + " must be symmetric, but |" + name + " - " + name +
                                "'| reaches " + number_text(asymmetry) + " (largest entry " +
                                number_text(scale) + "); pass 0.5 * (A + A.T)");
  }
  const Eigen::MatrixXd sym = 0.5 * (a + a.transpose());
  if (strict) {
    Eigen::LLT<Eigen::MatrixXd> llt(sym);
    if (llt.info() != Eigen::Success || !(llt.matrixLLT().diagonal().array() > 0.0).all()) {
      throw std::invalid_argument(name +
                                  " must be positive definite (its Cholesky factorization "
                                  "failed): every variance must be > 0 and correlations < 1");
    }
    return;
  }
  if (scale == 0.0) return;  // the zero matrix is positive semi-definite
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(sym, Eigen::EigenvaluesOnly);
  const double smallest = eig.eigenvalues().minCoeff();
  if (smallest < -1e-12 * eig.eigenvalues().cwiseAbs().maxCoeff()) {
    throw std::invalid_argument(name + " must be positive semi-definite, but its smallest " +
                                "eigenvalue is " + number_text(smallest));
  }
}

Eigen::MatrixXd checked_covariance(const std::string& name,
                                   const Eigen::Ref<const Eigen::MatrixXd>& a, Eigen::Index n,
                                   bool strict) {
  check_covariance(name, a, n, strict);
  return 0.5 * (a + a.transpose());
}

void check_gate(const std::vector<double>& gate, Eigen::Index m) {
  if (static_cast<Eigen::Index>(gate.size()) != m + 1) {
    throw std::invalid_argument("gate must have dim_z + 1 = " + std::to_string(m + 1) +
                                " thresholds (index = number of entries used), got " +
                                std::to_string(gate.size()));
  }
  for (double g : gate) {
    if (!(g >= 0.0)) {
      throw std::invalid_argument("gate thresholds must be >= 0 (inf: no gate), got " +
                                  number_text(g));
    }
  }
}

KalmanFilterBase::KalmanFilterBase(Eigen::Index dim_x, Eigen::Index dim_z)
    : n_(dim_x), m_(dim_z) {
  if (dim_x < 1) {
    throw std::invalid_argument("dim_x must be >= 1, got " + std::to_string(dim_x));
  }
  if (dim_z < 1) {
    throw std::invalid_argument("dim_z must be >= 1, got " + std::to_string(dim_z));
  }
  x_ = Eigen::VectorXd::Zero(n_);
  P_ = Eigen::MatrixXd::Identity(n_, n_);
  Q_ = Eigen::MatrixXd::Identity(n_, n_);
  R_ = Eigen::MatrixXd::Identity(m_, m_);
  gate_.assign(static_cast<std::size_t>(m_ + 1), kInf);
}

const Eigen::MatrixXd& KalmanFilterBase::predict_noise(double dt, const Eigen::MatrixXd* Q) const {
  if (!(dt >= 0.0) || !std::isfinite(dt)) {
    throw std::invalid_argument("dt must be a finite time step >= 0, got " + number_text(dt));
  }
  if (Q == nullptr) return Q_;
  check_covariance("Q", *Q, n_, false);
  return *Q;
}

const Eigen::MatrixXd& KalmanFilterBase::update_noise(const Eigen::Ref<const Eigen::VectorXd>& z,
                                                      double quality,
                                                      const Eigen::MatrixXd* R) const {
  check_vector("z", z, m_, /*allow_nan=*/true);
  if (!(quality >= 0.0 && quality <= 1.0)) {
    throw std::invalid_argument("quality must be in [0, 1] (0 skips the update), got " +
                                number_text(quality));
  }
  if (R == nullptr) return R_;
  check_covariance("R", *R, m_, true);
  return *R;
}

ExtendedKalmanFilter::ExtendedKalmanFilter(Eigen::Index dim_x, Eigen::Index dim_z)
    : KalmanFilterBase(dim_x, dim_z) {
  kernel_ = make_kernel(n_, m_);
  x_work_.resize(n_);
  P_work_.resize(n_, n_);
}

void KalmanFilterBase::set_x(const Eigen::Ref<const Eigen::VectorXd>& x) {
  check_vector("x", x, n_);
  x_ = x;
}

void KalmanFilterBase::set_P(const Eigen::Ref<const Eigen::MatrixXd>& P) {
  P_ = checked_covariance("P", P, n_, true);
}

void KalmanFilterBase::set_Q(const Eigen::Ref<const Eigen::MatrixXd>& Q) {
  Q_ = checked_covariance("Q", Q, n_, false);
}

void KalmanFilterBase::set_R(const Eigen::Ref<const Eigen::MatrixXd>& R) {
  R_ = checked_covariance("R", R, m_, true);
}

void KalmanFilterBase::set_u(const Eigen::Ref<const Eigen::VectorXd>& u) {
  check_vector("u", u, input_dim());
  u_ = u;
}

void KalmanFilterBase::set_gate(std::vector<double> gate) {
  check_gate(gate, m_);
  gate_ = std::move(gate);
}

void KalmanFilterBase::set_process_model(std::shared_ptr<ProcessModel> model) {
  if (model && model->state_dim() != n_) {
    throw std::invalid_argument("process_model has state dimension " +
                                std::to_string(model->state_dim()) + ", the filter has dim_x = " +
                                std::to_string(n_));
  }
  process_ = std::move(model);
  linear_process_ = dynamic_cast<const LinearProcessModel*>(process_.get());
  u_ = Eigen::VectorXd::Zero(input_dim());
}

void KalmanFilterBase::set_measurement_model(std::shared_ptr<MeasurementModel> model) {
  if (model && (model->state_dim() != n_ || model->measurement_dim() != m_)) {
    throw std::invalid_argument(
        "measurement_model maps " + std::to_string(model->state_dim()) + " states to " +
        std::to_string(model->measurement_dim()) + " measurements, the filter has dim_x = " +
        std::to_string(n_) + ", dim_z = " + std::to_string(m_));
  }
  measurement_ = std::move(model);
  linear_measurement_ = dynamic_cast<const LinearMeasurementModel*>(measurement_.get());
}

void KalmanFilterBase::set_state(const Eigen::Ref<const Eigen::VectorXd>& x,
                                 const Eigen::Ref<const Eigen::MatrixXd>& P,
                                 const Eigen::Ref<const Eigen::MatrixXd>& Q,
                                 const Eigen::Ref<const Eigen::MatrixXd>& R,
                                 const Eigen::Ref<const Eigen::VectorXd>& u) {
  check_vector("x", x, n_);
  check_vector("u", u, input_dim());
  Eigen::MatrixXd P_new = checked_covariance("P", P, n_, true);
  Eigen::MatrixXd Q_new = checked_covariance("Q", Q, n_, false);
  Eigen::MatrixXd R_new = checked_covariance("R", R, m_, true);
  x_ = x;
  P_ = std::move(P_new);
  Q_ = std::move(Q_new);
  R_ = std::move(R_new);
  u_ = u;
}

Eigen::Index KalmanFilterBase::input_dim() const {
  return process_ ? process_->input_dim() : 0;
}

void ExtendedKalmanFilter::predict(double dt, const Eigen::VectorXd* u, const Eigen::MatrixXd* F,
                                   const Eigen::MatrixXd* Q) {
  const Eigen::MatrixXd* Q_used = &predict_noise(dt, Q);
  x_work_ = x_;
  P_work_ = P_;
  if (F != nullptr) {
    if (u != nullptr) {
      throw std::invalid_argument(
          "u cannot be combined with F: to apply an input, use a process model with an input "
          "matrix, e.g. LinearProcessModel(F, B)");
    }
    check_shape("F", *F, n_, n_);
    check_finite("F", *F);
    kernel_->predict(x_work_.data(), P_work_.data(), F->data(), Q_used->data());
  } else if (linear_process_ != nullptr && (u == nullptr || input_dim() == 0)) {
    // x <- F x + B 0: the kernel's linear predict.
    kernel_->predict(x_work_.data(), P_work_.data(), linear_process_->F().data(),
                     Q_used->data());
    u_.setZero();
  } else {
    if (!process_) {
      throw std::invalid_argument(
          "predict() needs a state transition: pass F=, or give the filter a process_model");
    }
    if (u != nullptr) check_vector("u", *u, input_dim());
    const Eigen::VectorXd u_used = u != nullptr ? *u : Eigen::VectorXd::Zero(input_dim());
    process_->propagate(x_, u_used, dt, x_work_, &F_work_);
    if (!x_work_.allFinite() || F_work_.rows() != n_ || F_work_.cols() != n_ ||
        !F_work_.allFinite()) {
      throw std::runtime_error(
          "the process model returned a non-finite state or a Jacobian F that is not a finite " +
          shape_text(n_, n_) + " matrix; the filter is unchanged");
    }
    kernel_->propagate_covariance(P_work_.data(), F_work_.data(), Q_used->data());
    u_ = u_used;
  }
  if (!P_work_.allFinite()) {
    throw std::runtime_error("predict() produced a non-finite covariance; the filter is unchanged");
  }
  x_.swap(x_work_);
  P_.swap(P_work_);
}

UpdateResult ExtendedKalmanFilter::update(const Eigen::Ref<const Eigen::VectorXd>& z,
                                          const Eigen::MatrixXd* H, const Eigen::MatrixXd* R,
                                          double quality) {
  const Eigen::MatrixXd* R_used = &update_noise(z, quality, R);
  const double* hx = nullptr;
  const Eigen::MatrixXd* H_used = H;
  if (H != nullptr) {
    check_shape("H", *H, m_, n_);
    check_finite("H", *H);
  } else if (linear_measurement_ != nullptr) {
    H_used = &linear_measurement_->H();  // h(x) = H x inside the kernel
  } else if (measurement_) {
    hx_work_.resize(m_);
    measurement_->measure(x_, u_, hx_work_, &H_work_);
    if (!hx_work_.allFinite() || H_work_.rows() != m_ || H_work_.cols() != n_ ||
        !H_work_.allFinite()) {
      throw std::runtime_error(
          "the measurement model returned a non-finite h(x) or a Jacobian H that is not a "
          "finite " +
          shape_text(m_, n_) + " matrix; the filter is unchanged");
    }
    hx = hx_work_.data();
    H_used = &H_work_;
  } else {
    throw std::invalid_argument(
        "update() needs a measurement matrix: pass H=, or give the filter a measurement_model");
  }

  UpdateResult result;
  result.values.resize(m_, m_ + 1);
  x_work_ = x_;
  P_work_ = P_;
  const UpdateOutcome out = kernel_->update(x_work_.data(), P_work_.data(), z.data(), hx,
                                            H_used->data(), R_used->data(), quality, gate_.data(),
                                            result.values.data(), result.values.data() + m_,
                                            nullptr);
  if (out.accepted) {
    if (!x_work_.allFinite() || !P_work_.allFinite()) {
      throw std::runtime_error("update() produced non-finite values; the filter is unchanged");
    }
    x_.swap(x_work_);
    P_.swap(P_work_);
  }
  result.accepted = out.accepted;
  result.gated = out.gated;
  result.nis = out.nis;
  result.log_likelihood = out.log_likelihood;
  return result;
}

BatchResult KalmanFilterBase::run_batch(const double* z, Eigen::Index steps,
                                        const std::vector<double>& dt, const double* u,
                                        Eigen::Index dim_u, const double* quality,
                                        bool record_states, CovarianceOutput covariances) {
  if (!process_) {
    throw std::invalid_argument("batch filtering needs the filter's process_model");
  }
  if (!measurement_) {
    throw std::invalid_argument("batch filtering needs the filter's measurement_model");
  }
  if (dt.size() != 1 && static_cast<Eigen::Index>(dt.size()) != steps) {
    throw std::invalid_argument("dt must be a scalar or have shape (" + std::to_string(steps) +
                                ",), got (" + std::to_string(dt.size()) + ",)");
  }
  for (double d : dt) {
    if (!(d >= 0.0) || !std::isfinite(d)) {
      throw std::invalid_argument("dt must contain finite time steps >= 0, got " +
                                  number_text(d));
    }
  }
  if (u != nullptr && dim_u != input_dim()) {
    throw std::invalid_argument("u must have shape (" + std::to_string(steps) + ", " +
                                std::to_string(input_dim()) + "), got (" +
                                std::to_string(steps) + ", " + std::to_string(dim_u) + ")");
  }
  for (Eigen::Index i = 0; i < steps * m_; ++i) {
    if (std::isinf(z[i])) {
      throw std::invalid_argument("z must contain only finite numbers or NaN (missing), found " +
                                  number_text(z[i]) + " at step " + std::to_string(i / m_));
    }
  }
  if (u != nullptr) check_finite("u", Eigen::Map<const Eigen::MatrixXd>(u, dim_u, steps));
  if (quality != nullptr) {
    for (Eigen::Index t = 0; t < steps; ++t) {
      if (!(quality[t] >= 0.0 && quality[t] <= 1.0)) {
        throw std::invalid_argument("quality must be in [0, 1], got " + number_text(quality[t]) +
                                    " at step " + std::to_string(t));
      }
    }
  }

  BatchResult r;
  r.steps = steps;
  r.n = n_;
  r.m = m_;
  const auto T = static_cast<std::size_t>(steps);
  const auto n = static_cast<std::size_t>(n_);
  const auto m = static_cast<std::size_t>(m_);
  if (record_states) r.states.resize(T * n);
  if (covariances == CovarianceOutput::full) r.covariances.resize(T * n * n);
  if (covariances == CovarianceOutput::diagonal) r.covariances.resize(T * n);
  r.innovations.resize(T * m);
  r.nis.resize(T);
  r.log_likelihood.resize(T);
  r.accepted.resize(T);

  if (u == nullptr && run_series(z, quality, covariances, r)) return r;

  // The general path: the filter's own predict/update per step, restored if any step fails.
  Snapshot snapshot(x_, P_, u_);
  Eigen::VectorXd u_t(input_dim());
  for (Eigen::Index t = 0; t < steps; ++t) {
    const double dt_t = dt.size() == 1 ? dt[0] : dt[static_cast<std::size_t>(t)];
    if (u != nullptr) {
      u_t = Eigen::Map<const Eigen::VectorXd>(u + t * dim_u, dim_u);
      predict_with_model(dt_t, &u_t);
    } else {
      predict_with_model(dt_t, nullptr);
    }
    const UpdateResult step = update_with_model(Eigen::Map<const Eigen::VectorXd>(z + t * m_, m_),
                                                quality != nullptr ? quality[t] : 1.0);
    const auto ts = static_cast<std::size_t>(t);
    if (record_states) Eigen::Map<Eigen::VectorXd>(r.states.data() + ts * n, n_) = x_;
    if (covariances == CovarianceOutput::full) {
      Eigen::Map<Eigen::MatrixXd>(r.covariances.data() + ts * n * n, n_, n_) = P_;
    } else if (covariances == CovarianceOutput::diagonal) {
      Eigen::Map<Eigen::VectorXd>(r.covariances.data() + ts * n, n_) = P_.diagonal();
    }
    Eigen::Map<Eigen::VectorXd>(r.innovations.data() + ts * m, m_) = step.innovation();
    r.nis[ts] = step.nis;
    r.log_likelihood[ts] = step.log_likelihood;
    r.accepted[ts] = step.accepted ? 1 : 0;
  }
  snapshot.commit();
  return r;
}

bool ExtendedKalmanFilter::run_series(const double* z, const double* quality,
                                      CovarianceOutput covariances, BatchResult& r) {
  if (linear_process_ == nullptr || linear_measurement_ == nullptr) return false;
  const Eigen::MatrixXd* F = &linear_process_->F();
  const Eigen::MatrixXd* H = &linear_measurement_->H();
  // The fast path: the whole series inside one (fixed-size where compiled in) kernel loop.
  Series s;
  s.steps = r.steps;
  s.z = z;
  s.z_stride = m_;
  s.quality = quality;
  s.quality_stride = 1;
  if (!r.states.empty()) {
    s.state = r.states.data();
    s.state_stride = n_;
  }
  if (covariances == CovarianceOutput::full) {
    s.covariance = r.covariances.data();
    s.covariance_stride = n_ * n_;
  } else if (covariances == CovarianceOutput::diagonal) {
    s.covariance_diagonal = r.covariances.data();
    s.covariance_diagonal_stride = n_;
  }
  s.innovation = r.innovations.data();
  s.innovation_stride = m_;
  s.nis = r.nis.data();
  s.log_likelihood = r.log_likelihood.data();
  s.accepted = r.accepted.data();
  s.scalar_stride = 1;
  const LinearModel model{F->data(), Q_.data(), H->data(), R_.data(), gate_.data()};
  x_work_ = x_;
  P_work_ = P_;
  kernel_->run_linear(x_work_.data(), P_work_.data(), model, s);
  x_.swap(x_work_);
  P_.swap(P_work_);
  return true;
}

}  // namespace fmitwin
