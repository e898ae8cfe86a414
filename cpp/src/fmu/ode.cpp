#include "fmitwin/fmu/ode.hpp"

#include <algorithm>
#include <cmath>

namespace fmitwin::fmu {

void RungeKuttaStepper::resize(std::size_t n) {
  n_ = n;
  for (auto* v : {&k2_, &k3_, &k4_, &k5_, &k6_, &tmp_}) v->assign(n, 0.0);
}

void RungeKuttaStepper::rk4(const RightHandSide& f, double t, const double* x, const double* f0,
                            double h, double* x1) {
  const std::size_t n = n_;
  for (std::size_t i = 0; i < n; ++i) tmp_[i] = x[i] + 0.5 * h * f0[i];
  f(t + 0.5 * h, tmp_.data(), k2_.data());
  for (std::size_t i = 0; i < n; ++i) tmp_[i] = x[i] + 0.5 * h * k2_[i];
  f(t + 0.5 * h, tmp_.data(), k3_.data());
  for (std::size_t i = 0; i < n; ++i) tmp_[i] = x[i] + h * k3_[i];
  f(t + h, tmp_.data(), k4_.data());
  for (std::size_t i = 0; i < n; ++i) {
    x1[i] = x[i] + h / 6.0 * (f0[i] + 2.0 * k2_[i] + 2.0 * k3_[i] + k4_[i]);
  }
}

// Dormand & Prince (1980), RK5(4)7M: the tableau and the 5th-minus-4th-order error weights.
namespace dp {
constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;
constexpr double a21 = 1.0 / 5;
constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                 a54 = -212.0 / 729;
constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176,
                 a65 = -5103.0 / 18656;
constexpr double b1 = 35.0 / 384, b3 = 500.0 / 1113, b4 = 125.0 / 192, b5 = -2187.0 / 6784,
                 b6 = 11.0 / 84;
constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200,
                 e6 = 22.0 / 525, e7 = -1.0 / 40;
}  // namespace dp

double RungeKuttaStepper::dopri45(const RightHandSide& f, double t, const double* x,
                                  const double* k1, double h, double rtol, const double* atol,
                                  double* x1, double* k7) {
  using namespace dp;
  const std::size_t n = n_;
  for (std::size_t i = 0; i < n; ++i) tmp_[i] = x[i] + h * a21 * k1[i];
  f(t + c2 * h, tmp_.data(), k2_.data());
  for (std::size_t i = 0; i < n; ++i) tmp_[i] = x[i] + h * (a31 * k1[i] + a32 * k2_[i]);
  f(t + c3 * h, tmp_.data(), k3_.data());
  for (std::size_t i = 0; i < n; ++i) {
    tmp_[i] = x[i] + h * (a41 * k1[i] + a42 * k2_[i] + a43 * k3_[i]);
  }
  f(t + c4 * h, tmp_.data(), k4_.data());
  for (std::size_t i = 0; i < n; ++i) {
    tmp_[i] = x[i] + h * (a51 * k1[i] + a52 * k2_[i] + a53 * k3_[i] + a54 * k4_[i]);
  }
  f(t + c5 * h, tmp_.data(), k5_.data());
  for (std::size_t i = 0; i < n; ++i) {
    tmp_[i] = x[i] + h * (a61 * k1[i] + a62 * k2_[i] + a63 * k3_[i] + a64 * k4_[i] +
                          a65 * k5_[i]);
  }
  f(t + h, tmp_.data(), k6_.data());
  for (std::size_t i = 0; i < n; ++i) {
    x1[i] = x[i] + h * (b1 * k1[i] + b3 * k3_[i] + b4 * k4_[i] + b5 * k5_[i] + b6 * k6_[i]);
  }
  f(t + h, x1, k7);
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double e = h * (e1 * k1[i] + e3 * k3_[i] + e4 * k4_[i] + e5 * k5_[i] + e6 * k6_[i] +
                          e7 * k7[i]);
    const double scale = atol[i] + rtol * std::max(std::abs(x[i]), std::abs(x1[i]));
    sum += (e / scale) * (e / scale);
  }
  return n == 0 ? 0.0 : std::sqrt(sum / static_cast<double>(n));
}

void hermite(std::size_t n, double theta, double h, const double* x0, const double* f0,
             const double* x1, const double* f1, double* out) {
  const double t2 = theta * theta, t3 = t2 * theta;
  const double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + theta, h01 = -2 * t3 + 3 * t2,
               h11 = t3 - t2;
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = h00 * x0[i] + h10 * h * f0[i] + h01 * x1[i] + h11 * h * f1[i];
  }
}

double dopri_step_factor(double err) {
  if (err == 0.0) return 5.0;
  return std::clamp(0.9 * std::pow(err, -0.2), 0.2, 5.0);
}

}  // namespace fmitwin::fmu
