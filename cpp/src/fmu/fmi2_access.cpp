// FmuAccess over the FMI 2.0 C API (co-simulation and model exchange).
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "fmi2FunctionTypes.h"
#include "fmitwin/fmu/fmu_access.hpp"
#include "library_symbols.hpp"

namespace fmitwin::fmu {
namespace {

using detail::bind_symbol;
using detail::require;

class Fmi2Access final : public FmuAccess {
 public:
  Fmi2Access(InterfaceType type, std::uintptr_t lib, std::uintptr_t instance, std::size_t nx,
             std::size_t nz, bool can_save, bool provides_dd)
      : type_(type),
        c_(reinterpret_cast<fmi2Component>(instance)),
        nx_(nx),
        nz_(nz),
        can_save_(can_save),
        provides_dd_(provides_dd) {
    const bool cs = type == InterfaceType::co_simulation;
    const bool me = !cs;
    bind_symbol(lib, "fmi2SetupExperiment", setup_experiment_, true);
    bind_symbol(lib, "fmi2EnterInitializationMode", enter_init_, true);
    bind_symbol(lib, "fmi2ExitInitializationMode", exit_init_, true);
    bind_symbol(lib, "fmi2Terminate", terminate_, true);
    bind_symbol(lib, "fmi2SetReal", set_real_, true);
    bind_symbol(lib, "fmi2GetReal", get_real_, true);
    bind_symbol(lib, "fmi2SetInteger", set_integer_, true);
    bind_symbol(lib, "fmi2GetInteger", get_integer_, true);
    bind_symbol(lib, "fmi2SetBoolean", set_boolean_, true);
    bind_symbol(lib, "fmi2GetBoolean", get_boolean_, true);
    bind_symbol(lib, "fmi2GetFMUstate", get_state_, can_save);
    bind_symbol(lib, "fmi2SetFMUstate", set_state_, can_save);
    bind_symbol(lib, "fmi2FreeFMUstate", free_state_, can_save);
    bind_symbol(lib, "fmi2GetDirectionalDerivative", directional_, provides_dd);
    bind_symbol(lib, "fmi2DoStep", do_step_, cs);
    bind_symbol(lib, "fmi2GetBooleanStatus", get_boolean_status_, false);
    bind_symbol(lib, "fmi2GetRealStatus", get_real_status_, false);
    bind_symbol(lib, "fmi2EnterEventMode", enter_event_mode_, me);
    bind_symbol(lib, "fmi2NewDiscreteStates", new_discrete_states_, me);
    bind_symbol(lib, "fmi2EnterContinuousTimeMode", enter_ct_mode_, me);
    bind_symbol(lib, "fmi2CompletedIntegratorStep", completed_step_, me);
    bind_symbol(lib, "fmi2SetTime", set_time_, me);
    bind_symbol(lib, "fmi2SetContinuousStates", set_states_, me);
    bind_symbol(lib, "fmi2GetContinuousStates", get_states_, me);
    bind_symbol(lib, "fmi2GetDerivatives", get_derivatives_, me);
    bind_symbol(lib, "fmi2GetEventIndicators", get_event_indicators_, me);
    bind_symbol(lib, "fmi2GetNominalsOfContinuousStates", get_nominals_, me);
  }

  FmiVersion version() const override { return FmiVersion::fmi2; }
  InterfaceType interface_type() const override { return type_; }

  void enter_initialization(double start, double stop, double tolerance) override {
    const bool stop_defined = std::isfinite(stop);
    check(setup_experiment_(inst(), tolerance > 0 ? fmi2True : fmi2False, tolerance, start,
                            stop_defined ? fmi2True : fmi2False, stop_defined ? stop : 0.0),
          "fmi2SetupExperiment");
    check(enter_init_(inst()), "fmi2EnterInitializationMode");
  }
  void exit_initialization() override { check(exit_init_(inst()), "fmi2ExitInitializationMode"); }
  void terminate() override { check(terminate_(inst()), "fmi2Terminate"); }

