#include "fmitwin/fmu/model_exchange.hpp"

#include <algorithm>
#include <functional>
#include <cmath>
#include <stdexcept>
#include <string>

#include "fmitwin/fmu/simulation_run.hpp"

namespace fmitwin::fmu {

namespace {

// State saved by ModelExchange::save_state: the FMU's own state plus the solver's.
class SavedModelExchangeState : public SavedFmuState {
 public:
  SavedModelExchangeState(std::shared_ptr<FmuAccess> access, void* handle, double time,
                          double next_time_event, double h, std::size_t events)
      : SavedFmuState(std::move(access), handle),
        time(time),
        next_time_event(next_time_event),
        h(h),
        events(events) {}
  double time, next_time_event, h;
  std::size_t events;
};

constexpr std::size_t kMaxRejectedSteps = 200;

}  // namespace

void SolverOptions::validate() const {
  if (!(rtol > 0.0) || !std::isfinite(rtol)) {
    throw std::invalid_argument("rtol must be a positive number, got " + std::to_string(rtol));
  }
  if (!(atol > 0.0) || !std::isfinite(atol)) {
    throw std::invalid_argument("atol must be a positive number, got " + std::to_string(atol));
  }
  if (!std::isfinite(step)) throw std::invalid_argument("solver step must be finite");
  if (max_events_per_instant == 0) {
    throw std::invalid_argument("max_events_per_instant must be at least 1");
  }
}

ModelExchange::ModelExchange(std::shared_ptr<FmuAccess> access, SolverOptions options)
    : FmuSimulator(std::move(access)) {
  if (access_->interface_type() != InterfaceType::model_exchange) {
    throw std::invalid_argument("ModelExchange needs an FMU instantiated for model exchange");
  }
  configure_solver(options);
  const std::size_t n = access_->state_count();
  for (auto* v : {&x_, &dx_, &x1_, &f1_, &xe_}) v->assign(n, 0.0);
  atol_.assign(n, options_.atol);
  for (auto* v : {&z_, &z1_, &ztmp_}) v->assign(access_->event_indicator_count(), 0.0);
  stepper_.resize(n);
  rhs_ = [this](double t, const double* x, double* dx) { rhs(t, x, dx); };
}

void ModelExchange::configure_solver(const SolverOptions& options) {
  options.validate();
  options_ = options;
  h_ = 0.0;
  std::vector<double> nominals(x_.size(), 1.0);
  if (initialized_ && !x_.empty()) access_->get_nominals(nominals.data());
  atol_.assign(x_.size(), options_.atol);
  for (std::size_t i = 0; i < x_.size(); ++i) atol_[i] = options_.atol * std::abs(nominals[i]);
}

void ModelExchange::enter_initialization(double start_time, double stop_time) {
  time_ = start_time;
  access_->enter_initialization(start_time, stop_time, options_.rtol);
}

void ModelExchange::exit_initialization() {
  access_->exit_initialization();
  next_time_event_ = std::numeric_limits<double>::infinity();
  if (!event_iteration()) {
    terminate_requested_ = true;
    last_successful_time_ = time_;
  }
  access_->enter_continuous_time_mode();
  initialized_ = true;
  configure_solver(options_);  // nominals are known now
  if (!x_.empty()) access_->get_states(x_.data());
  refresh();
}

bool ModelExchange::event_iteration() {
  for (std::size_t i = 0; i < options_.max_events_per_instant; ++i) {
    const DiscreteStatesUpdate u = access_->update_discrete_states();
    next_time_event_ =
        u.next_event_time_defined ? u.next_event_time : std::numeric_limits<double>::infinity();
    if (x_.empty() && (u.values_changed || u.nominals_changed)) {
      throw FmuError(
          "at t = " + std::to_string(time_) + " the FMU reports that the " +
          (u.values_changed ? "values" : "nominals") +
          " of its continuous states changed, but its modelDescription.xml declares no "
          "continuous states (ModelStructure/Derivatives is empty): the FMU and its model "
          "description disagree, so its states would not be integrated; re-export the FMU");
    }
    if (u.terminate) return false;
    if (!u.needs_update) return true;
  }
  throw FmuError("the event iteration at t = " + std::to_string(time_) + " did not converge in " +
                 std::to_string(options_.max_events_per_instant) + " iterations");
}

void ModelExchange::handle_event(const std::function<void()>& in_event_mode) {
  if (event_observer_) event_observer_(time_, false);
  access_->enter_event_mode();
  if (in_event_mode) in_event_mode();
  const bool go_on = event_iteration();
  access_->enter_continuous_time_mode();
  ++event_count_;
  if (!go_on) {
    terminate_requested_ = true;
    last_successful_time_ = time_;
  }
  // Re-read the states unconditionally: cheap, and correct whatever valuesChanged said.
  if (!x_.empty()) access_->get_states(x_.data());
  configure_solver(options_);  // nominals may have changed; restart step-size control
  refresh();
  if (event_observer_) event_observer_(time_, true);
}

void ModelExchange::move_to(double t, const double* x) {
  access_->set_time(t);
  if (inputs_ && !inputs_->empty()) {
    inputs_->apply_continuous(*access_, t, is_close(t, inputs_switched_at_));
  }
  if (!x_.empty()) access_->set_states(x);
}

void ModelExchange::rhs(double t, const double* x, double* dx) {
  move_to(t, x);
  // No states, nothing to ask: several exporters return an error for a zero-length call.
  if (!x_.empty()) access_->get_derivatives(dx);
}

void ModelExchange::refresh() {
  move_to(time_, x_.data());
  if (!x_.empty()) access_->get_derivatives(dx_.data());
  if (!z_.empty()) access_->get_event_indicators(z_.data());
}

void ModelExchange::set_states(const double* x) {
  std::copy(x, x + x_.size(), x_.begin());
  refresh();
}

void ModelExchange::derivatives(double* dx) {
  refresh();
  std::copy(dx_.begin(), dx_.end(), dx);
}

void ModelExchange::evaluate(double t, const double* x, double* dx) { rhs(t, x, dx); }

void ModelExchange::set_tunable_parameters(const ValueReference* vr, std::size_t n,
                                           const double* values) {
  if (!initialized_) {
    access_->set_real(vr, n, values);
    return;
  }
  // The event iteration runs at the simulator's own (time, states), not wherever the last
  // evaluation left the FMU (a solver stage, possibly past an event the step has not located).
  move_to(time_, x_.data());
  handle_event([&] { access_->set_real(vr, n, values); });
}

void ModelExchange::apply_inputs(const InputTable& inputs, double t, bool at_event) {
  if (!initialized_ || !at_event) {
    if (initialized_) {
      inputs.apply_continuous(*access_, t, is_close(t, inputs_switched_at_));
    } else {
      inputs.apply(*access_, t, false);
    }
    return;
  }
  inputs_switched_at_ = t;
  handle_event([&] { inputs.apply(*access_, t, true); });
}

bool ModelExchange::accept_step(double t1, const double* x1) {
  if (!initialized_) throw std::logic_error("ModelExchange::accept_step before setup()");
  terminate_requested_ = false;
  const std::vector<double> z_before = z_;
  time_ = t1;
  std::copy(x1, x1 + x_.size(), x_.begin());
  refresh();
  const IntegratorStepOutcome outcome = access_->completed_integrator_step();
  if (outcome.terminate) {
    terminate_requested_ = true;
    last_successful_time_ = time_;
    return false;
  }
  if (outcome.enter_event_mode || crossed(z_before, z_) || is_close(time_, next_time_event_) ||
      time_ > next_time_event_) {
    handle_event();
  }
  return !terminate_requested_;
}

bool ModelExchange::may_meet_event(double t1) const {
  return !z_.empty() || next_time_event_ < t1 || is_close(next_time_event_, t1);
}

ModelExchange::EventOnPath ModelExchange::meets_event(double t1, const double* x1) {
  const bool at_end = is_close(next_time_event_, t1);
  if (next_time_event_ < t1 && !at_end) return EventOnPath::inside;
  if (!z_.empty()) {
    move_to(t1, x1);
    access_->get_event_indicators(ztmp_.data());
    if (crossed(z_, ztmp_)) return EventOnPath::inside;
  }
  return at_end ? EventOnPath::at_end : EventOnPath::none;
}

bool ModelExchange::crossed(const std::vector<double>& a, const std::vector<double>& b) const {
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] > 0.0) != (b[i] > 0.0)) return true;
  }
  return false;
}

