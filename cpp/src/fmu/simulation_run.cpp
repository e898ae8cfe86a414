#include "fmitwin/fmu/simulation_run.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fmitwin::fmu {
namespace {

// The columns `reads` fill; std::invalid_argument when one reads a type of another kind.
std::size_t columns_of(const std::vector<OutputRead>& reads, bool (*of_kind)(ScalarType),
                       const char* kind) {
  std::size_t n = 0;
  for (const OutputRead& read : reads) {
    if (!of_kind(read.type)) {
      throw std::invalid_argument(std::string("SimulationRun: ") + type_name(read.type) +
                                  " outputs cannot be recorded as " + kind + " columns");
    }
    n += read.vrs.size();
  }
  return n;
}

}  // namespace

SimulationRun::SimulationRun(std::shared_ptr<FmuSimulator> simulator, double start_time,
                             double stop_time, double step, bool variable_step, InputTable inputs,
                             OutputSelection outputs)
    : sim_(simulator ? std::move(simulator)
                     : throw std::invalid_argument("SimulationRun: no simulator")),
      access_(sim_->access()),
      start_(start_time),
      stop_(stop_time),
      step_(step),
      variable_step_(variable_step),
      inputs_(std::make_shared<const InputTable>(std::move(inputs))),
      outputs_(std::move(outputs)),
      n_real_(columns_of(outputs_.real, is_floating, "real")),
      n_integer_(columns_of(outputs_.integer, is_integer, "integer")),
      time_(start_time),
      model_exchange_(dynamic_cast<ModelExchange*>(sim_.get())),
      co_simulation_(dynamic_cast<CoSimulation*>(sim_.get())),
      input_values_(inputs_->vrs.size()),
      set_input_values_(inputs_->vrs.size()),
      follow_inputs_(!inputs_->empty()),
      bool_buffer_(new bool[outputs_.boolean.size() + 1]) {
  if (!(step > 0.0) || !std::isfinite(step)) {
    throw std::invalid_argument("step must be a positive finite number, got " +
                                std::to_string(step));
  }
  if (!(stop_time > start_time)) {
    throw std::invalid_argument("stop_time must be greater than start_time");
  }
  if (outputs_.integer.empty() && outputs_.real.size() == 1 &&
      outputs_.real[0].type == ScalarType::float64 && n_real_ > 0) {
    float64_vrs_ = outputs_.real[0].vrs.data();
  }
  inputs_->validate();
  sim_->follow_inputs(inputs_);
  const double expected = std::ceil((stop_time - start_time) / step) + 2.0 +
                          static_cast<double>(inputs_->event_times.size());
  reserve_rows(static_cast<std::size_t>(std::min(expected, 1e8)));
}

SimulationRun::~SimulationRun() {
  if (record_events_ && model_exchange_ != nullptr) model_exchange_->set_event_observer({});
}

void SimulationRun::reserve_rows(std::size_t rows) {
  capacity_ = rows;
  table_.resize(rows * (1 + n_real_));
  integers_.resize(rows * n_integer_);
  booleans_.resize(rows * outputs_.boolean.size());
}

void SimulationRun::apply_inputs(double t, bool after_event) {
  if (!inputs_->empty()) inputs_->apply(access_, t, after_event);
}

std::size_t SimulationRun::remaining_steps() const {
  if (finished_) return 0;
  return static_cast<std::size_t>(std::max(0.0, std::ceil((stop_ - time_) / step_ - 1e-9)));
}

void SimulationRun::record(double t) {
  const std::size_t nb = outputs_.boolean.size();
  if (rows_ == capacity_) reserve_rows(2 * rows_ + 1);  // more rows than expected (input events)
  double* row = table_.data() + rows_ * (1 + n_real_);
  row[0] = t;
  if (float64_vrs_ != nullptr) {  // the usual case: one Float64 read and no other
    access_.get_real(float64_vrs_, n_real_, row + 1);
  } else {
    record_typed(row + 1);
  }
  if (nb > 0) {
    access_.get_boolean(outputs_.boolean.data(), nb, bool_buffer_.get());
    for (std::size_t i = 0; i < nb; ++i) booleans_[rows_ * nb + i] = bool_buffer_[i] ? 1 : 0;
  }
  ++rows_;
}

void SimulationRun::record_point(double t) {
  if (record_events_ && rows_ == rows_after_event_ && is_close(t, event_time_)) return;
  record(t);
}

void SimulationRun::set_record_events(bool on) {
  if (started_) throw std::logic_error("record_events: set it before the run starts");
  record_events_ = on;
  if (model_exchange_ == nullptr) return;  // co-simulation FMUs handle events inside doStep
  if (!on) {
    model_exchange_->set_event_observer({});
    return;
  }
  model_exchange_->set_event_observer([this](double t, bool after) {
    if (!started_) return;  // initialization: the first row is the initial point
    // An input event at a communication point: that point's row is already the left limit.
    if (!after && rows_ > 0 && table_[(rows_ - 1) * (1 + n_real_)] == t) return;
    record(t);
    if (after) {
      rows_after_event_ = rows_;
      event_time_ = t;
    }
  });
}

