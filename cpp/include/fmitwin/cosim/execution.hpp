// The time loop of a co-simulation: a CoupledSystem advanced by an Algorithm, watched by
// Observers, optionally paced to wall-clock time, checkpointed and restored as a whole.
//
// Ownership: shares ownership of the system, the algorithm and the observers. A Checkpoint is
// owned by whoever took it and may be restored any number of times (what-if branches).
// Call order: add_observer()* ; initialize(t0, t1) once ; { run_until(t) | checkpoint() |
// restore() }*. run_until() runs on the calling thread without Python (bindings release the GIL);
// request_stop() may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "fmitwin/cosim/algorithm.hpp"
#include "fmitwin/cosim/coupled_system.hpp"
#include "fmitwin/cosim/observer.hpp"

namespace fmitwin::cosim {

struct Checkpoint {
  double time = 0.0;
  std::unique_ptr<SystemState> system;
  std::unique_ptr<AlgorithmState> algorithm;
};

class Execution {
 public:
  Execution(std::shared_ptr<CoupledSystem> system, std::shared_ptr<Algorithm> algorithm);

  void add_observer(std::shared_ptr<Observer> observer);
  // `set_up_simulators`: see CoupledSystem::initialize.
  void initialize(double start_time, double stop_time, bool set_up_simulators = true);
  // Steps until `end_time` (landing on it, and on every observer's next_time() on the way).
  // Returns the time reached: end_time, or earlier after request_stop() or when an instance
  // asked to end the simulation (system().termination(): the run ends at the last communication
  // point all instances reached, and later calls return at once).
  double run_until(double end_time);
  // 0: as fast as possible; f > 0: simulated time advances f times as fast as wall-clock time
  // (communication points wait for their wall-clock instant; a late run does not catch up by
  // skipping, it continues as fast as it can).
  void set_real_time_factor(double factor);
  double real_time_factor() const { return real_time_factor_; }
  void request_stop() { stop_requested_ = true; }
  // Called by run_until every few steps on its own thread; returning true stops it there (the
  // bindings use it to let Ctrl-C through). Empty: none. Must not throw.
  void set_interrupt_check(std::function<bool()> check) { interrupt_check_ = std::move(check); }
  // Replaces the signal of a system input (one set before initialize) from the current time on:
  // an instance stepping every base step takes the new value now, a multi-rate one at its next
  // latch point.
  void set_input_signal(const VariableId& variable, std::vector<double> times,
                        std::vector<double> values, Interpolation interpolation);

  // Checkpoint of the system, the algorithm and the time. Recorders are not part of it:
  // restoring rewinds them to the checkpoint's time.
  std::unique_ptr<Checkpoint> checkpoint() const;
  void restore(const Checkpoint& checkpoint);

  double time() const { return time_; }
  std::int64_t steps() const { return steps_; }
  bool initialized() const { return initialized_; }
  CoupledSystem& system() { return *system_; }

 private:
  std::shared_ptr<CoupledSystem> system_;
  std::shared_ptr<Algorithm> algorithm_;
  std::vector<std::shared_ptr<Observer>> observers_;
  double time_ = 0.0;
  std::int64_t steps_ = 0;
  double real_time_factor_ = 0.0;
  std::atomic<bool> stop_requested_{false};
  std::function<bool()> interrupt_check_;
  bool initialized_ = false;
};

}  // namespace fmitwin::cosim