double ModelExchange::locate_crossing(double t0, double h, const std::vector<double>& x1,
                                      const std::vector<double>& f1,
                                      const std::vector<double>& z1,
                                      std::vector<double>& x_event) {
  // Bracket [tl, tr] (as fractions of the step): no crossing relative to z_ at tl, a crossing at
  // tr. Proposals come from regula falsi on the indicator whose crossing looks earliest, with
  // the Illinois halving of a retained end's value; the bracket test uses every indicator.
  const std::size_t n = x_.size();
  std::vector<double> zl = z_, zr = z1;
  double tl = 0.0, tr = 1.0, scale_l = 1.0, scale_r = 1.0;
  int last_moved = 0;  // -1: left end moved last, +1: right end moved last
  const double tol = std::max(1e-12, 4.0 * std::numeric_limits<double>::epsilon() *
                                         std::max(1.0, std::abs(t0 + h)) / std::abs(h));
  while (tr - tl > tol) {
    double proposal = 0.5 * (tl + tr);
    double earliest = 2.0;
    for (std::size_t i = 0; i < zl.size(); ++i) {
      if ((zl[i] > 0.0) == (zr[i] > 0.0)) continue;
      const double a = zl[i] * scale_l, b = zr[i] * scale_r;
      const double frac = (a == b) ? 0.5 : a / (a - b);
      const double candidate = tl + std::clamp(frac, 0.0, 1.0) * (tr - tl);
      if (candidate < earliest) earliest = candidate;
    }
    if (earliest <= 1.0) proposal = earliest;
    // Keep the proposal strictly inside the bracket so that it always shrinks.
    const double margin = 0.01 * (tr - tl);
    proposal = std::clamp(proposal, tl + std::max(margin, 0.25 * tol), tr - std::max(margin, 0.25 * tol));
    hermite(n, proposal, h, x_.data(), dx_.data(), x1.data(), f1.data(), x_event.data());
    move_to(t0 + proposal * h, x_event.data());
    access_->get_event_indicators(ztmp_.data());
    if (crossed(z_, ztmp_)) {
      tr = proposal;
      zr = ztmp_;
      scale_r = 1.0;
      if (last_moved == 1) scale_l *= 0.5;  // left end retained twice: Illinois
      last_moved = 1;
    } else {
      tl = proposal;
      zl = ztmp_;
      scale_l = 1.0;
      if (last_moved == -1) scale_r *= 0.5;
      last_moved = -1;
    }
  }
  hermite(n, tr, h, x_.data(), dx_.data(), x1.data(), f1.data(), x_event.data());
  return tr >= 1.0 ? t0 + h : t0 + tr * h;
}

