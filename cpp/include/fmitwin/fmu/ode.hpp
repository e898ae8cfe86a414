// Explicit Runge-Kutta steppers for x' = f(t, x): classic RK4 (fixed step) and Dormand-Prince
// 5(4) with an embedded error estimate, plus cubic Hermite dense output between accepted points
// (used to locate zero crossings of event indicators inside a step).
//
// Ownership: the stepper owns its stage buffers; the right-hand side is borrowed per call.
// Call order: any; a stepper is reusable across steps and systems of the same size (resize()).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace fmitwin::fmu {

// f(t, x, dx): writes dx = f(t, x); x and dx have the stepper's size.
using RightHandSide = std::function<void(double t, const double* x, double* dx)>;

class RungeKuttaStepper {
 public:
  explicit RungeKuttaStepper(std::size_t n = 0) { resize(n); }
  void resize(std::size_t n);
  std::size_t size() const { return n_; }

  // One RK4 step from (t, x) with x' = f0 at t; writes x1.
  void rk4(const RightHandSide& f, double t, const double* x, const double* f0, double h,
           double* x1);

  // One Dormand-Prince 5(4) step from (t, x) with f0 = f(t, x); writes the 5th-order x1, f1 =
  // f(t + h, x1) (first-same-as-last) and returns the weighted RMS error norm
  //   sqrt(mean_i (e_i / (atol_i + rtol * max(|x_i|, |x1_i|)))^2),
  // a step being acceptable when it is <= 1.
  double dopri45(const RightHandSide& f, double t, const double* x, const double* f0, double h,
                 double rtol, const double* atol, double* x1, double* f1);

 private:
  std::size_t n_ = 0;
  std::vector<double> k2_, k3_, k4_, k5_, k6_, tmp_;
};

// Cubic Hermite interpolation on [t0, t0 + h] from the end values and slopes: x(t0 + theta h).
void hermite(std::size_t n, double theta, double h, const double* x0, const double* f0,
             const double* x1, const double* f1, double* out);

// Step-size factor for an error norm `err` of a method of order 5(4), clamped to [0.2, 5].
double dopri_step_factor(double err);

}  // namespace fmitwin::fmu
