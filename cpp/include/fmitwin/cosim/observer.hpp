// Observers watch an Execution: recording, progress, live publishing.
//
// Ownership: an Execution shares ownership of its observers (std::shared_ptr).
// Call order: initialized(system, t0) once after the system is initialized, then
// step_complete(system, t) after every communication step, restored(system, t) after the
// execution was put back to an earlier checkpoint, all from the thread that runs the
// execution (the GIL is not held: never call into Python). An observer may read the simulators'
// variables (Simulator::get_*) but must not set or step them.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fmitwin/cosim/coupled_system.hpp"

namespace fmitwin::cosim {

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void initialized(CoupledSystem& system, double time) = 0;
  virtual void step_complete(CoupledSystem& system, double time) = 0;
  virtual void restored(CoupledSystem& system, double time) { (void)system, (void)time; }
  // The next time this observer wants a communication point at (the execution makes a variable
  // step land on it); infinity when none.
  virtual double next_time() const { return std::numeric_limits<double>::infinity(); }
};

// Records chosen variables at chosen output points into arrays allocated up front: row j holds
// the values at the first communication point at or after output_times[j] (exactly that point
// when it lies on the step grid), and times()[j] the time it was taken at.
class Recorder : public Observer {
 public:
  // output_times: strictly increasing. Integers and booleans are recorded as doubles.
  Recorder(std::vector<VariableId> variables, std::vector<double> output_times);
  void initialized(CoupledSystem& system, double time) override;
  void step_complete(CoupledSystem& system, double time) override;
  double next_time() const override;

  std::size_t variable_count() const { return variables_.size(); }
  std::size_t rows_recorded() const { return next_; }
  // Row-major (output point, variable); rows past rows_recorded() are NaN.
  const std::vector<double>& values() const { return values_; }
  const std::vector<double>& times() const { return times_; }
  // Forgets the rows recorded after `time`, so that the run continues filling from there.
  void restored(CoupledSystem& system, double time) override;

 private:
  void record(CoupledSystem& system, double time);
  struct Group {  // variables of one instance and type, read with one call
    std::size_t instance;
    VariableType type;
    std::vector<ValueReference> vr;
    std::vector<std::size_t> column;
  };
  std::vector<VariableId> variables_;
  std::vector<double> output_times_;
  std::vector<Group> groups_;
  std::vector<double> values_, times_;
  std::vector<double> real_scratch_;
  std::vector<std::int64_t> integer_scratch_;
  std::unique_ptr<bool[]> boolean_scratch_;
  std::size_t next_ = 0;
};

}  // namespace fmitwin::cosim
