#include "fmitwin/fmu/fmu_access.hpp"

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

namespace fmitwin::fmu {

const char* type_name(ScalarType type) {
  static const char* const names[] = {"Float64", "Float32", "Int8",  "UInt8",  "Int16",  "UInt16",
                                      "Int32",   "UInt32",  "Int64", "UInt64", "Boolean"};
  return names[static_cast<int>(type)];
}

namespace {
template <typename T>
std::pair<std::int64_t, std::int64_t> limits_of() {
  return {std::numeric_limits<T>::min(), std::numeric_limits<T>::max()};
}

[[noreturn]] void out_of_range(ScalarType type, ValueReference vr, const std::string& value,
                               const std::string& range) {
  throw FmuError("value " + value + " for the " + type_name(type) + " variable with value " +
                 "reference " + std::to_string(vr) + " is outside its range " + range +
                 "; nothing was set");
}

[[noreturn]] void unsupported(ScalarType type) {
  throw FmuError(std::string("FMI 2.0 has no ") + type_name(type) +
                 " variables (only Real, Integer and Boolean)");
}
}  // namespace

void check_int_range(ScalarType type, const ValueReference* vr, std::size_t n,
                     const std::int64_t* v) {
  std::pair<std::int64_t, std::int64_t> range;
  switch (type) {
    case ScalarType::int8: range = limits_of<std::int8_t>(); break;
    case ScalarType::uint8: range = limits_of<std::uint8_t>(); break;
    case ScalarType::int16: range = limits_of<std::int16_t>(); break;
    case ScalarType::uint16: range = limits_of<std::uint16_t>(); break;
    case ScalarType::int32: range = limits_of<std::int32_t>(); break;
    case ScalarType::uint32: range = limits_of<std::uint32_t>(); break;
    default: return;  // Int64 and UInt64 (bit pattern) take every carrier value
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (v[i] < range.first || v[i] > range.second) {
      out_of_range(type, vr[i], std::to_string(v[i]),
                   std::to_string(range.first) + ".." + std::to_string(range.second));
    }
  }
}

void check_float_range(ScalarType type, const ValueReference* vr, std::size_t n,
                       const double* v) {
  if (type != ScalarType::float32) return;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isfinite(v[i]) && std::abs(v[i]) > FLT_MAX) {
      char value[32];
      std::snprintf(value, sizeof value, "%.17g", v[i]);
      out_of_range(type, vr[i], value, "+-3.4028234663852886e+38");
    }
  }
}

// The FMI 2.0 defaults: Float64 is Real, Int32 is Integer; FMI 3.0 overrides all four.
void FmuAccess::set_variable_types(std::unordered_map<ValueReference, ScalarType> types) {
  if (!types.empty()) throw FmuError("variable types other than Float64, Int32 and Boolean exist in FMI 3.0 only");
}

void FmuAccess::set_array_sizes(std::unordered_map<ValueReference, std::size_t> sizes) {
  if (!sizes.empty()) throw FmuError("array variables exist in FMI 3.0 only");
}

void FmuAccess::get_float(ScalarType type, const ValueReference* vr, std::size_t n, double* v) {
  if (type != ScalarType::float64) unsupported(type);
  get_real(vr, n, v);
}
void FmuAccess::set_float(ScalarType type, const ValueReference* vr, std::size_t n,
                          const double* v) {
  if (type != ScalarType::float64) unsupported(type);
  set_real(vr, n, v);
}
void FmuAccess::get_int(ScalarType type, const ValueReference* vr, std::size_t n,
                        std::int64_t* v) {
  if (type != ScalarType::int32) unsupported(type);
  get_integer(vr, n, v);
}
void FmuAccess::set_int(ScalarType type, const ValueReference* vr, std::size_t n,
                        const std::int64_t* v) {
  if (type != ScalarType::int32) unsupported(type);
  check_int_range(type, vr, n, v);
  set_integer(vr, n, v);
}

std::shared_ptr<FmuAccess> make_fmi2_access(InterfaceType, std::uintptr_t, std::uintptr_t,
                                            std::size_t, std::size_t, bool, bool);
std::shared_ptr<FmuAccess> make_fmi3_access(InterfaceType, std::uintptr_t, std::uintptr_t,
                                            std::size_t, std::size_t, bool, bool);

std::shared_ptr<FmuAccess> make_fmu_access(FmiVersion version, InterfaceType type,
                                           std::uintptr_t library_handle, std::uintptr_t instance,
                                           std::size_t state_count,
                                           std::size_t event_indicator_count, bool can_save_state,
                                           bool provides_directional_derivatives) {
  if (library_handle == 0 || instance == 0) {
    throw std::invalid_argument("make_fmu_access: the FMU is not loaded and instantiated");
  }
  if (version == FmiVersion::fmi2) {
    return make_fmi2_access(type, library_handle, instance, state_count, event_indicator_count,
                            can_save_state, provides_directional_derivatives);
  }
  return make_fmi3_access(type, library_handle, instance, state_count, event_indicator_count,
                          can_save_state, provides_directional_derivatives);
}

}  // namespace fmitwin::fmu
