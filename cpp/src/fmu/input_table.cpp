#include "fmitwin/fmu/input_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace fmitwin::fmu {
namespace {

// The int64 carrier of an integer-typed input value (UInt64: its bit pattern, as FmuAccess
// takes it); std::invalid_argument unless v is a whole number within 64 bits of that signedness.
std::int64_t integer_carrier(ScalarType type, ValueReference vr, double v) {
  constexpr double two_63 = 9223372036854775808.0;
  const bool unsigned64 = type == ScalarType::uint64;
  if (!(std::trunc(v) == v) || v < (unsigned64 ? 0.0 : -two_63) ||
      v >= (unsigned64 ? 2.0 * two_63 : two_63)) {
    throw std::invalid_argument("inputs: value " + std::to_string(v) + " for the " +
                                type_name(type) + " variable with value reference " +
                                std::to_string(vr) + " is not a whole number in its range");
  }
  if (!unsigned64) return static_cast<std::int64_t>(v);
  const auto u = static_cast<std::uint64_t>(v);
  std::int64_t carrier;
  std::memcpy(&carrier, &u, sizeof carrier);
  return carrier;
}

}  // namespace

void InputTable::validate() const {
  const std::size_t n = vrs.size();
  if (types.size() != n || continuous.size() != n) {
    throw std::invalid_argument("inputs: one type and one continuity flag per signal are needed");
  }
  if (n == 0) return;
  if (times.empty()) throw std::invalid_argument("inputs: the time column is empty");
  if (values.size() != n * times.size()) {
    throw std::invalid_argument("inputs: expected " + std::to_string(n * times.size()) +
                                " values (signals x times), got " + std::to_string(values.size()));
  }
  for (std::size_t j = 0; j < times.size(); ++j) {
    if (!std::isfinite(times[j])) throw std::invalid_argument("inputs: time values must be finite");
    if (j > 0 && times[j] < times[j - 1]) {
      throw std::invalid_argument("inputs: time values must be non-decreasing (row " +
                                  std::to_string(j) + ")");
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (continuous[i] && !is_floating(types[i])) {
      throw std::invalid_argument("inputs: only Float64/Float32 signals can be interpolated");
    }
    const double* row = values.data() + i * times.size();
    for (std::size_t j = 0; j < times.size(); ++j) {
      if (is_integer(types[i])) {
        const std::int64_t carrier = integer_carrier(types[i], vrs[i], row[j]);
        check_int_range(types[i], &vrs[i], 1, &carrier);
      } else {
        check_float_range(types[i], &vrs[i], 1, &row[j]);
      }
    }
  }
}

double InputTable::value(std::size_t i, double t, bool after_event) const {
  const std::size_t n = times.size();
  const double* v = values.data() + i * n;
  if (n < 2) return v[0];
  std::size_t i0 = static_cast<std::size_t>(std::lower_bound(times.begin(), times.end(), t) -
                                            times.begin());
  if (i0 == 0) return v[0];
  if (i0 == n) return v[n - 1];
  if (!continuous[i]) {
    std::size_t k = i0 - 1;
    if (after_event) {
      while (k + 1 < n && (times[k + 1] < t || is_close(t, times[k + 1]))) ++k;
    }
    return v[k];
  }
  if (is_close(t, times[i0]) && i0 < n - 1 && is_close(times[i0], times[i0 + 1])) {
    if (after_event) {
      while (i0 < n - 1 && is_close(times[i0], times[i0 + 1])) ++i0;
    }
    return v[i0];
  }
  const std::size_t a = i0 - 1, b = i0;
  const double w0 = (times[b] - t) / (times[b] - times[a]);
  const double w1 = 1.0 - w0;
  return w0 * v[a] + w1 * v[b];
}

void InputTable::values_at(double t, bool after_event, double* values) const {
  for (std::size_t i = 0; i < vrs.size(); ++i) values[i] = value(i, t, after_event);
}

void InputTable::set_signal(FmuAccess& fmu, std::size_t i, double value) const {
  const ScalarType type = types[i];
  if (type == ScalarType::float64) {
    fmu.set_real(&vrs[i], 1, &value);
  } else if (type == ScalarType::boolean) {
    const bool b = value != 0.0;
    fmu.set_boolean(&vrs[i], 1, &b);
  } else if (is_floating(type)) {
    fmu.set_float(type, &vrs[i], 1, &value);
  } else {
    const std::int64_t carrier = integer_carrier(type, vrs[i], value);
    fmu.set_int(type, &vrs[i], 1, &carrier);
  }
}

void InputTable::set(FmuAccess& fmu, const double* values) const {
  if (std::all_of(types.begin(), types.end(),
                  [](ScalarType type) { return type == ScalarType::float64; })) {
    fmu.set_real(vrs.data(), vrs.size(), values);
    return;
  }
  for (std::size_t i = 0; i < vrs.size(); ++i) set_signal(fmu, i, values[i]);
}

void InputTable::apply(FmuAccess& fmu, double t, bool after_event) const {
  std::vector<double> values(vrs.size());
  values_at(t, after_event, values.data());
  set(fmu, values.data());
}

void InputTable::apply_continuous(FmuAccess& fmu, double t, bool after_event) const {
  for (std::size_t i = 0; i < vrs.size(); ++i) {
    if (continuous[i]) set_signal(fmu, i, value(i, t, after_event));
  }
}

bool InputTable::is_event(double t) const {
  return std::any_of(event_times.begin(), event_times.end(),
                     [t](double e) { return is_close(e, t); });
}

double InputTable::next_event(double t) const {
  for (double e : event_times) {
    if (e > t && !is_close(e, t)) return e;
  }
  return std::numeric_limits<double>::infinity();
}

}  // namespace fmitwin::fmu
