// Python bindings of the FMU simulators (fmitwin._core.Simulator and its FMU implementations) and
// of the recorded simulation run. The Python side (fmitwin.fmu) builds them from FMPy instances
// and keeps each FMPy object alive on the simulator (attribute `_fmu_owner`).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstring>

#include "bindings.hpp"
#include "fmitwin/fmu/cosimulation.hpp"
#include "fmitwin/fmu/fmu_estimation.hpp"
#include "fmitwin/fmu/model_exchange.hpp"
#include "fmitwin/fmu/simulation_run.hpp"

namespace py = pybind11;

namespace fmitwin::bindings {
namespace {

using fmu::FmiVersion;
using fmu::InterfaceType;
using Vrs = py::array_t<ValueReference, py::array::c_style | py::array::forcecast>;

FmiVersion to_version(int version) {
  if (version == 2) return FmiVersion::fmi2;
  if (version == 3) return FmiVersion::fmi3;
  throw std::invalid_argument("fmi_version must be 2 or 3, got " + std::to_string(version));
}

// A new numpy array of `shape` holding a copy of v's first prod(shape) elements.
template <typename T>
py::array_t<T> to_array(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> out(std::move(shape));
  if (out.size() > 0) std::memcpy(out.mutable_data(), v.data(), out.size() * sizeof(T));
  return out;
}

// A numpy array of `shape` over v's first prod(shape) elements, owning v (no copy).
template <typename T>
py::array_t<T> owning_array(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(std::move(shape), owned->data(), owner);
}

void check_same_size(const Vrs& vr, const py::array& values) {
  if (vr.size() != values.size()) {
    throw std::invalid_argument("got " + std::to_string(vr.size()) + " value references but " +
                                std::to_string(values.size()) + " values");
  }
}

template <typename T>
using Values = py::array_t<T, py::array::c_style | py::array::forcecast>;

// Simulator::set_real / set_integer / set_boolean as a Python method on numpy arrays.
template <typename T>
auto setter(void (Simulator::*set)(const ValueReference*, std::size_t, const T*)) {
  return [set](Simulator& s, const Vrs& vr, const Values<T>& v) {
    check_same_size(vr, v);
    (s.*set)(vr.data(), static_cast<std::size_t>(vr.size()), v.data());
  };
}

// Simulator::get_real / get_integer / get_boolean as a Python method returning a numpy array.
template <typename T>
auto getter(void (Simulator::*get)(const ValueReference*, std::size_t, T*)) {
  return [get](Simulator& s, const Vrs& vr) {
    Values<T> out(vr.size());
    (s.*get)(vr.data(), static_cast<std::size_t>(vr.size()), out.mutable_data());
    return out;
  };
}

void bind_simulator(py::module_& m) {
  py::class_<SimulatorState, std::unique_ptr<SimulatorState>>(
      m, "SimulatorState", "An opaque saved simulator state (Simulator.save_state()).");
  py::class_<Simulator, std::shared_ptr<Simulator>>(
      m, "Simulator",
      "One steppable FMU instance (see cpp/include/fmitwin/simulator.hpp for the call order).",
      py::dynamic_attr())
      .def("setup", &Simulator::setup, py::arg("start_time"), py::arg("stop_time"),
           py::call_guard<py::gil_scoped_release>())
      .def("set_real", setter<double>(&Simulator::set_real), py::arg("vr"), py::arg("values"))
      .def("get_real", getter<double>(&Simulator::get_real), py::arg("vr"))
      .def("set_integer", setter<std::int64_t>(&Simulator::set_integer), py::arg("vr"),
           py::arg("values"))
      .def("get_integer", getter<std::int64_t>(&Simulator::get_integer), py::arg("vr"))
      .def("set_boolean", setter<bool>(&Simulator::set_boolean), py::arg("vr"), py::arg("values"))
      .def("get_boolean", getter<bool>(&Simulator::get_boolean), py::arg("vr"))
      .def("do_step", &Simulator::do_step, py::arg("t"), py::arg("h"),
           py::call_guard<py::gil_scoped_release>(),
           "Advances from t to t + h; False when the FMU discarded the step.")
      .def_property_readonly("can_save_state", &Simulator::can_save_state)
      .def("save_state", &Simulator::save_state, py::keep_alive<0, 1>(),
           "The state keeps the simulator (and so the FMU) alive: it is freed through the FMU.")
      .def("restore_state", &Simulator::restore_state, py::arg("state"));

  py::class_<fmu::FmuSimulator, Simulator, std::shared_ptr<fmu::FmuSimulator>>(
      m, "FmuSimulator", "A Simulator backed by one FMU instance.", py::dynamic_attr())
      .def("enter_initialization", &fmu::FmuSimulator::enter_initialization,
           py::arg("start_time"), py::arg("stop_time"))
      .def("exit_initialization", &fmu::FmuSimulator::exit_initialization,
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("terminate_requested", &fmu::FmuSimulator::terminate_requested)
      .def_property_readonly("last_successful_time", &fmu::FmuSimulator::last_successful_time)
      .def("terminate", [](fmu::FmuSimulator& s) { s.access().terminate(); })
      .def_property_readonly(
          "fmu_access", &fmu::FmuSimulator::shared_access,
          "The FMU's function table; FmuInstance releases it before FMPy frees the instance.");

  py::class_<fmu::FmuAccess, std::shared_ptr<fmu::FmuAccess>>(
      m, "FmuAccess", "The C functions of one FMU instance, borrowed from FMPy.")
      .def("release", &fmu::FmuAccess::release,
           "Marks the instance as freed: later calls raise FmuError instead of crashing.")
      .def_property_readonly("released", &fmu::FmuAccess::released)
      .def("set_variable_types", &fmu::FmuAccess::set_variable_types, py::arg("types"),
           "FMI 3.0: {value reference: ScalarType} of the variables that are neither Float64, "
           "Int32 nor Boolean; the category calls then use each one's own type.")
      .def("set_array_sizes", &fmu::FmuAccess::set_array_sizes, py::arg("sizes"),
           "FMI 3.0 arrays: {value reference: number of values}; an array then appears once per "
           "value in value-reference lists (see fmu_access.hpp).");

  py::class_<fmu::CoSimulation, fmu::FmuSimulator, std::shared_ptr<fmu::CoSimulation>>(
      m, "CoSimulation",
      "Co-simulation FMU stepped from C++. Build it from an FMPy FMU2Slave/FMU3Slave that is "
      "instantiated but not initialised: CoSimulation(fmi_version, fmu.dll._handle, "
      "fmu.component, can_save_state, provides_directional_derivatives, tolerance=0). Keep the "
      "FMPy object alive as long as this simulator (fmitwin.fmu does, as `_fmu_owner`).",
      py::dynamic_attr())
      .def(py::init([](int version, std::uintptr_t handle, std::uintptr_t instance,
                       bool can_save_state, bool provides_dd, double tolerance) {
             return std::make_shared<fmu::CoSimulation>(
                 fmu::make_fmu_access(to_version(version), InterfaceType::co_simulation, handle,
                                      instance, 0, 0, can_save_state, provides_dd),
                 tolerance);
           }),
           py::arg("fmi_version"), py::arg("library_handle"), py::arg("instance"),
           py::arg("can_save_state") = false,
           py::arg("provides_directional_derivatives") = false, py::arg("tolerance") = 0.0)
      .def_property("tolerance", &fmu::CoSimulation::tolerance, &fmu::CoSimulation::set_tolerance,
                    "Relative tolerance passed to the FMU when initialization mode is entered "
                    "(0: undefined). Set it before initialising.");

  py::class_<fmu::ModelExchange, fmu::FmuSimulator, std::shared_ptr<fmu::ModelExchange>>(
      m, "ModelExchange",
      "Model-exchange FMU integrated in C++ (RK4 or Dormand-Prince 5(4), state and time events). "
      "Build it from an FMPy FMU2Model/FMU3Model that is instantiated but not initialised: "
      "ModelExchange(fmi_version, fmu.dll._handle, fmu.component, n_states, n_event_indicators, "
      "can_save_state, provides_directional_derivatives). Keep the FMPy object alive as long as "
      "this simulator (fmitwin.fmu does, as `_fmu_owner`).",
      py::dynamic_attr())
      .def(py::init([](int version, std::uintptr_t handle, std::uintptr_t instance,
                       std::size_t n_states, std::size_t n_event_indicators, bool can_save_state,
                       bool provides_dd) {
             return std::make_shared<fmu::ModelExchange>(fmu::make_fmu_access(
                 to_version(version), InterfaceType::model_exchange, handle, instance, n_states,
                 n_event_indicators, can_save_state, provides_dd));
           }),
           py::arg("fmi_version"), py::arg("library_handle"), py::arg("instance"),
           py::arg("n_states"), py::arg("n_event_indicators"), py::arg("can_save_state") = false,
           py::arg("provides_directional_derivatives") = false)
      .def(
          "configure_solver",
          [](fmu::ModelExchange& s, const std::string& method, double rtol, double atol,
             double step) {
            fmu::SolverOptions o = s.solver_options();
            if (method == "rk4") {
              o.method = fmu::SolverOptions::Method::rk4;
            } else if (method == "dopri45") {
              o.method = fmu::SolverOptions::Method::dopri45;
            } else {
              throw std::invalid_argument("solver: expected 'rk4' or 'dopri45', got '" + method +
                                          "'");
            }
            o.rtol = rtol;
            o.atol = atol;
            o.step = step;
            s.configure_solver(o);
          },
          py::arg("method") = "dopri45", py::arg("rtol") = 1e-6, py::arg("atol") = 1e-8,
          py::arg("step") = 0.0,
          "RK4: `step` is the fixed step (0: one step per do_step). Dormand-Prince: the largest "
          "step (0: unlimited).")
      .def_property_readonly("time", &fmu::ModelExchange::time)
      .def_property_readonly("event_count", &fmu::ModelExchange::event_count)
      .def_property_readonly("states",
                             [](const fmu::ModelExchange& s) {
                               return to_array(s.states(), {py::ssize_t(s.state_count())});
                             })
      .def(
          "set_states",
          [](fmu::ModelExchange& s,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& x) {
            if (static_cast<std::size_t>(x.size()) != s.state_count()) {
              throw std::invalid_argument("set_states: expected " +
                                          std::to_string(s.state_count()) + " states, got " +
                                          std::to_string(x.size()));
            }
            s.set_states(x.data());
          },
          py::arg("x"))
      .def("derivatives", [](fmu::ModelExchange& s) {
        py::array_t<double> out(static_cast<py::ssize_t>(s.state_count()));
        s.derivatives(out.mutable_data());
        return out;
      });
}

// (type, value references) pairs from Python: one read per FMI type.
using TypedReads = std::vector<std::pair<fmu::ScalarType, std::vector<ValueReference>>>;

std::vector<fmu::OutputRead> to_reads(const TypedReads& reads) {
  std::vector<fmu::OutputRead> out;
  for (const auto& [type, vrs] : reads) out.push_back({type, vrs});
  return out;
}

void bind_run(py::module_& m) {
  m.def("fmi2_formatting_logger", &fmu::fmi2_formatting_logger,
        "Address of an fmi2CallbackLogger that formats the printf-style message and passes the "
        "text to the sink given as componentEnvironment: "
        "void sink(instance_name, status, category, text).");
  py::enum_<fmu::ScalarType>(m, "ScalarType", "The FMI type a variable is read and written as.")
      .value("float64", fmu::ScalarType::float64)
      .value("float32", fmu::ScalarType::float32)
      .value("int8", fmu::ScalarType::int8)
      .value("uint8", fmu::ScalarType::uint8)
      .value("int16", fmu::ScalarType::int16)
      .value("uint16", fmu::ScalarType::uint16)
      .value("int32", fmu::ScalarType::int32)
      .value("uint32", fmu::ScalarType::uint32)
      .value("int64", fmu::ScalarType::int64)
      .value("uint64", fmu::ScalarType::uint64)
      .value("boolean", fmu::ScalarType::boolean);

  py::class_<fmu::SimulationRun>(
      m, "SimulationRun",
      "Fixed-communication-step run of an initialised FmuSimulator, recorded in C++ "
      "(communication points as FMPy's simulate_fmu). Inputs: one ScalarType per signal; "
      "real_outputs / integer_outputs: [(ScalarType, [value reference, ...]), ...], one read "
      "per type (floating and integer types respectively).")
      .def(py::init([](std::shared_ptr<fmu::FmuSimulator> sim, double start, double stop,
                       double step, bool variable_step, std::vector<double> input_times,
                       std::vector<ValueReference> input_vrs,
                       std::vector<fmu::ScalarType> input_types,
                       std::vector<bool> input_continuous, std::vector<double> input_values,
                       std::vector<double> input_events, const TypedReads& real_out,
                       const TypedReads& integer_out, std::vector<ValueReference> boolean_out) {
             fmu::InputTable in{std::move(input_times), std::move(input_vrs),
                                std::move(input_types), std::move(input_continuous),
                                std::move(input_values), std::move(input_events)};
             fmu::OutputSelection out{to_reads(real_out), to_reads(integer_out),
                                      std::move(boolean_out)};
             return new fmu::SimulationRun(std::move(sim), start, stop, step, variable_step,
                                           std::move(in), std::move(out));
           }),
           py::arg("simulator"), py::arg("start_time"), py::arg("stop_time"), py::arg("step"),
           py::arg("variable_step"), py::arg("input_times"), py::arg("input_vrs"),
           py::arg("input_types"), py::arg("input_continuous"), py::arg("input_values"),
           py::arg("input_events"), py::arg("real_outputs"), py::arg("integer_outputs"),
           py::arg("boolean_outputs"), py::keep_alive<1, 2>())
      .def("apply_inputs", &fmu::SimulationRun::apply_inputs, py::arg("t"),
           py::arg("after_event"))
      .def(
          "advance",
          [](fmu::SimulationRun& run, std::size_t max_steps) {
            // Slices of 2-10 ms of wall time (doubled or halved as they come out shorter or
            // longer), so that Ctrl-C is seen promptly whatever a step costs.
            using clock = std::chrono::steady_clock;
            constexpr std::size_t kLargestSlice = std::size_t{1} << 16;
            SignalPoll poll;
            bool more = true;
            {
              py::gil_scoped_release release;
              std::size_t slice = 1;
              for (std::size_t done = 0; more && done < max_steps;) {
                const std::size_t n = std::min(slice, max_steps - done);
                const auto begin = clock::now();
                more = run.advance(n);
                done += n;
                const auto spent = clock::now() - begin;
                if (spent < std::chrono::milliseconds(2)) {
                  slice = std::min(2 * slice, kLargestSlice);
                } else if (spent > std::chrono::milliseconds(10) && slice > 1) {
                  slice /= 2;
                }
                if (more && poll.interrupted()) break;
              }
            }
            if (poll.raised()) throw py::error_already_set();
            return more;
          },
          py::arg("max_steps"),
          "Runs at most max_steps communication steps without the GIL; True while steps remain. "
          "Ctrl-C raises KeyboardInterrupt within about 20 ms; the rows recorded so far stay "
          "(stop_early() then take_results()).")
      .def("stop_early", &fmu::SimulationRun::stop_early,
           "Ends the run where it is (after an interruption): take_results() gives the rows "
           "recorded so far.")
      .def_property("record_events", &fmu::SimulationRun::record_events,
                    &fmu::SimulationRun::set_record_events,
                    "Model exchange: also record a row just before every event (the left limit) "
                    "and one just after it; set before advancing.")
      .def_property_readonly("finished", &fmu::SimulationRun::finished)
      .def_property_readonly("time", &fmu::SimulationRun::time)
      .def_property_readonly("remaining_steps", &fmu::SimulationRun::remaining_steps)
      .def_property_readonly("terminated_by_fmu", &fmu::SimulationRun::terminated_by_fmu)
      .def(
          "take_results",
          [](fmu::SimulationRun& r) {
            fmu::SimulationRun::Results res = r.take_results();
            const auto rows = py::ssize_t(res.rows);
            const auto& out = r.outputs();
            return py::make_tuple(
                owning_array(std::move(res.table), {rows, py::ssize_t(1 + r.real_columns())}),
                owning_array(std::move(res.integers), {rows, py::ssize_t(r.integer_columns())}),
                owning_array(std::move(res.booleans), {rows, py::ssize_t(out.boolean.size())}));
          },
          "Once the run finished: (table, integers, booleans), moved out without copying. table "
          "is rows x (1 + real outputs): each row's time, then its real outputs; integers holds "
          "UInt64 outputs as their bit pattern (view those columns as uint64).");
}

void bind_estimation(py::module_& m) {
  py::class_<fmu::FmuEstimationCore, std::shared_ptr<fmu::FmuEstimationCore>>(
      m, "FmuEstimationCore",
      "The FMU shared by one filter's FmuProcessModel and FmuMeasurementModel: EKF state = "
      "[continuous states; parameters].")
      .def(py::init([](std::shared_ptr<fmu::ModelExchange> sim,
                       std::vector<ValueReference> states, std::vector<ValueReference> derivatives,
                       std::vector<ValueReference> inputs, std::vector<ValueReference> parameters,
                       std::vector<ValueReference> measurements, const std::string& jacobian) {
             fmu::JacobianMethod method;
             if (jacobian == "directional") {
               method = fmu::JacobianMethod::directional;
             } else if (jacobian == "finite_difference") {
               method = fmu::JacobianMethod::finite_difference;
             } else {
               throw std::invalid_argument(
                   "jacobian: expected 'directional' or 'finite_difference', got '" + jacobian +
                   "'");
             }
             return std::make_shared<fmu::FmuEstimationCore>(
                 std::move(sim),
                 fmu::EstimationLayout{std::move(states), std::move(derivatives),
                                       std::move(inputs), std::move(parameters),
                                       std::move(measurements)},
                 method);
           }),
           py::arg("simulator"), py::arg("states"), py::arg("derivatives"), py::arg("inputs"),
           py::arg("parameters"), py::arg("measurements"), py::arg("jacobian"))
      .def_property_readonly("state_dim", &fmu::FmuEstimationCore::state_dim)
      .def_property_readonly("time", [](fmu::FmuEstimationCore& c) { return c.sim().time(); });

  py::class_<fmu::FmuProcessModel, ProcessModel, std::shared_ptr<fmu::FmuProcessModel>>(
      m, "FmuProcessModel",
      "A model-exchange FMU as an EKF process model (see fmitwin.estimation.fmu_models).")
      .def(py::init<std::shared_ptr<fmu::FmuEstimationCore>>(), py::arg("core"));
  py::class_<fmu::FmuMeasurementModel, MeasurementModel,
             std::shared_ptr<fmu::FmuMeasurementModel>>(
      m, "FmuMeasurementModel",
      "Chosen FMU variables as an EKF measurement model (see fmitwin.estimation.fmu_models).")
      .def(py::init<std::shared_ptr<fmu::FmuEstimationCore>>(), py::arg("core"));
}

}  // namespace

void bind_fmu(py::module_& m) {
  py::register_exception<FmuError>(m, "FmuError", PyExc_RuntimeError).attr("__doc__") =
      "An FMU cannot be loaded, instantiated, initialised or stepped; the message says the fix.";
  bind_simulator(m);
  bind_run(m);
  bind_estimation(m);
}

}  // namespace fmitwin::bindings
