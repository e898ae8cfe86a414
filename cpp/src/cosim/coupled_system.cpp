#include "fmitwin/cosim/coupled_system.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace fmitwin::cosim {
namespace {

// A fixed-size array of values (std::vector<bool> is not contiguous, so bool needs this too).
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer& o) : n_(o.n_), data_(new T[o.n_]) { std::copy(o.begin(), o.end(), begin()); }
  Buffer& operator=(const Buffer& o) {
    if (this != &o) {
      if (o.n_ != n_) *this = Buffer(o.n_);
      std::copy(o.begin(), o.end(), begin());
    }
    return *this;
  }
  Buffer(Buffer&&) noexcept = default;
  Buffer& operator=(Buffer&&) noexcept = default;
  explicit Buffer(std::size_t n) : n_(n), data_(new T[n]()) {}
  std::size_t size() const { return n_; }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T* begin() { return data_.get(); }
  T* end() { return data_.get() + n_; }
  const T* begin() const { return data_.get(); }
  const T* end() const { return data_.get() + n_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }

 private:
  std::size_t n_ = 0;
  std::unique_ptr<T[]> data_;
};

// Same-typed variables of one instance, read or written with one call.
template <class T>
struct Batch {
  std::vector<ValueReference> vr;
  Buffer<T> value;
  std::size_t index_of(ValueReference r) const {
    return static_cast<std::size_t>(std::find(vr.begin(), vr.end(), r) - vr.begin());
  }
};

// Where one connected input takes its value from: the source instance's output batch entry.
struct InputSource {
  std::size_t instance;
  std::size_t index;
  double factor;
  double offset;
};

struct Signal {
  std::vector<double> times;
  std::vector<double> values;
  Interpolation interpolation;
  double at(double t) const {
    auto upper = std::upper_bound(times.begin(), times.end(), t);
    if (upper == times.begin()) return values.front();
    if (upper == times.end()) return values.back();
    std::size_t i = static_cast<std::size_t>(upper - times.begin()) - 1;
    if (interpolation == Interpolation::hold) return values[i];
    double w = (t - times[i]) / (times[i + 1] - times[i]);
    return values[i] + w * (values[i + 1] - values[i]);
  }
};

void get_values(Simulator& s, const Batch<double>& b, double* out) {
  s.get_real(b.vr.data(), b.vr.size(), out);
}
void get_values(Simulator& s, const Batch<std::int64_t>& b, std::int64_t* out) {
  s.get_integer(b.vr.data(), b.vr.size(), out);
}
void get_values(Simulator& s, const Batch<bool>& b, bool* out) {
  s.get_boolean(b.vr.data(), b.vr.size(), out);
}
void set_values(Simulator& s, const Batch<double>& b) {
  s.set_real(b.vr.data(), b.vr.size(), b.value.data());
}
void set_values(Simulator& s, const Batch<std::int64_t>& b) {
  s.set_integer(b.vr.data(), b.vr.size(), b.value.data());
}
void set_values(Simulator& s, const Batch<bool>& b) {
  s.set_boolean(b.vr.data(), b.vr.size(), b.value.data());
}

template <class T>
T convert(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0.0;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return static_cast<std::int64_t>(std::llround(v));
  } else {
    return v;
  }
}

const char* type_name(VariableType t) {
  switch (t) {
    case VariableType::real:
      return "real";
    case VariableType::integer:
      return "integer";
    case VariableType::boolean:
      return "boolean";
  }
  return "?";
}

}  // namespace

// The transfer buffers of one instance, per type: connected outputs it supplies, then inputs it
// receives (connection inputs first, signal inputs after them).
template <class T>
struct Ports {
  Batch<T> outputs;
  Batch<T> inputs;
  std::vector<InputSource> sources;  // one per connection input
  std::vector<Signal> signals;       // one per signal input, after the connection inputs
};

