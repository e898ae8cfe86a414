// The C functions of one instantiated FMU (FMI 2.0 or 3.0), behind one interface, so that the
// co-simulation and model-exchange simulators are written once for both FMI versions.
//
// How to get one (from Python, see fmitwin.fmu):
//   FMPy loads the shared library and instantiates the FMU; Python then passes the library handle
//   (`fmu.dll._handle`) and the instance pointer (`fmu.component`) to `make_fmu_access`, which looks
//   up every fmi2*/fmi3* symbol in that already-loaded library. Nothing is loaded or freed here.
//
// Ownership: an FmuAccess borrows the library and the instance; the FMPy object owns both and must
// outlive it (the Python wrappers keep a reference). The FMU's logger callback is FMPy's (a ctypes
// callback that takes the GIL itself), so calling the FMU with the GIL released is safe.
//
// Call order follows the FMI state machine of the FMU's interface type:
//   enter_initialization -> exit_initialization ->
//     co-simulation:  { set_* ; do_step ; get_* }*
//     model exchange: update_discrete_states* -> enter_continuous_time_mode ->
//                     { set_time ; set_states ; get_derivatives / get_event_indicators ;
//                       completed_integrator_step ; [enter_event_mode ; update_discrete_states*] }*
//   -> terminate
// Every failing call throws FmuError naming the FMI function and the status it returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "fmitwin/simulator.hpp"

namespace fmitwin::fmu {

enum class FmiVersion { fmi2 = 2, fmi3 = 3 };
enum class InterfaceType { co_simulation, model_exchange };

// The FMI type a scalar variable is read and written as. FMI 2.0 knows float64 (Real), int32
// (Integer, Enumeration) and boolean; FMI 3.0 all of them (its Enumeration is int64).
enum class ScalarType : std::uint8_t {
  float64, float32, int8, uint8, int16, uint16, int32, uint32, int64, uint64, boolean
};
// The FMI 3.0 name of the type, e.g. "UInt16" (for error messages).
const char* type_name(ScalarType type);
inline bool is_floating(ScalarType type) {
  return type == ScalarType::float64 || type == ScalarType::float32;
}
inline bool is_integer(ScalarType type) { return !is_floating(type) && type != ScalarType::boolean; }
// Throws FmuError naming the value reference, the type and its range unless every value fits:
// integer types take int64 carriers (UInt64: any bit pattern), Float32 finite values up to FLT_MAX.
void check_int_range(ScalarType type, const ValueReference* vr, std::size_t n,
                     const std::int64_t* v);
void check_float_range(ScalarType type, const ValueReference* vr, std::size_t n, const double* v);

// Outcome of fmi2NewDiscreteStates / fmi3UpdateDiscreteStates.
struct DiscreteStatesUpdate {
  bool needs_update = false;
  bool terminate = false;
  bool nominals_changed = false;
  bool values_changed = false;
  bool next_event_time_defined = false;
  double next_event_time = 0.0;
};

// Outcome of fmi2CompletedIntegratorStep / fmi3CompletedIntegratorStep.
struct IntegratorStepOutcome {
  bool enter_event_mode = false;
  bool terminate = false;
};

// Outcome of a co-simulation doStep.
struct StepOutcome {
  bool discarded = false;          // fmi2Discard / fmi3Discard
  bool terminate = false;          // the FMU asks to end the simulation
  double last_successful_time = 0.0;  // valid when discarded or terminate
};

class FmuAccess {
 public:
  virtual ~FmuAccess() = default;

  // Marks the instance as freed by its owner: later calls throw FmuError, and free_state (e.g.
  // from a SimulatorState outliving the instance) does nothing.
  void release() { released_ = true; }
  bool released() const { return released_; }

  virtual FmiVersion version() const = 0;
  virtual InterfaceType interface_type() const = 0;

  // Lifecycle. `tolerance` <= 0 and a non-finite `stop_time` mean "not defined".
  virtual void enter_initialization(double start_time, double stop_time, double tolerance) = 0;
  virtual void exit_initialization() = 0;
  virtual void terminate() = 0;

  // Variable access. FMI 3.0: real = Float64, integer = Int32 (the FMI 2.0 Integer), boolean = Boolean.
  virtual void set_real(const ValueReference* vr, std::size_t n, const double* v) = 0;
  virtual void get_real(const ValueReference* vr, std::size_t n, double* v) = 0;
  virtual void set_integer(const ValueReference* vr, std::size_t n, const std::int64_t* v) = 0;
  virtual void get_integer(const ValueReference* vr, std::size_t n, std::int64_t* v) = 0;
  virtual void set_boolean(const ValueReference* vr, std::size_t n, const bool* v) = 0;
  virtual void get_boolean(const ValueReference* vr, std::size_t n, bool* v) = 0;

