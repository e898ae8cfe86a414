// Model-exchange FMU (FMI 2.0 or 3.0) integrated by a native solver, as a fmitwin::Simulator.
//
// Solvers: fixed-step classic RK4, or adaptive Dormand-Prince 5(4) with rtol/atol (atol scaled by
// the states' nominal values). Events as FMI prescribes:
//   - state events: after each step the event indicators are compared with the previous ones; a
//     change of domain (z > 0 <-> z <= 0) is located inside the step by regula falsi (Illinois)
//     on the cubic Hermite dense output, the FMU is moved to the instant just after the crossing
//     and the event is handled there;
//   - time events: steps end exactly at the next event time the FMU announced;
//   - step events: completedIntegratorStep asking for event mode.
//   Handling an event = enterEventMode, update discrete states until converged (event iteration),
//   enterContinuousTimeMode, re-read states when their values changed.
//
// Use (Python): `load_fmu(path).instantiate("me").simulator` is a `_core.ModelExchange`, built
//   with `_core.ModelExchange(fmi_version, fmu.dll._handle, fmu.component, n_states,
//   n_event_indicators, can_save_state, provides_directional_derivatives)`; choose the solver
//   with `configure_solver(...)` before setup.
//
// Ownership: holds the FmuAccess (shared); does not own the FMU instance (FMPy frees it).
// Call order: as fmitwin::Simulator; do_step(t, h) requires t == time() (within rounding).
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "fmitwin/fmu/cosimulation.hpp"
#include "fmitwin/fmu/ode.hpp"

namespace fmitwin::fmu {

struct SolverOptions {
  enum class Method { rk4, dopri45 };
  Method method = Method::dopri45;
  double rtol = 1e-6;
  double atol = 1e-8;
  // RK4: the fixed step (<= 0: one RK4 step per do_step). Dormand-Prince: the largest step
  // (<= 0: unlimited).
  double step = 0.0;
  std::size_t max_events_per_instant = 1000;  // guards against chattering event indicators

  void validate() const;  // throws std::invalid_argument naming the bad option
};

class ModelExchange : public FmuSimulator {
 public:
  ModelExchange(std::shared_ptr<FmuAccess> access, SolverOptions options = {});

  void configure_solver(const SolverOptions& options);
  const SolverOptions& solver_options() const { return options_; }

  void enter_initialization(double start_time, double stop_time) override;
  // Leaves initialization mode, runs the event iteration and enters continuous-time mode.
  void exit_initialization() override;

  // Integrates from time() to t + h; returns false when the FMU asked to terminate
  // (terminate_requested(), last_successful_time()). An event at t + h (a time event due then,
  // a state event located there) is handled before returning: the FMU then holds the values
  // after it, as a co-simulation FMU does at the end of its step.
  bool do_step(double t, double h) override;

  std::unique_ptr<SimulatorState> save_state() override;
  void restore_state(const SimulatorState& state) override;

  void follow_inputs(std::shared_ptr<const InputTable> inputs) override {
    inputs_ = std::move(inputs);
  }
  // Sets the inputs at communication point t (`at_event`: t is an input event, a step change).
  // At an input event: event mode, all inputs (right-hand values), event iteration; otherwise
  // only the continuous inputs (FMI allows no other changes in continuous-time mode).
  void apply_inputs(const InputTable& inputs, double t, bool at_event);

  // Continuous-time access (used by the FMU-backed process model).
  double time() const { return time_; }
  std::size_t state_count() const { return x_.size(); }
  const std::vector<double>& states() const { return x_; }
  // Overwrites the continuous states at the current time (fmi*SetContinuousStates).
  void set_states(const double* x);
  // Writes f(time(), states()) for the current inputs.
  void derivatives(double* dx);
  // f(t, x) for the current inputs; leaves the FMU at (t, x). Does not move time().
  void evaluate(double t, const double* x, double* dx);
  // Sets tunable parameters the FMI way: event mode, set, event iteration, continuous-time mode.
  void set_tunable_parameters(const ValueReference* vr, std::size_t n, const double* values);
  // Takes a step integrated outside (the FMU-backed process model integrates the variational
  // equation itself): moves to (t1, x1), reports the completed step and handles an event the FMU
  // asks for or an event indicator that changed sign (at t1: the crossing is not located).
  // Returns false when the FMU asked to terminate.
  bool accept_step(double t1, const double* x1);
  // Events handled since setup (state, time and step events).
  std::size_t event_count() const { return event_count_; }
  // Called at every event: with after = false at the event's time before the FMU enters event
  // mode (the left limit), with after = true once it is back in continuous-time mode with the
  // new values. Empty: none. Used by SimulationRun to record both sides of events.
  using EventObserver = std::function<void(double t, bool after)>;
  void set_event_observer(EventObserver observer) { event_observer_ = std::move(observer); }
  // Whether a step from time() can meet an event before t1: the FMU has event indicators, or
  // announced a time event at or before t1.
  bool may_meet_event(double t1) const;
  // Where the path from (time(), states()) to (t1, x1) meets an event: inside (a time event due
  // before t1, or an event indicator whose sign at (t1, x1) differs from the one at time()), at
  // the end only (a time event due at t1), or none. Leaves the FMU at (t1, x1); time() and
  // states() are unchanged.
  enum class EventOnPath { none, at_end, inside };
  EventOnPath meets_event(double t1, const double* x1);

 private:
  void rhs(double t, const double* x, double* dx);
  void move_to(double t, const double* x);  // time, followed inputs and states into the FMU
  void refresh();  // re-reads derivatives and event indicators at (time_, x_)
  // Event mode -> in_event_mode() -> event iteration -> continuous-time mode, states re-read.
  void handle_event(const std::function<void()>& in_event_mode = {});
  bool event_iteration();  // false when the FMU asked to terminate
  bool crossed(const std::vector<double>& a, const std::vector<double>& b) const;
  // Locates the first crossing in [t0, t0 + h]; returns the time just after it and writes x there.
  double locate_crossing(double t0, double h, const std::vector<double>& x1,
                         const std::vector<double>& f1, const std::vector<double>& z1,
                         std::vector<double>& x_event);
  double initial_step(double limit);

  SolverOptions options_;
  RightHandSide rhs_;
  std::shared_ptr<const InputTable> inputs_;
  RungeKuttaStepper stepper_;
  double time_ = 0.0;
  double next_time_event_ = std::numeric_limits<double>::infinity();
  // The input event handled last: from then on, evaluations at that instant (the first stage of
  // the next step) take the continuous inputs' right-hand values, not the ones before the step.
  double inputs_switched_at_ = -std::numeric_limits<double>::infinity();
  double h_ = 0.0;  // Dormand-Prince step carried over between calls (0: choose afresh)
  bool initialized_ = false;
  std::size_t event_count_ = 0;
  EventObserver event_observer_;
  std::vector<double> x_, dx_, z_, atol_;
  std::vector<double> x1_, f1_, z1_, xe_, ztmp_;
};

}  // namespace fmitwin::fmu