struct CoupledSystem::Instance {
  std::string name;
  std::shared_ptr<Simulator> simulator;
  int multiple = 1;
  Ports<double> real;
  Ports<std::int64_t> integer;
  Ports<bool> boolean;
  std::vector<std::pair<VariableId, double>> start_values;
  bool feedthrough = false;
  Buffer<double> previous_real;  // outputs before a settle sweep (convergence test)
  Buffer<std::int64_t> previous_integer;
  Buffer<bool> previous_boolean;
  template <class T>
  Ports<T>& ports() {
    if constexpr (std::is_same_v<T, double>) return real;
    if constexpr (std::is_same_v<T, std::int64_t>) return integer;
    if constexpr (std::is_same_v<T, bool>) return boolean;
  }
};

namespace {

struct SavedSystem : SystemState {
  const CoupledSystem* owner = nullptr;
  std::vector<std::unique_ptr<SimulatorState>> simulators;
  std::vector<Buffer<double>> real_out, real_in;
  std::vector<Buffer<std::int64_t>> integer_out, integer_in;
  std::vector<Buffer<bool>> boolean_out, boolean_in;
};

}  // namespace

CoupledSystem::CoupledSystem() = default;
CoupledSystem::~CoupledSystem() = default;

void CoupledSystem::require_building(const char* what) const {
  if (initialized_) {
    throw std::logic_error(std::string(what) + ": the system is already initialized; build it first");
  }
}

std::size_t CoupledSystem::add_instance(std::string name, std::shared_ptr<Simulator> simulator,
                                        int step_multiple) {
  require_building("add_instance");
  if (step_multiple < 1) {
    throw std::invalid_argument("add_instance: step_multiple of '" + name +
                                "' must be >= 1, got " + std::to_string(step_multiple));
  }
  for (const auto& inst : instances_) {
    if (inst->name == name) throw std::invalid_argument("add_instance: duplicate name '" + name + "'");
  }
  auto inst = std::make_unique<Instance>();
  inst->name = std::move(name);
  inst->simulator = std::move(simulator);
  inst->multiple = step_multiple;
  instances_.push_back(std::move(inst));
  return instances_.size() - 1;
}

void CoupledSystem::connect(const Connection& c, std::string source_name, std::string target_name) {
  require_building("connect");
  if (c.source.instance >= instances_.size() || c.target.instance >= instances_.size()) {
    throw std::invalid_argument("connect " + source_name + " -> " + target_name +
                                ": instance index out of range");
  }
  if (c.source.type != c.target.type) {
    throw std::invalid_argument("connect " + source_name + " -> " + target_name + ": type " +
                                type_name(c.source.type) + " -> " + type_name(c.target.type));
  }
  if (c.source.type != VariableType::real && (c.factor != 1.0 || c.offset != 0.0)) {
    throw std::invalid_argument("connect " + source_name + " -> " + target_name +
                                ": factor/offset apply to real connections only");
  }
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    if (connections_[i].target == c.target) {
      throw std::invalid_argument("connect " + source_name + " -> " + target_name + ": input " +
                                  target_name + " is already driven by " +
                                  connection_names_[i].first);
    }
  }
  connections_.push_back(c);
  connection_names_.emplace_back(std::move(source_name), std::move(target_name));
}

void CoupledSystem::add_feedthrough(std::size_t instance, ValueReference input,
                                    VariableType input_type, ValueReference output,
                                    VariableType output_type) {
  require_building("add_feedthrough");
  if (instance >= instances_.size()) throw std::invalid_argument("add_feedthrough: bad instance");
  feedthroughs_.push_back({instance, {instance, input, input_type}, {instance, output, output_type}});
}

void CoupledSystem::set_start_value(const VariableId& variable, double value) {
  require_building("set_start_value");
  if (variable.instance >= instances_.size()) throw std::invalid_argument("set_start_value: bad instance");
  instances_[variable.instance]->start_values.emplace_back(variable, value);
}

