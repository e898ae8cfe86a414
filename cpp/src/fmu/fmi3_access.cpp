// FmuAccess over the FMI 3.0 C API (co-simulation and model exchange; scalar variables).
#include <cmath>
#include <vector>

#include "fmi3FunctionTypes.h"
#include "fmitwin/fmu/fmu_access.hpp"
#include "library_symbols.hpp"

namespace fmitwin::fmu {
namespace {

using detail::bind_symbol;
using detail::require;

class Fmi3Access final : public FmuAccess {
 public:
  Fmi3Access(InterfaceType type, std::uintptr_t lib, std::uintptr_t instance, std::size_t nx,
             std::size_t nz, bool can_save, bool provides_dd)
      : type_(type),
        c_(reinterpret_cast<fmi3Instance>(instance)),
        nx_(nx),
        nz_(nz),
        can_save_(can_save),
        provides_dd_(provides_dd) {
    const bool cs = type == InterfaceType::co_simulation;
    const bool me = !cs;
    bind_symbol(lib, "fmi3EnterInitializationMode", enter_init_, true);
    bind_symbol(lib, "fmi3ExitInitializationMode", exit_init_, true);
    bind_symbol(lib, "fmi3Terminate", terminate_, true);
    bind_symbol(lib, "fmi3SetFloat64", set_real_, true);
    bind_symbol(lib, "fmi3GetFloat64", get_real_, true);
    bind_symbol(lib, "fmi3SetInt32", set_integer_, true);
    bind_symbol(lib, "fmi3GetInt32", get_integer_, true);
    bind_symbol(lib, "fmi3SetBoolean", set_boolean_, true);
    bind_symbol(lib, "fmi3GetBoolean", get_boolean_, true);
    bind_symbol(lib, "fmi3GetFMUState", get_state_, can_save);
    bind_symbol(lib, "fmi3SetFMUState", set_state_, can_save);
    bind_symbol(lib, "fmi3FreeFMUState", free_state_, can_save);
    bind_symbol(lib, "fmi3GetDirectionalDerivative", directional_, provides_dd);
    bind_symbol(lib, "fmi3DoStep", do_step_, cs);
    bind_symbol(lib, "fmi3EnterEventMode", enter_event_mode_, me);
    bind_symbol(lib, "fmi3UpdateDiscreteStates", update_discrete_states_, me);
    bind_symbol(lib, "fmi3EnterContinuousTimeMode", enter_ct_mode_, me);
    bind_symbol(lib, "fmi3CompletedIntegratorStep", completed_step_, me);
    bind_symbol(lib, "fmi3SetTime", set_time_, me);
    bind_symbol(lib, "fmi3SetContinuousStates", set_states_, me);
    bind_symbol(lib, "fmi3GetContinuousStates", get_states_, me);
    bind_symbol(lib, "fmi3GetContinuousStateDerivatives", get_derivatives_, me);
    bind_symbol(lib, "fmi3GetEventIndicators", get_event_indicators_, me);
    bind_symbol(lib, "fmi3GetNominalsOfContinuousStates", get_nominals_, me);
  }

  FmiVersion version() const override { return FmiVersion::fmi3; }
  InterfaceType interface_type() const override { return type_; }

  void enter_initialization(double start, double stop, double tolerance) override {
    const bool stop_defined = std::isfinite(stop);
    check(enter_init_(inst(), tolerance > 0, tolerance, start, stop_defined, stop_defined ? stop : 0.0),
          "fmi3EnterInitializationMode");
  }
  void exit_initialization() override { check(exit_init_(inst()), "fmi3ExitInitializationMode"); }
  void terminate() override { check(terminate_(inst()), "fmi3Terminate"); }

  void set_real(const ValueReference* vr, std::size_t n, const double* v) override {
    check(set_real_(inst(), vr, n, v, n), "fmi3SetFloat64");
  }
  void get_real(const ValueReference* vr, std::size_t n, double* v) override {
    check(get_real_(inst(), vr, n, v, n), "fmi3GetFloat64");
  }
  void set_integer(const ValueReference* vr, std::size_t n, const std::int64_t* v) override {
    ints_.assign(v, v + n);
    check(set_integer_(inst(), vr, n, ints_.data(), n), "fmi3SetInt32");
  }
  void get_integer(const ValueReference* vr, std::size_t n, std::int64_t* v) override {
    ints_.resize(n);
    check(get_integer_(inst(), vr, n, ints_.data(), n), "fmi3GetInt32");
    for (std::size_t i = 0; i < n; ++i) v[i] = ints_[i];
  }
  void set_boolean(const ValueReference* vr, std::size_t n, const bool* v) override {
    check(set_boolean_(inst(), vr, n, v, n), "fmi3SetBoolean");
  }
  void get_boolean(const ValueReference* vr, std::size_t n, bool* v) override {
    check(get_boolean_(inst(), vr, n, v, n), "fmi3GetBoolean");
  }

  bool can_save_state() const override { return can_save_; }
  void* get_state(void* reuse) override {
    require(can_save_, "fmi3GetFMUState", "canGetAndSetFMUState");
    fmi3FMUState s = reuse;
    check(get_state_(inst(), &s), "fmi3GetFMUState");
    return s;
  }
  void set_state(void* state) override {
    require(can_save_, "fmi3SetFMUState", "canGetAndSetFMUState");
    check(set_state_(inst(), state), "fmi3SetFMUState");
  }
  void free_state(void* state) override {
    if (state == nullptr || free_state_ == nullptr || released()) return;
    fmi3FMUState s = state;
    free_state_(inst(), &s);  // nothing useful to do on failure while releasing
  }

