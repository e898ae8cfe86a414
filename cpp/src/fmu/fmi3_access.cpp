// FmuAccess over the FMI 3.0 C API (co-simulation and model exchange; scalars and arrays).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
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
    // The other numeric types: looked up now, required when used (get_float / get_int ...).
    bind_symbol(lib, "fmi3GetFloat32", get_float32_, false);
    bind_symbol(lib, "fmi3SetFloat32", set_float32_, false);
    bind_symbol(lib, "fmi3GetInt8", get_int8_, false);
    bind_symbol(lib, "fmi3SetInt8", set_int8_, false);
    bind_symbol(lib, "fmi3GetUInt8", get_uint8_, false);
    bind_symbol(lib, "fmi3SetUInt8", set_uint8_, false);
    bind_symbol(lib, "fmi3GetInt16", get_int16_, false);
    bind_symbol(lib, "fmi3SetInt16", set_int16_, false);
    bind_symbol(lib, "fmi3GetUInt16", get_uint16_, false);
    bind_symbol(lib, "fmi3SetUInt16", set_uint16_, false);
    bind_symbol(lib, "fmi3GetUInt32", get_uint32_, false);
    bind_symbol(lib, "fmi3SetUInt32", set_uint32_, false);
    bind_symbol(lib, "fmi3GetInt64", get_int64_, false);
    bind_symbol(lib, "fmi3SetInt64", set_int64_, false);
    bind_symbol(lib, "fmi3GetUInt64", get_uint64_, false);
    bind_symbol(lib, "fmi3SetUInt64", set_uint64_, false);
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
    if (types_.empty()) return set_float64(vr, n, v);
    by_type(vr, n, ScalarType::float64, v,
            [&](ScalarType t, const ValueReference* r, std::size_t k, const double* x) {
              set_float(t, r, k, x);
            });
  }
  void get_real(const ValueReference* vr, std::size_t n, double* v) override {
    if (types_.empty()) return get_float64(vr, n, v);
    by_type(vr, n, ScalarType::float64, v,
            [&](ScalarType t, const ValueReference* r, std::size_t k, double* x) {
              get_float(t, r, k, x);
            });
  }
  void set_integer(const ValueReference* vr, std::size_t n, const std::int64_t* v) override {
    if (types_.empty()) return set_as(set_integer_, "fmi3SetInt32", vr, n, v);
    by_type(vr, n, ScalarType::int32, v,
            [&](ScalarType t, const ValueReference* r, std::size_t k, const std::int64_t* x) {
              set_int(t, r, k, x);
            });
  }
  void get_integer(const ValueReference* vr, std::size_t n, std::int64_t* v) override {
    if (types_.empty()) return get_as(get_integer_, "fmi3GetInt32", vr, n, v);
    by_type(vr, n, ScalarType::int32, v,
            [&](ScalarType t, const ValueReference* r, std::size_t k, std::int64_t* x) {
              get_int(t, r, k, x);
            });
  }
  void set_boolean(const ValueReference* vr, std::size_t n, const bool* v) override {
    const Refs r = refs(vr, n);
    check(set_boolean_(inst(), r.vr, r.count, v, n), "fmi3SetBoolean");
  }
  void get_boolean(const ValueReference* vr, std::size_t n, bool* v) override {
    const Refs r = refs(vr, n);
    check(get_boolean_(inst(), r.vr, r.count, v, n), "fmi3GetBoolean");
  }

  void get_float(ScalarType type, const ValueReference* vr, std::size_t n, double* v) override {
    switch (type) {
      case ScalarType::float64: return get_float64(vr, n, v);
      case ScalarType::float32: return get_as(get_float32_, "fmi3GetFloat32", vr, n, v);
      default: not_of_kind(type, "a floating-point");
    }
  }
  void set_float(ScalarType type, const ValueReference* vr, std::size_t n,
                 const double* v) override {
    switch (type) {
      case ScalarType::float64: return set_float64(vr, n, v);
      case ScalarType::float32:
        check_float_range(type, vr, n, v);
        return set_as(set_float32_, "fmi3SetFloat32", vr, n, v);
      default: not_of_kind(type, "a floating-point");
    }
  }
  void get_int(ScalarType type, const ValueReference* vr, std::size_t n,
               std::int64_t* v) override {
    switch (type) {
      case ScalarType::int8: return get_as(get_int8_, "fmi3GetInt8", vr, n, v);
      case ScalarType::uint8: return get_as(get_uint8_, "fmi3GetUInt8", vr, n, v);
      case ScalarType::int16: return get_as(get_int16_, "fmi3GetInt16", vr, n, v);
      case ScalarType::uint16: return get_as(get_uint16_, "fmi3GetUInt16", vr, n, v);
      case ScalarType::int32: return get_as(get_integer_, "fmi3GetInt32", vr, n, v);
      case ScalarType::uint32: return get_as(get_uint32_, "fmi3GetUInt32", vr, n, v);
      case ScalarType::int64: return get_as(get_int64_, "fmi3GetInt64", vr, n, v);
      case ScalarType::uint64: return get_as(get_uint64_, "fmi3GetUInt64", vr, n, v);
      default: not_of_kind(type, "an integer");
    }
  }
  void set_int(ScalarType type, const ValueReference* vr, std::size_t n,
               const std::int64_t* v) override {
    check_int_range(type, vr, n, v);
    switch (type) {
      case ScalarType::int8: return set_as(set_int8_, "fmi3SetInt8", vr, n, v);
      case ScalarType::uint8: return set_as(set_uint8_, "fmi3SetUInt8", vr, n, v);
      case ScalarType::int16: return set_as(set_int16_, "fmi3SetInt16", vr, n, v);
      case ScalarType::uint16: return set_as(set_uint16_, "fmi3SetUInt16", vr, n, v);
      case ScalarType::int32: return set_as(set_integer_, "fmi3SetInt32", vr, n, v);
      case ScalarType::uint32: return set_as(set_uint32_, "fmi3SetUInt32", vr, n, v);
      case ScalarType::int64: return set_as(set_int64_, "fmi3SetInt64", vr, n, v);
      case ScalarType::uint64: return set_as(set_uint64_, "fmi3SetUInt64", vr, n, v);
      default: not_of_kind(type, "an integer");
    }
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
  [[noreturn]] static void not_of_kind(ScalarType type, const char* kind) {
    throw std::invalid_argument(std::string(type_name(type)) + " is not " + kind + " type");
  }

  // Carrier <-> native value: UInt64 travels as its bit pattern in an int64, every other value
  // converts (integers were range-checked; Float32 rounds to nearest and widens exactly).
  template <typename To, typename From>
  static To convert(From value) {
    if constexpr (sizeof(To) == sizeof(From) && std::is_integral_v<To> && std::is_integral_v<From>) {
      To out;
      std::memcpy(&out, &value, sizeof out);
      return out;
    } else {
      return static_cast<To>(value);
    }
  }
  template <typename Native>
  std::vector<Native>& buffer() {
    return std::get<std::vector<Native>>(buffers_);
  }
  // fmi3Get<Type> into a native buffer, converted into the carrier.
  template <typename Native, typename Carrier>
  void get_as(fmi3Status (*get)(fmi3Instance, const fmi3ValueReference[], size_t, Native[], size_t),
              const char* function, const ValueReference* vr, std::size_t n, Carrier* v) {
    if (get == nullptr) missing(function);
    std::vector<Native>& native = buffer<Native>();
    native.resize(n);
    const Refs r = refs(vr, n);
    check(get(inst(), r.vr, r.count, native.data(), n), function);
    for (std::size_t i = 0; i < n; ++i) v[i] = convert<Carrier>(native[i]);
  }
  // The carrier values converted into a native buffer, then fmi3Set<Type>.
  template <typename Native, typename Carrier>
  void set_as(fmi3Status (*set)(fmi3Instance, const fmi3ValueReference[], size_t, const Native[],
                                size_t),
              const char* function, const ValueReference* vr, std::size_t n, const Carrier* v) {
    if (set == nullptr) missing(function);
    std::vector<Native>& native = buffer<Native>();
    native.resize(n);
    for (std::size_t i = 0; i < n; ++i) native[i] = convert<Native>(v[i]);
    const Refs r = refs(vr, n);
    check(set(inst(), r.vr, r.count, native.data(), n), function);
  }
  void set_float64(const ValueReference* vr, std::size_t n, const double* v) {
    const Refs r = refs(vr, n);
    check(set_real_(inst(), r.vr, r.count, v, n), "fmi3SetFloat64");
  }
  void get_float64(const ValueReference* vr, std::size_t n, double* v) {
    const Refs r = refs(vr, n);
    check(get_real_(inst(), r.vr, r.count, v, n), "fmi3GetFloat64");
  }
  void set_variable_types(std::unordered_map<ValueReference, ScalarType> types) override {
    types_ = std::move(types);
  }
  // Calls `call(type, refs, count, values)` once per run of consecutive references of one FMI
  // type (`fallback` for those not in types_); an array's entries share a type, so stay whole.
  template <class Carrier, class Call>
  void by_type(const ValueReference* vr, std::size_t n, ScalarType fallback, Carrier* v,
               Call call) {
    auto type_of = [&](ValueReference r) {
      const auto found = types_.find(r);
      return found == types_.end() ? fallback : found->second;
    };
    for (std::size_t i = 0; i < n;) {
      const ScalarType t = type_of(vr[i]);
      std::size_t k = 1;
      while (i + k < n && type_of(vr[i + k]) == t) ++k;
      call(t, vr + i, k, v + i);
      i += k;
    }
  }

  void set_array_sizes(std::unordered_map<ValueReference, std::size_t> sizes) override {
    array_sizes_ = std::move(sizes);
  }
  // The value references an FMI call takes for `n` per-value entries (see set_array_sizes): the
  // entries themselves without arrays, else each array's run of entries collapsed into one.
  struct Refs {
    const ValueReference* vr;
    std::size_t count;
  };
  Refs refs(const ValueReference* vr, std::size_t n) {
    if (array_sizes_.empty()) return {vr, n};
    collapsed_.clear();
    for (std::size_t i = 0; i < n;) {
      const auto found = array_sizes_.find(vr[i]);
      const std::size_t k = found == array_sizes_.end() ? 1 : std::max<std::size_t>(found->second, 1);
      if (i + k > n || std::any_of(vr + i, vr + i + k, [&](ValueReference r) { return r != vr[i]; })) {
        throw FmuError("value reference " + std::to_string(vr[i]) + " is an array of " +
                       std::to_string(k) + " values, read and written whole (one entry per value)");
      }
      collapsed_.push_back(vr[i]);
      i += k;
    }
    return {collapsed_.data(), collapsed_.size()};
  }

  [[noreturn]] static void missing(const char* function) {
    throw FmuError(std::string("the FMU's shared library does not export ") + function +
                   ", which its variables of that type need");
  }

  std::unordered_map<ValueReference, ScalarType> types_;
  std::unordered_map<ValueReference, std::size_t> array_sizes_;
  std::vector<ValueReference> collapsed_;
  InterfaceType type_;
  fmi3Instance c_;
  std::size_t nx_, nz_;
  bool can_save_, provides_dd_;
  // Conversion buffers, one per native type (carrier <-> FMI type).
  std::tuple<std::vector<fmi3Float32>, std::vector<fmi3Int8>, std::vector<fmi3UInt8>,
             std::vector<fmi3Int16>, std::vector<fmi3UInt16>, std::vector<fmi3Int32>,
             std::vector<fmi3UInt32>, std::vector<fmi3Int64>, std::vector<fmi3UInt64>>
      buffers_;

  fmi3EnterInitializationModeTYPE* enter_init_ = nullptr;
  fmi3ExitInitializationModeTYPE* exit_init_ = nullptr;
  fmi3TerminateTYPE* terminate_ = nullptr;
  fmi3SetFloat64TYPE* set_real_ = nullptr;
  fmi3GetFloat64TYPE* get_real_ = nullptr;
  fmi3SetInt32TYPE* set_integer_ = nullptr;
  fmi3GetInt32TYPE* get_integer_ = nullptr;
  fmi3SetBooleanTYPE* set_boolean_ = nullptr;
  fmi3GetBooleanTYPE* get_boolean_ = nullptr;
  fmi3GetFloat32TYPE* get_float32_ = nullptr;
  fmi3SetFloat32TYPE* set_float32_ = nullptr;
  fmi3GetInt8TYPE* get_int8_ = nullptr;
  fmi3SetInt8TYPE* set_int8_ = nullptr;
  fmi3GetUInt8TYPE* get_uint8_ = nullptr;
  fmi3SetUInt8TYPE* set_uint8_ = nullptr;
  fmi3GetInt16TYPE* get_int16_ = nullptr;
  fmi3SetInt16TYPE* set_int16_ = nullptr;
  fmi3GetUInt16TYPE* get_uint16_ = nullptr;
  fmi3SetUInt16TYPE* set_uint16_ = nullptr;
  fmi3GetUInt32TYPE* get_uint32_ = nullptr;
  fmi3SetUInt32TYPE* set_uint32_ = nullptr;
  fmi3GetInt64TYPE* get_int64_ = nullptr;
  fmi3SetInt64TYPE* set_int64_ = nullptr;
  fmi3GetUInt64TYPE* get_uint64_ = nullptr;
  fmi3SetUInt64TYPE* set_uint64_ = nullptr;
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