void CoupledSystem::set_input_signal(const VariableId& variable, std::vector<double> times,
                                     std::vector<double> values, Interpolation interpolation) {
  if (variable.instance >= instances_.size()) throw std::invalid_argument("set_input_signal: bad instance");
  if (times.empty() || times.size() != values.size()) {
    throw std::invalid_argument("set_input_signal: times and values must be non-empty and of equal length");
  }
  for (std::size_t i = 1; i < times.size(); ++i) {
    // A repeated time is a step change: Signal::at gives the later value from that time on.
    if (!(times[i] >= times[i - 1])) {
      throw std::invalid_argument("set_input_signal: times must be non-decreasing");
    }
  }
  for (const auto& c : connections_) {
    if (c.target == variable) {
      throw std::invalid_argument("set_input_signal: the input is already driven by a connection");
    }
  }
  Signal signal{std::move(times), std::move(values), interpolation};
  Instance& inst = *instances_[variable.instance];
  // The position of this variable's signal among the instance's signals of its type, if any.
  std::size_t position = 0;
  bool replacing = false;
  for (const auto& v : signal_targets_) {
    if (v == variable) {
      replacing = true;
      break;
    }
    if (v.instance == variable.instance && v.type == variable.type) ++position;
  }
  if (!replacing) require_building("set_input_signal (a new system input)");
  auto add = [&](auto& ports) {
    if (replacing) {
      ports.signals[position] = std::move(signal);
    } else {
      ports.signals.push_back(std::move(signal));
      signal_targets_.push_back(variable);
    }
  };
  switch (variable.type) {
    case VariableType::real:
      add(inst.real);
      break;
    case VariableType::integer:
      add(inst.integer);
      break;
    case VariableType::boolean:
      add(inst.boolean);
      break;
  }
}

void CoupledSystem::set_loop_solver_options(const LoopSolverOptions& options) {
  if (!(options.rtol >= 0) || !(options.atol >= 0) || options.max_iterations < 1) {
    throw std::invalid_argument("loop solver: rtol, atol must be >= 0 and max_iterations >= 1");
  }
  loop_options_ = options;
}

const std::string& CoupledSystem::instance_name(std::size_t i) const { return instances_.at(i)->name; }
int CoupledSystem::step_multiple(std::size_t i) const { return instances_.at(i)->multiple; }
Simulator& CoupledSystem::simulator(std::size_t i) { return *instances_.at(i)->simulator; }
bool CoupledSystem::has_feedthrough_instance(std::size_t i) const { return instances_[i]->feedthrough; }

// --- graph analysis --------------------------------------------------------------------------

namespace {

// Strongly connected components (Tarjan; recursion depth is bounded by the system's size).
std::vector<std::vector<std::size_t>> strongly_connected(const std::vector<std::vector<std::size_t>>& adj) {
  const std::size_t n = adj.size();
  std::vector<long> index(n, -1), low(n, 0);
  std::vector<bool> on_stack(n, false);
  std::vector<std::size_t> stack;
  std::vector<std::vector<std::size_t>> components;
  long counter = 0;
  std::function<void(std::size_t)> visit = [&](std::size_t v) {
    index[v] = low[v] = counter++;
    stack.push_back(v);
    on_stack[v] = true;
    for (std::size_t w : adj[v]) {
      if (index[w] < 0) {
        visit(w);
        low[v] = std::min(low[v], low[w]);
      } else if (on_stack[w]) {
        low[v] = std::min(low[v], index[w]);
      }
    }
    if (low[v] == index[v]) {
      std::vector<std::size_t> component;
      std::size_t w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        component.push_back(w);
      } while (w != v);
      components.push_back(std::move(component));
    }
  };
  for (std::size_t v = 0; v < n; ++v) {
    if (index[v] < 0) visit(v);
  }
  return components;
}

// One cycle through `start` inside a strongly connected component (breadth-first, so shortest).
std::vector<std::size_t> cycle_through(std::size_t start, const std::vector<std::vector<std::size_t>>& adj,
                                       const std::vector<bool>& in_component) {
  std::map<std::size_t, std::size_t> parent;
  std::vector<std::size_t> frontier{start};
  while (!frontier.empty()) {
    std::vector<std::size_t> next;
    for (std::size_t v : frontier) {
      for (std::size_t w : adj[v]) {
        if (!in_component[w]) continue;
        if (w == start) {
          std::vector<std::size_t> path{v};
          while (path.back() != start) path.push_back(parent.at(path.back()));
          std::reverse(path.begin(), path.end());
          return path;
        }
        if (parent.emplace(w, v).second) next.push_back(w);
      }
    }
    frontier = std::move(next);
  }
  return {start};
}

}  // namespace

