// The extended Kalman filter: one state estimate x (n) with covariance P (n x n), corrected by
// measurements z (m).
//
// Ownership: the filter owns x, P, Q, R, the gate thresholds and its scratch; it shares its
// process and measurement models (std::shared_ptr), which must outlive no one but may be shared.
//
// Call order: set_* (any time), then any sequence of predict() / update() / run_batch().
// The unscented filter (ukf.hpp) shares KalmanFilterBase and the same rules.
// Every call either completes or throws leaving the filter exactly as it was (it computes on
// copies and commits at the end). One thread at a time: the bindings reject concurrent use.
//
// Validation of shapes, finiteness, symmetry and definiteness happens here, with messages that
// name the argument (std::invalid_argument); numerical failures raise std::runtime_error.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fmitwin/kalman_kernel.hpp"
#include "fmitwin/models.hpp"
#include "fmitwin/process_model.hpp"

namespace fmitwin {

// What update() did, with the innovation y = z - h(x) and its covariance S (m and m x m; NaN for
// the entries of z not used, so an entry was used exactly when its innovation is a number).
struct UpdateResult {
  bool accepted = false;
  bool gated = false;
  double nis = 0.0;
  double log_likelihood = 0.0;
  Eigen::MatrixXd values;  // [y | S], m x (1 + m): one allocation per update

  Eigen::Index dim_z() const { return values.rows(); }
  auto innovation() const { return values.col(0); }
  auto S() const { return values.rightCols(values.rows()); }
  bool used(Eigen::Index i) const { return !std::isnan(values(i, 0)); }
};

// Which covariances run_batch() records.
enum class CovarianceOutput { none, diagonal, full };

// Results of run_batch() over T steps, row-major arrays ready to hand to NumPy.
struct BatchResult {
  Eigen::Index steps = 0, n = 0, m = 0;
  std::vector<double> states;       // T x n
  std::vector<double> covariances;  // T x n x n, T x n, or empty
  std::vector<double> innovations;  // T x m
  std::vector<double> nis;          // T
  std::vector<double> log_likelihood;  // T
  std::vector<std::uint8_t> accepted;  // T
};

// v with 6 significant digits, for error messages.
std::string number_text(double v);

// Shape and content checks shared by the filter, the fleet and the bindings. Each throws
// std::invalid_argument naming `name`.
void check_finite(const std::string& name, const Eigen::Ref<const Eigen::MatrixXd>& a);
void check_shape(const std::string& name, const Eigen::Ref<const Eigen::MatrixXd>& a,
                 Eigen::Index rows, Eigen::Index cols);
void check_vector(const std::string& name, const Eigen::Ref<const Eigen::VectorXd>& v,
                  Eigen::Index size, bool allow_nan = false);
// symmetric (to 1e-9 relative) and positive definite, or positive semi-definite when !strict.
void check_covariance(const std::string& name, const Eigen::Ref<const Eigen::MatrixXd>& a,
                      Eigen::Index n, bool strict);
// check_covariance, then the exactly symmetric 0.5 (a + a') to store.
Eigen::MatrixXd checked_covariance(const std::string& name,
                                   const Eigen::Ref<const Eigen::MatrixXd>& a, Eigen::Index n,
                                   bool strict);
// gate[k] for k = 0..m, non-negative (inf: no gating).
void check_gate(const std::vector<double>& gate, Eigen::Index m);

// What the Kalman filters share: the estimate (x, P), the noise covariances (Q, R), the last
// input u, the gate table and the models, with validating setters, and the batch loop. A concrete
// filter adds predict() / update() and runs each batch step through its model-driven ones.
class KalmanFilterBase {
 public:
  virtual ~KalmanFilterBase() = default;

  Eigen::Index dim_x() const { return n_; }
  Eigen::Index dim_z() const { return m_; }
  const Eigen::VectorXd& x() const { return x_; }
  const Eigen::MatrixXd& P() const { return P_; }
  const Eigen::MatrixXd& Q() const { return Q_; }
  const Eigen::MatrixXd& R() const { return R_; }
  const Eigen::VectorXd& u() const { return u_; }
  const std::vector<double>& gate() const { return gate_; }
  const std::shared_ptr<ProcessModel>& process_model() const { return process_; }
  const std::shared_ptr<MeasurementModel>& measurement_model() const { return measurement_; }
  // Whether the models are nonlinear (possibly slow: an FMU step, a Python call).
  bool nonlinear_process() const { return process_ && linear_process_ == nullptr; }
  bool nonlinear_measurement() const { return measurement_ && linear_measurement_ == nullptr; }

