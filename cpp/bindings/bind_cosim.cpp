// Python bindings of the co-simulation core (fmitwin._core): CoupledSystem, master algorithms,
// Recorder, Execution and Checkpoint. Long calls (initialize, run_until) release the GIL.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>
#include <tuple>

#include "bindings.hpp"
#include "fmitwin/cosim/algorithm.hpp"
#include "fmitwin/cosim/coupled_system.hpp"
#include "fmitwin/cosim/execution.hpp"
#include "fmitwin/cosim/observer.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace fmitwin::bindings {
namespace {

using cosim::VariableId;
using cosim::VariableType;

py::array_t<double> as_array(const std::vector<double>& values, std::size_t rows, std::size_t cols) {
  py::array_t<double> out({rows, cols});
  std::copy_n(values.data(), rows * cols, out.mutable_data());
  return out;
}

cosim::Interpolation interpolation_from(const std::string& name) {
  if (name == "hold") return cosim::Interpolation::hold;
  if (name == "linear") return cosim::Interpolation::linear;
  throw std::invalid_argument("interpolation must be 'hold' or 'linear', got '" + name + "'");
}

cosim::FixedStepMethod method_from(const std::string& name) {
  if (name == "jacobi") return cosim::FixedStepMethod::jacobi;
  if (name == "gauss_seidel") return cosim::FixedStepMethod::gauss_seidel;
  throw std::invalid_argument("method must be 'jacobi' or 'gauss_seidel', got '" + name + "'");
}

// CoupledSystem::set_input_signal and Execution::set_input_signal, with Python's argument types.
template <class Target>
void set_input_signal(Target& target, std::size_t instance, ValueReference vr, VariableType type,
                      std::vector<double> times, std::vector<double> values,
                      const std::string& interpolation) {
  target.set_input_signal({instance, vr, type}, std::move(times), std::move(values),
                          interpolation_from(interpolation));
}

}  // namespace