std::vector<std::vector<std::string>> CoupledSystem::algebraic_loops() const {
  // Nodes: connected variables; edges: connections (output -> input) and feedthrough (input -> output).
  std::vector<VariableId> nodes;
  std::vector<std::string> names;
  auto node_of = [&](const VariableId& v, const std::string& name) {
    auto it = std::find(nodes.begin(), nodes.end(), v);
    if (it != nodes.end()) return static_cast<std::size_t>(it - nodes.begin());
    nodes.push_back(v);
    names.push_back(name);
    return nodes.size() - 1;
  };
  std::vector<std::pair<std::size_t, std::size_t>> edges;
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    std::size_t a = node_of(connections_[i].source, connection_names_[i].first);
    std::size_t b = node_of(connections_[i].target, connection_names_[i].second);
    edges.emplace_back(a, b);
  }
  const std::size_t connected = nodes.size();
  for (const auto& f : feedthroughs_) {
    auto in = std::find(nodes.begin(), nodes.begin() + connected, f.input);
    auto out = std::find(nodes.begin(), nodes.begin() + connected, f.output);
    if (in != nodes.begin() + connected && out != nodes.begin() + connected) {
      edges.emplace_back(in - nodes.begin(), out - nodes.begin());
    }
  }
  std::vector<std::vector<std::size_t>> adj(nodes.size());
  for (auto [a, b] : edges) adj[a].push_back(b);
  std::vector<std::vector<std::string>> loops;
  for (const auto& component : strongly_connected(adj)) {
    bool self_loop = component.size() == 1 &&
                     std::count(adj[component[0]].begin(), adj[component[0]].end(), component[0]) > 0;
    if (component.size() < 2 && !self_loop) continue;
    std::vector<bool> in_component(nodes.size(), false);
    for (std::size_t v : component) in_component[v] = true;
    // Start the cycle at the first connection source in the component, for a stable message.
    std::size_t start = *std::min_element(component.begin(), component.end());
    std::vector<std::string> loop;
    for (std::size_t v : cycle_through(start, adj, in_component)) loop.push_back(names[v]);
    loops.push_back(std::move(loop));
  }
  std::sort(loops.begin(), loops.end());
  return loops;
}

std::vector<std::size_t> CoupledSystem::dataflow_order() const {
  const std::size_t n = instances_.size();
  std::vector<std::vector<bool>> edge(n, std::vector<bool>(n, false));
  for (const auto& c : connections_) {
    if (c.source.instance != c.target.instance) edge[c.source.instance][c.target.instance] = true;
  }
  std::vector<std::size_t> order;
  std::vector<bool> placed(n, false);
  while (order.size() < n) {
    std::size_t pick = n;
    for (std::size_t j = 0; j < n && pick == n; ++j) {
      if (placed[j]) continue;
      bool ready = true;
      for (std::size_t i = 0; i < n && ready; ++i) ready = placed[i] || !edge[i][j];
      if (ready) pick = j;
    }
    if (pick == n) {  // every remaining instance waits on another: break the cycle
      pick = static_cast<std::size_t>(std::find(placed.begin(), placed.end(), false) - placed.begin());
    }
    placed[pick] = true;
    order.push_back(pick);
  }
  return order;
}

// --- transfer plan ----------------------------------------------------------------------------

namespace {

template <class T>
std::size_t add_unique(Batch<T>& batch, ValueReference vr) {
  std::size_t i = batch.index_of(vr);
  if (i == batch.vr.size()) batch.vr.push_back(vr);
  return i;
}

}  // namespace

