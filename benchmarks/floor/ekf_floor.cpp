// The floor for compare_filters.py: the same Kalman step as fmitwin's core (predict, Joseph-form
// update, NIS), written as a plain dynamic-size Eigen loop with no bindings, no validation and no
// bookkeeping. Built by compare_filters.py with the package's compiler flags.
// Timed in process CPU time (std::clock), as compare_filters.py times the single-threaded runs.
//
// usage: ekf_floor n m steps repeats   ->  prints the best nanoseconds per step
#include <Eigen/Dense>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <limits>
#include <random>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s n m steps repeats\n", argv[0]);
    return 2;
  }
  const int n = std::atoi(argv[1]), m = std::atoi(argv[2]);
  const int steps = std::atoi(argv[3]), repeats = std::atoi(argv[4]);
  using Eigen::MatrixXd;
  using Eigen::VectorXd;

  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal;
  auto random_matrix = [&](int rows, int cols) {
    MatrixXd a(rows, cols);
    for (int j = 0; j < cols; ++j)
      for (int i = 0; i < rows; ++i) a(i, j) = normal(rng);
    return a;
  };
  // A stable system: F near 0.95 I, noise covariances well conditioned.
  const MatrixXd F = 0.95 * MatrixXd::Identity(n, n) + 0.02 * random_matrix(n, n) / std::sqrt(n);
  const MatrixXd Q = 0.01 * MatrixXd::Identity(n, n);
  const MatrixXd H = random_matrix(m, n);
  const MatrixXd R = MatrixXd::Identity(m, m);
  const MatrixXd z = random_matrix(m, steps);
  const MatrixXd I = MatrixXd::Identity(n, n);

  double best = std::numeric_limits<double>::infinity();
  double checksum = 0.0;
  for (int r = 0; r < repeats; ++r) {
    VectorXd x = VectorXd::Zero(n);
    MatrixXd P = MatrixXd::Identity(n, n);
    const std::clock_t start = std::clock();
    for (int t = 0; t < steps; ++t) {
      x = F * x;
      P = F * P * F.transpose() + Q;
      const VectorXd y = z.col(t) - H * x;
      const MatrixXd PHt = P * H.transpose();
      const MatrixXd S = H * PHt + R;
      const Eigen::LLT<MatrixXd> llt(S);
      const double nis = y.dot(llt.solve(y));
      const MatrixXd K = llt.solve(PHt.transpose()).transpose();
      x += K * y;
      const MatrixXd IKH = I - K * H;
      P = IKH * P * IKH.transpose() + K * R * K.transpose();
      checksum += nis;
    }
    const std::clock_t stop = std::clock();
    best = std::min(best, 1e9 * static_cast<double>(stop - start) / CLOCKS_PER_SEC / steps);
    checksum += x.sum() + P.trace();
  }
  std::printf("%.3f %.6g\n", best, checksum);
  return 0;
}