void bind_cosim(py::module_& m) {
  py::enum_<VariableType>(m, "VariableType")
      .value("real", VariableType::real)
      .value("integer", VariableType::integer)
      .value("boolean", VariableType::boolean);

  py::class_<cosim::CoupledSystem, std::shared_ptr<cosim::CoupledSystem>>(
      m, "CoupledSystem", "Coupled simulators with connections (see fmitwin/cosim/coupled_system.hpp).")
      .def(py::init<>())
      .def("add_instance", &cosim::CoupledSystem::add_instance, "name"_a, "simulator"_a,
           "step_multiple"_a = 1, py::keep_alive<1, 3>())
      .def(
          "connect",
          [](cosim::CoupledSystem& s, std::size_t source, ValueReference source_vr,
             std::size_t target, ValueReference target_vr, VariableType type, double factor,
             double offset, std::string source_name, std::string target_name) {
            s.connect({{source, source_vr, type}, {target, target_vr, type}, factor, offset},
                      std::move(source_name), std::move(target_name));
          },
          "source"_a, "source_vr"_a, "target"_a, "target_vr"_a, "type"_a, "factor"_a = 1.0,
          "offset"_a = 0.0, "source_name"_a = "", "target_name"_a = "")
      .def("add_feedthrough", &cosim::CoupledSystem::add_feedthrough, "instance"_a, "input_vr"_a,
           "input_type"_a, "output_vr"_a, "output_type"_a)
      .def(
          "set_start_value",
          [](cosim::CoupledSystem& s, std::size_t instance, ValueReference vr, VariableType type,
             double value) { s.set_start_value({instance, vr, type}, value); },
          "instance"_a, "vr"_a, "type"_a, "value"_a)
      .def(
          "set_input_signal",
          set_input_signal<cosim::CoupledSystem>,
          "instance"_a, "vr"_a, "type"_a, "times"_a, "values"_a, "interpolation"_a = "hold")
      .def(
          "set_loop_solver",
          [](cosim::CoupledSystem& s, double rtol, double atol, int max_iterations, bool newton) {
            s.set_loop_solver_options({rtol, atol, max_iterations, newton});
          },
          "rtol"_a = 1e-10, "atol"_a = 1e-12, "max_iterations"_a = 100, "newton"_a = false)
      .def_property_readonly("instance_count", &cosim::CoupledSystem::instance_count)
      .def("algebraic_loops", &cosim::CoupledSystem::algebraic_loops)
      .def("dataflow_order", &cosim::CoupledSystem::dataflow_order)
      .def("instances_without_state", &cosim::CoupledSystem::instances_without_state);

  py::class_<cosim::Algorithm, std::shared_ptr<cosim::Algorithm>>(m, "Algorithm");
  py::class_<cosim::FixedStepAlgorithm, cosim::Algorithm, std::shared_ptr<cosim::FixedStepAlgorithm>>(
      m, "FixedStepAlgorithm")
      .def(py::init([](const std::string& method, double step, std::vector<std::size_t> order) {
             return std::make_shared<cosim::FixedStepAlgorithm>(method_from(method), step,
                                                                std::move(order));
           }),
           "method"_a, "step"_a, "order"_a = std::vector<std::size_t>{})
      .def_property_readonly("order", &cosim::FixedStepAlgorithm::order);
  py::class_<cosim::VariableStepAlgorithm, cosim::Algorithm,
             std::shared_ptr<cosim::VariableStepAlgorithm>>(m, "VariableStepAlgorithm")
      .def(py::init([](double rtol, double atol, double initial_step, double min_step, double max_step) {
             return std::make_shared<cosim::VariableStepAlgorithm>(
                 cosim::VariableStepOptions{rtol, atol, initial_step, min_step, max_step});
           }),
           "rtol"_a = 1e-4, "atol"_a = 1e-6, "initial_step"_a = 1e-3, "min_step"_a = 1e-9,
           "max_step"_a = 1.0)
      .def_property_readonly("rejected_steps", &cosim::VariableStepAlgorithm::rejected_steps)
      .def_property_readonly("next_step_size", &cosim::VariableStepAlgorithm::next_step_size);

  py::class_<cosim::Observer, std::shared_ptr<cosim::Observer>>(m, "Observer");
  py::class_<cosim::Recorder, cosim::Observer, std::shared_ptr<cosim::Recorder>>(m, "Recorder")
      .def(py::init([](const std::vector<std::tuple<std::size_t, ValueReference, VariableType>>& vars,
                       std::vector<double> output_times) {
             std::vector<VariableId> ids;
             for (const auto& [instance, vr, type] : vars) ids.push_back({instance, vr, type});
             return std::make_shared<cosim::Recorder>(std::move(ids), std::move(output_times));
           }),
           "variables"_a, "output_times"_a)
      .def_property_readonly("rows_recorded", &cosim::Recorder::rows_recorded)
      .def("values",
           [](const cosim::Recorder& r) {
             return as_array(r.values(), r.rows_recorded(), r.variable_count());
           })
      .def("times", [](const cosim::Recorder& r) {
        py::array_t<double> out(r.rows_recorded());
        std::copy_n(r.times().data(), r.rows_recorded(), out.mutable_data());
        return out;
      });

  py::class_<cosim::Checkpoint, std::shared_ptr<cosim::Checkpoint>>(
      m, "Checkpoint", "A saved state of a whole execution (restore it any number of times).")
      .def_readonly("time", &cosim::Checkpoint::time)
      .def_property_readonly("released", [](const cosim::Checkpoint& c) { return !c.system; })
      .def(
          "release",
          [](cosim::Checkpoint& c) {
            c.system.reset();
            c.algorithm.reset();
          },
          "Frees the saved FMU states now (before their FMUs are freed); restore then refuses it.");

  py::class_<cosim::Execution, std::shared_ptr<cosim::Execution>>(m, "Execution")
      .def(py::init<std::shared_ptr<cosim::CoupledSystem>, std::shared_ptr<cosim::Algorithm>>(),
           "system"_a, "algorithm"_a, py::keep_alive<1, 2>(), py::keep_alive<1, 3>())
      .def("add_observer", &cosim::Execution::add_observer, "observer"_a, py::keep_alive<1, 2>())
      .def("initialize", &cosim::Execution::initialize, "start_time"_a, "stop_time"_a,
           "set_up_simulators"_a = true, py::call_guard<py::gil_scoped_release>())
      .def(
          "run_until",
          [](cosim::Execution& e, double end_time) {
            SignalPoll poll;
            double reached = 0.0;
            {
              py::gil_scoped_release release;
              e.set_interrupt_check([&poll] { return poll.interrupted(); });
              try {
                reached = e.run_until(end_time);
              } catch (...) {
                e.set_interrupt_check({});
                throw;
              }
              e.set_interrupt_check({});
            }
            if (poll.raised()) throw py::error_already_set();
            return reached;
          },
          "end_time"_a,
          "Steps to end_time without the GIL; returns the time reached. Ctrl-C raises "
          "KeyboardInterrupt within about 20 ms, the run stopped at a communication point.")
      .def("request_stop", &cosim::Execution::request_stop)
      .def(
          "set_input_signal",
          set_input_signal<cosim::Execution>,
          "instance"_a, "vr"_a, "type"_a, "times"_a, "values"_a, "interpolation"_a = "hold")
      .def_property("real_time_factor", &cosim::Execution::real_time_factor,
                    &cosim::Execution::set_real_time_factor)
      .def("checkpoint",
           [](const cosim::Execution& e) { return std::shared_ptr<cosim::Checkpoint>(e.checkpoint()); })
      .def("restore", &cosim::Execution::restore, "checkpoint"_a,
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("time", &cosim::Execution::time)
      .def_property_readonly(
          "termination",
          [](cosim::Execution& e) -> py::object {
            const auto& t = e.system().termination();
            if (!t.requested) return py::none();
            return py::make_tuple(e.system().instance_name(t.instance), t.time);
          },
          "None, or (instance name, time it reached) once an instance asked to end the "
          "simulation.")
      .def_property_readonly("steps", &cosim::Execution::steps)
      .def_property_readonly("initialized", &cosim::Execution::initialized);
}

}  // namespace fmitwin::bindings