void CoupledSystem::build_transfer_plan() {
  auto plan = [&](auto tag, VariableType type) {
    using T = decltype(tag);
    for (const auto& c : connections_) {
      if (c.source.type != type) continue;
      Ports<T>& src = instances_[c.source.instance]->template ports<T>();
      Ports<T>& dst = instances_[c.target.instance]->template ports<T>();
      std::size_t index = add_unique(src.outputs, c.source.vr);
      dst.inputs.vr.push_back(c.target.vr);
      dst.sources.push_back({c.source.instance, index, c.factor, c.offset});
    }
    for (const auto& v : signal_targets_) {
      if (v.type == type) instances_[v.instance]->template ports<T>().inputs.vr.push_back(v.vr);
    }
    for (auto& inst : instances_) {
      Ports<T>& p = inst->template ports<T>();
      p.outputs.value = Buffer<T>(p.outputs.vr.size());
      p.inputs.value = Buffer<T>(p.inputs.vr.size());
    }
  };
  plan(double{}, VariableType::real);
  plan(std::int64_t{}, VariableType::integer);
  plan(bool{}, VariableType::boolean);
}

void CoupledSystem::build_feedthrough_plan() {
  auto driven = [&](const VariableId& v) {
    for (const auto& c : connections_) {
      if (c.target == v) return true;
    }
    return std::find(signal_targets_.begin(), signal_targets_.end(), v) != signal_targets_.end();
  };
  auto used = [&](const VariableId& v) {
    for (const auto& c : connections_) {
      if (c.source == v) return true;
    }
    return false;
  };
  for (const auto& f : feedthroughs_) {
    if (driven(f.input) && used(f.output)) instances_[f.instance]->feedthrough = true;
  }
  for (std::size_t i : dataflow_order()) {
    Instance& inst = *instances_[i];
    if (!inst.feedthrough) continue;
    feedthrough_order_.push_back(i);
    inst.previous_real = Buffer<double>(inst.real.outputs.vr.size());
    inst.previous_integer = Buffer<std::int64_t>(inst.integer.outputs.vr.size());
    inst.previous_boolean = Buffer<bool>(inst.boolean.outputs.vr.size());
  }
  // One sweep in data-flow order is exact unless feedthrough instances feed each other in a cycle.
  const std::size_t n = instances_.size();
  std::vector<std::vector<std::size_t>> adj(n);
  for (const auto& c : connections_) {
    if (instances_[c.source.instance]->feedthrough && instances_[c.target.instance]->feedthrough) {
      adj[c.source.instance].push_back(c.target.instance);
    }
  }
  for (const auto& component : strongly_connected(adj)) {
    const std::size_t v = component[0];
    if (component.size() > 1 || std::count(adj[v].begin(), adj[v].end(), v) > 0) {
      feedthrough_needs_iteration_ = true;
    }
  }
}

std::string CoupledSystem::loop_description() const {
  std::ostringstream out;
  auto loops = algebraic_loops();
  if (loops.empty()) return "feedthrough outputs keep changing (no algebraic loop found)";
  for (std::size_t l = 0; l < loops.size(); ++l) {
    out << (l ? "; " : "") << "algebraic loop ";
    for (const auto& name : loops[l]) out << name << " -> ";
    out << loops[l].front();
  }
  return out.str();
}

// --- running ----------------------------------------------------------------------------------

