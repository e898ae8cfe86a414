// The unscented Kalman filter (see ukf.hpp).
#include "fmitwin/ukf.hpp"

#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fmitwin {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool positive_definite(const Eigen::MatrixXd& a) {
  const Eigen::LLT<Eigen::MatrixXd> llt(a);
  return llt.info() == Eigen::Success && (llt.matrixLLT().diagonal().array() > 0.0).all();
}

}  // namespace

UnscentedKalmanFilter::UnscentedKalmanFilter(Eigen::Index dim_x, Eigen::Index dim_z, double alpha,
                                             double beta, double kappa)
    : KalmanFilterBase(dim_x, dim_z), alpha_(alpha), beta_(beta), kappa_(kappa) {
  if (!(alpha > 0.0) || !std::isfinite(alpha)) {
    throw std::invalid_argument("alpha must be a finite number > 0 (the sigma point spread, "
                                "typically 1e-3 to 1), got " + number_text(alpha));
  }
  if (!std::isfinite(beta)) {
    throw std::invalid_argument("beta must be a finite number (2 is optimal for Gaussians), got " +
                                number_text(beta));
  }
  const auto n = static_cast<double>(n_);
  if (!std::isfinite(kappa) || !(n + kappa > 0.0)) {
    throw std::invalid_argument(
        "kappa must be a finite number > -dim_x, so that n + lambda = alpha^2 (n + kappa) > 0; "
        "got kappa = " + number_text(kappa) + " with dim_x = " + std::to_string(n_) +
        " (use kappa = 0, or 3 - dim_x)");
  }
  scale_ = alpha * alpha * (n + kappa);
  const double lambda = scale_ - n;
  Wm_ = Eigen::VectorXd::Constant(2 * n_ + 1, 0.5 / scale_);
  Wm_(0) = lambda / scale_;
  Wc_ = Wm_;
  Wc_(0) += 1.0 - alpha * alpha + beta;
}

Eigen::MatrixXd UnscentedKalmanFilter::sigma_points(const Eigen::Ref<const Eigen::VectorXd>& x,
                                                    const Eigen::Ref<const Eigen::MatrixXd>& P) const {
  check_vector("x", x, n_);
  check_shape("P", P, n_, n_);
  const Eigen::LLT<Eigen::MatrixXd> llt(scale_ * P);
  if (llt.info() != Eigen::Success || !(llt.matrixLLT().diagonal().array() > 0.0).all()) {
    throw std::runtime_error("the sigma points need a Cholesky factor of (n + lambda) P, and P is "
                             "not positive definite; the filter is unchanged");
  }
  const Eigen::MatrixXd L = llt.matrixL();
  Eigen::MatrixXd sigmas(n_, 2 * n_ + 1);
  sigmas.col(0) = x;
  sigmas.middleCols(1, n_) = L.colwise() + x;
  sigmas.rightCols(n_) = (-L).colwise() + x;
  return sigmas;
}

void UnscentedKalmanFilter::predict(double dt, const Eigen::VectorXd* u,
                                    const Eigen::MatrixXd* Q) {
  const Eigen::MatrixXd& Q_used = predict_noise(dt, Q);
  if (!process_) {
    throw std::invalid_argument(
        "predict() needs the filter's process_model: the unscented filter propagates its sigma "
        "points through it");
  }
  if (u != nullptr) check_vector("u", *u, input_dim());
  const Eigen::VectorXd u_used = u != nullptr ? *u : Eigen::VectorXd::Zero(input_dim());
  sigmas_ = sigma_points(x_, P_);
  images_.resize(n_, sigmas_.cols());
  {
    // Every sigma point starts from this step's time (models with a clock rewind in between).
    process_->begin_points();
    const std::unique_ptr<ProcessModel, void (*)(ProcessModel*)> bracket(
        process_.get(), [](ProcessModel* model) { model->end_points(); });
    for (Eigen::Index i = 0; i < sigmas_.cols(); ++i) {
      process_->propagate(sigmas_.col(i), u_used, dt, images_.col(i), nullptr);
    }
  }
  if (!images_.allFinite()) {
    throw std::runtime_error(
        "the process model returned a non-finite state for a sigma point; the filter is "
        "unchanged");
  }
  Eigen::VectorXd x_new = images_ * Wm_;
  const Eigen::MatrixXd deviations = images_.colwise() - x_new;
  Eigen::MatrixXd P_new = deviations * Wc_.asDiagonal() * deviations.transpose() + Q_used;
  P_new = 0.5 * (P_new + P_new.transpose()).eval();
  if (!positive_definite(P_new)) {
    throw std::runtime_error(
        "predict() produced a covariance that is not positive definite (Wc_0 = " +
        number_text(Wc_(0)) +
        "; a negative weight can do this: raise alpha or kappa); the filter is unchanged");
  }
  x_ = std::move(x_new);
  P_ = std::move(P_new);
  u_ = u_used;
}

