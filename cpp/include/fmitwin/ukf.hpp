// The unscented Kalman filter: the estimate (x, P) carried through the process and measurement
// models by 2n + 1 scaled sigma points (Van der Merwe) instead of their Jacobians.
//
// Sigma points of (x, P): lambda = alpha^2 (n + kappa) - n, L the lower Cholesky factor of
// (n + lambda) P; chi_0 = x, chi_{1+i} = x + L e_i, chi_{1+n+i} = x - L e_i (i = 0..n-1).
// Weights: Wm_0 = lambda / (n + lambda), Wc_0 = Wm_0 + 1 - alpha^2 + beta,
// Wm_i = Wc_i = 1 / (2 (n + lambda)) for i >= 1.
//
// Ownership and call order as for ExtendedKalmanFilter (ekf.hpp): the filter owns its estimate,
// covariances and scratch and shares its models; every call completes or throws leaving the
// filter exactly as it was. Models are asked for values only (no Jacobians). update() draws its
// sigma points afresh from the current (x, P), so it depends on the current estimate alone, not
// on how it was reached (a set_x / set_P between predict and update is honoured).
#pragma once

#include "fmitwin/ekf.hpp"

namespace fmitwin {

class UnscentedKalmanFilter : public KalmanFilterBase {
 public:
  // Throws std::invalid_argument unless alpha > 0, beta and kappa are finite and n + kappa > 0
  // (so that n + lambda = alpha^2 (n + kappa) > 0).
  UnscentedKalmanFilter(Eigen::Index dim_x, Eigen::Index dim_z, double alpha, double beta,
                        double kappa);

  double alpha() const { return alpha_; }
  double beta() const { return beta_; }
  double kappa() const { return kappa_; }
  // Mean and covariance weights of the 2n + 1 sigma points (in sigma point order).
  const Eigen::VectorXd& mean_weights() const { return Wm_; }
  const Eigen::VectorXd& covariance_weights() const { return Wc_; }
  // The sigma points of (x, P) as the columns of an n x (2n + 1) matrix; throws
  // std::runtime_error when (n + lambda) P has no Cholesky factor.
  Eigen::MatrixXd sigma_points(const Eigen::Ref<const Eigen::VectorXd>& x,
                               const Eigen::Ref<const Eigen::MatrixXd>& P) const;

  // chi_i <- f(chi_i, u, dt), x <- sum Wm_i chi_i, P <- sum Wc_i (chi_i - x)(chi_i - x)' + Q,
  // symmetrized. Q defaults to the filter's Q, u to zeros of the model's input. Throws
  // std::runtime_error (filter unchanged) when the new P is not positive definite.
  void predict(double dt, const Eigen::VectorXd* u, const Eigen::MatrixXd* Q);
  // Z_i = h(chi_i) over fresh sigma points of (x, P), z^ = sum Wm_i Z_i,
  // S = sum Wc_i (Z_i - z^)(Z_i - z^)' + R / q, Pxz = sum Wc_i (chi_i - x)(Z_i - z^)',
  // K = Pxz S^-1, y = z - z^, x <- x + K y, P <- P - K S K' (symmetrized, checked positive
  // definite), on the non-NaN entries of z only; gating and q = 0 as in ExtendedKalmanFilter.
  UpdateResult update(const Eigen::Ref<const Eigen::VectorXd>& z, const Eigen::MatrixXd* R,
                      double quality);

 private:
  void predict_with_model(double dt, const Eigen::VectorXd* u) override {
    predict(dt, u, nullptr);
  }
  UpdateResult update_with_model(const Eigen::Ref<const Eigen::VectorXd>& z,
                                 double quality) override {
    return update(z, nullptr, quality);
  }

  double alpha_, beta_, kappa_;
  double scale_;  // n + lambda
  Eigen::VectorXd Wm_, Wc_;
  // Scratch: the sigma points and their images under the models.
  Eigen::MatrixXd sigmas_, images_;
};

}  // namespace fmitwin