void CoupledSystem::initialize(double start_time, double stop_time, bool set_up) {
  require_building("initialize");
  if (instances_.empty()) throw std::invalid_argument("initialize: the system has no instances");
  for (const auto& inst : instances_) {
    if (!inst->simulator) {
      throw std::invalid_argument("initialize: instance '" + inst->name +
                                  "' has no simulator (added for structure analysis only)");
    }
  }
  build_transfer_plan();
  build_feedthrough_plan();
  for (const auto& loop_names : algebraic_loops()) {
    for (const auto& inst : instances_) {
      if (inst->multiple == 1) continue;
      for (const auto& name : loop_names) {
        if (name.rfind(inst->name + ".", 0) == 0) {
          throw std::invalid_argument("instance '" + inst->name + "' has step_multiple " +
                                      std::to_string(inst->multiple) + " but is part of " +
                                      loop_description() +
                                      "; give every instance in the loop step_multiple 1");
        }
      }
    }
  }
  initialized_ = true;
  for (auto& inst : instances_) {
    if (!set_up) break;
    Simulator& sim = *inst->simulator;
    for (const auto& [v, value] : inst->start_values) {
      switch (v.type) {
        case VariableType::real:
          sim.set_real(&v.vr, 1, &value);
          break;
        case VariableType::integer: {
          std::int64_t i = convert<std::int64_t>(value);
          sim.set_integer(&v.vr, 1, &i);
          break;
        }
        case VariableType::boolean: {
          bool b = convert<bool>(value);
          sim.set_boolean(&v.vr, 1, &b);
          break;
        }
      }
    }
    try {
      sim.setup(start_time, stop_time);
    } catch (const FmuError& e) {
      throw FmuError("instance '" + inst->name + "': " + e.what());
    }
  }
  for (std::size_t i = 0; i < instances_.size(); ++i) refresh_outputs(i);
  transfer(0, start_time);
}

void CoupledSystem::transfer(std::int64_t k, double t) {
  settle(k, t);
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    if (!instances_[i]->feedthrough && latches_at(i, k)) latch_inputs(i, t);
  }
}

bool CoupledSystem::latches_at(std::size_t i, std::int64_t k) const {
  return k % instances_[i]->multiple == 0;
}
bool CoupledSystem::completes_at(std::size_t i, std::int64_t k) const {
  return (k + 1) % instances_[i]->multiple == 0;
}

namespace {

template <class T>
void compute_inputs(Ports<T>& p, const std::vector<std::unique_ptr<CoupledSystem::Instance>>& all,
                    double t) {
  const std::size_t n_connected = p.sources.size();
  for (std::size_t j = 0; j < n_connected; ++j) {
    const InputSource& s = p.sources[j];
    const T value = all[s.instance]->template ports<T>().outputs.value[s.index];
    if constexpr (std::is_same_v<T, double>) {
      p.inputs.value[j] = s.factor * value + s.offset;
    } else {
      p.inputs.value[j] = value;
    }
  }
  for (std::size_t j = 0; j < p.signals.size(); ++j) {
    p.inputs.value[n_connected + j] = convert<T>(p.signals[j].at(t));
  }
}

}  // namespace

void CoupledSystem::latch_inputs(std::size_t i, double t) { latch_inputs(i, t, nullptr); }

void CoupledSystem::latch_inputs(std::size_t i, double t, const double* connected_reals) {
  try {
    set_inputs(i, t, connected_reals);
  } catch (const FmuError& e) {
    throw FmuError("instance '" + instances_[i]->name + "' taking its inputs at t = " +
                   std::to_string(t) + ": " + e.what());
  }
}

void CoupledSystem::set_inputs(std::size_t i, double t, const double* connected_reals) {
  Instance& inst = *instances_[i];
  Simulator& sim = *inst.simulator;
  if (!inst.real.inputs.vr.empty()) {
    compute_inputs(inst.real, instances_, t);
    if (connected_reals != nullptr) {
      std::copy_n(connected_reals, inst.real.sources.size(), inst.real.inputs.value.begin());
    }
    set_values(sim, inst.real.inputs);
  }
  if (!inst.integer.inputs.vr.empty()) {
    compute_inputs(inst.integer, instances_, t);
    set_values(sim, inst.integer.inputs);
  }
  if (!inst.boolean.inputs.vr.empty()) {
    compute_inputs(inst.boolean, instances_, t);
    set_values(sim, inst.boolean.inputs);
  }
}

void CoupledSystem::refresh_outputs(std::size_t i) {
  try {
    get_outputs(i);
  } catch (const FmuError& e) {
    throw FmuError("instance '" + instances_[i]->name + "' giving its outputs: " + e.what());
  }
}

