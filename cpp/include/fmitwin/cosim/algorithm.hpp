// Master algorithms: how a CoupledSystem advances one communication step.
//
// Semantics (the coupling delay of each method, with base communication step h, t_k = t0 + k h):
//   Jacobi:        every instance holds its inputs at the values the coupled outputs had at t_k
//                  over [t_k, t_{k+1}] (zero-order hold): every connection delays by one step.
//   Gauss-Seidel:  instances step one after another in `order`; an instance takes the outputs of
//                  instances before it at t_{k+1} (no delay) and of those after it at t_k (one-step
//                  delay). The default order is the data-flow order of the connections.
//   Multi-rate:    an instance with step multiple m latches its inputs at base steps k, k % m == 0,
//                  and steps [t_k, t_{k+m}] when the base step k+m-1 completes; its outputs change
//                  for the others only then (its state is never ahead of the system time).
//   Direct feedthrough / algebraic loops: at every communication point, outputs that depend
//                  directly on inputs are made consistent with them (CoupledSystem::settle).
//   Recorded values at t_k: Jacobi and variable step record every input as it is held over the
//                  next step; Gauss-Seidel records the inputs used in the step just completed
//                  (except feedthrough instances, settled at t_k).
//   Variable step: Jacobi with step doubling: one step h and two steps h/2 from the same saved
//                  state; the coupling outputs' difference, scaled by atol + rtol |y|, is the error
//                  estimate; the two half steps are kept when it is <= 1, else the step is retried
//                  smaller. Needs every simulator to save its state.
//
// Ownership: an Execution shares ownership of its algorithm; an algorithm keeps no reference to
// the system between calls.
// Call order: initialize(system, t0) once after CoupledSystem::initialize, then step()*; save_state
// / restore_state between steps.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fmitwin/cosim/coupled_system.hpp"

namespace fmitwin::cosim {

class AlgorithmState {
 public:
  virtual ~AlgorithmState() = default;
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual void initialize(CoupledSystem& system, double start_time) = 0;
  // Advances the whole system from `time` by at most `max_step` and returns the time reached.
  // Throws when it cannot (an FMU error, a discarded fixed step, a step below the minimum).
  virtual double step(CoupledSystem& system, double time, double max_step) = 0;
  virtual std::unique_ptr<AlgorithmState> save_state() const = 0;
  virtual void restore_state(const AlgorithmState& state) = 0;
};

enum class FixedStepMethod { jacobi, gauss_seidel };

class FixedStepAlgorithm : public Algorithm {
 public:
  // `order`: Gauss-Seidel instance order (a permutation of all instances); empty = data-flow order.
  FixedStepAlgorithm(FixedStepMethod method, double step_size, std::vector<std::size_t> order = {});
  void initialize(CoupledSystem& system, double start_time) override;
  // `max_step` must be at least the step size (output points and stop time on the step grid).
  double step(CoupledSystem& system, double time, double max_step) override;
  std::unique_ptr<AlgorithmState> save_state() const override;
  void restore_state(const AlgorithmState& state) override;
  const std::vector<std::size_t>& order() const { return order_; }

 private:
  FixedStepMethod method_;
  double h_;
  std::vector<std::size_t> order_;
  double start_time_ = 0.0;
  std::int64_t k_ = 0;
};

struct VariableStepOptions {
  double rtol = 1e-4;
  double atol = 1e-6;
  double initial_step = 1e-3;
  double min_step = 1e-9;
  double max_step = 1.0;
};

class VariableStepAlgorithm : public Algorithm {
 public:
  explicit VariableStepAlgorithm(const VariableStepOptions& options);
  // Throws std::runtime_error naming the instances that cannot save their state.
  void initialize(CoupledSystem& system, double start_time) override;
  double step(CoupledSystem& system, double time, double max_step) override;
  std::unique_ptr<AlgorithmState> save_state() const override;
  void restore_state(const AlgorithmState& state) override;
  std::int64_t rejected_steps() const { return rejected_; }
  double next_step_size() const { return h_; }

 private:
  VariableStepOptions options_;
  double h_;
  std::int64_t rejected_ = 0;
  std::vector<double> full_, half_;
};

}  // namespace fmitwin::cosim
