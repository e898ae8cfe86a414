// Process and measurement models seen by the estimation core.
//
// Ownership: a filter holds its models through std::shared_ptr; a model may be shared by the
// filters of a fleet only if it is stateless (const) between calls, which every model in the
// core is except the FMU-backed one (one FMU instance per filter).
//
// Call order: a filter calls propagate() once per predict and measure() once per update (the
// extended filter), or, to carry several points through one step (the unscented filter's sigma
// points), begin_points(), then propagate() once per point, then end_points(); always from a
// single thread per filter and never while Python holds the GIL on that filter's behalf, so a
// model must not call into Python (the Python-callable model is the documented exception: it
// takes the GIL itself, and is the slow path).
#pragma once

#include <Eigen/Dense>

namespace fmitwin {

// x_next = f(x, u, dt), with F = d x_next / d x (the discrete state-transition Jacobian over dt).
class ProcessModel {
 public:
  virtual ~ProcessModel() = default;
  virtual int state_dim() const = 0;
  virtual int input_dim() const = 0;
  // Writes x_next (size state_dim) and, when F is not null, F (state_dim x state_dim).
  // Throws std::invalid_argument / std::runtime_error on failure; then x_next and F are unspecified
  // and the calling filter leaves its own state unchanged.
  virtual void propagate(const Eigen::Ref<const Eigen::VectorXd>& x,
                         const Eigen::Ref<const Eigen::VectorXd>& u, double dt,
                         Eigen::Ref<Eigen::VectorXd> x_next, Eigen::MatrixXd* F) = 0;
  // Bracket the propagate() calls of one step that starts every point from the same time. A model
  // with a clock of its own (the FMU-backed one, whose instance advances with each propagate)
  // rewinds to the step's start before each point after the first, so that it advances once per
  // step; stateless models need nothing. end_points() must follow begin_points(), even when a
  // propagate() in between threw.
  virtual void begin_points() {}
  virtual void end_points() {}
};

// z = h(x, u), with H = d z / d x.
class MeasurementModel {
 public:
  virtual ~MeasurementModel() = default;
  virtual int state_dim() const = 0;
  virtual int measurement_dim() const = 0;
  // Writes z (size measurement_dim) and, when H is not null, H (measurement_dim x state_dim).
  virtual void measure(const Eigen::Ref<const Eigen::VectorXd>& x,
                       const Eigen::Ref<const Eigen::VectorXd>& u, Eigen::Ref<Eigen::VectorXd> z,
                       Eigen::MatrixXd* H) = 0;
};

}  // namespace fmitwin
