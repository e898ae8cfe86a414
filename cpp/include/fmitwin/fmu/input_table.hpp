// Tabulated input signals for FMU simulations, interpolated as FMPy's simulate_fmu does.
//
// Ownership: plain value type; simulators share one through std::shared_ptr<const InputTable>.
// Call order: fill, validate(), then apply()/value() from one thread at a time.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "fmitwin/fmu/fmu_access.hpp"

namespace fmitwin::fmu {

// math.isclose(a, b) with its default rel_tol = 1e-9, abs_tol = 0 (FMPy's time comparisons).
// Inline: run loops call it several times per step.
inline bool is_close(double a, double b) {
  if (a == b) return true;
  if (std::isinf(a) || std::isinf(b)) return false;
  return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
}

// Tabulated input signals: values(i, j) of signal i at times[j] (times non-decreasing; a repeated
// time is a step change). Continuous signals are interpolated linearly, others hold the last value.
// Each signal is set as its variable's FMI type: an integer type takes whole numbers within its
// range (checked for the whole table by validate(), so a run never stops half-set), a Float32
// the nearest float32 of the value.
struct InputTable {
  std::vector<double> times;
  std::vector<ValueReference> vrs;
  std::vector<ScalarType> types;
  std::vector<bool> continuous;
  std::vector<double> values;       // signals x times, row-major
  std::vector<double> event_times;  // sorted: repeated times and changes of discrete signals

  bool empty() const { return vrs.empty() || times.empty(); }
  // Value of signal i at time t; after_event takes the right-hand value at a discontinuity.
  double value(std::size_t i, double t, bool after_event) const;
  // values[i] = value(i, t, after_event) for every signal i (values holds vrs.size() entries).
  void values_at(double t, bool after_event, double* values) const;
  // Sets every signal to values[i] (as from values_at): in one set_real call when all signals
  // are Float64, else one call per signal.
  void set(FmuAccess& fmu, const double* values) const;
  // Sets every signal on the FMU: values_at then set.
  void apply(FmuAccess& fmu, double t, bool after_event) const;
  // Sets the continuous (interpolated) signals only: what changes between events.
  void apply_continuous(FmuAccess& fmu, double t, bool after_event) const;
  // Whether t is one of the event times (within is_close).
  bool is_event(double t) const;
  // First event time strictly after t (+inf when none).
  double next_event(double t) const;
  // Checks sizes, ordering and that every value fits its signal's type; throws
  // std::invalid_argument (or FmuError for a value outside its type's range) naming the problem.
  void validate() const;

 private:
  void set_signal(FmuAccess& fmu, std::size_t i, double value) const;
};

}  // namespace fmitwin::fmu