void CoupledSystem::get_outputs(std::size_t i) {
  Instance& inst = *instances_[i];
  Simulator& sim = *inst.simulator;
  if (!inst.real.outputs.vr.empty()) get_values(sim, inst.real.outputs, inst.real.outputs.value.data());
  if (!inst.integer.outputs.vr.empty()) {
    get_values(sim, inst.integer.outputs, inst.integer.outputs.value.data());
  }
  if (!inst.boolean.outputs.vr.empty()) {
    get_values(sim, inst.boolean.outputs, inst.boolean.outputs.value.data());
  }
}

void CoupledSystem::settle(std::int64_t k, double t) {
  if (feedthrough_order_.empty()) return;
  for (int iteration = 0; iteration < loop_options_.max_iterations; ++iteration) {
    bool changed = false;
    for (std::size_t i : feedthrough_order_) {
      if (!latches_at(i, k)) continue;
      Instance& inst = *instances_[i];
      inst.previous_real = inst.real.outputs.value;
      inst.previous_integer = inst.integer.outputs.value;
      inst.previous_boolean = inst.boolean.outputs.value;
      latch_inputs(i, t);
      refresh_outputs(i);
      for (std::size_t j = 0; j < inst.previous_real.size() && !changed; ++j) {
        const double now = inst.real.outputs.value[j];
        changed = std::abs(now - inst.previous_real[j]) >
                  loop_options_.atol + loop_options_.rtol * std::abs(now);
      }
      changed = changed ||
                !std::equal(inst.previous_integer.begin(), inst.previous_integer.end(),
                            inst.integer.outputs.value.begin()) ||
                !std::equal(inst.previous_boolean.begin(), inst.previous_boolean.end(),
                            inst.boolean.outputs.value.begin());
    }
    if (!feedthrough_needs_iteration_ || !changed) return;
    if (loop_options_.newton) return settle_newton(k, t);
  }
  loop_failed("fixed-point iteration", t);
}

void CoupledSystem::loop_failed(const char* method, double t) const {
  std::ostringstream message;
  message << "the " << method << " did not converge in " << loop_options_.max_iterations
          << " iterations at t = " << t << " (rtol " << loop_options_.rtol << ", atol "
          << loop_options_.atol << "): " << loop_description()
          << "; loosen the loop tolerance, raise max_iterations, "
          << (loop_options_.newton ? "" : "use Newton's method, ")
          << "or break the loop with a non-feedthrough instance";
  throw FmuError(message.str());
}

void CoupledSystem::settle_newton(std::int64_t k, double t) {
  std::vector<std::size_t> loop;  // latching feedthrough instances
  Eigen::Index n = 0;
  for (std::size_t i : feedthrough_order_) {
    if (!latches_at(i, k)) continue;
    loop.push_back(i);
    n += static_cast<Eigen::Index>(instances_[i]->real.sources.size());
  }
  // G(u): the connection inputs that the outputs produced by inputs u call for.
  auto evaluate = [&](const Eigen::VectorXd& u, Eigen::VectorXd& g) {
    Eigen::Index pos = 0;
    for (std::size_t i : loop) {
      latch_inputs(i, t, u.data() + pos);
      pos += static_cast<Eigen::Index>(instances_[i]->real.sources.size());
    }
    for (std::size_t i : loop) refresh_outputs(i);
    pos = 0;
    for (std::size_t i : loop) {
      Instance& inst = *instances_[i];
      compute_inputs(inst.real, instances_, t);
      for (std::size_t j = 0; j < inst.real.sources.size(); ++j) g[pos++] = inst.real.inputs.value[j];
    }
  };
  Eigen::VectorXd u(n), g(n), r(n), shifted(n), g_shifted(n);
  Eigen::Index pos = 0;
  for (std::size_t i : loop) {  // start from the transfer of the current outputs
    Instance& inst = *instances_[i];
    compute_inputs(inst.real, instances_, t);
    for (std::size_t j = 0; j < inst.real.sources.size(); ++j) u[pos++] = inst.real.inputs.value[j];
  }
  Eigen::MatrixXd jacobian(n, n);
  for (int iteration = 0; iteration < loop_options_.max_iterations; ++iteration) {
    evaluate(u, g);
    r = u - g;
    bool converged = true;
    for (Eigen::Index j = 0; j < n && converged; ++j) {
      converged = std::abs(r[j]) <= loop_options_.atol + loop_options_.rtol * std::abs(u[j]);
    }
    if (converged) return;  // the simulators hold inputs u and the outputs they produce
    for (Eigen::Index j = 0; j < n; ++j) {
      const double delta = 1e-7 * (1.0 + std::abs(u[j]));
      shifted = u;
      shifted[j] += delta;
      evaluate(shifted, g_shifted);
      jacobian.col(j) = ((shifted - g_shifted) - r) / delta;
    }
    u -= jacobian.partialPivLu().solve(r);
  }
  loop_failed("Newton iteration", t);
}