double ModelExchange::initial_step(double limit) {
  // Hairer, Norsett & Wanner's starting-step heuristic, on the weighted RMS norm.
  const std::size_t n = x_.size();
  double d0 = 0.0, d1 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double sc = atol_[i] + options_.rtol * std::abs(x_[i]);
    d0 += (x_[i] / sc) * (x_[i] / sc);
    d1 += (dx_[i] / sc) * (dx_[i] / sc);
  }
  d0 = std::sqrt(d0 / n);
  d1 = std::sqrt(d1 / n);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = std::min(h0, limit);
  for (std::size_t i = 0; i < n; ++i) x1_[i] = x_[i] + h0 * dx_[i];
  rhs(time_ + h0, x1_.data(), f1_.data());
  double d2 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double sc = atol_[i] + options_.rtol * std::abs(x_[i]);
    const double d = (f1_[i] - dx_[i]) / sc;
    d2 += d * d;
  }
  d2 = std::sqrt(d2 / n) / h0;
  const double m = std::max(d1, d2);
  const double h1 = m <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / m, 0.2);
  return std::min({100.0 * h0, h1, limit});
}

bool ModelExchange::do_step(double t, double h) {
  if (!initialized_) throw std::logic_error("ModelExchange::do_step before setup()");
  if (!is_close(t, time_) && std::abs(t - time_) > 1e-12) {
    throw std::invalid_argument("do_step: t = " + std::to_string(t) +
                                " but the model is at t = " + std::to_string(time_) +
                                " (restore a saved state to go back)");
  }
  if (!(h > 0.0)) throw std::invalid_argument("do_step: h must be positive");
  terminate_requested_ = false;
  const double target = t + h;
  const std::size_t n = x_.size();
  refresh();  // inputs may have been set since the last step
  double rk4_step = options_.step > 0.0 ? options_.step : h;
  const std::size_t rk4_substeps =
      static_cast<std::size_t>(std::max(1.0, std::ceil(h / rk4_step - 1e-9)));
  rk4_step = h / static_cast<double>(rk4_substeps);
  std::size_t events_here = 0;
  double last_event_time = -std::numeric_limits<double>::infinity();

  while (time_ < target && !is_close(time_, target)) {
    if (time_ > next_time_event_ || is_close(time_, next_time_event_)) {
      handle_event();
      if (terminate_requested_) return false;
      continue;
    }
    const double end = std::min(target, next_time_event_);
    double step = 0.0;
    if (options_.method == SolverOptions::Method::rk4) {
      step = std::min(rk4_step, end - time_);
      if (is_close(time_ + step, end)) step = end - time_;
      stepper_.rk4(rhs_, time_, x_.data(), dx_.data(), step, x1_.data());
      rhs(time_ + step, x1_.data(), f1_.data());
    } else {
      double limit = end - time_;
      if (options_.step > 0.0) limit = std::min(limit, options_.step);
      if (h_ <= 0.0) h_ = n == 0 ? limit : initial_step(limit);
      std::size_t rejected = 0;
      for (;;) {
        step = std::min(h_, limit);
        if (is_close(time_ + step, end)) step = end - time_;
        const double err = stepper_.dopri45(rhs_, time_, x_.data(), dx_.data(), step,
                                            options_.rtol, atol_.data(), x1_.data(), f1_.data());
        if (err <= 1.0) {
          // A step clipped to an end point says nothing against the longer h_: keep it.
          const double grown = step * dopri_step_factor(err);
          h_ = step < h_ ? std::max(h_, grown) : grown;
          break;
        }
        h_ = step * std::max(0.2, dopri_step_factor(err));
        if (++rejected > kMaxRejectedSteps ||
            h_ < 16.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(time_))) {
          throw FmuError("Dormand-Prince step size underflow at t = " + std::to_string(time_) +
                         " (the model is stiff or discontinuous there; try the rk4 solver with a "
                         "small step, or looser tolerances)");
        }
      }
    }
    // The FMU now holds (time_ + step, x1_): check the event indicators there.
    if (!z_.empty()) access_->get_event_indicators(z1_.data());
    if (!z_.empty() && crossed(z_, z1_)) {
      const double te = locate_crossing(time_, step, x1_, f1_, z1_, xe_);
      time_ = te;
      x_ = xe_;
      move_to(time_, x_.data());
      if (is_close(time_, last_event_time)) {
        if (++events_here > options_.max_events_per_instant) {
          throw FmuError("more than " + std::to_string(options_.max_events_per_instant) +
                         " state events at t = " + std::to_string(time_) +
                         " (chattering event indicator)");
        }
      } else {
        events_here = 0;
      }
      last_event_time = time_;
      handle_event();
      if (terminate_requested_) return false;
      continue;
    }
    time_ += step;
    if (is_close(time_, end)) time_ = end;
    std::swap(x_, x1_);
    std::swap(dx_, f1_);
    std::swap(z_, z1_);
    const IntegratorStepOutcome outcome = access_->completed_integrator_step();
    if (outcome.terminate) {
      terminate_requested_ = true;
      last_successful_time_ = time_;
      return false;
    }
    if (outcome.enter_event_mode) {
      handle_event();
      if (terminate_requested_) return false;
    }
  }
  time_ = target;
  if (is_close(time_, next_time_event_) || time_ > next_time_event_) {
    handle_event();  // due at the end: the values at target are the ones after it
    if (terminate_requested_) return false;
  }
  return true;
}

std::unique_ptr<SimulatorState> ModelExchange::save_state() {
  return std::make_unique<SavedModelExchangeState>(access_, access_->get_state(nullptr), time_,
                                                   next_time_event_, h_, event_count_);
}

void ModelExchange::restore_state(const SimulatorState& state) {
  const auto* saved = dynamic_cast<const SavedModelExchangeState*>(&state);
  if (saved == nullptr) {
    throw std::invalid_argument("restore_state: not a state saved by this model-exchange FMU");
  }
  access_->set_state(saved->handle());
  time_ = saved->time;
  next_time_event_ = saved->next_time_event;
  h_ = saved->h;
  event_count_ = saved->events;
  if (!x_.empty()) access_->get_states(x_.data());
  refresh();
}

}  // namespace fmitwin::fmu
