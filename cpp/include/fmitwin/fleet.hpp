// A fleet of N independent linear Kalman filters with the same dimensions and model matrices
// (F, Q, H, R shared), stepped together: one asset per filter, no Python per filter or step.
//
// Ownership: the fleet owns every filter's state x_i (n) and covariance P_i (n x n) in two
// contiguous buffers (filter-major: x is N x n, P is N x n x n, each P_i symmetric so its
// row- and column-major layouts agree), plus a second pair it writes into during run() and swaps
// in on success, so a failed run leaves every filter as it was.
//
// Call order: set_* any time between runs; run() any number of times. run() may split the
// filters over worker threads (each with its own kernel); it must not overlap another call on
// the same fleet (the bindings reject that).
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Dense>

namespace fmitwin {

class KalmanFleet {
 public:
  KalmanFleet(Eigen::Index count, Eigen::Index dim_x, Eigen::Index dim_z);

  Eigen::Index count() const { return count_; }
  Eigen::Index dim_x() const { return n_; }
  Eigen::Index dim_z() const { return m_; }
  const std::vector<double>& x() const { return x_; }  // N x n
  const std::vector<double>& P() const { return P_; }  // N x n x n
  const Eigen::MatrixXd& F() const { return F_; }
  const Eigen::MatrixXd& Q() const { return Q_; }
  const Eigen::MatrixXd& H() const { return H_; }
  const Eigen::MatrixXd& R() const { return R_; }
  const std::vector<double>& gate() const { return gate_; }

  // x: N x n row-major, or n values given to every filter.
  void set_x(const double* x, Eigen::Index size);
  // P: N x n x n, or one n x n matrix given to every filter; each symmetric positive definite.
  void set_P(const double* P, Eigen::Index size);
  void set_F(const Eigen::Ref<const Eigen::MatrixXd>& F);
  void set_Q(const Eigen::Ref<const Eigen::MatrixXd>& Q);
  void set_H(const Eigen::Ref<const Eigen::MatrixXd>& H);
  void set_R(const Eigen::Ref<const Eigen::MatrixXd>& R);
  void set_gate(std::vector<double> gate);

  // T steps of predict then update for every filter. z: T x N x m row-major (NaN = missing);
  // quality: T x N or null; nis / accepted: T x N outputs, each optional. threads >= 1.
  void run(const double* z, Eigen::Index steps, const double* quality, double* nis,
           std::uint8_t* accepted, int threads);

 private:
  Eigen::Index count_, n_, m_;
  std::vector<double> x_, P_, x_next_, P_next_;
  Eigen::MatrixXd F_, Q_, H_, R_;
  std::vector<double> gate_;
};

}  // namespace fmitwin
