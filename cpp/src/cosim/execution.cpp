#include "fmitwin/cosim/execution.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>

namespace fmitwin::cosim {

Execution::Execution(std::shared_ptr<CoupledSystem> system, std::shared_ptr<Algorithm> algorithm)
    : system_(std::move(system)), algorithm_(std::move(algorithm)) {
  if (!system_ || !algorithm_) throw std::invalid_argument("Execution: system and algorithm are required");
}

void Execution::add_observer(std::shared_ptr<Observer> observer) {
  if (!observer) throw std::invalid_argument("add_observer: observer is null");
  if (initialized_) observer->initialized(*system_, time_);
  observers_.push_back(std::move(observer));
}

void Execution::initialize(double start_time, double stop_time, bool set_up_simulators) {
  if (initialized_) throw std::logic_error("Execution::initialize: already initialized");
  if (!(stop_time > start_time)) {
    throw std::invalid_argument("stop time must be after the start time");
  }
  system_->initialize(start_time, stop_time, set_up_simulators);
  algorithm_->initialize(*system_, start_time);
  time_ = start_time;
  steps_ = 0;
  initialized_ = true;
  for (auto& o : observers_) o->initialized(*system_, time_);
}

void Execution::set_real_time_factor(double factor) {
  if (!(factor >= 0) || !std::isfinite(factor)) {
    throw std::invalid_argument("real_time_factor must be >= 0 and finite (0: as fast as possible)");
  }
  real_time_factor_ = factor;
}

double Execution::run_until(double end_time) {
  if (!initialized_) throw std::logic_error("Execution::run_until: initialize first");
  stop_requested_ = false;
  using clock = std::chrono::steady_clock;
  const auto wall_start = clock::now();
  const double sim_start = time_;
  const double eps = 1e-12 * std::max(1.0, std::abs(end_time));
  while (time_ < end_time - eps && !stop_requested_ && !system_->termination().requested) {
    double target = end_time;
    for (const auto& o : observers_) {
      const double t = o->next_time();
      if (t > time_ + eps && t < target) target = t;
    }
    const double reached = algorithm_->step(*system_, time_, target - time_);
    // An instance ended the simulation inside the step: the run ends at the last point.
    if (system_->termination().requested && !(reached > time_)) break;
    time_ = reached;
    ++steps_;
    for (auto& o : observers_) o->step_complete(*system_, time_);
    if (interrupt_check_ && steps_ % 16 == 0 && interrupt_check_()) break;
    if (real_time_factor_ > 0) {
      const auto due = wall_start + std::chrono::duration_cast<clock::duration>(
                                        std::chrono::duration<double>((time_ - sim_start) /
                                                                      real_time_factor_));
      std::this_thread::sleep_until(due);
    }
  }
  return time_;
}

void Execution::set_input_signal(const VariableId& variable, std::vector<double> times,
                                 std::vector<double> values, Interpolation interpolation) {
  system_->set_input_signal(variable, std::move(times), std::move(values), interpolation);
  if (initialized_ && system_->step_multiple(variable.instance) == 1) {
    system_->latch_inputs(variable.instance, time_);
  }
}

std::unique_ptr<Checkpoint> Execution::checkpoint() const {
  if (!initialized_) throw std::logic_error("checkpoint: initialize the execution first");
  auto cp = std::make_unique<Checkpoint>();
  cp->time = time_;
  cp->system = system_->save_state();
  cp->algorithm = algorithm_->save_state();
  return cp;
}

void Execution::restore(const Checkpoint& checkpoint) {
  if (!initialized_) throw std::logic_error("restore: initialize the execution first");
  if (!checkpoint.system || !checkpoint.algorithm) throw std::invalid_argument("restore: the checkpoint was released (its run was closed)");
  // Restore the algorithm first (it only validates and copies), and undo it when the system
  // refuses the checkpoint, so that a rejected restore changes nothing.
  const auto algorithm_before = algorithm_->save_state();
  algorithm_->restore_state(*checkpoint.algorithm);
  try {
    system_->restore_state(*checkpoint.system);
  } catch (...) {
    algorithm_->restore_state(*algorithm_before);
    throw;
  }
  time_ = checkpoint.time;
  system_->clear_termination();
  for (auto& o : observers_) o->restored(*system_, time_);
}

}  // namespace fmitwin::cosim
