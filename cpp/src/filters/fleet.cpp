// A fleet of independent linear Kalman filters (see fleet.hpp).
#include "fmitwin/fleet.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

#include "fmitwin/ekf.hpp"
#include "fmitwin/kalman_kernel.hpp"

namespace fmitwin {

KalmanFleet::KalmanFleet(Eigen::Index count, Eigen::Index dim_x, Eigen::Index dim_z)
    : count_(count), n_(dim_x), m_(dim_z) {
  if (count < 1) throw std::invalid_argument("count must be >= 1, got " + std::to_string(count));
  if (dim_x < 1) throw std::invalid_argument("dim_x must be >= 1, got " + std::to_string(dim_x));
  if (dim_z < 1) throw std::invalid_argument("dim_z must be >= 1, got " + std::to_string(dim_z));
  const auto N = static_cast<std::size_t>(count), n = static_cast<std::size_t>(n_);
  x_.assign(N * n, 0.0);
  P_.assign(N * n * n, 0.0);
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t j = 0; j < n; ++j) P_[i * n * n + j * n + j] = 1.0;
  }
  x_next_.resize(x_.size());
  P_next_.resize(P_.size());
  F_ = Eigen::MatrixXd::Identity(n_, n_);
  Q_ = Eigen::MatrixXd::Identity(n_, n_);
  H_ = Eigen::MatrixXd::Zero(m_, n_);
  R_ = Eigen::MatrixXd::Identity(m_, m_);
  gate_.assign(static_cast<std::size_t>(m_ + 1), std::numeric_limits<double>::infinity());
}

void KalmanFleet::set_x(const double* x, Eigen::Index size) {
  if (size != n_ && size != count_ * n_) {
    throw std::invalid_argument("x must have shape (" + std::to_string(n_) + ",) or (" +
                                std::to_string(count_) + ", " + std::to_string(n_) + ")");
  }
  const Eigen::Map<const Eigen::VectorXd> values(x, size);
  check_finite("x", values);
  for (Eigen::Index i = 0; i < count_; ++i) {
    std::copy_n(size == n_ ? x : x + i * n_, n_, x_.data() + i * n_);
  }
}

void KalmanFleet::set_P(const double* P, Eigen::Index size) {
  const Eigen::Index nn = n_ * n_;
  if (size != nn && size != count_ * nn) {
    throw std::invalid_argument("P must have shape (" + std::to_string(n_) + ", " +
                                std::to_string(n_) + ") or (" + std::to_string(count_) + ", " +
                                std::to_string(n_) + ", " + std::to_string(n_) + ")");
  }
  const Eigen::Index distinct = size / nn;
  for (Eigen::Index i = 0; i < distinct; ++i) {
    check_covariance(distinct == 1 ? "P" : "P[" + std::to_string(i) + "]",
                     Eigen::Map<const Eigen::MatrixXd>(P + i * nn, n_, n_), n_, true);
  }
  for (Eigen::Index i = 0; i < count_; ++i) {
    const Eigen::Map<const Eigen::MatrixXd> Pi(distinct == 1 ? P : P + i * nn, n_, n_);
    Eigen::Map<Eigen::MatrixXd>(P_.data() + i * nn, n_, n_) = 0.5 * (Pi + Pi.transpose());
  }
}

void KalmanFleet::set_F(const Eigen::Ref<const Eigen::MatrixXd>& F) {
  check_shape("F", F, n_, n_);
  check_finite("F", F);
  F_ = F;
}

void KalmanFleet::set_Q(const Eigen::Ref<const Eigen::MatrixXd>& Q) {
  Q_ = checked_covariance("Q", Q, n_, false);
}

void KalmanFleet::set_H(const Eigen::Ref<const Eigen::MatrixXd>& H) {
  check_shape("H", H, m_, n_);
  check_finite("H", H);
  H_ = H;
}

void KalmanFleet::set_R(const Eigen::Ref<const Eigen::MatrixXd>& R) {
  R_ = checked_covariance("R", R, m_, true);
}

void KalmanFleet::set_gate(std::vector<double> gate) {
  check_gate(gate, m_);
  gate_ = std::move(gate);
}

void KalmanFleet::run(const double* z, Eigen::Index steps, const double* quality, double* nis,
                      std::uint8_t* accepted, int threads) {
  if (threads < 1) throw std::invalid_argument("threads must be >= 1, got " + std::to_string(threads));
  if (steps < 0) throw std::invalid_argument("steps must be >= 0");
  const Eigen::Index entries = steps * count_ * m_;
  for (Eigen::Index i = 0; i < entries; ++i) {
    if (std::isinf(z[i])) {
      throw std::invalid_argument("z must contain only finite numbers or NaN (missing), found inf");
    }
  }
  if (quality != nullptr) {
    for (Eigen::Index i = 0; i < steps * count_; ++i) {
      if (!(quality[i] >= 0.0 && quality[i] <= 1.0)) {
        throw std::invalid_argument("quality must be in [0, 1], got " +
                                    std::to_string(quality[i]));
      }
    }
  }
  const LinearModel model{F_.data(), Q_.data(), H_.data(), R_.data(), gate_.data()};
  const Eigen::Index nn = n_ * n_;

  // Filters [begin, end), in blocks small enough to stay in L1 cache: within a block, step t of
  // every filter before step t + 1, so the z entries and outputs read and written are adjacent.
  constexpr Eigen::Index kBlock = 16;
  auto run_range = [&](Eigen::Index begin, Eigen::Index end) {
    auto kernel = make_kernel(n_, m_);
    std::copy(x_.data() + begin * n_, x_.data() + end * n_, x_next_.data() + begin * n_);
    std::copy(P_.data() + begin * nn, P_.data() + end * nn, P_next_.data() + begin * nn);
    for (Eigen::Index block = begin; block < end; block += kBlock) {
      const Eigen::Index block_end = std::min(end, block + kBlock);
      for (Eigen::Index t = 0; t < steps; ++t) {
        for (Eigen::Index i = block; i < block_end; ++i) {
          const Eigen::Index ti = t * count_ + i;
          Series s;
          s.steps = 1;
          s.z = z + ti * m_;
          s.quality = quality != nullptr ? quality + ti : nullptr;
          s.nis = nis != nullptr ? nis + ti : nullptr;
          s.accepted = accepted != nullptr ? accepted + ti : nullptr;
          try {
            kernel->run_linear(x_next_.data() + i * n_, P_next_.data() + i * nn, model, s);
          } catch (const std::runtime_error& e) {
            throw std::runtime_error("filter " + std::to_string(i) + ", step " +
                                     std::to_string(t) + ": " + e.what());
          }
        }
      }
    }
  };

  const Eigen::Index workers = std::min<Eigen::Index>(threads, count_);
  if (workers == 1) {
    run_range(0, count_);
  } else {
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(workers));
    for (Eigen::Index w = 0; w < workers; ++w) {
      pool.emplace_back([&, w] {
        try {
          run_range(count_ * w / workers, count_ * (w + 1) / workers);
        } catch (...) {
          errors[static_cast<std::size_t>(w)] = std::current_exception();
        }
      });
    }
    for (auto& t : pool) t.join();
    for (auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
  }
  x_.swap(x_next_);
  P_.swap(P_next_);
}

}  // namespace fmitwin
