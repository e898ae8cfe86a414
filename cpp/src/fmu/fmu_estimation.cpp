#include "fmitwin/fmu/fmu_estimation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fmitwin::fmu {

namespace {

// Central-difference step scale: cbrt(machine epsilon) balances truncation and rounding error.
const double kDiffScale = std::cbrt(std::numeric_limits<double>::epsilon());

double norm(const double* v, std::size_t n) {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += v[i] * v[i];
  return std::sqrt(s);
}

void require_size(const char* what, Eigen::Index got, std::size_t expected) {
  if (static_cast<std::size_t>(got) != expected) {
    throw std::invalid_argument(std::string(what) + ": expected " + std::to_string(expected) +
                                " values, got " + std::to_string(got));
  }
}

}  // namespace

FmuEstimationCore::FmuEstimationCore(std::shared_ptr<ModelExchange> sim, EstimationLayout layout,
                                     JacobianMethod method)
    : n_s_(layout.states.size()),
      n_p_(layout.parameters.size()),
      sim_(std::move(sim)),
      layout_(std::move(layout)),
      method_(method) {
  if (!sim_) throw std::invalid_argument("FmuEstimationCore: no simulator");
  if (n_s_ != sim_->state_count() || layout_.derivatives.size() != n_s_) {
    throw std::invalid_argument("FmuEstimationCore: the layout must list all " +
                                std::to_string(sim_->state_count()) +
                                " continuous states and their derivatives");
  }
  if (method_ == JacobianMethod::directional && !sim_->access().provides_directional_derivatives()) {
    throw std::invalid_argument(
        "jacobian='directional': the FMU does not provide directional derivatives; use "
        "'finite_difference'");
  }
  p_current_.assign(n_p_, 0.0);
  if (n_p_ > 0) sim_->get_real(layout_.parameters.data(), n_p_, p_current_.data());
  for (auto* v : {&work_a_, &work_b_, &work_x_}) v->assign(n_s_, 0.0);
}

void FmuEstimationCore::set_parameters(const double* p) {
  if (n_p_ == 0) return;
  if (parameters_loaded_ && std::equal(p, p + n_p_, p_current_.begin())) return;
  sim_->set_tunable_parameters(layout_.parameters.data(), n_p_, p);
  std::copy(p, p + n_p_, p_current_.begin());
  parameters_loaded_ = true;
}

void FmuEstimationCore::parameters_restored(const double* p) {
  std::copy(p, p + n_p_, p_current_.begin());
  parameters_loaded_ = true;
}

void FmuEstimationCore::load(const Eigen::Ref<const Eigen::VectorXd>& x,
                             const Eigen::Ref<const Eigen::VectorXd>& u) {
  require_size("x", x.size(), n_s_ + n_p_);
  require_size("u", u.size(), layout_.inputs.size());
  if (!x.allFinite()) throw std::invalid_argument("x: the state must be finite");
  if (u.size() > 0) {
    const Eigen::VectorXd uc = u;  // contiguous copy for the FMI call
    sim_->set_real(layout_.inputs.data(), layout_.inputs.size(), uc.data());
  }
  const Eigen::VectorXd xc = x;
  set_parameters(xc.data() + n_s_);
  sim_->set_states(xc.data());
}

void FmuEstimationCore::jacobian_times(double t, const double* x, const double* v, double* out) {
  if (method_ == JacobianMethod::directional) {
    // The FMU stands at (t, x): the caller evaluated f there.
    sim_->access().directional_derivative(layout_.derivatives.data(), n_s_, layout_.states.data(),
                                          n_s_, v, out);
    return;
  }
  const double nv = norm(v, n_s_);
  if (nv == 0.0) {
    std::fill(out, out + n_s_, 0.0);
    return;
  }
  const double step = kDiffScale * std::max(1.0, norm(x, n_s_)) / nv;
  for (std::size_t i = 0; i < n_s_; ++i) work_x_[i] = x[i] + step * v[i];
  sim_->evaluate(t, work_x_.data(), work_a_.data());
  for (std::size_t i = 0; i < n_s_; ++i) work_x_[i] = x[i] - step * v[i];
  sim_->evaluate(t, work_x_.data(), work_b_.data());
  for (std::size_t i = 0; i < n_s_; ++i) out[i] = (work_a_[i] - work_b_[i]) / (2.0 * step);
}

