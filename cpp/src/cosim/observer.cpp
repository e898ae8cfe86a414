#include "fmitwin/cosim/observer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fmitwin::cosim {
namespace {

// Communication points computed as t0 + k h may miss an output point by rounding.
bool reached(double time, double target) {
  return time >= target - 1e-9 * std::max(1.0, std::abs(target));
}

}  // namespace

Recorder::Recorder(std::vector<VariableId> variables, std::vector<double> output_times)
    : variables_(std::move(variables)), output_times_(std::move(output_times)) {
  for (std::size_t j = 1; j < output_times_.size(); ++j) {
    if (!(output_times_[j] > output_times_[j - 1])) {
      throw std::invalid_argument("output times must be strictly increasing");
    }
  }
  for (std::size_t c = 0; c < variables_.size(); ++c) {
    const VariableId& v = variables_[c];
    auto group = std::find_if(groups_.begin(), groups_.end(), [&](const Group& g) {
      return g.instance == v.instance && g.type == v.type;
    });
    if (group == groups_.end()) group = groups_.insert(groups_.end(), Group{v.instance, v.type, {}, {}});
    group->vr.push_back(v.vr);
    group->column.push_back(c);
  }
  std::size_t widest = 0;
  for (const auto& g : groups_) widest = std::max(widest, g.vr.size());
  real_scratch_.resize(widest);
  integer_scratch_.resize(widest);
  boolean_scratch_.reset(new bool[widest]);
  values_.assign(output_times_.size() * variables_.size(), std::nan(""));
  times_.assign(output_times_.size(), std::nan(""));
}

void Recorder::initialized(CoupledSystem& system, double time) {
  for (const auto& g : groups_) {
    if (g.instance >= system.instance_count()) {
      throw std::invalid_argument("recorder: instance index " + std::to_string(g.instance) +
                                  " out of range");
    }
  }
  next_ = 0;
  // Output points before the start are not recorded.
  while (next_ < output_times_.size() && output_times_[next_] < time &&
         !reached(time, output_times_[next_])) {
    times_[next_] = std::nan("");
    ++next_;
  }
  record(system, time);
}

void Recorder::step_complete(CoupledSystem& system, double time) { record(system, time); }

double Recorder::next_time() const {
  return next_ < output_times_.size() ? output_times_[next_]
                                      : std::numeric_limits<double>::infinity();
}

void Recorder::restored(CoupledSystem& system, double time) {
  (void)system;
  while (next_ > 0 && !(times_[next_ - 1] <= time)) {
    --next_;
    times_[next_] = std::nan("");
    std::fill_n(values_.begin() + static_cast<std::ptrdiff_t>(next_ * variables_.size()),
                variables_.size(), std::nan(""));
  }
}

void Recorder::record(CoupledSystem& system, double time) {
  while (next_ < output_times_.size() && reached(time, output_times_[next_])) {
    double* row = values_.data() + next_ * variables_.size();
    for (const auto& g : groups_) {
      Simulator& sim = system.simulator(g.instance);
      const std::size_t n = g.vr.size();
      switch (g.type) {
        case VariableType::real:
          sim.get_real(g.vr.data(), n, real_scratch_.data());
          for (std::size_t j = 0; j < n; ++j) row[g.column[j]] = real_scratch_[j];
          break;
        case VariableType::integer:
          sim.get_integer(g.vr.data(), n, integer_scratch_.data());
          for (std::size_t j = 0; j < n; ++j) row[g.column[j]] = static_cast<double>(integer_scratch_[j]);
          break;
        case VariableType::boolean:
          sim.get_boolean(g.vr.data(), n, boolean_scratch_.get());
          for (std::size_t j = 0; j < n; ++j) row[g.column[j]] = boolean_scratch_[j] ? 1.0 : 0.0;
          break;
      }
    }
    times_[next_] = time;
    ++next_;
  }
}

}  // namespace fmitwin::cosim
