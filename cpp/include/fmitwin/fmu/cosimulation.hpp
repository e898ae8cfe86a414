// Co-simulation FMU (FMI 2.0 or 3.0) as a fmitwin::Simulator.
//
// Use (C++):   auto access = make_fmu_access(FmiVersion::fmi2, InterfaceType::co_simulation,
//                                            handle, component, 0, 0, can_save, provides_dd);
//              CoSimulation sim(access);
//              sim.setup(t0, t1);  { sim.set_real(...); sim.do_step(t, h); sim.get_real(...); }*
// Use (Python, for master algorithms):
//              instance = fmitwin.load_fmu(path).instantiate("cs")   # FMPy loads + instantiates
//              sim = instance.simulator        # a _core.CoSimulation, i.e. a _core.Simulator
//              instance.initialize(t0, t1, start_values={...})   # or sim.setup(t0, t1)
//              sim.do_step(t, h); sim.get_real(vrs) ...
//            `instance.simulator` was built with `_core.CoSimulation(fmi_version, fmu.dll._handle,
//            fmu.component, can_save_state, provides_directional_derivatives, tolerance)` and keeps
//            the FmuInstance (and so the FMPy object) alive through its `_fmu_owner` attribute.
//            A C++ master that stores the shared_ptr<Simulator> must also keep the Python object
//            alive (py::keep_alive) so that the FMU outlives it.
//
// Ownership: holds the FmuAccess (shared); does not own the FMU instance (FMPy frees it).
// Call order: as fmitwin::Simulator. setup() = enter_initialization() + exit_initialization();
//   callers that must set start values inside initialization mode call the two halves themselves.
#pragma once

#include <memory>

#include "fmitwin/fmu/fmu_access.hpp"
#include "fmitwin/fmu/input_table.hpp"
#include "fmitwin/simulator.hpp"

namespace fmitwin::fmu {

// A Simulator backed by one FMU. Adds what a run loop needs beyond the shared contract: a
// do_step() that returns false may mean the FMU asked to end the simulation.
class FmuSimulator : public Simulator {
 public:
  explicit FmuSimulator(std::shared_ptr<FmuAccess> access);

  // Variable access goes straight to the FMU.
  void set_real(const ValueReference* vr, std::size_t n, const double* values) override;
  void get_real(const ValueReference* vr, std::size_t n, double* values) override;
  void set_integer(const ValueReference* vr, std::size_t n, const std::int64_t* values) override;
  void get_integer(const ValueReference* vr, std::size_t n, std::int64_t* values) override;
  void set_boolean(const ValueReference* vr, std::size_t n, const bool* values) override;
  void get_boolean(const ValueReference* vr, std::size_t n, bool* values) override;
  bool can_save_state() const override { return access_->can_save_state(); }
  FmuAccess& access() { return *access_; }
  const std::shared_ptr<FmuAccess>& shared_access() const { return access_; }

  // After do_step() returned false: true when the FMU asked to terminate (not a retryable discard).
  bool terminate_requested() const override { return terminate_requested_; }
  // After a terminate request: the time the FMU reached.
  double last_successful_time() const override { return last_successful_time_; }
  virtual void enter_initialization(double start_time, double stop_time) = 0;
  virtual void exit_initialization() = 0;
  void setup(double start_time, double stop_time) override {
    enter_initialization(start_time, stop_time);
    exit_initialization();
  }
  // Input signals the simulator evaluates itself at every time it visits between communication
  // points (model exchange needs u(t) inside its solver). Co-simulation FMUs ignore this: like
  // FMPy, a master sets their inputs at communication points. Null stops following.
  virtual void follow_inputs(std::shared_ptr<const InputTable> inputs) { (void)inputs; }

 protected:
  std::shared_ptr<FmuAccess> access_;
  bool terminate_requested_ = false;
  double last_successful_time_ = 0.0;
};

// An FMU state saved by fmi2GetFMUstate / fmi3GetFMUState, freed with the object.
class SavedFmuState : public SimulatorState {
 public:
  SavedFmuState(std::shared_ptr<FmuAccess> access, void* handle)
      : access_(std::move(access)), handle_(handle) {}
  ~SavedFmuState() override { access_->free_state(handle_); }
  SavedFmuState(const SavedFmuState&) = delete;
  SavedFmuState& operator=(const SavedFmuState&) = delete;
  void* handle() const { return handle_; }

 private:
  std::shared_ptr<FmuAccess> access_;
  void* handle_;
};

class CoSimulation final : public FmuSimulator {
 public:
  // `tolerance` > 0 is passed to the FMU as its relative tolerance (fmi2SetupExperiment /
  // fmi3EnterInitializationMode); <= 0 leaves it undefined.
  explicit CoSimulation(std::shared_ptr<FmuAccess> access, double tolerance = 0.0);

  // The relative tolerance given to the FMU at enter_initialization (<= 0: undefined). Set it
  // before setup()/enter_initialization(); FMUs with an internal solver use it (FMPy passes the
  // model description's DefaultExperiment tolerance, and so does fmitwin.simulate).
  void set_tolerance(double tolerance);
  double tolerance() const { return tolerance_; }

  void enter_initialization(double start_time, double stop_time) override;
  void exit_initialization() override;

  // Returns false on fmi*Discard (terminate_requested() tells whether the FMU asked to end the
  // simulation); throws FmuError on error or fatal. Inline: run loops call it every step.
  bool do_step(double t, double h) override {
    const StepOutcome outcome = access_->do_step(t, h);
    terminate_requested_ = outcome.terminate;
    last_successful_time_ = outcome.last_successful_time;
    return !outcome.discarded && !outcome.terminate;
  }

  std::unique_ptr<SimulatorState> save_state() override;
  void restore_state(const SimulatorState& state) override;

 private:
  double tolerance_;
};

}  // namespace fmitwin::fmu
