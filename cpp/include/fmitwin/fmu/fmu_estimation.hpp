// A model-exchange FMU as the EKF's process and measurement models.
//
// EKF state x = [continuous states of the FMU (model-description order); augmented parameters].
// Parameters are tunable real parameters estimated jointly with the states (dp/dt = 0).
//   propagate(x, u, dt): sets the inputs u and the parameters, puts the states into the FMU and
//     integrates over dt in C++. Without F it is the ModelExchange solver (events located). With
//     F it integrates the states together with the variational equation
//         dPhi/dt = A(t) Phi + [0 | df/dp],  Phi(0) = [I 0],  A = df/dx
//     (RK4 over fixed substeps, or Dormand-Prince 5(4) with error control over states and Phi),
//     so F = [[Phi], [0 I]] is the state-transition Jacobian of the step (not I + A dt). A Phi is
//     evaluated column by column with fmi*GetDirectionalDerivative (seed = a column of Phi) when
//     the FMU provides it, else by central differences of f along that column; df/dp always by
//     central differences (FMI lets parameters change only in event mode).
//     Events: when the step meets an event (an event indicator changes sign, or a time event is
//     due), the step is run again from its start by the ModelExchange solver, which locates the
//     event inside dt, applies the FMU's reset and continues; F is then the central difference
//     of that whole flow map (events included) along each state and parameter, i.e. the product
//     of the flows' Jacobians and the event's saltation matrix
//         S = dR/dx + (f+ - dR/dx f-) (dg/dx) / (dg/dx . f-)     (g: event indicator, R: reset)
//     without forming it. This needs canGetAndSetFMUstate (the step's start is saved); without
//     it, a time event exactly at the step's end is handled there after the integrated flow
//     (F then omits the reset's Jacobian), and an event inside the step is refused (FmuError).
//   measure(x, u): z = the chosen FMU variables at (x, u); H = dz/dx from directional derivatives
//     (states and inputs as knowns) or central differences, parameter columns by differences.
//
// Ownership: both models share one ModelExchange simulator (one FMU instance per filter); the
//   Python wrapper keeps the FMPy instance alive. Not thread-safe: one filter, one thread.
// Call order: the simulator is initialised (setup) before the first propagate/measure; the
//   process model's clock is the simulator's time() and advances by dt per propagate, or once per
//   step between begin_points() and end_points() (the unscented filter's sigma points).
#pragma once

#include <memory>
#include <vector>

#include <Eigen/Dense>

#include "fmitwin/fmu/model_exchange.hpp"
#include "fmitwin/process_model.hpp"

namespace fmitwin::fmu {

enum class JacobianMethod { directional, finite_difference };

// Which FMU variables make up the EKF's vectors (value references, all real).
struct EstimationLayout {
  std::vector<ValueReference> states;       // the continuous states, in the FMU's order
  std::vector<ValueReference> derivatives;  // their derivatives (directional-derivative unknowns)
  std::vector<ValueReference> inputs;       // u
  std::vector<ValueReference> parameters;   // appended to x
  std::vector<ValueReference> measurements; // z
};

// Shared between the process and the measurement model of one filter.
class FmuEstimationCore {
 public:
  FmuEstimationCore(std::shared_ptr<ModelExchange> sim, EstimationLayout layout,
                    JacobianMethod method);
  int state_dim() const { return static_cast<int>(n_s_ + n_p_); }
  ModelExchange& sim() { return *sim_; }
  const EstimationLayout& layout() const { return layout_; }
  JacobianMethod method() const { return method_; }

  // Applies u and the parameter part of x (if changed), then the states at the current time.
  void load(const Eigen::Ref<const Eigen::VectorXd>& x, const Eigen::Ref<const Eigen::VectorXd>& u);
  void set_parameters(const double* p);
  // The FMU holds the parameters p again (a saved state was restored): no FMU call.
  void parameters_restored(const double* p);
  // Column k of [A Phi | ...]: writes A * v for a state-space direction v at the loaded point.
  void jacobian_times(double t, const double* x, const double* v, double* out);
  // df/dp_j at (t, x) by central differences (event-mode parameter changes).
  void parameter_derivative(double t, const double* x, std::size_t j, double* out);
  // Measured variables at the loaded point.
  void measured(double* z);
  std::size_t n_states() const { return n_s_; }
  std::size_t n_parameters() const { return n_p_; }
  const std::vector<double>& parameters() const { return p_current_; }

 private:
  std::size_t n_s_, n_p_;
  std::shared_ptr<ModelExchange> sim_;
  EstimationLayout layout_;
  JacobianMethod method_;
  std::vector<double> p_current_, work_a_, work_b_, work_x_;
  bool parameters_loaded_ = false;
};

class FmuProcessModel : public ProcessModel {
 public:
  explicit FmuProcessModel(std::shared_ptr<FmuEstimationCore> core);
  int state_dim() const override { return core_->state_dim(); }
  int input_dim() const override { return static_cast<int>(core_->layout().inputs.size()); }
  void propagate(const Eigen::Ref<const Eigen::VectorXd>& x,
                 const Eigen::Ref<const Eigen::VectorXd>& u, double dt,
                 Eigen::Ref<Eigen::VectorXd> x_next, Eigen::MatrixXd* F) override;
  // Saves the FMU's state (and the solver's) at the step's start; each propagate() after the first
  // restores it, so that every point runs from that time and the FMU advances once per step.
  // Throws FmuError when the FMU cannot save its state (canGetAndSetFMUstate is false).
  void begin_points() override;
  void end_points() override;
  const std::shared_ptr<FmuEstimationCore>& core() const { return core_; }

 private:
  void augmented_rhs(double t, const double* y, double* dy);
  void integrate_augmented(double t0, double dt);
  // From the saved step start: x(t0 + dt) for the point x through the event-locating solver.
  // Returns false when the FMU asked to terminate.
  bool flow(const SimulatorState& start, const Eigen::VectorXd& x, const Eigen::VectorXd& u,
            double dt, double* x_next);
  // The step across an event: the FMU ends at the flow of x; phi_ = d x_next / d [x; p].
  bool propagate_across_events(const SimulatorState& start, const Eigen::VectorXd& x,
                               const Eigen::VectorXd& u, double dt);

  std::shared_ptr<FmuEstimationCore> core_;
  RungeKuttaStepper stepper_;
  std::vector<double> y_, y1_, f0_, f1_, atol_, column_;
  Eigen::MatrixXd phi_;  // d x_next / d [x; p] of a step across events (n x (n + np))
  std::vector<double> start_parameters_;  // the parameters the saved step start holds
  double h_ = 0.0;  // Dormand-Prince step carried between predicts
  // Between begin_points() and end_points(): the step's start (FMU and solver state, h_), and
  // whether a point has run from it since.
  std::unique_ptr<SimulatorState> step_start_;
  double step_start_h_ = 0.0;
  bool point_ran_ = false;
};

class FmuMeasurementModel : public MeasurementModel {
 public:
  explicit FmuMeasurementModel(std::shared_ptr<FmuEstimationCore> core);
  int state_dim() const override { return core_->state_dim(); }
  int measurement_dim() const override {
    return static_cast<int>(core_->layout().measurements.size());
  }
  void measure(const Eigen::Ref<const Eigen::VectorXd>& x,
               const Eigen::Ref<const Eigen::VectorXd>& u, Eigen::Ref<Eigen::VectorXd> z,
               Eigen::MatrixXd* H) override;

 private:
  std::shared_ptr<FmuEstimationCore> core_;
  std::vector<double> zp_, zm_, xs_;
};

}  // namespace fmitwin::fmu