bool CoupledSystem::step_instance(std::size_t i, double t, double h) {
  Instance& inst = *instances_[i];
  try {
    if (inst.simulator->do_step(t, h)) return true;
    if (!inst.simulator->terminate_requested()) return false;
    const double reached = inst.simulator->last_successful_time();
    termination_ = {true, i, reached};
    const double end = t + h;
    return std::abs(reached - end) <= 1e-9 * std::max(1.0, std::abs(end));
  } catch (const FmuError& e) {
    throw FmuError("instance '" + inst.name + "' at t = " + std::to_string(t) + ": " + e.what());
  }
}

void CoupledSystem::coupling_outputs(std::vector<double>& out) const {
  out.clear();
  for (const auto& inst : instances_) {
    out.insert(out.end(), inst->real.outputs.value.begin(), inst->real.outputs.value.end());
  }
}

// --- snapshots --------------------------------------------------------------------------------

bool CoupledSystem::can_save_state() const { return instances_without_state().empty(); }

std::vector<std::string> CoupledSystem::instances_without_state() const {
  std::vector<std::string> names;
  for (const auto& inst : instances_) {
    if (!inst->simulator->can_save_state()) names.push_back(inst->name);
  }
  return names;
}

std::unique_ptr<SystemState> CoupledSystem::save_state() const {
  if (!initialized_) throw std::logic_error("save_state: initialize the system first");
  auto missing = instances_without_state();
  if (!missing.empty()) {
    std::string list;
    for (const auto& name : missing) list += (list.empty() ? "'" : ", '") + name + "'";
    throw FmuError("cannot save the system state: instance(s) " + list +
                             " cannot get/set their FMU state (capability canGetAndSetFMUstate)");
  }
  auto saved = std::make_unique<SavedSystem>();
  saved->owner = this;
  for (const auto& inst : instances_) {
    saved->simulators.push_back(inst->simulator->save_state());
    saved->real_out.push_back(inst->real.outputs.value);
    saved->real_in.push_back(inst->real.inputs.value);
    saved->integer_out.push_back(inst->integer.outputs.value);
    saved->integer_in.push_back(inst->integer.inputs.value);
    saved->boolean_out.push_back(inst->boolean.outputs.value);
    saved->boolean_in.push_back(inst->boolean.inputs.value);
  }
  return saved;
}

void CoupledSystem::restore_state(const SystemState& state) {
  const auto* saved = dynamic_cast<const SavedSystem*>(&state);
  if (saved == nullptr || saved->owner != this) {
    throw std::invalid_argument("restore: the checkpoint was taken from another run (another system)");
  }
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    Instance& inst = *instances_[i];
    inst.simulator->restore_state(*saved->simulators[i]);
    inst.real.outputs.value = saved->real_out[i];
    inst.real.inputs.value = saved->real_in[i];
    inst.integer.outputs.value = saved->integer_out[i];
    inst.integer.inputs.value = saved->integer_in[i];
    inst.boolean.outputs.value = saved->boolean_out[i];
    inst.boolean.inputs.value = saved->boolean_in[i];
  }
}

}  // namespace fmitwin::cosim