  void set_real(const ValueReference* vr, std::size_t n, const double* v) override {
    check(set_real_(inst(), vr, n, v), "fmi2SetReal");
  }
  void get_real(const ValueReference* vr, std::size_t n, double* v) override {
    check(get_real_(inst(), vr, n, v), "fmi2GetReal");
  }
  void set_integer(const ValueReference* vr, std::size_t n, const std::int64_t* v) override {
    ints_.assign(v, v + n);
    check(set_integer_(inst(), vr, n, ints_.data()), "fmi2SetInteger");
  }
  void get_integer(const ValueReference* vr, std::size_t n, std::int64_t* v) override {
    ints_.resize(n);
    check(get_integer_(inst(), vr, n, ints_.data()), "fmi2GetInteger");
    for (std::size_t i = 0; i < n; ++i) v[i] = ints_[i];
  }
  void set_boolean(const ValueReference* vr, std::size_t n, const bool* v) override {
    ints_.resize(n);
    for (std::size_t i = 0; i < n; ++i) ints_[i] = v[i] ? fmi2True : fmi2False;
    check(set_boolean_(inst(), vr, n, ints_.data()), "fmi2SetBoolean");
  }
  void get_boolean(const ValueReference* vr, std::size_t n, bool* v) override {
    ints_.resize(n);
    check(get_boolean_(inst(), vr, n, ints_.data()), "fmi2GetBoolean");
    for (std::size_t i = 0; i < n; ++i) v[i] = ints_[i] != fmi2False;
  }

  bool can_save_state() const override { return can_save_; }
  void* get_state(void* reuse) override {
    require(can_save_, "fmi2GetFMUstate", "canGetAndSetFMUstate");
    fmi2FMUstate s = reuse;
    check(get_state_(inst(), &s), "fmi2GetFMUstate");
    return s;
  }
  void set_state(void* state) override {
    require(can_save_, "fmi2SetFMUstate", "canGetAndSetFMUstate");
    check(set_state_(inst(), state), "fmi2SetFMUstate");
  }
  void free_state(void* state) override {
    if (state == nullptr || free_state_ == nullptr || released()) return;
    fmi2FMUstate s = state;
    free_state_(inst(), &s);  // nothing useful to do on failure while releasing
  }

  bool provides_directional_derivatives() const override { return provides_dd_; }
  void directional_derivative(const ValueReference* unknowns, std::size_t n_unknowns,
                              const ValueReference* knowns, std::size_t n_knowns,
                              const double* seed, double* sensitivity) override {
    require(provides_dd_, "fmi2GetDirectionalDerivative", "providesDirectionalDerivative");
    check(directional_(inst(), unknowns, n_unknowns, knowns, n_knowns, seed, sensitivity),
          "fmi2GetDirectionalDerivative");
  }

  StepOutcome do_step(double t, double h) override {
    const fmi2Status status = do_step_(inst(), t, h, fmi2True);
    StepOutcome outcome;
    if (status == fmi2Discard) {
      outcome.discarded = true;
      outcome.last_successful_time = t;
      fmi2Boolean terminated = fmi2False;
      if (get_boolean_status_ != nullptr &&
          get_boolean_status_(inst(), fmi2Terminated, &terminated) <= fmi2Warning && terminated) {
        outcome.terminate = true;
        if (get_real_status_ != nullptr) {
          get_real_status_(inst(), fmi2LastSuccessfulTime, &outcome.last_successful_time);
        }
      }
      return outcome;
    }
    check(status, "fmi2DoStep");
    return outcome;
  }

  std::size_t state_count() const override { return nx_; }
  std::size_t event_indicator_count() const override { return nz_; }
  void enter_event_mode() override { check(enter_event_mode_(inst()), "fmi2EnterEventMode"); }
  DiscreteStatesUpdate update_discrete_states() override {
    fmi2EventInfo info{};
    check(new_discrete_states_(inst(), &info), "fmi2NewDiscreteStates");
    DiscreteStatesUpdate u;
    u.needs_update = info.newDiscreteStatesNeeded != fmi2False;
    u.terminate = info.terminateSimulation != fmi2False;
    u.nominals_changed = info.nominalsOfContinuousStatesChanged != fmi2False;
    u.values_changed = info.valuesOfContinuousStatesChanged != fmi2False;
    u.next_event_time_defined = info.nextEventTimeDefined != fmi2False;
    u.next_event_time = info.nextEventTime;
    return u;
  }
  void enter_continuous_time_mode() override {
    check(enter_ct_mode_(inst()), "fmi2EnterContinuousTimeMode");
  }
  IntegratorStepOutcome completed_integrator_step() override {
    fmi2Boolean enter = fmi2False, term = fmi2False;
    check(completed_step_(inst(), fmi2True, &enter, &term), "fmi2CompletedIntegratorStep");
    return {enter != fmi2False, term != fmi2False};
  }
  void set_time(double t) override { check(set_time_(inst(), t), "fmi2SetTime"); }
  void set_states(const double* x) override {
    check(set_states_(inst(), x, nx_), "fmi2SetContinuousStates");
  }
  void get_states(double* x) override { check(get_states_(inst(), x, nx_), "fmi2GetContinuousStates"); }
  void get_derivatives(double* dx) override {
    check(get_derivatives_(inst(), dx, nx_), "fmi2GetDerivatives");
  }
  void get_event_indicators(double* z) override {
    check(get_event_indicators_(inst(), z, nz_), "fmi2GetEventIndicators");
  }
  void get_nominals(double* nominals) override {
    check(get_nominals_(inst(), nominals, nx_), "fmi2GetNominalsOfContinuousStates");
  }