  void set_x(const Eigen::Ref<const Eigen::VectorXd>& x);
  void set_P(const Eigen::Ref<const Eigen::MatrixXd>& P);  // symmetric positive definite
  void set_Q(const Eigen::Ref<const Eigen::MatrixXd>& Q);  // symmetric positive semi-definite
  void set_R(const Eigen::Ref<const Eigen::MatrixXd>& R);  // symmetric positive definite
  void set_u(const Eigen::Ref<const Eigen::VectorXd>& u);  // the input last applied
  void set_gate(std::vector<double> gate);
  void set_process_model(std::shared_ptr<ProcessModel> model);
  void set_measurement_model(std::shared_ptr<MeasurementModel> model);
  // All of x, P, Q, R, u at once: validated together, applied together.
  void set_state(const Eigen::Ref<const Eigen::VectorXd>& x,
                 const Eigen::Ref<const Eigen::MatrixXd>& P,
                 const Eigen::Ref<const Eigen::MatrixXd>& Q,
                 const Eigen::Ref<const Eigen::MatrixXd>& R,
                 const Eigen::Ref<const Eigen::VectorXd>& u);

  // T steps of predict(dt_t, u_t) then update(z_t, quality_t) with the filter's models, Q and R;
  // z is T x m row-major (NaN = missing), dt has 1 or T entries, u is T x dim_u row-major or
  // empty, quality has T entries or is empty. The filter ends at the last posterior; if a step
  // fails, it is left as it was.
  BatchResult run_batch(const double* z, Eigen::Index steps, const std::vector<double>& dt,
                        const double* u, Eigen::Index dim_u, const double* quality,
                        bool record_states, CovarianceOutput covariances);

 protected:
  KalmanFilterBase(Eigen::Index dim_x, Eigen::Index dim_z);
  Eigen::Index input_dim() const;
  // The argument checks every predict() / update() starts with (std::invalid_argument): they
  // return the noise covariance to use, Q / R when given (and valid), else the filter's.
  const Eigen::MatrixXd& predict_noise(double dt, const Eigen::MatrixXd* Q) const;
  const Eigen::MatrixXd& update_noise(const Eigen::Ref<const Eigen::VectorXd>& z, double quality,
                                      const Eigen::MatrixXd* R) const;
  // One batch step through the models: predict over dt with u (nullptr: zeros), then update.
  virtual void predict_with_model(double dt, const Eigen::VectorXd* u) = 0;
  virtual UpdateResult update_with_model(const Eigen::Ref<const Eigen::VectorXd>& z,
                                         double quality) = 0;
  // A whole batch without inputs in one compiled loop, when the filter has one for its models
  // (results into r, sized by run_batch); false to take the per-step loop.
  virtual bool run_series(const double* z, const double* quality, CovarianceOutput covariances,
                          BatchResult& r) {
    (void)z, (void)quality, (void)covariances, (void)r;
    return false;
  }

  Eigen::Index n_, m_;
  Eigen::VectorXd x_, u_;
  Eigen::MatrixXd P_, Q_, R_;
  std::vector<double> gate_;
  std::shared_ptr<ProcessModel> process_;
  std::shared_ptr<MeasurementModel> measurement_;
  // The models again when they are linear (nullptr otherwise): their matrices can be used
  // directly, without the virtual propagate/measure calls and copies.
  const LinearProcessModel* linear_process_ = nullptr;
  const LinearMeasurementModel* linear_measurement_ = nullptr;
};

class ExtendedKalmanFilter : public KalmanFilterBase {
 public:
  ExtendedKalmanFilter(Eigen::Index dim_x, Eigen::Index dim_z);

  // With F: x <- F x, P <- F P F' + Q (u must be absent). Otherwise the process model gives
  // x <- f(x, u, dt) and F. Q defaults to the filter's Q. u defaults to zeros of the model's input.
  void predict(double dt, const Eigen::VectorXd* u, const Eigen::MatrixXd* F,
               const Eigen::MatrixXd* Q);
  // With H: h(x) = H x. Otherwise the measurement model gives h(x) and H. R defaults to the
  // filter's R; quality q in [0, 1] scales it to R / q (q = 0 skips the update).
  UpdateResult update(const Eigen::Ref<const Eigen::VectorXd>& z, const Eigen::MatrixXd* H,
                      const Eigen::MatrixXd* R, double quality);

 private:
  void predict_with_model(double dt, const Eigen::VectorXd* u) override {
    predict(dt, u, nullptr, nullptr);
  }
  UpdateResult update_with_model(const Eigen::Ref<const Eigen::VectorXd>& z,
                                 double quality) override {
    return update(z, nullptr, nullptr, quality);
  }
  // Linear models: the kernel's loop (fixed-size where compiled in).
  bool run_series(const double* z, const double* quality, CovarianceOutput covariances,
                  BatchResult& r) override;

  std::unique_ptr<Kernel> kernel_;
  // Scratch: the candidate posterior and model outputs, swapped in on success.
  Eigen::VectorXd x_work_, hx_work_;
  Eigen::MatrixXd P_work_, F_work_, H_work_;
};

}  // namespace fmitwin
