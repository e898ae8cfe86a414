// Native process and measurement models (see models.hpp).
#include "fmitwin/models.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fmitwin {

LinearProcessModel::LinearProcessModel(Eigen::MatrixXd F, Eigen::MatrixXd B)
    : F_(std::move(F)), B_(std::move(B)) {
  if (F_.rows() < 1 || F_.rows() != F_.cols()) {
    throw std::invalid_argument("F must be square and non-empty");
  }
  if (B_.cols() > 0 && B_.rows() != F_.rows()) {
    throw std::invalid_argument("B must have as many rows as F (" + std::to_string(F_.rows()) +
                                "), got " + std::to_string(B_.rows()));
  }
  if (B_.cols() == 0) B_.resize(F_.rows(), 0);
}

void LinearProcessModel::propagate(const Eigen::Ref<const Eigen::VectorXd>& x,
                                   const Eigen::Ref<const Eigen::VectorXd>& u, double /*dt*/,
                                   Eigen::Ref<Eigen::VectorXd> x_next, Eigen::MatrixXd* F) {
  x_next.noalias() = F_ * x;
  if (B_.cols() > 0) x_next.noalias() += B_ * u;
  if (F != nullptr) *F = F_;
}

LinearMeasurementModel::LinearMeasurementModel(Eigen::MatrixXd H) : H_(std::move(H)) {
  if (H_.rows() < 1 || H_.cols() < 1) throw std::invalid_argument("H must be non-empty");
}

void LinearMeasurementModel::measure(const Eigen::Ref<const Eigen::VectorXd>& x,
                                     const Eigen::Ref<const Eigen::VectorXd>& /*u*/,
                                     Eigen::Ref<Eigen::VectorXd> z, Eigen::MatrixXd* H) {
  z.noalias() = H_ * x;
  if (H != nullptr) *H = H_;
}

void finite_difference_jacobian(
    const std::function<void(const Eigen::VectorXd&, Eigen::Ref<Eigen::VectorXd>)>& f,
    const Eigen::VectorXd& x, Eigen::Index rows, Eigen::MatrixXd& J) {
  const double base_step = std::cbrt(std::numeric_limits<double>::epsilon());
  J.resize(rows, x.size());
  Eigen::VectorXd xp = x;
  Eigen::VectorXd f_plus(rows), f_minus(rows);
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double h = base_step * std::max(1.0, std::abs(x[i]));
    xp[i] = x[i] + h;
    f(xp, f_plus);
    xp[i] = x[i] - h;
    f(xp, f_minus);
    xp[i] = x[i];
    J.col(i) = (f_plus - f_minus) / (2.0 * h);
  }
}

ContinuousProcessModel::ContinuousProcessModel(double max_step) : max_step_(max_step) {
  if (!(max_step > 0.0) || !std::isfinite(max_step)) {
    throw std::invalid_argument("max_step must be positive and finite, got " +
                                std::to_string(max_step));
  }
}

bool ContinuousProcessModel::jacobian(const Eigen::Ref<const Eigen::VectorXd>&,
                                      const Eigen::Ref<const Eigen::VectorXd>&,
                                      Eigen::MatrixXd&) const {
  return false;
}

void ContinuousProcessModel::integrate(const Eigen::Ref<const Eigen::VectorXd>& x0,
                                       const Eigen::Ref<const Eigen::VectorXd>& u, double dt,
                                       Eigen::VectorXd& x, Eigen::MatrixXd* Phi) const {
  const Eigen::Index n = x0.size();
  const auto substeps = static_cast<long>(std::max(1.0, std::ceil(dt / max_step_)));
  const double h = dt / static_cast<double>(substeps);
  x = x0;
  Eigen::VectorXd k1(n), k2(n), k3(n), k4(n), xs(n);
  Eigen::MatrixXd A(n, n), L1, L2, L3, L4;
  if (Phi != nullptr) Phi->setIdentity(n, n);
  // The variational equation rides along the same stages: Phi' = A(x(t)) Phi.
  for (long s = 0; s < substeps; ++s) {
    derivative(x, u, k1);
    if (Phi != nullptr) {
      jacobian(x, u, A);
      L1 = A * *Phi;
    }
    xs = x + 0.5 * h * k1;
    derivative(xs, u, k2);
    if (Phi != nullptr) {
      jacobian(xs, u, A);
      L2 = A * (*Phi + 0.5 * h * L1);
    }
    xs = x + 0.5 * h * k2;
    derivative(xs, u, k3);
    if (Phi != nullptr) {
      jacobian(xs, u, A);
      L3 = A * (*Phi + 0.5 * h * L2);
    }
    xs = x + h * k3;
    derivative(xs, u, k4);
    if (Phi != nullptr) {
      jacobian(xs, u, A);
      L4 = A * (*Phi + h * L3);
      *Phi += (h / 6.0) * (L1 + 2.0 * L2 + 2.0 * L3 + L4);
    }
    x += (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
  }
}

void ContinuousProcessModel::propagate(const Eigen::Ref<const Eigen::VectorXd>& x,
                                       const Eigen::Ref<const Eigen::VectorXd>& u, double dt,
                                       Eigen::Ref<Eigen::VectorXd> x_next, Eigen::MatrixXd* F) {
  Eigen::VectorXd result;
  if (F == nullptr) {
    integrate(x, u, dt, result, nullptr);
    x_next = result;
    return;
  }
  Eigen::MatrixXd A_probe(x.size(), x.size());
  if (jacobian(x, u, A_probe)) {
    integrate(x, u, dt, result, F);
    x_next = result;
    return;
  }
  integrate(x, u, dt, result, nullptr);
  x_next = result;
  finite_difference_jacobian(
      [&](const Eigen::VectorXd& xp, Eigen::Ref<Eigen::VectorXd> out) {
        Eigen::VectorXd stepped;
        integrate(xp, u, dt, stepped, nullptr);
        out = stepped;
      },
      x, x.size(), *F);
}

DampedPendulumModel::DampedPendulumModel(double length, double gravity, double max_step,
                                         bool analytic_jacobian)
    : ContinuousProcessModel(max_step),
      length_(length),
      gravity_(gravity),
      analytic_jacobian_(analytic_jacobian) {
  if (!(length > 0.0) || !std::isfinite(length)) {
    throw std::invalid_argument("length must be positive and finite, got " +
                                std::to_string(length));
  }
  if (!(gravity > 0.0) || !std::isfinite(gravity)) {
    throw std::invalid_argument("gravity must be positive and finite, got " +
                                std::to_string(gravity));
  }
}

void DampedPendulumModel::derivative(const Eigen::Ref<const Eigen::VectorXd>& x,
                                     const Eigen::Ref<const Eigen::VectorXd>& u,
                                     Eigen::Ref<Eigen::VectorXd> dxdt) const {
  dxdt[0] = x[1];
  dxdt[1] = -(gravity_ / length_) * std::sin(x[0]) - x[2] * x[1] + u[0];
  dxdt[2] = 0.0;
}

bool DampedPendulumModel::jacobian(const Eigen::Ref<const Eigen::VectorXd>& x,
                                   const Eigen::Ref<const Eigen::VectorXd>&,
                                   Eigen::MatrixXd& A) const {
  if (!analytic_jacobian_) return false;
  A.setZero(3, 3);
  A(0, 1) = 1.0;
  A(1, 0) = -(gravity_ / length_) * std::cos(x[0]);
  A(1, 1) = -x[2];
  A(1, 2) = -x[1];
  return true;
}

}  // namespace fmitwin
