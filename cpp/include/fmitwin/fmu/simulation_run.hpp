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
//   records the initial point) -> take_results() once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "fmitwin/fmu/cosimulation.hpp"
#include "fmitwin/fmu/input_table.hpp"
#include "fmitwin/fmu/model_exchange.hpp"

namespace fmitwin::fmu {

// The variables of one FMI type, read with one call per recorded row.
struct OutputRead {
  ScalarType type = ScalarType::float64;
  std::vector<ValueReference> vrs;
};

// What a run records, read by type: `real` reads (Float64, Float32 widened exactly) fill the
// table's float64 columns after the time, in order; `integer` reads (any integer type) the int64
// columns, UInt64 as its bit pattern (the reader reinterprets those columns as uint64).
struct OutputSelection {
  std::vector<OutputRead> real, integer;
  std::vector<ValueReference> boolean;
};

class SimulationRun {
 public:
  // `variable_step`: the FMU can handle variable communication step sizes.
  SimulationRun(std::shared_ptr<FmuSimulator> simulator, double start_time, double stop_time,
                double step, bool variable_step, InputTable inputs, OutputSelection outputs);
  ~SimulationRun();  // detaches its event observer from the simulator
  SimulationRun(const SimulationRun&) = delete;
  SimulationRun& operator=(const SimulationRun&) = delete;

  // Sets the inputs at t on the simulator (FMPy applies them at the start time, before leaving
  // initialization mode, with after_event = false).
  void apply_inputs(double t, bool after_event);
  // Runs at most `max_steps` communication steps; returns true while steps remain.
  bool advance(std::size_t max_steps);
  bool finished() const { return finished_; }
  double time() const { return time_; }
  // Communication steps still to go (an estimate when input events shorten steps).
  std::size_t remaining_steps() const;

  // The recorded rows, row-major (entries past `rows` are unused): `table` holds each row's time
  // and then its real outputs, rows x (1 + real outputs), the memory layout of a numpy structured
  // array of float64 fields; `integers` and `booleans` hold rows x outputs of that kind (in the
  // order of the selection's reads).
  struct Results {
    std::size_t rows = 0;
    std::vector<double> table;
    std::vector<std::int64_t> integers;
    std::vector<std::uint8_t> booleans;
  };
  // Moves the results out of the finished run (so that they can be handed over without copying
  // and outlive it); throws std::logic_error before the run finished or when already taken.
  Results take_results();
  const OutputSelection& outputs() const { return outputs_; }
  std::size_t real_columns() const { return n_real_; }
  std::size_t integer_columns() const { return n_integer_; }
  bool terminated_by_fmu() const { return terminated_by_fmu_; }
  // Model exchange: record a row at both sides of every event (the left limit, then the values
  // after it) besides the communication points; a communication point at an event keeps one
  // row after it. Without this (the default) rows are communication points only, with the
  // values after any event there (as co-simulation and FMPy). Set before the first advance().
  void set_record_events(bool on);
  bool record_events() const { return record_events_; }
  // Ends the run at the current time (after an interruption): take_results() then gives the
  // rows recorded so far.
  void stop_early() { finished_ = true; }

 private:
  void record(double t);
  void record_point(double t);  // record(t) unless the last row is an event's "after" row at t
  void record_typed(double* reals);  // the reads of record() but for the one-Float64-read case
  // Steps the simulator from time_ to next and records there; false (finished) when the FMU asked
  // to terminate, FmuError when it discarded the step.
  bool step_to(double next);
  void look_up_input_event();  // next_input_event_ after time_
  // Sets plain_until_: the regular steps up to it have nothing else due (no inputs to set, no
  // input event and no end of the run before or near their end), so they skip advance's checks.
  void find_plain_steps();
  void reserve_rows(std::size_t rows);  // sizes the result buffers for `rows` rows
  void set_inputs(double t);

  std::shared_ptr<FmuSimulator> sim_;
  FmuAccess& access_;  // sim_'s FMU: recording reads it directly
  double start_, stop_, step_;
  bool variable_step_;
  std::shared_ptr<const InputTable> inputs_;
  OutputSelection outputs_;
  std::size_t n_real_, n_integer_;  // recorded columns of each kind
  // The value references when the selection is one Float64 read and no integer read (the usual
  // case: record() then costs one get_real, as before typed reads existed); else null.
  const ValueReference* float64_vrs_ = nullptr;
  double time_;
  std::size_t regular_steps_ = 0;
  bool started_ = false;
  bool finished_ = false;
  bool terminated_by_fmu_ = false;
  bool record_events_ = false;
  // The row count right after an event's "after" row, and that event's time: a communication
  // point recorded at that time would repeat the row.
  std::size_t rows_after_event_ = 0;
  double event_time_ = -std::numeric_limits<double>::infinity();
  ModelExchange* model_exchange_;  // sim_ when it integrates natively (it handles input events)
  CoSimulation* co_simulation_;    // sim_ when it is a co-simulation FMU
  std::vector<double> input_values_, set_input_values_;  // at this step; as last set (CS)
  bool inputs_set_ = false;
  // Whether steps still set inputs: false without inputs, and for co-simulation once the inputs
  // were set past the table's last time (they hold from then on).
  bool follow_inputs_;
  double next_input_event_ = -std::numeric_limits<double>::infinity();  // -inf: not looked up
  std::size_t plain_until_ = 0;
  bool results_taken_ = false;
  std::size_t rows_ = 0, capacity_ = 0;  // capacity: the expected rows; grown when events add some
  std::vector<double> table_;
  std::vector<std::int64_t> integers_;
  std::vector<std::uint8_t> booleans_;
  std::unique_ptr<bool[]> bool_buffer_;
};

}  // namespace fmitwin::fmu