void FmuEstimationCore::parameter_derivative(double t, const double* x, std::size_t j,
                                             double* out) {
  std::vector<double> p = p_current_;
  const double base = p[j];
  const double step = kDiffScale * std::max(1.0, std::abs(base));
  p[j] = base + step;
  set_parameters(p.data());
  sim_->evaluate(t, x, work_a_.data());
  p[j] = base - step;
  set_parameters(p.data());
  sim_->evaluate(t, x, work_b_.data());
  p[j] = base;
  set_parameters(p.data());
  for (std::size_t i = 0; i < n_s_; ++i) out[i] = (work_a_[i] - work_b_[i]) / (2.0 * step);
}

void FmuEstimationCore::measured(double* z) {
  if (!layout_.measurements.empty()) {
    sim_->get_real(layout_.measurements.data(), layout_.measurements.size(), z);
  }
}

// ---- process model -----------------------------------------------------------------------------

FmuProcessModel::FmuProcessModel(std::shared_ptr<FmuEstimationCore> core)
    : core_(std::move(core)) {
  if (!core_) throw std::invalid_argument("FmuProcessModel: no FMU");
  const std::size_t n = core_->n_states(), m = n + core_->n_parameters();
  const std::size_t size = n + n * m;
  stepper_.resize(size);
  for (auto* v : {&y_, &y1_, &f0_, &f1_}) v->assign(size, 0.0);
  column_.assign(n, 0.0);
}

void FmuProcessModel::augmented_rhs(double t, const double* y, double* dy) {
  const std::size_t n = core_->n_states(), np = core_->n_parameters(), m = n + np;
  core_->sim().evaluate(t, y, dy);
  const double* phi = y + n;
  double* dphi = dy + n;
  for (std::size_t k = 0; k < m; ++k) core_->jacobian_times(t, y, phi + k * n, dphi + k * n);
  for (std::size_t j = 0; j < np; ++j) {
    core_->parameter_derivative(t, y, j, column_.data());
    double* col = dphi + (n + j) * n;
    for (std::size_t i = 0; i < n; ++i) col[i] += column_[i];
  }
}

void FmuProcessModel::integrate_augmented(double t0, double dt) {
  const std::size_t n = core_->n_states();
  const SolverOptions& options = core_->sim().solver_options();
  const RightHandSide rhs = [this](double t, const double* y, double* dy) {
    augmented_rhs(t, y, dy);
  };
  std::copy(core_->sim().states().begin(), core_->sim().states().end(), y_.begin());
  std::fill(y_.begin() + static_cast<std::ptrdiff_t>(n), y_.end(), 0.0);
  for (std::size_t k = 0; k < n; ++k) y_[n + k * n + k] = 1.0;  // Phi(0) = [I 0]
  double t = t0;
  const double t1 = t0 + dt;
  rhs(t, y_.data(), f0_.data());
  if (options.method == SolverOptions::Method::rk4) {
    const double max_step = options.step > 0.0 ? options.step : dt;
    const auto substeps = static_cast<std::size_t>(std::max(1.0, std::ceil(dt / max_step - 1e-9)));
    const double h = dt / static_cast<double>(substeps);
    for (std::size_t k = 0; k < substeps; ++k) {
      stepper_.rk4(rhs, t, y_.data(), f0_.data(), h, y1_.data());
      t = (k + 1 == substeps) ? t1 : t + h;
      std::swap(y_, y1_);
      if (k + 1 < substeps) rhs(t, y_.data(), f0_.data());
    }
    return;
  }
  atol_.assign(y_.size(), options.atol);
  if (h_ <= 0.0) h_ = dt;
  std::size_t rejected = 0;
  while (t < t1 && !is_close(t, t1)) {
    double limit = t1 - t;
    if (options.step > 0.0) limit = std::min(limit, options.step);
    double step = std::min(h_, limit);
    if (is_close(t + step, t1)) step = t1 - t;
    const double err = stepper_.dopri45(rhs, t, y_.data(), f0_.data(), step, options.rtol,
                                        atol_.data(), y1_.data(), f1_.data());
    if (err <= 1.0) {
      const double grown = step * dopri_step_factor(err);
      h_ = step < h_ ? std::max(h_, grown) : grown;
      t = is_close(t + step, t1) ? t1 : t + step;
      std::swap(y_, y1_);
      std::swap(f0_, f1_);
      rejected = 0;
    } else {
      h_ = step * std::max(0.2, dopri_step_factor(err));
      if (++rejected > 200) {
        throw FmuError("FMU process model: Dormand-Prince step size underflow at t = " +
                       std::to_string(t));
      }
    }
  }
}