void SimulationRun::record_typed(double* reals) {
  for (const OutputRead& read : outputs_.real) {
    if (read.type == ScalarType::float64) {
      access_.get_real(read.vrs.data(), read.vrs.size(), reals);
    } else {
      access_.get_float(read.type, read.vrs.data(), read.vrs.size(), reals);  // Float32 widened
    }
    reals += read.vrs.size();
  }
  std::int64_t* integers = integers_.data() + rows_ * n_integer_;
  for (const OutputRead& read : outputs_.integer) {
    access_.get_int(read.type, read.vrs.data(), read.vrs.size(), integers);
    integers += read.vrs.size();
  }
}

SimulationRun::Results SimulationRun::take_results() {
  if (!finished_) throw std::logic_error("take_results: the run has not finished");
  if (results_taken_) throw std::logic_error("take_results: the results were already taken");
  results_taken_ = true;
  return {rows_, std::move(table_), std::move(integers_), std::move(booleans_)};
}

void SimulationRun::set_inputs(double t) {
  if (model_exchange_ != nullptr) {  // it handles input events itself (and follows inputs)
    model_exchange_->apply_inputs(*inputs_, t, inputs_->is_event(t));
    return;
  }
  // Co-simulation: right-hand values at every point (as FMPy), set only when they changed.
  // Past the table's last time every signal holds its last value: once set there, done.
  inputs_->values_at(t, true, input_values_.data());
  if (t > inputs_->times.back()) follow_inputs_ = false;
  if (inputs_set_ && input_values_ == set_input_values_) return;
  inputs_->set(access_, input_values_.data());
  set_input_values_.swap(input_values_);
  inputs_set_ = true;
}

void SimulationRun::look_up_input_event() {
  // The first input event after time_, looked up again only once time_ has reached it.
  if (!(next_input_event_ > time_) || is_close(next_input_event_, time_)) {
    next_input_event_ = inputs_->next_event(time_);
  }
}

void SimulationRun::find_plain_steps() {
  plain_until_ = regular_steps_;
  if (follow_inputs_) return;
  double limit = stop_;
  if (variable_step_) {
    look_up_input_event();
    limit = std::min(limit, next_input_event_);
  }
  // Regular step n ends at start + n step: plain while that is before `limit` and not within
  // is_close of it (a monotonic condition, so the last such n is found from an estimate).
  const auto plain = [&](double n) {
    const double end = start_ + n * step_;
    return end < limit && !is_close(end, limit);
  };
  double n = std::floor((limit - start_) / step_);
  const auto first = static_cast<double>(regular_steps_ + 1);
  if (!(n >= first)) return;
  n = std::min(n, 1e15);
  while (n >= first && !plain(n)) n -= 1.0;
  if (n >= first) plain_until_ = static_cast<std::size_t>(n);
}

bool SimulationRun::step_to(double next) {
  // A co-simulation FMU's step is a direct call (CoSimulation is final and steps inline).
  const bool stepped = co_simulation_ != nullptr ? co_simulation_->do_step(time_, next - time_)
                                                 : sim_->do_step(time_, next - time_);
  if (!stepped) {
    if (sim_->terminate_requested()) {
      terminated_by_fmu_ = true;
      finished_ = true;
      record_point(sim_->last_successful_time());
      return false;
    }
    throw FmuError("the FMU discarded the step from t = " + std::to_string(time_) + " to " +
                   std::to_string(next) + "; use a smaller step");
  }
  time_ = next;
  record_point(time_);
  return true;
}

bool SimulationRun::advance(std::size_t max_steps) {
  if (!started_) {
    record(time_);
    started_ = true;
  }
  for (std::size_t k = 0; k < max_steps && !finished_; ++k) {
    if (regular_steps_ < plain_until_) {  // nothing else due: no checks (see find_plain_steps)
      if (step_to(start_ + static_cast<double>(regular_steps_ + 1) * step_)) ++regular_steps_;
      continue;
    }
    if (time_ > stop_ || is_close(time_, stop_)) {
      finished_ = true;
      break;
    }
    const double next_regular = start_ + static_cast<double>(regular_steps_ + 1) * step_;
    double next = next_regular;
    if (variable_step_) {
      look_up_input_event();
      if (next > next_input_event_ && !is_close(next, next_input_event_)) next = next_input_event_;
    }
    if (next > stop_ && !is_close(next, stop_)) {
      if (!variable_step_) {
        finished_ = true;
        break;
      }
      next = stop_;
    }
    if (follow_inputs_) set_inputs(time_);
    if (!step_to(next)) break;
    if (is_close(time_, next_regular)) ++regular_steps_;
    find_plain_steps();
  }
  return !finished_;
}

}  // namespace fmitwin::fmu
