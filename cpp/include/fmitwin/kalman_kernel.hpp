// The Kalman arithmetic shared by the single filter, its batch mode and the fleet: one predict and
// one Joseph-form update on raw column-major storage, plus the loop that runs a linear model over
// a whole series of measurements.
//
// Ownership: a Kernel owns only scratch space sized for (n, m); it never owns the state, the
// covariance or the model matrices it is handed, and keeps no pointer to them between calls.
// make_kernel() picks a fixed-size instantiation (no heap use, unrolled SIMD products, built for
// the baseline ISA and for AVX2/FMA where the compiler can pick at load time) for the few (n, m)
// pairs compiled in, and the dynamic-size (Eigen) one otherwise.
//
// Call order: any sequence of predict / propagate_covariance / update / run_linear; a kernel is
// not thread-safe (its scratch is shared between calls): use one kernel per thread.
// Exceptions (std::runtime_error) leave x and P untouched: they are raised before the first write.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <memory>

namespace fmitwin {

using Eigen::Index;

// What one update did.
struct UpdateOutcome {
  bool accepted = false;  // the state and covariance were corrected
  bool gated = false;     // rejected because the NIS exceeded the chi-square gate
  int used = 0;           // number of measurement entries used (NaN entries and q = 0 use none)
  double nis = 0.0;       // y' S^-1 y (NaN when nothing was used)
  double log_likelihood = 0.0;  // log N(y; 0, S) (NaN when nothing was used)
};

// A series of T steps (predict, then update with z_t) and where each step's results go. Step t of
// every array starts at ptr + t * stride (strides in elements), so the same loop serves a single
// filter's batch (contiguous in t) and one filter of a fleet (strided across the fleet).
struct Series {
  Index steps = 0;
  const double* z = nullptr;  // m values per step, NaN = missing
  Index z_stride = 0;
  const double* quality = nullptr;  // optional, one value in [0, 1] per step
  Index quality_stride = 0;
  // Outputs, each optional (nullptr = not wanted).
  double* state = nullptr;  // n
  Index state_stride = 0;
  double* covariance = nullptr;  // n * n
  Index covariance_stride = 0;
  double* covariance_diagonal = nullptr;  // n
  Index covariance_diagonal_stride = 0;
  double* innovation = nullptr;  // m, NaN where not used
  Index innovation_stride = 0;
  double* nis = nullptr;
  double* log_likelihood = nullptr;
  std::uint8_t* accepted = nullptr;
  Index scalar_stride = 0;  // for nis, log_likelihood and accepted
};

// The linear model of Series runs: x <- F x, P <- F P F' + Q; z = H x + v, v ~ N(0, R).
struct LinearModel {
  const double* F = nullptr;  // n x n
  const double* Q = nullptr;  // n x n
  const double* H = nullptr;  // m x n
  const double* R = nullptr;  // m x m
  const double* gate = nullptr;  // gate[k]: NIS threshold for k used entries, k = 0..m (inf = off)
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Index n() const = 0;
  virtual Index m() const = 0;

  // x <- F x;  P <- F P F' + Q, symmetrized.
  virtual void predict(double* x, double* P, const double* F, const double* Q) = 0;
  // P <- F P F' + Q, symmetrized (x was propagated by a process model).
  virtual void propagate_covariance(double* P, const double* F, const double* Q) = 0;
  // Update with all m entries of z: y = z - (hx ? hx : H x), S = H P H' + R / q,
  // K = P H' S^-1, x <- x + K y, P <- (I - K H) P (I - K H)' + K (R / q) K' (Joseph), symmetrized.
  // Rejects (x, P unchanged) when the NIS y' S^-1 y exceeds `gate`. Writes y and S when asked.
  // Throws std::runtime_error when S is not positive definite.
  virtual UpdateOutcome update_full(double* x, double* P, const double* z, const double* hx,
                                    const double* H, const double* R, double quality, double gate,
                                    double* innovation_out, double* S_out) = 0;
  // Runs the linear model over the series from (x, P), which end as the last step's posterior.
  // Throws std::runtime_error when the filter diverges to non-finite values (x, P then unspecified:
  // callers run on copies).
  virtual void run_linear(double* x, double* P, const LinearModel& model, const Series& series) = 0;

  // Update with the entries of z that are not NaN (the rows of H, hx and R that belong to them);
  // q = 0 or all-NaN z skips the update. used_out (m flags), innovation_out (m) and S_out (m x m)
  // get NaN / false for the entries not used. gate_table as in LinearModel.
  UpdateOutcome update(double* x, double* P, const double* z, const double* hx, const double* H,
                       const double* R, double quality, const double* gate_table,
                       double* innovation_out, double* S_out, std::uint8_t* used_out);
};

// The statistics every update reports for an innovation y (k) whose covariance S (k x k) has the
// lower Cholesky factor L: used = k, nis = y' S^-1 y, log_likelihood = log N(y; 0, S).
UpdateOutcome innovation_outcome(const Eigen::Ref<const Eigen::MatrixXd>& L,
                                 const Eigen::Ref<const Eigen::VectorXd>& y);

// A kernel for state dimension n and measurement dimension m (fixed-size where compiled in).
std::unique_ptr<Kernel> make_kernel(Index n, Index m);

// Whether make_kernel(n, m) returns a fixed-size instantiation (for tests and benchmarks).
bool has_fixed_kernel(Index n, Index m);

}  // namespace fmitwin