void FmuProcessModel::propagate(const Eigen::Ref<const Eigen::VectorXd>& x,
                                const Eigen::Ref<const Eigen::VectorXd>& u, double dt,
                                Eigen::Ref<Eigen::VectorXd> x_next, Eigen::MatrixXd* F) {
  if (!(dt >= 0.0) || !std::isfinite(dt)) {
    throw std::invalid_argument("dt must be a finite number >= 0, got " + std::to_string(dt));
  }
  const std::size_t n = core_->n_states(), np = core_->n_parameters();
  ModelExchange& sim = core_->sim();
  if (step_start_ != nullptr) {
    if (point_ran_) {
      sim.restore_state(*step_start_);
      h_ = step_start_h_;
    }
    point_ran_ = true;
  }
  core_->load(x, u);
  const double t0 = sim.time();
  bool ok = true;
  bool across_events = false;
  if (dt == 0.0) {
    // Nothing to integrate: F = I.
  } else if (F == nullptr) {
    ok = sim.do_step(t0, dt);
  } else {
    // The step's start, to run it again through the event-locating solver if it meets an event.
    std::unique_ptr<SimulatorState> start;
    if (sim.may_meet_event(t0 + dt) && sim.can_save_state()) start = sim.save_state();
    const double h_start = h_;
    integrate_augmented(t0, dt);
    const ModelExchange::EventOnPath event = sim.meets_event(t0 + dt, y_.data());
    // A time event at the step's end follows the flow just integrated: accept_step handles it
    // at t0 + dt. Run again (to include the reset's Jacobian) only when the start is saved.
    const bool again = event == ModelExchange::EventOnPath::inside ||
                       (event == ModelExchange::EventOnPath::at_end && start != nullptr);
    if (again) {
      if (start == nullptr) {
        throw FmuError(
            "the FMU meets an event between t = " + std::to_string(t0) + " and " +
            std::to_string(t0 + dt) +
            "; propagating the covariance across it needs the step's start saved, but the FMU "
            "cannot save its state (canGetAndSetFMUstate is false)");
      }
      h_ = h_start;
      ok = propagate_across_events(*start, x, u, dt);
      across_events = true;
    } else {
      ok = sim.accept_step(t0 + dt, y_.data());
    }
  }
  if (!ok) {
    throw FmuError("the FMU asked to terminate during predict at t = " +
                   std::to_string(sim.last_successful_time()));
  }
  for (std::size_t i = 0; i < n; ++i) x_next[static_cast<Eigen::Index>(i)] = sim.states()[i];
  x_next.tail(static_cast<Eigen::Index>(np)) = x.tail(static_cast<Eigen::Index>(np));
  if (F != nullptr) {
    const auto N = static_cast<Eigen::Index>(n + np);
    F->setIdentity(N, N);
    if (across_events) {
      F->topRows(static_cast<Eigen::Index>(n)) = phi_;
    } else if (dt > 0.0) {
      F->topRows(static_cast<Eigen::Index>(n)) =
          Eigen::Map<const Eigen::MatrixXd>(y_.data() + n, static_cast<Eigen::Index>(n), N);
    }
  }
}

bool FmuProcessModel::flow(const SimulatorState& start, const Eigen::VectorXd& x,
                           const Eigen::VectorXd& u, double dt, double* x_next) {
  ModelExchange& sim = core_->sim();
  sim.restore_state(start);
  core_->parameters_restored(start_parameters_.data());
  core_->load(x, u);
  const double t0 = sim.time();
  const bool ok = sim.do_step(t0, dt);
  std::copy(sim.states().begin(), sim.states().end(), x_next);
  return ok;
}

bool FmuProcessModel::propagate_across_events(const SimulatorState& start,
                                              const Eigen::VectorXd& x, const Eigen::VectorXd& u,
                                              double dt) {
  const std::size_t n = core_->n_states(), np = core_->n_parameters();
  const auto N = static_cast<Eigen::Index>(n + np);
  start_parameters_.assign(x.data() + n, x.data() + n + np);
  phi_.resize(static_cast<Eigen::Index>(n), N);
  std::vector<double> plus(n), minus(n);
  Eigen::VectorXd xk = x;
  for (Eigen::Index k = 0; k < N; ++k) {
    const double step = kDiffScale * std::max(1.0, std::abs(x[k]));
    xk[k] = x[k] + step;
    flow(start, xk, u, dt, plus.data());
    xk[k] = x[k] - step;
    flow(start, xk, u, dt, minus.data());
    xk[k] = x[k];
    for (std::size_t i = 0; i < n; ++i) {
      phi_(static_cast<Eigen::Index>(i), k) = (plus[i] - minus[i]) / (2.0 * step);
    }
  }
  std::vector<double> nominal(n);
  return flow(start, x, u, dt, nominal.data());  // last: the FMU ends at the nominal flow
}

