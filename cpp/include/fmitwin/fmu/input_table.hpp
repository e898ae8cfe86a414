// Tabulated input signals for FMU simulations, interpolated as FMPy's simulate_fmu does.
//
// Ownership: plain value type; simulators share one through std::shared_ptr<const InputTable>.
// Call order: fill, validate(), then apply()/value() from one thread at a time.
#pragma once

#include <cstddef>
#include <vector>

#include "fmitwin/simulator.hpp"

namespace fmitwin::fmu {

// math.isclose(a, b) with its default rel_tol = 1e-9, abs_tol = 0 (FMPy's time comparisons).
bool is_close(double a, double b);

enum class VariableKind { real, integer, boolean };

// Tabulated input signals: values(i, j) of signal i at times[j] (times non-decreasing; a repeated
// time is a step change). Continuous signals are interpolated linearly, others hold the last value.
struct InputTable {
  std::vector<double> times;
  std::vector<ValueReference> vrs;
  std::vector<VariableKind> kinds;
  std::vector<bool> continuous;
  std::vector<double> values;       // signals x times, row-major
  std::vector<double> event_times;  // sorted: repeated times and changes of discrete signals

  bool empty() const { return vrs.empty() || times.empty(); }
  // Value of signal i at time t; after_event takes the right-hand value at a discontinuity.
  double value(std::size_t i, double t, bool after_event) const;
  // Sets every signal on the simulator.
  void apply(Simulator& sim, double t, bool after_event) const;
  // Sets the continuous (interpolated) signals only: what changes between events.
  void apply_continuous(Simulator& sim, double t) const;
  // Whether t is one of the event times (within is_close).
  bool is_event(double t) const;
  // First event time strictly after t (+inf when none).
  double next_event(double t) const;
  // Checks sizes and ordering; throws std::invalid_argument naming the problem.
  void validate() const;
};

}  // namespace fmitwin::fmu
