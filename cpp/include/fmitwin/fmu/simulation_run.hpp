// A fixed-communication-step simulation of one FMU simulator, recorded into preallocated arrays:
// the loop behind fmitwin.simulate(). No Python runs inside it; the binding releases the GIL.
//
// Communication points follow FMPy's simulate_fmu exactly, so co-simulation results are
// bit-identical to it: t_n = t0 + n*h (not accumulated sums); a step is shortened to an input
// event when the FMU can handle variable communication steps; the last step ends at stop_time.
// Inputs are applied before each step at the current time, taking the value after an input event.
// A co-simulation FMU keeps an input's value until it is set again, so the run sets the inputs of
// a co-simulation FMU only when their values differ from the ones it set last (a constant or
// held input costs nothing per step); setting those inputs by other means during a run (e.g.
// from a progress callback) is not supported.
//
// Ownership: shares the simulator; owns its input table and result buffers.
// Call order: construct (simulator in initialization mode or later) -> [apply_inputs(t0, false)
//   inside initialization mode] -> setup finished -> advance(n)* until finished() (the first call
//   records the initial point) -> read times() / reals() / integers() / booleans().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fmitwin/fmu/cosimulation.hpp"
#include "fmitwin/fmu/input_table.hpp"
#include "fmitwin/fmu/model_exchange.hpp"

namespace fmitwin::fmu {

struct OutputSelection {
  std::vector<ValueReference> real, integer, boolean;
};

class SimulationRun {
 public:
  // `variable_step`: the FMU can handle variable communication step sizes.
  SimulationRun(std::shared_ptr<FmuSimulator> simulator, double start_time, double stop_time,
                double step, bool variable_step, InputTable inputs, OutputSelection outputs);

  // Sets the inputs at t on the simulator (FMPy applies them at the start time, before leaving
  // initialization mode, with after_event = false).
  void apply_inputs(double t, bool after_event);
  // Runs at most `max_steps` communication steps; returns true while steps remain.
  bool advance(std::size_t max_steps);
  bool finished() const { return finished_; }
  double time() const { return time_; }
  // Communication steps still to go (an estimate when input events shorten steps).
  std::size_t remaining_steps() const;

  std::size_t rows() const { return rows_; }
  // The recorded rows, row-major (rows() x outputs of that kind); entries past rows() are unused.
  const std::vector<double>& times() const { return times_; }
  const std::vector<double>& reals() const { return reals_; }
  const std::vector<std::int64_t>& integers() const { return integers_; }
  const std::vector<std::uint8_t>& booleans() const { return booleans_; }
  const OutputSelection& outputs() const { return outputs_; }
  bool terminated_by_fmu() const { return terminated_by_fmu_; }

 private:
  void record(double t);
  void set_inputs(double t);

  std::shared_ptr<FmuSimulator> sim_;
  FmuAccess& access_;  // sim_'s FMU: recording reads it directly
  double start_, stop_, step_;
  bool variable_step_;
  std::shared_ptr<const InputTable> inputs_;
  OutputSelection outputs_;
  double time_;
  std::size_t regular_steps_ = 0;
  bool started_ = false;
  bool finished_ = false;
  bool terminated_by_fmu_ = false;
  ModelExchange* model_exchange_;  // sim_ when it integrates natively (it handles input events)
  std::vector<double> input_values_, set_input_values_;  // at this step; as last set (CS)
  bool inputs_set_ = false;
  double set_inputs_time_ = 0.0;  // when the inputs were last computed (CS)
  std::size_t rows_ = 0;
  std::vector<double> times_, reals_;  // sized for the expected rows; grown when events add some
  std::vector<std::int64_t> integers_;
  std::vector<std::uint8_t> booleans_;
  std::unique_ptr<bool[]> bool_buffer_;
};

}  // namespace fmitwin::fmu
