// A system of coupled simulators: named instances, output -> input connections with an optional
// linear transformation, direct-feedthrough structure, external input signals, and the value
// transfer that master algorithms build on (the libcosim "execution" minus the time loop).
//
// Ownership: the system shares ownership of its simulators (std::shared_ptr). Whoever created a
// simulator from an FMPy instance keeps that FMPy object alive at least as long as the system
// (the Python System does: it holds the FMU wrappers).
//
// Call order:
//   build:   add_instance()*, connect()*, add_feedthrough()*, set_start_value()*,
//            set_input_signal()*, set_loop_solver_options()
//   run:     initialize(t0, t1)   once (start values, Simulator::setup unless done by the caller,
//                                 first consistent transfer)
//            then master algorithms call latch_inputs / transfer / settle / step_instance /
//            refresh_outputs
//   any time after initialize: save_state() / restore_state() (when every simulator can), and
//            set_input_signal() for a variable that already has a signal (replacing it)
// The structure is frozen by initialize(): other building calls after it throw std::logic_error.
// Not thread safe; never calls into Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fmitwin/simulator.hpp"

namespace fmitwin::cosim {

enum class VariableType : std::uint8_t { real, integer, boolean };

struct VariableId {
  std::size_t instance = 0;
  ValueReference vr = 0;
  VariableType type = VariableType::real;
  bool operator==(const VariableId& o) const {
    return instance == o.instance && vr == o.vr && type == o.type;
  }
};

// target = factor * source + offset (real variables; integer and boolean are copied as they are).
struct Connection {
  VariableId source;
  VariableId target;
  double factor = 1.0;
  double offset = 0.0;
};

enum class Interpolation : std::uint8_t { hold, linear };

// How algebraic loops are solved at communication points. Fixed-point iteration (sweeps in
// data-flow order) converges when every loop output changes by at most atol + rtol |value| in
// one sweep; it diverges when the loop gain exceeds 1. Newton's method solves u = G(u) for the
// real connection inputs u of the feedthrough instances (G: set inputs, read outputs, transfer),
// with a finite-difference Jacobian, until |u - G(u)| <= atol + rtol |u| per entry.
struct LoopSolverOptions {
  double rtol = 1e-10;
  double atol = 1e-12;
  int max_iterations = 100;
  bool newton = false;
};

class SystemState;

class CoupledSystem {
 public:
  CoupledSystem();
  ~CoupledSystem();
  CoupledSystem(const CoupledSystem&) = delete;
  CoupledSystem& operator=(const CoupledSystem&) = delete;

  // --- building ---------------------------------------------------------------------------
  // An instance steps every `step_multiple` base communication steps (multi-rate). Returns its
  // index. A null simulator makes a system for structure analysis only (initialize() refuses it).
  std::size_t add_instance(std::string name, std::shared_ptr<Simulator> simulator,
                           int step_multiple = 1);
  // `source_name` / `target_name` name the variables in messages ("instance.variable").
  // Throws std::invalid_argument for a second connection into the same input, mismatched types,
  // or a factor/offset on a non-real connection.
  void connect(const Connection& connection, std::string source_name, std::string target_name);
  // Declares that output `output` of an instance depends directly on its input `input` (FMI model
  // structure); only pairs whose both ends are connected matter.
  void add_feedthrough(std::size_t instance, ValueReference input, VariableType input_type,
                       ValueReference output, VariableType output_type);
  // Start values and parameters, written before Simulator::setup (integer/boolean as double).
  void set_start_value(const VariableId& variable, double value);
  // A system-level input: the instance input follows (times, values), sampled at every
  // communication point where the instance takes its inputs (times strictly increasing).
  // Replacing the signal of a variable that has one is allowed at any time (what-if branches).
  void set_input_signal(const VariableId& variable, std::vector<double> times,
                        std::vector<double> values, Interpolation interpolation);
  void set_loop_solver_options(const LoopSolverOptions& options);

  // --- structure ----------------------------------------------------------------------------
  std::size_t instance_count() const { return instances_.size(); }
  const std::string& instance_name(std::size_t i) const;
  int step_multiple(std::size_t i) const;
  Simulator& simulator(std::size_t i);
  // Algebraic loops: cycles through connections and direct feedthrough, each as the variable
  // names along the cycle ("a.y", "b.u", "b.y", "a.u"), one cycle per strongly connected component.
  std::vector<std::vector<std::string>> algebraic_loops() const;
  // Instances in data-flow order (topological over connections; a cycle is broken at the
  // lowest-index instance not yet placed): the default Gauss-Seidel order.
  std::vector<std::size_t> dataflow_order() const;

