#include "fmitwin/fmu/input_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace fmitwin::fmu {

bool is_close(double a, double b) {
  if (a == b) return true;
  if (std::isinf(a) || std::isinf(b)) return false;
  return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
}

void InputTable::validate() const {
  const std::size_t n = vrs.size();
  if (kinds.size() != n || continuous.size() != n) {
    throw std::invalid_argument("inputs: one kind and one continuity flag per signal are needed");
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

void InputTable::apply(Simulator& sim, double t, bool after_event) const {
  for (std::size_t i = 0; i < vrs.size(); ++i) {
    const double x = value(i, t, after_event);
    switch (kinds[i]) {
      case VariableKind::real:
        sim.set_real(&vrs[i], 1, &x);
        break;
      case VariableKind::integer: {
        const std::int64_t k = std::llround(x);
        sim.set_integer(&vrs[i], 1, &k);
        break;
      }
      case VariableKind::boolean: {
        const bool b = x != 0.0;
        sim.set_boolean(&vrs[i], 1, &b);
        break;
      }
    }
  }
}

void InputTable::apply_continuous(Simulator& sim, double t) const {
  for (std::size_t i = 0; i < vrs.size(); ++i) {
    if (!continuous[i]) continue;
    const double x = value(i, t, false);
    sim.set_real(&vrs[i], 1, &x);
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