UpdateResult UnscentedKalmanFilter::update(const Eigen::Ref<const Eigen::VectorXd>& z,
                                           const Eigen::MatrixXd* R, double quality) {
  const Eigen::MatrixXd& R_used = update_noise(z, quality, R);
  if (!measurement_) {
    throw std::invalid_argument(
        "update() needs the filter's measurement_model: the unscented filter maps its sigma "
        "points through it");
  }
  std::vector<Eigen::Index> used;
  for (Eigen::Index i = 0; i < m_; ++i) {
    if (quality > 0.0 && !std::isnan(z(i))) used.push_back(i);
  }
  const auto k = static_cast<Eigen::Index>(used.size());
  UpdateResult result;
  result.values = Eigen::MatrixXd::Constant(m_, m_ + 1, kNaN);
  if (k == 0) {
    result.nis = kNaN;
    result.log_likelihood = kNaN;
    return result;
  }

  sigmas_ = sigma_points(x_, P_);
  images_.resize(m_, sigmas_.cols());
  for (Eigen::Index i = 0; i < sigmas_.cols(); ++i) {
    measurement_->measure(sigmas_.col(i), u_, images_.col(i), nullptr);
  }
  if (!images_.allFinite()) {
    throw std::runtime_error(
        "the measurement model returned a non-finite h(x) for a sigma point; the filter is "
        "unchanged");
  }
  // The reduced problem on the entries of z that are present.
  Eigen::MatrixXd Z(k, sigmas_.cols()), R_q(k, k);
  Eigen::VectorXd z_used(k);
  for (Eigen::Index a = 0; a < k; ++a) {
    const Eigen::Index i = used[static_cast<std::size_t>(a)];
    Z.row(a) = images_.row(i);
    z_used(a) = z(i);
    for (Eigen::Index b = 0; b < k; ++b) {
      R_q(a, b) = R_used(i, used[static_cast<std::size_t>(b)]) / quality;
    }
  }
  const Eigen::VectorXd z_hat = Z * Wm_;
  const Eigen::MatrixXd dZ = (Z.colwise() - z_hat) * Wc_.asDiagonal();
  Eigen::MatrixXd S = dZ * (Z.colwise() - z_hat).transpose() + R_q;
  S = 0.5 * (S + S.transpose()).eval();
  const Eigen::LLT<Eigen::MatrixXd> llt(S);
  if (llt.info() != Eigen::Success || !(llt.matrixLLT().diagonal().array() > 0.0).all()) {
    throw std::runtime_error(
        "the innovation covariance S is not positive definite; the filter is unchanged");
  }
  const Eigen::VectorXd y = z_used - z_hat;
  const UpdateOutcome out = innovation_outcome(llt.matrixLLT(), y);
  for (Eigen::Index a = 0; a < k; ++a) {
    const Eigen::Index i = used[static_cast<std::size_t>(a)];
    result.values(i, 0) = y(a);
    for (Eigen::Index b = 0; b < k; ++b) {
      result.values(i, 1 + used[static_cast<std::size_t>(b)]) = S(a, b);
    }
  }
  result.nis = out.nis;
  result.log_likelihood = out.log_likelihood;
  if (!(out.nis <= gate_[static_cast<std::size_t>(k)])) {
    result.gated = true;
    return result;
  }
  const Eigen::MatrixXd Pxz = (sigmas_.colwise() - x_) * dZ.transpose();
  const Eigen::MatrixXd K = llt.solve(Pxz.transpose()).transpose();
  Eigen::VectorXd x_new = x_ + K * y;
  Eigen::MatrixXd P_new = P_ - K * S * K.transpose();
  P_new = 0.5 * (P_new + P_new.transpose()).eval();
  if (!x_new.allFinite() || !positive_definite(P_new)) {
    throw std::runtime_error(
        "update() produced a covariance that is not positive definite; the filter is unchanged");
  }
  x_ = std::move(x_new);
  P_ = std::move(P_new);
  result.accepted = true;
  return result;
}

}  // namespace fmitwin