void FmuProcessModel::begin_points() {
  ModelExchange& sim = core_->sim();
  if (!sim.can_save_state()) {
    throw FmuError(
        "the FMU cannot save and restore its state (canGetAndSetFMUstate is false), which running "
        "several points from one step's start needs (the unscented filter's sigma points); use "
        "ExtendedKalmanFilter with this FMU");
  }
  step_start_ = sim.save_state();
  step_start_h_ = h_;
  point_ran_ = false;
}

void FmuProcessModel::end_points() {
  step_start_.reset();
  point_ran_ = false;
}

// ---- measurement model -------------------------------------------------------------------------

FmuMeasurementModel::FmuMeasurementModel(std::shared_ptr<FmuEstimationCore> core)
    : core_(std::move(core)) {
  if (!core_) throw std::invalid_argument("FmuMeasurementModel: no FMU");
  const std::size_t nz = core_->layout().measurements.size();
  zp_.assign(nz, 0.0);
  zm_.assign(nz, 0.0);
}

void FmuMeasurementModel::measure(const Eigen::Ref<const Eigen::VectorXd>& x,
                                  const Eigen::Ref<const Eigen::VectorXd>& u,
                                  Eigen::Ref<Eigen::VectorXd> z, Eigen::MatrixXd* H) {
  const EstimationLayout& layout = core_->layout();
  const std::size_t n = core_->n_states(), np = core_->n_parameters();
  const std::size_t nz = layout.measurements.size();
  core_->load(x, u);
  core_->measured(zp_.data());
  for (std::size_t i = 0; i < nz; ++i) z[static_cast<Eigen::Index>(i)] = zp_[i];
  if (H == nullptr) return;
  H->setZero(static_cast<Eigen::Index>(nz), static_cast<Eigen::Index>(n + np));
  ModelExchange& sim = core_->sim();
  xs_.assign(x.data(), x.data() + n);
  // Columns for the states. A measured state has an exact unit row; FMI does not promise
  // directional derivatives of states that are not outputs.
  if (core_->method() == JacobianMethod::directional) {
    std::vector<ValueReference> unknowns;
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < nz; ++i) {
      const auto it = std::find(layout.states.begin(), layout.states.end(), layout.measurements[i]);
      if (it != layout.states.end()) {
        (*H)(static_cast<Eigen::Index>(i), it - layout.states.begin()) = 1.0;
      } else {
        unknowns.push_back(layout.measurements[i]);
        rows.push_back(i);
      }
    }
    std::vector<double> seed(n, 0.0);
    for (std::size_t j = 0; j < n && !unknowns.empty(); ++j) {
      seed[j] = 1.0;
      sim.access().directional_derivative(unknowns.data(), unknowns.size(), layout.states.data(),
                                          n, seed.data(), zm_.data());
      seed[j] = 0.0;
      for (std::size_t r = 0; r < rows.size(); ++r) {
        (*H)(static_cast<Eigen::Index>(rows[r]), static_cast<Eigen::Index>(j)) = zm_[r];
      }
    }
  } else {
    std::vector<double> xp = xs_;
    for (std::size_t j = 0; j < n; ++j) {
      const double step = kDiffScale * std::max(1.0, std::abs(xs_[j]));
      xp[j] = xs_[j] + step;
      sim.set_states(xp.data());
      core_->measured(zp_.data());
      xp[j] = xs_[j] - step;
      sim.set_states(xp.data());
      core_->measured(zm_.data());
      xp[j] = xs_[j];
      for (std::size_t i = 0; i < nz; ++i) {
        (*H)(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) =
            (zp_[i] - zm_[i]) / (2.0 * step);
      }
    }
    sim.set_states(xs_.data());
  }
  // Columns for the parameters: event-mode changes, central differences.
  if (np > 0) {
    std::vector<double> p = core_->parameters();
    for (std::size_t j = 0; j < np; ++j) {
      const double base = p[j];
      const double step = kDiffScale * std::max(1.0, std::abs(base));
      p[j] = base + step;
      core_->set_parameters(p.data());
      sim.set_states(xs_.data());
      core_->measured(zp_.data());
      p[j] = base - step;
      core_->set_parameters(p.data());
      sim.set_states(xs_.data());
      core_->measured(zm_.data());
      p[j] = base;
      core_->set_parameters(p.data());
      for (std::size_t i = 0; i < nz; ++i) {
        (*H)(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(n + j)) =
            (zp_[i] - zm_[i]) / (2.0 * step);
      }
    }
    sim.set_states(xs_.data());
  }
}

}  // namespace fmitwin::fmu
