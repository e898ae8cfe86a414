// Native process and measurement models: linear ones, a base for nonlinear continuous-time models
// (RK4 with the state-transition Jacobian from the variational equation or finite differences),
// and the finite-difference Jacobian helper they share.
//
// Ownership: models own copies of their matrices and parameters; filters share them through
// std::shared_ptr. Every model here is stateless between calls (const), so one instance may serve
// many filters and threads at once.
#pragma once

#include <functional>
#include <memory>

#include "fmitwin/process_model.hpp"

namespace fmitwin {

// x_next = F x + B u (dt is ignored: F and B are already discrete).
class LinearProcessModel : public ProcessModel {
 public:
  // B may have zero columns (no input). Throws std::invalid_argument on inconsistent shapes.
  LinearProcessModel(Eigen::MatrixXd F, Eigen::MatrixXd B);
  int state_dim() const override { return static_cast<int>(F_.rows()); }
  int input_dim() const override { return static_cast<int>(B_.cols()); }
  void propagate(const Eigen::Ref<const Eigen::VectorXd>& x,
                 const Eigen::Ref<const Eigen::VectorXd>& u, double dt,
                 Eigen::Ref<Eigen::VectorXd> x_next, Eigen::MatrixXd* F) override;
  const Eigen::MatrixXd& F() const { return F_; }
  const Eigen::MatrixXd& B() const { return B_; }

 private:
  Eigen::MatrixXd F_, B_;
};

// z = H x.
class LinearMeasurementModel : public MeasurementModel {
 public:
  explicit LinearMeasurementModel(Eigen::MatrixXd H);
  int state_dim() const override { return static_cast<int>(H_.cols()); }
  int measurement_dim() const override { return static_cast<int>(H_.rows()); }
  void measure(const Eigen::Ref<const Eigen::VectorXd>& x,
               const Eigen::Ref<const Eigen::VectorXd>& u, Eigen::Ref<Eigen::VectorXd> z,
               Eigen::MatrixXd* H) override;
  const Eigen::MatrixXd& H() const { return H_; }

 private:
  Eigen::MatrixXd H_;
};

// d f(x) / d x of a vector function by central differences, step h_i = cbrt(eps) * max(1, |x_i|)
// (the step that balances truncation and rounding error for central differences).
// f writes f(x) into its second argument; J is resized to (rows, x.size()).
void finite_difference_jacobian(
    const std::function<void(const Eigen::VectorXd&, Eigen::Ref<Eigen::VectorXd>)>& f,
    const Eigen::VectorXd& x, Eigen::Index rows, Eigen::MatrixXd& J);

// A nonlinear continuous-time model dx/dt = f(x, u), u held constant over the step.
// propagate() integrates with classic RK4 over ceil(dt / max_step) equal substeps. F is the
// solution of the variational equation dPhi/dt = A(x(t)) Phi, Phi(0) = I, integrated along the
// same RK4 steps when the model supplies the analytic A = df/dx (jacobian() returns true), and the
// central finite difference of the discrete map otherwise.
class ContinuousProcessModel : public ProcessModel {
 public:
  explicit ContinuousProcessModel(double max_step);
  void propagate(const Eigen::Ref<const Eigen::VectorXd>& x,
                 const Eigen::Ref<const Eigen::VectorXd>& u, double dt,
                 Eigen::Ref<Eigen::VectorXd> x_next, Eigen::MatrixXd* F) override;
  double max_step() const { return max_step_; }

  // dx/dt at (x, u).
  virtual void derivative(const Eigen::Ref<const Eigen::VectorXd>& x,
                          const Eigen::Ref<const Eigen::VectorXd>& u,
                          Eigen::Ref<Eigen::VectorXd> dxdt) const = 0;
  // Writes A = df/dx at (x, u) and returns true, or returns false to ask for finite differences.
  virtual bool jacobian(const Eigen::Ref<const Eigen::VectorXd>& x,
                        const Eigen::Ref<const Eigen::VectorXd>& u, Eigen::MatrixXd& A) const;

 private:
  void integrate(const Eigen::Ref<const Eigen::VectorXd>& x,
                 const Eigen::Ref<const Eigen::VectorXd>& u, double dt, Eigen::VectorXd& x_next,
                 Eigen::MatrixXd* Phi) const;
  double max_step_;
};

// A damped pendulum whose damping rate is estimated as a state (the bundled demo model):
//   theta' = omega,  omega' = -(g / L) sin(theta) - c omega + u,  c' = 0,
// state (theta [rad], omega [rad/s], c [1/s]), input u = applied torque / inertia [rad/s^2].
// F comes from the analytic Jacobian, or from finite differences when analytic_jacobian is false.
class DampedPendulumModel : public ContinuousProcessModel {
 public:
  DampedPendulumModel(double length, double gravity, double max_step, bool analytic_jacobian);
  int state_dim() const override { return 3; }
  int input_dim() const override { return 1; }
  void derivative(const Eigen::Ref<const Eigen::VectorXd>& x,
                  const Eigen::Ref<const Eigen::VectorXd>& u,
                  Eigen::Ref<Eigen::VectorXd> dxdt) const override;
  bool jacobian(const Eigen::Ref<const Eigen::VectorXd>& x,
                const Eigen::Ref<const Eigen::VectorXd>& u, Eigen::MatrixXd& A) const override;
  double length() const { return length_; }
  double gravity() const { return gravity_; }
  bool analytic_jacobian() const { return analytic_jacobian_; }

 private:
  double length_, gravity_;
  bool analytic_jacobian_;
};

}  // namespace fmitwin
