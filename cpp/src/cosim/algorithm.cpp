#include "fmitwin/cosim/algorithm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace fmitwin::cosim {
namespace {

void discarded(const CoupledSystem& system, std::size_t i, double t, double h) {
  std::ostringstream message;
  message << "instance '" << system.instance_name(i) << "' discarded its step from t = " << t
          << " with h = " << h
          << "; a fixed-step master cannot retry: use a smaller step or the variable-step "
             "algorithm";
  throw FmuError(message.str());
}

// One base step k of the Jacobi scheme over [t, t + h], the inputs having been latched at t by
// the previous transfer; ends with the transfer at t + h. Returns false when an instance
// discarded (the system is then mid-step and must be restored).
bool jacobi_step(CoupledSystem& system, std::int64_t k, double t, double h, bool throw_on_discard) {
  const std::size_t n = system.instance_count();
  for (std::size_t i = 0; i < n; ++i) {
    if (!system.completes_at(i, k)) continue;
    const int m = system.step_multiple(i);
    const double start = t + h - m * h;
    if (!system.step_instance(i, start, m * h)) {
      if (throw_on_discard && !system.termination().requested) discarded(system, i, start, m * h);
      return false;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (system.completes_at(i, k)) system.refresh_outputs(i);
  }
  system.transfer(k + 1, t + h);
  return true;
}

// One base step k of Gauss-Seidel: each instance latches the freshest outputs just before it
// steps; ends with the transfer at t + h, as Jacobi does, so that the values observed there
// satisfy the connection equations (the next step latches again before each instance steps,
// which changes nothing for the instances that have not stepped since). Returns false when an
// instance asked to end the simulation before t + h.
bool gauss_seidel_step(CoupledSystem& system, const std::vector<std::size_t>& order, std::int64_t k,
                       double t, double h) {
  for (std::size_t i : order) {
    if (system.latches_at(i, k)) system.latch_inputs(i, t);
    if (!system.completes_at(i, k)) continue;
    const int m = system.step_multiple(i);
    const double start = t + h - m * h;
    if (!system.step_instance(i, start, m * h)) {
      if (system.termination().requested) return false;
      discarded(system, i, start, m * h);
    }
    system.refresh_outputs(i);
  }
  system.transfer(k + 1, t + h);
  return true;
}

// An instance asked to end the simulation during a trial step: the system goes back to the
// step's start (the termination stays recorded) and the run ends there.
double stop_at_termination(CoupledSystem& system, const SystemState& snapshot, double time) {
  system.restore_state(snapshot);
  return time;
}

struct FixedStepState : AlgorithmState {
  std::int64_t k;
};

struct VariableStepState : AlgorithmState {
  double h;
  std::int64_t rejected;
};

}  // namespace

FixedStepAlgorithm::FixedStepAlgorithm(FixedStepMethod method, double step_size,
                                       std::vector<std::size_t> order)
    : method_(method), h_(step_size), order_(std::move(order)) {
  if (!(step_size > 0) || !std::isfinite(step_size)) {
    throw std::invalid_argument("step size must be positive and finite, got " +
                                std::to_string(step_size));
  }
}

void FixedStepAlgorithm::initialize(CoupledSystem& system, double start_time) {
  const std::size_t n = system.instance_count();
  if (order_.empty()) {
    order_ = system.dataflow_order();
  } else {
    std::vector<std::size_t> sorted = order_;
    std::sort(sorted.begin(), sorted.end());
    bool permutation = sorted.size() == n;
    for (std::size_t i = 0; i < sorted.size() && permutation; ++i) permutation = sorted[i] == i;
    if (!permutation) {
      throw std::invalid_argument("order must list every instance index exactly once (" +
                                  std::to_string(n) + " instances)");
    }
  }
  start_time_ = start_time;
  k_ = 0;
}

double FixedStepAlgorithm::step(CoupledSystem& system, double time, double max_step) {
  (void)time;  // the step grid is t0 + k h, free of accumulated rounding
  if (max_step < h_ * (1.0 - 1e-6)) {
    std::ostringstream message;
    message << "the next output point or stop time is " << max_step << " ahead of t = " << time
            << ", less than the fixed step " << h_
            << "; put output points and the stop time on the step grid";
    throw std::invalid_argument(message.str());
  }
  const double t = start_time_ + static_cast<double>(k_) * h_;
  const bool done = method_ == FixedStepMethod::jacobi
                        ? jacobi_step(system, k_, t, h_, true)
                        : gauss_seidel_step(system, order_, k_, t, h_);
  if (!done) return t;  // an instance ended the simulation inside this step: stay at t
  ++k_;
  return start_time_ + static_cast<double>(k_) * h_;
}

std::unique_ptr<AlgorithmState> FixedStepAlgorithm::save_state() const {
  auto state = std::make_unique<FixedStepState>();
  state->k = k_;
  return state;
}

void FixedStepAlgorithm::restore_state(const AlgorithmState& state) {
  const auto* s = dynamic_cast<const FixedStepState*>(&state);
  if (s == nullptr) throw std::invalid_argument("restore_state: not a fixed-step algorithm state");
  k_ = s->k;
}

VariableStepAlgorithm::VariableStepAlgorithm(const VariableStepOptions& options)
    : options_(options), h_(options.initial_step) {
  const auto& o = options_;
  if (!(o.rtol >= 0) || !(o.atol >= 0) || o.rtol + o.atol <= 0) {
    throw std::invalid_argument("rtol and atol must be >= 0 and not both 0");
  }
  if (!(o.min_step > 0) || !(o.max_step >= o.min_step) || !(o.initial_step >= o.min_step) ||
      !(o.initial_step <= o.max_step)) {
    throw std::invalid_argument("need 0 < min_step <= initial_step <= max_step");
  }
}

void VariableStepAlgorithm::initialize(CoupledSystem& system, double start_time) {
  (void)start_time;
  auto missing = system.instances_without_state();
  if (!missing.empty()) {
    std::string list;
    for (const auto& name : missing) list += (list.empty() ? "'" : ", '") + name + "'";
    throw FmuError("the error-controlled variable step rolls back steps, which needs "
                             "every FMU to get/set its state; instance(s) " + list +
                             " cannot (canGetAndSetFMUstate is false): use a fixed step "
                             "(Jacobi or Gauss-Seidel) instead");
  }
  for (std::size_t i = 0; i < system.instance_count(); ++i) {
    if (system.step_multiple(i) != 1) {
      throw std::invalid_argument("the variable-step algorithm takes no step multiples; instance '" +
                                  system.instance_name(i) + "' has " +
                                  std::to_string(system.step_multiple(i)));
    }
  }
  h_ = options_.initial_step;
  rejected_ = 0;
}

double VariableStepAlgorithm::step(CoupledSystem& system, double time, double max_step) {
  const double h_max = std::min(options_.max_step, max_step);
  // A step that would leave a sliver before max_step is stretched to land on it.
  double h = std::min(h_, h_max);
  if (h_max - h < options_.min_step) h = h_max;
  const auto snapshot = system.save_state();
  for (;;) {
    bool ok = jacobi_step(system, 0, time, h, false);
    if (system.termination().requested) return stop_at_termination(system, *snapshot, time);
    if (ok) system.coupling_outputs(full_);
    system.restore_state(*snapshot);
    ok = ok && jacobi_step(system, 0, time, h / 2, false) &&
         jacobi_step(system, 0, time + h / 2, h / 2, false);
    if (system.termination().requested) return stop_at_termination(system, *snapshot, time);
    double error = std::numeric_limits<double>::infinity();
    if (ok) {
      system.coupling_outputs(half_);
      error = 0.0;
      for (std::size_t j = 0; j < half_.size(); ++j) {
        const double scale =
            options_.atol + options_.rtol * std::max(std::abs(full_[j]), std::abs(half_[j]));
        error = std::max(error, std::abs(full_[j] - half_[j]) / scale);
      }
    }
    // Local coupling error of a zero-order hold is O(h^2): the step scales with error^(-1/2).
    const double factor = error == 0.0 ? 5.0 : 0.9 / std::sqrt(error);
    if (error <= 1.0) {
      const double proposal = h * std::clamp(factor, 0.2, 5.0);
      // A step shortened to land on max_step says nothing against the longer step before it.
      h_ = std::min(options_.max_step, h < h_ ? std::max(h_, proposal) : proposal);
      return time + h;
    }
    ++rejected_;
    system.restore_state(*snapshot);
    if (h <= options_.min_step) {
      std::ostringstream message;
      message << "variable step: the error estimate " << error << " exceeds the tolerance (rtol "
              << options_.rtol << ", atol " << options_.atol << ") at t = " << time
              << " even at min_step " << options_.min_step
              << (ok ? "" : " (an FMU discarded the step)")
              << "; loosen the tolerances or lower min_step";
      throw FmuError(message.str());
    }
    h = std::max(options_.min_step, h * std::clamp(factor, 0.1, 0.5));
  }
}

std::unique_ptr<AlgorithmState> VariableStepAlgorithm::save_state() const {
  auto state = std::make_unique<VariableStepState>();
  state->h = h_;
  state->rejected = rejected_;
  return state;
}

void VariableStepAlgorithm::restore_state(const AlgorithmState& state) {
  const auto* s = dynamic_cast<const VariableStepState*>(&state);
  if (s == nullptr) throw std::invalid_argument("restore_state: not a variable-step algorithm state");
  h_ = s->h;
  rejected_ = s->rejected;
}

}  // namespace fmitwin::cosim