  bool provides_directional_derivatives() const override { return provides_dd_; }
  void directional_derivative(const ValueReference* unknowns, std::size_t n_unknowns,
                              const ValueReference* knowns, std::size_t n_knowns,
                              const double* seed, double* sensitivity) override {
    require(provides_dd_, "fmi3GetDirectionalDerivative", "providesDirectionalDerivatives");
    check(directional_(inst(), unknowns, n_unknowns, knowns, n_knowns, seed, n_knowns, sensitivity,
                       n_unknowns),
          "fmi3GetDirectionalDerivative");
  }

  StepOutcome do_step(double t, double h) override {
    fmi3Boolean event_needed = false, terminate = false, early_return = false;
    fmi3Float64 last_time = t + h;
    const fmi3Status status =
        do_step_(inst(), t, h, true, &event_needed, &terminate, &early_return, &last_time);
    StepOutcome outcome;
    if (status == fmi3Discard) {
      outcome.discarded = true;
      outcome.terminate = terminate;
      outcome.last_successful_time = terminate ? last_time : t;
      return outcome;
    }
    check(status, "fmi3DoStep");
    outcome.terminate = terminate;
    outcome.last_successful_time = last_time;
    return outcome;
  }

  std::size_t state_count() const override { return nx_; }
  std::size_t event_indicator_count() const override { return nz_; }
  void enter_event_mode() override { check(enter_event_mode_(inst()), "fmi3EnterEventMode"); }
  DiscreteStatesUpdate update_discrete_states() override {
    fmi3Boolean needs = false, term = false, nominals = false, values = false, defined = false;
    fmi3Float64 next = 0.0;
    check(update_discrete_states_(inst(), &needs, &term, &nominals, &values, &defined, &next),
          "fmi3UpdateDiscreteStates");
    return {needs, term, nominals, values, defined, next};
  }
  void enter_continuous_time_mode() override {
    check(enter_ct_mode_(inst()), "fmi3EnterContinuousTimeMode");
  }
  IntegratorStepOutcome completed_integrator_step() override {
    fmi3Boolean enter = false, term = false;
    check(completed_step_(inst(), true, &enter, &term), "fmi3CompletedIntegratorStep");
    return {enter, term};
  }
  void set_time(double t) override { check(set_time_(inst(), t), "fmi3SetTime"); }
  void set_states(const double* x) override {
    check(set_states_(inst(), x, nx_), "fmi3SetContinuousStates");
  }
  void get_states(double* x) override { check(get_states_(inst(), x, nx_), "fmi3GetContinuousStates"); }
  void get_derivatives(double* dx) override {
    check(get_derivatives_(inst(), dx, nx_), "fmi3GetContinuousStateDerivatives");
  }
  void get_event_indicators(double* z) override {
    check(get_event_indicators_(inst(), z, nz_), "fmi3GetEventIndicators");
  }
  void get_nominals(double* nominals) override {
    check(get_nominals_(inst(), nominals, nx_), "fmi3GetNominalsOfContinuousStates");
  }

 private:
  // The instance pointer, refused once FMPy has freed the instance.
  fmi3Instance inst() const {
    if (released()) throw FmuError("the FMU instance has been freed (FmuInstance.free())");
    return c_;
  }
  static void check(fmi3Status status, const char* function) {
    if (status > fmi3Warning) throw FmuError(detail::status_message(function, status));
  }

  InterfaceType type_;
  fmi3Instance c_;
  std::size_t nx_, nz_;
  bool can_save_, provides_dd_;
  std::vector<fmi3Int32> ints_;  // conversion buffer for Int32

  fmi3EnterInitializationModeTYPE* enter_init_ = nullptr;
  fmi3ExitInitializationModeTYPE* exit_init_ = nullptr;
  fmi3TerminateTYPE* terminate_ = nullptr;
  fmi3SetFloat64TYPE* set_real_ = nullptr;
  fmi3GetFloat64TYPE* get_real_ = nullptr;
  fmi3SetInt32TYPE* set_integer_ = nullptr;
  fmi3GetInt32TYPE* get_integer_ = nullptr;
  fmi3SetBooleanTYPE* set_boolean_ = nullptr;
  fmi3GetBooleanTYPE* get_boolean_ = nullptr;
  fmi3GetFMUStateTYPE* get_state_ = nullptr;
  fmi3SetFMUStateTYPE* set_state_ = nullptr;
  fmi3FreeFMUStateTYPE* free_state_ = nullptr;
  fmi3GetDirectionalDerivativeTYPE* directional_ = nullptr;
  fmi3DoStepTYPE* do_step_ = nullptr;
  fmi3EnterEventModeTYPE* enter_event_mode_ = nullptr;
  fmi3UpdateDiscreteStatesTYPE* update_discrete_states_ = nullptr;
  fmi3EnterContinuousTimeModeTYPE* enter_ct_mode_ = nullptr;
  fmi3CompletedIntegratorStepTYPE* completed_step_ = nullptr;
  fmi3SetTimeTYPE* set_time_ = nullptr;
  fmi3SetContinuousStatesTYPE* set_states_ = nullptr;
  fmi3GetContinuousStatesTYPE* get_states_ = nullptr;
  fmi3GetContinuousStateDerivativesTYPE* get_derivatives_ = nullptr;
  fmi3GetEventIndicatorsTYPE* get_event_indicators_ = nullptr;
  fmi3GetNominalsOfContinuousStatesTYPE* get_nominals_ = nullptr;
};

}  // namespace

std::shared_ptr<FmuAccess> make_fmi3_access(InterfaceType type, std::uintptr_t lib,
                                            std::uintptr_t instance, std::size_t nx,
                                            std::size_t nz, bool can_save, bool provides_dd) {
  return std::make_shared<Fmi3Access>(type, lib, instance, nx, nz, can_save, provides_dd);
}

}  // namespace fmitwin::fmu