  // --- running (used by master algorithms) ---------------------------------------------------
  // Writes start values, calls Simulator::setup on every instance, then makes inputs and
  // outputs consistent at t0 (transfer and settle at base step 0). With `set_up` false the
  // caller has already initialized every simulator (e.g. FMPy-side start values inside
  // initialization mode): only the transfer and settle run.
  void initialize(double start_time, double stop_time, bool set_up = true);
  bool initialized() const { return initialized_; }
  // An instance takes its inputs at base steps k with k % multiple == 0 and completes its step
  // (of multiple * h, started at that latch point) at base step k with (k + 1) % multiple == 0.
  bool latches_at(std::size_t i, std::int64_t k) const;
  bool completes_at(std::size_t i, std::int64_t k) const;
  // Computes and sets the inputs of instance i from the current outputs and signals at time t.
  // This and refresh_outputs rethrow FmuError with the instance's name.
  void latch_inputs(std::size_t i, double t);
  // Reads the connected outputs of instance i into the transfer buffers.
  void refresh_outputs(std::size_t i);
  // The transfer at a communication point: settle(k, t), then latch_inputs of every other
  // instance latching at k. Afterwards inputs equal the (transformed) outputs they are
  // connected to, and feedthrough outputs are consistent with those inputs.
  void transfer(std::int64_t k, double t);
  // Makes direct-feedthrough outputs consistent with their inputs at time t (instances latching
  // at base step k only): one sweep in data-flow order when there is no algebraic loop, else
  // fixed-point iteration or Newton (LoopSolverOptions); throws FmuError naming the
  // loop when it does not converge.
  void settle(std::int64_t k, double t);
  bool has_feedthrough() const { return !feedthrough_order_.empty(); }
  bool has_feedthrough_instance(std::size_t i) const;
  // Steps one simulator; throws FmuError (with the instance name) on error, returns false on
  // discard. A simulator asking to end the simulation sets termination(); when it still
  // reached t + h the step counts as done (true), else false.
  bool step_instance(std::size_t i, double t, double h);
  // Set once an instance asked to end the simulation (FMI terminateSimulation): which one and
  // the time it reached. Masters stop there; restore_state() keeps it (a master's own rollback),
  // clear_termination() forgets it (a checkpoint restored by the user).
  struct Termination {
    bool requested = false;
    std::size_t instance = 0;
    double time = 0.0;
  };
  const Termination& termination() const { return termination_; }
  void clear_termination() { termination_ = {}; }
  // The connected real outputs (the coupling signals), for error estimation.
  void coupling_outputs(std::vector<double>& out) const;

  // --- snapshots -------------------------------------------------------------------------------
  bool can_save_state() const;
  // Names of the instances whose simulator cannot save its state.
  std::vector<std::string> instances_without_state() const;
  std::unique_ptr<SystemState> save_state() const;
  void restore_state(const SystemState& state);

 public:
  struct Instance;  // implementation detail (transfer buffers of one instance)

 private:
  void require_building(const char* what) const;
  void build_transfer_plan();
  void build_feedthrough_plan();
  std::string loop_description() const;
  void settle_newton(std::int64_t k, double t);
  // latch_inputs with the connection-driven real inputs taken from `connected_reals` (if not null).
  void latch_inputs(std::size_t i, double t, const double* connected_reals);
  void set_inputs(std::size_t i, double t, const double* connected_reals);  // latch, unwrapped
  void get_outputs(std::size_t i);  // refresh_outputs without naming the instance in errors
  [[noreturn]] void loop_failed(const char* method, double t) const;

  std::vector<std::unique_ptr<Instance>> instances_;
  std::vector<Connection> connections_;
  std::vector<std::pair<std::string, std::string>> connection_names_;
  struct Feedthrough {
    std::size_t instance;
    VariableId input, output;
  };
  std::vector<Feedthrough> feedthroughs_;
  std::vector<VariableId> signal_targets_;
  LoopSolverOptions loop_options_;
  std::vector<std::size_t> feedthrough_order_;  // instances settled, in data-flow order
  bool feedthrough_needs_iteration_ = false;
  bool initialized_ = false;
  Termination termination_;
};

// Everything needed to put the system back where it was: every simulator's saved state and the
// transfer buffers (last outputs read and inputs set). Opaque (defined by CoupledSystem's
// implementation); owned by whoever saved it; valid only for the system that saved it.
class SystemState {
 public:
  virtual ~SystemState() = default;
};

}  // namespace fmitwin::cosim