 private:
  // The instance pointer, refused once FMPy has freed the instance.
  fmi2Component inst() const {
    if (released()) throw FmuError("the FMU instance has been freed (FmuInstance.free())");
    return c_;
  }
  static void check(fmi2Status status, const char* function) {
    if (status > fmi2Warning) throw FmuError(detail::status_message(function, status));
  }

  InterfaceType type_;
  fmi2Component c_;
  std::size_t nx_, nz_;
  bool can_save_, provides_dd_;
  std::vector<fmi2Integer> ints_;  // conversion buffer for Integer/Boolean

  fmi2SetupExperimentTYPE* setup_experiment_ = nullptr;
  fmi2EnterInitializationModeTYPE* enter_init_ = nullptr;
  fmi2ExitInitializationModeTYPE* exit_init_ = nullptr;
  fmi2TerminateTYPE* terminate_ = nullptr;
  fmi2SetRealTYPE* set_real_ = nullptr;
  fmi2GetRealTYPE* get_real_ = nullptr;
  fmi2SetIntegerTYPE* set_integer_ = nullptr;
  fmi2GetIntegerTYPE* get_integer_ = nullptr;
  fmi2SetBooleanTYPE* set_boolean_ = nullptr;
  fmi2GetBooleanTYPE* get_boolean_ = nullptr;
  fmi2GetFMUstateTYPE* get_state_ = nullptr;
  fmi2SetFMUstateTYPE* set_state_ = nullptr;
  fmi2FreeFMUstateTYPE* free_state_ = nullptr;
  fmi2GetDirectionalDerivativeTYPE* directional_ = nullptr;
  fmi2DoStepTYPE* do_step_ = nullptr;
  fmi2GetBooleanStatusTYPE* get_boolean_status_ = nullptr;
  fmi2GetRealStatusTYPE* get_real_status_ = nullptr;
  fmi2EnterEventModeTYPE* enter_event_mode_ = nullptr;
  fmi2NewDiscreteStatesTYPE* new_discrete_states_ = nullptr;
  fmi2EnterContinuousTimeModeTYPE* enter_ct_mode_ = nullptr;
  fmi2CompletedIntegratorStepTYPE* completed_step_ = nullptr;
  fmi2SetTimeTYPE* set_time_ = nullptr;
  fmi2SetContinuousStatesTYPE* set_states_ = nullptr;
  fmi2GetContinuousStatesTYPE* get_states_ = nullptr;
  fmi2GetDerivativesTYPE* get_derivatives_ = nullptr;
  fmi2GetEventIndicatorsTYPE* get_event_indicators_ = nullptr;
  fmi2GetNominalsOfContinuousStatesTYPE* get_nominals_ = nullptr;
};

// fmi2CallbackLogger: formats `message` with its arguments, as FMI 2.0 defines it (a printf
// format), and hands the text to the sink passed as component environment.
extern "C" void format_fmi2_log(fmi2ComponentEnvironment environment, fmi2String instance_name,
                                fmi2Status status, fmi2String category, fmi2String message, ...) {
  if (environment == nullptr) return;
  std::string text;
  if (message != nullptr) {
    std::va_list args;
    va_start(args, message);
    std::va_list measure;
    va_copy(measure, args);
    const int length = std::vsnprintf(nullptr, 0, message, measure);
    va_end(measure);
    if (length > 0) {
      text.resize(static_cast<std::size_t>(length) + 1);
      std::vsnprintf(text.data(), text.size(), message, args);
      text.resize(static_cast<std::size_t>(length));
    } else if (length < 0) {
      text = message;  // not a valid format: show it as it is
    }
    va_end(args);
  }
  reinterpret_cast<Fmi2LogSink>(environment)(instance_name, static_cast<int>(status), category,
                                             text.c_str());
}

}  // namespace

std::uintptr_t fmi2_formatting_logger() {
  return reinterpret_cast<std::uintptr_t>(&format_fmi2_log);
}

std::shared_ptr<FmuAccess> make_fmi2_access(InterfaceType type, std::uintptr_t lib,
                                            std::uintptr_t instance, std::size_t nx,
                                            std::size_t nz, bool can_save, bool provides_dd) {
  return std::make_shared<Fmi2Access>(type, lib, instance, nx, nz, can_save, provides_dd);
}

}  // namespace fmitwin::fmu
