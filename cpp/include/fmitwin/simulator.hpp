// One steppable FMU instance, as seen by master algorithms, studies and the FMU-backed process
// model (the libcosim "slave"/"simulator" role).
//
// Ownership: created from Python after FMPy has loaded and instantiated the FMU; the simulator
// borrows the FMU's function pointers and instance pointer, and the Python-side FMPy object keeps
// the shared library loaded and owns the instance (it frees it). The Python wrapper that creates a
// Simulator holds a reference to that FMPy object for the Simulator's whole life.
//
// Call order:
//   setup(start_time, stop_time)            once, after instantiation; enters and exits
//                                           initialization mode (set start values before it)
//   { set_*()  ;  do_step(t, h)  ;  get_*() }*
//   save_state() / restore_state()          any time after setup, if can_save_state()
// All calls come from one thread at a time and never call into Python. Errors are reported as
// fmitwin::FmuError (a std::runtime_error) carrying the FMI status and the function name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace fmitwin {

using ValueReference = std::uint32_t;

class FmuError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An opaque saved FMU state (fmi2FMUstate / fmi3FMUState plus whatever the simulator needs, e.g.
// the integrator's time and step size for model exchange).
class SimulatorState {
 public:
  virtual ~SimulatorState() = default;
};

class Simulator {
 public:
  virtual ~Simulator() = default;

  virtual void setup(double start_time, double stop_time) = 0;

  virtual void set_real(const ValueReference* vr, std::size_t n, const double* values) = 0;
  virtual void get_real(const ValueReference* vr, std::size_t n, double* values) = 0;
  virtual void set_integer(const ValueReference* vr, std::size_t n, const std::int64_t* values) = 0;
  virtual void get_integer(const ValueReference* vr, std::size_t n, std::int64_t* values) = 0;
  virtual void set_boolean(const ValueReference* vr, std::size_t n, const bool* values) = 0;
  virtual void get_boolean(const ValueReference* vr, std::size_t n, bool* values) = 0;

  // Advances from t to t + h. Returns false when the FMU discarded the step (it may then be
  // retried with a smaller h after restore_state) or asked to end the simulation
  // (terminate_requested()); throws FmuError on error or fatal.
  virtual bool do_step(double t, double h) = 0;
  // After do_step() returned false: true when the simulator asked to end the simulation (not a
  // retryable discard), having reached last_successful_time().
  virtual bool terminate_requested() const { return false; }
  virtual double last_successful_time() const { return 0.0; }

  virtual bool can_save_state() const = 0;
  virtual std::unique_ptr<SimulatorState> save_state() = 0;
  virtual void restore_state(const SimulatorState& state) = 0;
};

}  // namespace fmitwin