  // Any numeric type through a common carrier (the calls above are the Float64/Int32 cases):
  //   floating types as double: Float32 widened exactly on get, rounded to nearest on set;
  //   integer types as int64: UInt64 as its bit pattern (values above 2^63 - 1 read negative;
  //   the caller reinterprets them). Setting checks every value against the type's range first
  //   and throws FmuError without setting any (a finite Float32 value must not exceed FLT_MAX).
  // The FMI 2.0 implementation knows float64 and int32 only and throws FmuError for the others.
  virtual void get_float(ScalarType type, const ValueReference* vr, std::size_t n, double* v);
  virtual void set_float(ScalarType type, const ValueReference* vr, std::size_t n, const double* v);
  virtual void get_int(ScalarType type, const ValueReference* vr, std::size_t n, std::int64_t* v);
  virtual void set_int(ScalarType type, const ValueReference* vr, std::size_t n,
                       const std::int64_t* v);

  // FMI 3.0: the FMI type of each variable that is neither Float64, Int32 nor Boolean. The
  // category calls above then reach each variable through its own type: set_real/get_real take
  // Float64 and Float32 variables, set_integer/get_integer every integer type (ranges checked
  // on set as set_int does), each run of same-typed references in one FMI call. Without it
  // they are Float64 / Int32 / Boolean only. FMI 2.0 has no other types (non-empty: FmuError).
  virtual void set_variable_types(std::unordered_map<ValueReference, ScalarType> types);

  // FMI 3.0 arrays: `sizes` maps each array variable's value reference to its number of values
  // (after structural parameters are set). Callers then lay out one entry per value: an array's
  // value reference appears once per element, consecutively, in the value-reference lists of
  // the calls above, and its values fill that many consecutive slots (row-major); the FMI call
  // names it once. A reference that does not appear the whole number of times throws FmuError.
  // Call before any access that involves an array; FMI 2.0 has no arrays (non-empty: FmuError).
  virtual void set_array_sizes(std::unordered_map<ValueReference, std::size_t> sizes);

  // FMU state (capability canGetAndSetFMUstate). The handle is opaque and freed by free_state.
  virtual bool can_save_state() const = 0;
  virtual void* get_state(void* reuse) = 0;
  virtual void set_state(void* state) = 0;
  virtual void free_state(void* state) = 0;

  // d unknowns / d knowns * seed (capability providesDirectionalDerivative(s)).
  virtual bool provides_directional_derivatives() const = 0;
  virtual void directional_derivative(const ValueReference* unknowns, std::size_t n_unknowns,
                                      const ValueReference* knowns, std::size_t n_knowns,
                                      const double* seed, double* sensitivity) = 0;

  // Co-simulation.
  virtual StepOutcome do_step(double t, double h) = 0;

  // Model exchange.
  virtual std::size_t state_count() const = 0;
  virtual std::size_t event_indicator_count() const = 0;
  virtual void enter_event_mode() = 0;
  virtual DiscreteStatesUpdate update_discrete_states() = 0;
  virtual void enter_continuous_time_mode() = 0;
  virtual IntegratorStepOutcome completed_integrator_step() = 0;
  virtual void set_time(double t) = 0;
  virtual void set_states(const double* x) = 0;
  virtual void get_states(double* x) = 0;
  virtual void get_derivatives(double* dx) = 0;
  virtual void get_event_indicators(double* z) = 0;
  virtual void get_nominals(double* nominals) = 0;

 private:
  bool released_ = false;
};

// The FMI 2.0 logger callback is variadic (printf-style `message, ...`), which a ctypes callback
// cannot receive. `fmi2_formatting_logger()` is the address of a C function of the fmi2CallbackLogger
// signature that formats the message with vsnprintf and passes the text on to a non-variadic
// sink: give its address as `logger` and the sink's address as `componentEnvironment` in the
// fmi2CallbackFunctions. The sink has the type
//   void sink(fmi2String instance_name, fmi2Status status, fmi2String category, fmi2String text)
// and must outlive the instance (FMPy keeps the callbacks; the Python side keeps the sink).
using Fmi2LogSink = void (*)(const char* instance_name, int status, const char* category,
                             const char* text);
std::uintptr_t fmi2_formatting_logger();

// Looks up the FMI functions in the library FMPy already loaded.
//   library_handle: the dlopen / LoadLibrary handle (FMPy: `fmu.dll._handle`)
//   instance:       fmi2Component / fmi3Instance (FMPy: `fmu.component`)
//   state_count, event_indicator_count: from the model description (model exchange; 0 for CS)
//   can_save_state, provides_directional_derivatives: capability flags from the model description
// Throws FmuError if a function required for `type` is missing from the library.
std::shared_ptr<FmuAccess> make_fmu_access(FmiVersion version, InterfaceType type,
                                           std::uintptr_t library_handle, std::uintptr_t instance,
                                           std::size_t state_count,
                                           std::size_t event_indicator_count, bool can_save_state,
                                           bool provides_directional_derivatives);

}  // namespace fmitwin::fmu
