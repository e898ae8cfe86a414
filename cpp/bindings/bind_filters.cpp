// Python bindings of the estimation core: model base classes (std::shared_ptr holders, so other
// binding files can derive FMU-backed models), the native and Python-callable models, the
// extended Kalman filter and the fleet. Array arguments are converted here with messages that
// name the argument and its expected and actual shape.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "fmitwin/ekf.hpp"
#include "fmitwin/fleet.hpp"
#include "fmitwin/models.hpp"
#include "fmitwin/ukf.hpp"

namespace py = pybind11;

namespace fmitwin::bindings {
namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;
using Eigen::Index;

std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    s += std::to_string(a.shape(i));
    if (a.ndim() == 1 || i + 1 < a.ndim()) s += a.ndim() == 1 ? "," : ", ";
  }
  return s + ")";
}

// obj as a C-contiguous float64 array (no copy when it already is one), or TypeError.
Array as_array(py::handle obj, const std::string& name) {
  // The per-step fast path: an aligned, C-contiguous float64 ndarray is used as it is, without
  // NumPy's general conversion machinery (which dominates the cost of a small update).
  if (py::isinstance<py::array>(obj)) {
    const auto a = py::reinterpret_borrow<py::array>(obj);
    constexpr int wanted = py::array::c_style | py::detail::npy_api::NPY_ARRAY_ALIGNED_;
    if (a.dtype().num() == py::detail::npy_api::NPY_DOUBLE_ && (a.flags() & wanted) == wanted) {
      return py::reinterpret_borrow<Array>(obj);
    }
  }
  Array a = Array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(name + " must be an array of numbers, got " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  }
  return a;
}

// A 1-D array of `size` numbers (a scalar is accepted when size == 1).
Array vector_arg(py::handle obj, const std::string& name, Index size) {
  Array a = as_array(obj, name);
  if (!((a.ndim() == 1 && a.shape(0) == size) || (a.ndim() == 0 && size == 1))) {
    throw py::value_error(name + " must have shape (" + std::to_string(size) + ",), got " +
                          shape_of(a));
  }
  return a;
}

Eigen::Map<const Eigen::VectorXd> as_vector(const Array& a) {
  return {a.data(), static_cast<Index>(a.size())};
}

// An array of exactly `shape` (row-major), or ValueError naming the expected and actual shape.
Array shaped_arg(py::handle obj, const std::string& name, const std::vector<py::ssize_t>& shape) {
  Array a = as_array(obj, name);
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (std::size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape(i) == shape[i];
  if (!ok) {
    std::string expected = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
      expected += std::to_string(shape[i]) + (shape.size() == 1 ? "," : "");
      if (i + 1 < shape.size()) expected += ", ";
    }
    throw py::value_error(name + " must have shape " + expected + "), got " + shape_of(a));
  }
  return a;
}

// A (rows, cols) matrix, copied into column-major storage.
Eigen::MatrixXd matrix_arg(py::handle obj, const std::string& name, Index rows, Index cols) {
  const Array a = shaped_arg(obj, name, {rows, cols});
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(a.data(), rows, cols);
}

// A (rows, ?) matrix of any column count (for input matrices that may be absent).
Eigen::MatrixXd matrix_arg_rows(py::handle obj, const std::string& name, Index rows) {
  const Array a = as_array(obj, name);
  if (a.ndim() != 2 || a.shape(0) != rows) {
    throw py::value_error(name + " must have shape (" + std::to_string(rows) + ", k), got " +
                          shape_of(a));
  }
  return matrix_arg(obj, name, rows, a.shape(1));
}

py::array_t<double> vector_out(const Eigen::VectorXd& v) {
  return py::array_t<double>(static_cast<py::ssize_t>(v.size()), v.data());
}

// Column-major Eigen to a row-major NumPy copy.
py::array_t<double> matrix_out(const Eigen::MatrixXd& a) {
  py::array_t<double> out({a.rows(), a.cols()});
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<RowMajor>(out.mutable_data(), a.rows(), a.cols()) = a;
  return out;
}

// Hands a vector's buffer to NumPy without copying.
template <class T>
py::array_t<T> take(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owned->data(), free_when_done);
}

// The Python-callable models (the slow path): each call takes the GIL.
class PythonProcessModel : public ProcessModel {
 public:
  PythonProcessModel(py::function f, py::object jacobian, int dim_x, int dim_u)
      : f_(std::move(f)), jacobian_(std::move(jacobian)), n_(dim_x), nu_(dim_u) {}
  ~PythonProcessModel() override {
    py::gil_scoped_acquire gil;
    f_ = py::object();
    jacobian_ = py::object();
  }
  int state_dim() const override { return n_; }
  int input_dim() const override { return nu_; }
  void propagate(const Eigen::Ref<const Eigen::VectorXd>& x,
                 const Eigen::Ref<const Eigen::VectorXd>& u, double dt,
                 Eigen::Ref<Eigen::VectorXd> x_next, Eigen::MatrixXd* F) override {
    py::gil_scoped_acquire gil;
    const py::array_t<double> u_in = vector_out(u);
    const auto f = [&](const Eigen::VectorXd& xs, Eigen::Ref<Eigen::VectorXd> out) {
      const py::object r = f_(vector_out(xs), u_in, dt);
      out = as_vector(vector_arg(r, "f(x, u, dt)", n_));
    };
    const Eigen::VectorXd x0 = x;
    f(x0, x_next);
    if (F == nullptr) return;
    if (jacobian_.is_none()) {
      finite_difference_jacobian(f, x0, n_, *F);
    } else {
      *F = matrix_arg(jacobian_(vector_out(x0), u_in, dt), "jacobian(x, u, dt)", n_, n_);
    }
  }

 private:
  py::object f_, jacobian_;
  int n_, nu_;
};

class PythonMeasurementModel : public MeasurementModel {
 public:
  PythonMeasurementModel(py::function h, py::object jacobian, int dim_x, int dim_z)
      : h_(std::move(h)), jacobian_(std::move(jacobian)), n_(dim_x), m_(dim_z) {}
  ~PythonMeasurementModel() override {
    py::gil_scoped_acquire gil;
    h_ = py::object();
    jacobian_ = py::object();
  }
  int state_dim() const override { return n_; }
  int measurement_dim() const override { return m_; }
  void measure(const Eigen::Ref<const Eigen::VectorXd>& x, const Eigen::Ref<const Eigen::VectorXd>&,
               Eigen::Ref<Eigen::VectorXd> z, Eigen::MatrixXd* H) override {
    py::gil_scoped_acquire gil;
    const auto h = [&](const Eigen::VectorXd& xs, Eigen::Ref<Eigen::VectorXd> out) {
      out = as_vector(vector_arg(h_(vector_out(xs)), "h(x)", m_));
    };
    const Eigen::VectorXd x0 = x;
    h(x0, z);
    if (H == nullptr) return;
    if (jacobian_.is_none()) {
      finite_difference_jacobian(h, x0, m_, *H);
    } else {
      *H = matrix_arg(jacobian_(vector_out(x0)), "jacobian(x)", m_, n_);
    }
  }

 private:
  py::object h_, jacobian_;
  int n_, m_;
};

int positive_dim(int d, const char* name) {
  if (d < 1) throw py::value_error(std::string(name) + " must be >= 1, got " + std::to_string(d));
  return d;
}

// A filter or fleet as bound: rejects calls from other threads while a GIL-free run is on it.
template <class Base>
class Guarded : public Base {
 public:
  using Base::Base;
  void ensure_idle() const {
    if (busy_.load(std::memory_order_acquire)) {
      throw std::runtime_error("a batch or fleet run is using this object in another thread");
    }
  }
  std::atomic<bool> busy_{false};
};
using BoundFilter = Guarded<ExtendedKalmanFilter>;
using BoundUnscented = Guarded<UnscentedKalmanFilter>;
using BoundFleet = Guarded<KalmanFleet>;

class BusyGuard {
 public:
  explicit BusyGuard(std::atomic<bool>& flag) : flag_(flag) {
    if (flag_.exchange(true)) {
      throw std::runtime_error("a batch or fleet run is using this object in another thread");
    }
  }
  ~BusyGuard() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool>& flag_;
};

// Runs one filter step, releasing the GIL when it goes through a nonlinear model (an FMU step can
// take milliseconds; a Python model takes the GIL back itself). Linear steps are shorter than the
// GIL hand-off and keep it.
template <class Bound, class Step>
auto step_without_gil_if(bool release, Bound& f, Step&& step) {
  if (!release) return step();
  BusyGuard guard(f.busy_);
  py::gil_scoped_release no_gil;
  return step();
}

// A matrix property of a filter or fleet: get returns a row-major copy, set converts the value
// to the (rows, cols) the object expects and hands it to its validating setter.
template <class Bound, class Base>
void matrix_property(py::class_<Bound>& cls, const char* name,
                     const Eigen::MatrixXd& (Base::*get)() const,
                     void (Base::*set)(const Eigen::Ref<const Eigen::MatrixXd>&),
                     Index (Base::*rows)() const, Index (Base::*cols)() const) {
  cls.def_property(
      name,
      [get](const Bound& f) {
        f.ensure_idle();
        return matrix_out((f.*get)());
      },
      [name, set, rows, cols](Bound& f, py::object v) {
        f.ensure_idle();
        (f.*set)(matrix_arg(v, name, (f.*rows)(), (f.*cols)()));
      });
}

CovarianceOutput covariance_output(const std::string& which) {
  if (which == "full") return CovarianceOutput::full;
  if (which == "diagonal") return CovarianceOutput::diagonal;
  if (which == "none") return CovarianceOutput::none;
  throw py::value_error("covariances must be 'full', 'diagonal' or 'none', got '" + which + "'");
}

py::dict batch_out(BatchResult&& r, CovarianceOutput covariances) {
  const py::ssize_t T = r.steps, n = r.n, m = r.m;
  py::dict out;
  out["states"] = r.states.empty() && T > 0 ? py::object(py::none())
                                            : py::object(take(std::move(r.states), {T, n}));
  if (covariances == CovarianceOutput::full) {
    out["covariances"] = take(std::move(r.covariances), {T, n, n});
  } else if (covariances == CovarianceOutput::diagonal) {
    out["covariances"] = take(std::move(r.covariances), {T, n});
  } else {
    out["covariances"] = py::none();
  }
  out["innovations"] = take(std::move(r.innovations), {T, m});
  out["nis"] = take(std::move(r.nis), {T});
  out["log_likelihood"] = take(std::move(r.log_likelihood), {T});
  py::array_t<bool> accepted(T);
  for (py::ssize_t t = 0; t < T; ++t) accepted.mutable_data()[t] = r.accepted[t] != 0;
  out["accepted"] = accepted;
  return out;
}

void bind_models(py::module_& m) {
  py::class_<ProcessModel, std::shared_ptr<ProcessModel>>(
      m, "ProcessModel",
      "Base of every process model x_next = f(x, u, dt) with Jacobian F = df/dx (C++).")
      .def_property_readonly("state_dim", &ProcessModel::state_dim)
      .def_property_readonly("input_dim", &ProcessModel::input_dim)
      .def(
          "propagate",
          [](ProcessModel& self, py::object x, py::object u, double dt) {
            const Array xa = vector_arg(x, "x", self.state_dim());
            const Eigen::VectorXd xv = as_vector(xa);
            const Eigen::VectorXd uv = u.is_none()
                                           ? Eigen::VectorXd::Zero(self.input_dim())
                                           : Eigen::VectorXd(as_vector(
                                                 vector_arg(u, "u", self.input_dim())));
            Eigen::VectorXd x_next(self.state_dim());
            Eigen::MatrixXd F;
            {
              py::gil_scoped_release release;
              self.propagate(xv, uv, dt, x_next, &F);
            }
            return py::make_tuple(vector_out(x_next), matrix_out(F));
          },
          py::arg("x"), py::arg("u") = py::none(), py::arg("dt") = 1.0,
          "Returns (x_next (n,), F (n, n)) for state x (n,), input u (dim_u,) over dt.");

  py::class_<MeasurementModel, std::shared_ptr<MeasurementModel>>(
      m, "MeasurementModel",
      "Base of every measurement model z = h(x, u) with Jacobian H = dh/dx (C++).")
      .def_property_readonly("state_dim", &MeasurementModel::state_dim)
      .def_property_readonly("measurement_dim", &MeasurementModel::measurement_dim)
      .def(
          "measure",
          [](MeasurementModel& self, py::object x, py::object u) {
            const Eigen::VectorXd xv = as_vector(vector_arg(x, "x", self.state_dim()));
            const Eigen::VectorXd uv =
                u.is_none() ? Eigen::VectorXd() : Eigen::VectorXd(as_vector(as_array(u, "u")));
            Eigen::VectorXd z(self.measurement_dim());
            Eigen::MatrixXd H;
            {
              py::gil_scoped_release release;
              self.measure(xv, uv, z, &H);
            }
            return py::make_tuple(vector_out(z), matrix_out(H));
          },
          py::arg("x"), py::arg("u") = py::none(),
          "Returns (z (m,), H (m, n)) for state x (n,).");

  py::class_<LinearProcessModel, ProcessModel, std::shared_ptr<LinearProcessModel>>(
      m, "LinearProcessModel")
      .def(py::init([](py::object F, py::object B) {
             const Array Fa = as_array(F, "F");
             if (Fa.ndim() != 2 || Fa.shape(0) != Fa.shape(1) || Fa.shape(0) < 1) {
               throw py::value_error("F must be a square (n, n) matrix, got shape " +
                                     shape_of(Fa));
             }
             const Index n = Fa.shape(0);
             Eigen::MatrixXd Fm = matrix_arg(F, "F", n, n);
             check_finite("F", Fm);
             Eigen::MatrixXd Bm = B.is_none() ? Eigen::MatrixXd(n, 0) : matrix_arg_rows(B, "B", n);
             check_finite("B", Bm);
             return std::make_shared<LinearProcessModel>(std::move(Fm), std::move(Bm));
           }),
           py::arg("F"), py::arg("B") = py::none())
      .def_property_readonly("F", [](const LinearProcessModel& s) { return matrix_out(s.F()); })
      .def_property_readonly("B", [](const LinearProcessModel& s) { return matrix_out(s.B()); });

  py::class_<LinearMeasurementModel, MeasurementModel, std::shared_ptr<LinearMeasurementModel>>(
      m, "LinearMeasurementModel")
      .def(py::init([](py::object H) {
             const Array Ha = as_array(H, "H");
             if (Ha.ndim() != 2 || Ha.shape(0) < 1 || Ha.shape(1) < 1) {
               throw py::value_error("H must be a non-empty (m, n) matrix, got shape " +
                                     shape_of(Ha));
             }
             Eigen::MatrixXd Hm = matrix_arg(H, "H", Ha.shape(0), Ha.shape(1));
             check_finite("H", Hm);
             return std::make_shared<LinearMeasurementModel>(std::move(Hm));
           }),
           py::arg("H"))
      .def_property_readonly("H",
                             [](const LinearMeasurementModel& s) { return matrix_out(s.H()); });

  py::class_<PythonProcessModel, ProcessModel, std::shared_ptr<PythonProcessModel>>(
      m, "PythonProcessModel")
      .def(py::init([](py::function f, py::object jacobian, int dim_x, int dim_u) {
             if (!jacobian.is_none() && !PyCallable_Check(jacobian.ptr())) {
               throw py::type_error("jacobian must be callable or None");
             }
             if (dim_u < 0) throw py::value_error("dim_u must be >= 0, got " + std::to_string(dim_u));
             return std::make_shared<PythonProcessModel>(std::move(f), std::move(jacobian),
                                                         positive_dim(dim_x, "dim_x"), dim_u);
           }),
           py::arg("f"), py::arg("jacobian") = py::none(), py::kw_only(), py::arg("dim_x"),
           py::arg("dim_u") = 0);

  py::class_<PythonMeasurementModel, MeasurementModel, std::shared_ptr<PythonMeasurementModel>>(
      m, "PythonMeasurementModel")
      .def(py::init([](py::function h, py::object jacobian, int dim_x, int dim_z) {
             if (!jacobian.is_none() && !PyCallable_Check(jacobian.ptr())) {
               throw py::type_error("jacobian must be callable or None");
             }
             return std::make_shared<PythonMeasurementModel>(
                 std::move(h), std::move(jacobian), positive_dim(dim_x, "dim_x"),
                 positive_dim(dim_z, "dim_z"));
           }),
           py::arg("h"), py::arg("jacobian") = py::none(), py::kw_only(), py::arg("dim_x"),
           py::arg("dim_z"));

  py::class_<DampedPendulumModel, ProcessModel, std::shared_ptr<DampedPendulumModel>>(
      m, "DampedPendulumModel",
      R"doc(A damped pendulum whose damping rate is a state to estimate (a native C++ model).

theta' = omega, omega' = -(g / L) sin(theta) - c omega + u, c' = 0; state (theta [rad],
omega [rad/s], c [1/s]), input u = torque / inertia [rad/s^2]. Integrated by RK4 with substeps
<= max_step; F from the variational equation (analytic_jacobian) or finite differences.)doc")
      .def(py::init<double, double, double, bool>(), py::arg("length"),
           py::arg("gravity") = 9.80665, py::arg("max_step") = 0.01,
           py::arg("analytic_jacobian") = true)
      .def_property_readonly("analytic_jacobian", &DampedPendulumModel::analytic_jacobian)
      .def_property_readonly("length", &DampedPendulumModel::length)
      .def_property_readonly("gravity", &DampedPendulumModel::gravity)
      .def_property_readonly("max_step", &DampedPendulumModel::max_step);
}

// What the extended and the unscented filter share: dimensions, x, u, P, Q, R, the gate table,
// the models, the state snapshot and the batch run.
template <class Bound>
void bind_filter_common(py::class_<Bound>& filter) {
  filter
      .def_property_readonly("dim_x", &Bound::dim_x)
      .def_property_readonly("dim_z", &Bound::dim_z)
      .def_property_readonly("dim_u",
                             [](const Bound& f) {
            f.ensure_idle();
            return f.u().size(); })
      .def_property(
          "x", [](const Bound& f) {
            f.ensure_idle();
            return vector_out(f.x()); },
          [](Bound& f, py::object v) {
            f.ensure_idle();
            f.set_x(as_vector(vector_arg(v, "x", f.dim_x())));
          })
      .def_property(
          "u", [](const Bound& f) {
            f.ensure_idle();
            return vector_out(f.u()); },
          [](Bound& f, py::object v) {
            f.ensure_idle();
            f.set_u(as_vector(vector_arg(v, "u", f.u().size())));
          })
      .def_property(
          "gate_thresholds", [](const Bound& f) {
            f.ensure_idle();
            return f.gate(); },
          [](Bound& f, std::vector<double> gate) {
            f.ensure_idle();
            f.set_gate(std::move(gate));
          })
      .def_property(
          "process_model", [](const Bound& f) {
            f.ensure_idle();
            return f.process_model(); },
          [](Bound& f, std::shared_ptr<ProcessModel> model) {
            f.ensure_idle();
            f.set_process_model(std::move(model));
          })
      .def_property(
          "measurement_model", [](const Bound& f) {
            f.ensure_idle();
            return f.measurement_model(); },
          [](Bound& f, std::shared_ptr<MeasurementModel> model) {
            f.ensure_idle();
            f.set_measurement_model(std::move(model));
          })
      .def(
          "_set_state",
          [](Bound& f, py::object x, py::object P, py::object Q, py::object R,
             py::object u) {
            f.ensure_idle();
            const Index n = f.dim_x(), mz = f.dim_z();
            f.set_state(as_vector(vector_arg(x, "x", n)), matrix_arg(P, "P", n, n),
                        matrix_arg(Q, "Q", n, n), matrix_arg(R, "R", mz, mz),
                        as_vector(vector_arg(u, "u", f.u().size())));
          },
          py::arg("x"), py::arg("P"), py::arg("Q"), py::arg("R"), py::arg("u"))
      .def(
          "_batch",
          [](Bound& f, py::object z, py::object dt, py::object u, py::object quality,
             bool states, const std::string& covariances) {
            const Array za = as_array(z, "z");
            if (za.ndim() != 2 || za.shape(1) != f.dim_z()) {
              throw py::value_error("z must have shape (T, " + std::to_string(f.dim_z()) +
                                    "), got " + shape_of(za));
            }
            const Index T = za.shape(0);
            const Array dta = as_array(dt, "dt");
            if (!(dta.ndim() == 0 || (dta.ndim() == 1 && dta.shape(0) == T))) {
              throw py::value_error("dt must be a scalar or have shape (" + std::to_string(T) +
                                    ",), got " + shape_of(dta));
            }
            const std::vector<double> dtv(dta.data(), dta.data() + dta.size());
            Array ua, qa;
            Index dim_u = 0;
            if (!u.is_none()) {
              ua = as_array(u, "u");
              if (ua.ndim() != 2 || ua.shape(0) != T) {
                throw py::value_error("u must have shape (" + std::to_string(T) + ", dim_u), got " +
                                      shape_of(ua));
              }
              dim_u = ua.shape(1);
            }
            if (!quality.is_none()) qa = shaped_arg(quality, "quality", {T});
            const CovarianceOutput cov = covariance_output(covariances);
            BusyGuard guard(f.busy_);
            BatchResult r;
            {
              py::gil_scoped_release release;
              r = f.run_batch(za.data(), T, dtv, u.is_none() ? nullptr : ua.data(), dim_u,
                              quality.is_none() ? nullptr : qa.data(), states, cov);
            }
            return batch_out(std::move(r), cov);
          },
          py::arg("z"), py::arg("dt"), py::arg("u"), py::arg("quality"), py::arg("states"),
          py::arg("covariances"));
  const auto n = &KalmanFilterBase::dim_x;
  const auto m_dim = &KalmanFilterBase::dim_z;
  matrix_property(filter, "P", &KalmanFilterBase::P, &KalmanFilterBase::set_P, n, n);
  matrix_property(filter, "Q", &KalmanFilterBase::Q, &KalmanFilterBase::set_Q, n, n);
  matrix_property(filter, "R", &KalmanFilterBase::R, &KalmanFilterBase::set_R, m_dim, m_dim);
}

void bind_unscented(py::module_& m) {
  auto filter = py::class_<BoundUnscented>(m, "UnscentedKalmanFilter")
      .def(py::init([](int dim_x, int dim_z, double alpha, double beta, double kappa) {
             return std::make_unique<BoundUnscented>(positive_dim(dim_x, "dim_x"),
                                                     positive_dim(dim_z, "dim_z"), alpha, beta,
                                                     kappa);
           }),
           py::arg("dim_x"), py::arg("dim_z"), py::arg("alpha"), py::arg("beta"),
           py::arg("kappa"))
      .def_property_readonly("alpha", &BoundUnscented::alpha)
      .def_property_readonly("beta", &BoundUnscented::beta)
      .def_property_readonly("kappa", &BoundUnscented::kappa)
      .def_property_readonly(
          "mean_weights",
          [](const BoundUnscented& f) { return vector_out(f.mean_weights()); },
          "Wm (2n + 1,): Wm_0 = lambda / (n + lambda), Wm_i = 1 / (2 (n + lambda)).")
      .def_property_readonly(
          "covariance_weights",
          [](const BoundUnscented& f) { return vector_out(f.covariance_weights()); },
          "Wc (2n + 1,): Wc_0 = Wm_0 + 1 - alpha^2 + beta, Wc_i = Wm_i.")
      .def(
          "sigma_points",
          [](const BoundUnscented& f, py::object x, py::object P) {
            f.ensure_idle();
            const Index n = f.dim_x();
            const Eigen::VectorXd xv =
                x.is_none() ? f.x() : Eigen::VectorXd(as_vector(vector_arg(x, "x", n)));
            const Eigen::MatrixXd Pm = P.is_none() ? f.P() : matrix_arg(P, "P", n, n);
            return matrix_out(f.sigma_points(xv, Pm).transpose());
          },
          py::arg("x") = py::none(), py::arg("P") = py::none(),
          R"doc(The 2n + 1 sigma points of (x, P) (default: the filter's) as rows, (2n + 1, n).

Row 0 is x, rows 1..n are x + L[:, i], rows n+1..2n are x - L[:, i], with L the lower
Cholesky factor of (n + lambda) P.)doc")
      .def(
          "predict",
          [](BoundUnscented& f, double dt, py::object u, py::object Q) {
            f.ensure_idle();
            Eigen::VectorXd uv;
            Eigen::MatrixXd Qm;
            if (!u.is_none()) uv = as_vector(vector_arg(u, "u", f.u().size()));
            if (!Q.is_none()) Qm = matrix_arg(Q, "Q", f.dim_x(), f.dim_x());
            step_without_gil_if(f.nonlinear_process(), f, [&] {
              f.predict(dt, u.is_none() ? nullptr : &uv, Q.is_none() ? nullptr : &Qm);
            });
          },
          py::arg("dt") = 1.0, py::arg("u") = py::none(), py::kw_only(), py::arg("Q") = py::none(),
          R"doc(Propagates the estimate over one step of dt >= 0 through the process model.

chi_i (2n + 1 sigma points of x, P) <- f(chi_i, u, dt), x <- sum Wm_i chi_i,
P <- sum Wc_i (chi_i - x)(chi_i - x)' + Q, symmetrized.
u (dim_u,) defaults to zeros; Q (n, n) defaults to the filter's Q.
A rejected call (ValueError, RuntimeError: e.g. P not positive definite) leaves the filter
unchanged.)doc")
      .def(
          "update",
          [](BoundUnscented& f, py::object z, py::object R, double quality) {
            f.ensure_idle();
            const Array za = vector_arg(z, "z", f.dim_z());
            Eigen::MatrixXd Rm;
            if (!R.is_none()) Rm = matrix_arg(R, "R", f.dim_z(), f.dim_z());
            return step_without_gil_if(f.nonlinear_measurement(), f, [&] {
              return f.update(as_vector(za), R.is_none() ? nullptr : &Rm, quality);
            });
          },
          py::arg("z"), py::arg("R") = py::none(), py::kw_only(), py::arg("quality") = 1.0,
          R"doc(Corrects the estimate with measurement z (m,); NaN entries are missing.

The sigma points chi_i are drawn afresh from the current (x, P), so the update depends on
the current estimate only. Z_i = h(chi_i), z^ = sum Wm_i Z_i,
S = sum Wc_i (Z_i - z^)(Z_i - z^)' + R / q, Pxz = sum Wc_i (chi_i - x)(Z_i - z^)',
K = Pxz S^-1, y = z - z^, NIS = y' S^-1 y, x <- x + K y, P <- P - K S K' (symmetrized).
Only the non-NaN entries of z (and their rows of Z, R) are used; quality q = 0 skips the
update. When the NIS exceeds the chi-square gate for the entries used, the update is rejected
(accepted=False, gated=True) and the estimate is unchanged. Returns an UpdateResult.)doc");
  bind_filter_common(filter);
}

void bind_filter(py::module_& m) {
  py::class_<UpdateResult>(
      m, "UpdateResult",
      "What a Kalman filter's update did: accepted (applied), gated (rejected by the chi-square "
      "gate), nis = y' S^-1 y, log_likelihood = log N(y; 0, S), innovation y (m,), S (m, m) and "
      "used (m,) bool; NaN / False for the entries of z not used.")
      .def_readonly("accepted", &UpdateResult::accepted)
      .def_readonly("gated", &UpdateResult::gated)
      .def_readonly("nis", &UpdateResult::nis)
      .def_readonly("log_likelihood", &UpdateResult::log_likelihood)
      .def_property_readonly("innovation",
                             [](const UpdateResult& r) { return vector_out(r.innovation()); })
      .def_property_readonly("S", [](const UpdateResult& r) { return matrix_out(r.S()); })
      .def_property_readonly("used",
                             [](const UpdateResult& r) {
                               py::array_t<bool> out(r.dim_z());
                               for (Index i = 0; i < r.dim_z(); ++i) {
                                 out.mutable_data()[i] = r.used(i);
                               }
                               return out;
                             })
      .def("__repr__", [](const UpdateResult& r) {
        return "UpdateResult(accepted=" + std::string(r.accepted ? "True" : "False") +
               ", gated=" + (r.gated ? "True" : "False") + ", nis=" +
               std::string(py::repr(py::float_(r.nis))) + ", log_likelihood=" +
               std::string(py::repr(py::float_(r.log_likelihood))) + ")";
      });

  auto filter = py::class_<BoundFilter>(m, "ExtendedKalmanFilter")
      .def(py::init([](int dim_x, int dim_z) {
             return std::make_unique<BoundFilter>(positive_dim(dim_x, "dim_x"),
                                                  positive_dim(dim_z, "dim_z"));
           }),
           py::arg("dim_x"), py::arg("dim_z"))
      .def(
          "predict",
          [](BoundFilter& f, double dt, py::object u, py::object F, py::object Q) {
            f.ensure_idle();
            const Index n = f.dim_x();
            Eigen::VectorXd uv;
            Eigen::MatrixXd Fm, Qm;
            if (!u.is_none()) {
              // With F the core rejects any u; otherwise u must match the model's input.
              uv = as_vector(F.is_none() ? vector_arg(u, "u", f.u().size()) : as_array(u, "u"));
            }
            if (!F.is_none()) Fm = matrix_arg(F, "F", n, n);
            if (!Q.is_none()) Qm = matrix_arg(Q, "Q", n, n);
            step_without_gil_if(F.is_none() && f.nonlinear_process(), f, [&] {
              f.predict(dt, u.is_none() ? nullptr : &uv, F.is_none() ? nullptr : &Fm,
                        Q.is_none() ? nullptr : &Qm);
            });
          },
          py::arg("dt") = 1.0, py::arg("u") = py::none(), py::kw_only(), py::arg("F") = py::none(),
          py::arg("Q") = py::none(),
          R"doc(Propagates the estimate over one step of dt >= 0.

With F (n, n): x <- F x, P <- F P F' + Q.
Otherwise the process model: x <- f(x, u, dt), P <- F P F' + Q with F = df/dx at the prior x.
u (dim_u,) defaults to zeros; Q (n, n) defaults to the filter's Q.
A rejected call (ValueError, RuntimeError) leaves the filter unchanged.)doc")
      .def(
          "update",
          [](BoundFilter& f, py::object z, py::object H, py::object R, double quality) {
            f.ensure_idle();
            const Array za = vector_arg(z, "z", f.dim_z());
            Eigen::MatrixXd Hm, Rm;
            if (!H.is_none()) Hm = matrix_arg(H, "H", f.dim_z(), f.dim_x());
            if (!R.is_none()) Rm = matrix_arg(R, "R", f.dim_z(), f.dim_z());
            return step_without_gil_if(H.is_none() && f.nonlinear_measurement(), f, [&] {
              return f.update(as_vector(za), H.is_none() ? nullptr : &Hm,
                              R.is_none() ? nullptr : &Rm, quality);
            });
          },
          py::arg("z"), py::arg("H") = py::none(), py::arg("R") = py::none(), py::kw_only(),
          py::arg("quality") = 1.0,
          R"doc(Corrects the estimate with measurement z (m,); NaN entries are missing.

y = z - h(x) (h(x) = H x when H (m, n) is given, else from the measurement model),
S = H P H' + R / q, NIS = y' S^-1 y, K = P H' S^-1,
x <- x + K y, P <- (I - K H) P (I - K H)' + K (R / q) K' (Joseph form).
Only the non-NaN entries of z (and their rows of H, R) are used; quality q = 0 skips the update.
When the NIS exceeds the chi-square gate for the entries used, the update is rejected
(accepted=False, gated=True) and the estimate is unchanged. Returns an UpdateResult.)doc");
  bind_filter_common(filter);
  bind_unscented(m);
}

void bind_fleet(py::module_& m) {
  auto fleet = py::class_<BoundFleet>(m, "KalmanFleet")
      .def(py::init([](int count, int dim_x, int dim_z) {
             return std::make_unique<BoundFleet>(positive_dim(count, "count"),
                                                 positive_dim(dim_x, "dim_x"),
                                                 positive_dim(dim_z, "dim_z"));
           }),
           py::arg("count"), py::arg("dim_x"), py::arg("dim_z"))
      .def_property_readonly("count", &BoundFleet::count)
      .def_property_readonly("dim_x", &BoundFleet::dim_x)
      .def_property_readonly("dim_z", &BoundFleet::dim_z)
      .def_property(
          "x",
          [](const BoundFleet& f) {
            f.ensure_idle();
            py::array_t<double> out({f.count(), f.dim_x()});
            std::copy(f.x().begin(), f.x().end(), out.mutable_data());
            return out;
          },
          [](BoundFleet& f, py::object v) {
            f.ensure_idle();
            const Array a = as_array(v, "x");
            if (!((a.ndim() == 1 && a.shape(0) == f.dim_x()) ||
                  (a.ndim() == 2 && a.shape(0) == f.count() && a.shape(1) == f.dim_x()))) {
              throw py::value_error("x must have shape (" + std::to_string(f.dim_x()) + ",) or (" +
                                    std::to_string(f.count()) + ", " + std::to_string(f.dim_x()) +
                                    "), got " + shape_of(a));
            }
            f.set_x(a.data(), a.size());
          })
      .def_property(
          "P",
          [](const BoundFleet& f) {
            f.ensure_idle();
            py::array_t<double> out({f.count(), f.dim_x(), f.dim_x()});
            std::copy(f.P().begin(), f.P().end(), out.mutable_data());
            return out;
          },
          [](BoundFleet& f, py::object v) {
            f.ensure_idle();
            const Array a = as_array(v, "P");
            const Index n = f.dim_x();
            if (!((a.ndim() == 2 && a.shape(0) == n && a.shape(1) == n) ||
                  (a.ndim() == 3 && a.shape(0) == f.count() && a.shape(1) == n &&
                   a.shape(2) == n))) {
              throw py::value_error("P must have shape (" + std::to_string(n) + ", " +
                                    std::to_string(n) + ") or (" + std::to_string(f.count()) +
                                    ", " + std::to_string(n) + ", " + std::to_string(n) +
                                    "), got " + shape_of(a));
            }
            // Row-major input: transposing each symmetric P_i changes nothing, and asymmetric
            // input is rejected before it is stored.
            f.set_P(a.data(), a.size());
          })
      .def_property(
          "gate_thresholds", [](const BoundFleet& f) {
            f.ensure_idle();
            return f.gate(); },
          [](BoundFleet& f, std::vector<double> gate) {
            f.ensure_idle();
            f.set_gate(std::move(gate));
          })
      .def(
          "_run",
          [](BoundFleet& f, py::object z, py::object quality, int threads) {
            const Array za = as_array(z, "z");
            if (za.ndim() != 3 || za.shape(1) != f.count() || za.shape(2) != f.dim_z()) {
              throw py::value_error("z must have shape (T, " + std::to_string(f.count()) + ", " +
                                    std::to_string(f.dim_z()) + "), got " + shape_of(za));
            }
            const Index T = za.shape(0);
            Array qa;
            if (!quality.is_none()) qa = shaped_arg(quality, "quality", {T, f.count()});
            py::array_t<double> nis({T, static_cast<Index>(f.count())});
            py::array_t<bool> accepted({T, static_cast<Index>(f.count())});
            static_assert(sizeof(bool) == sizeof(std::uint8_t));
            auto* accepted_out = reinterpret_cast<std::uint8_t*>(accepted.mutable_data());
            double* nis_out = nis.mutable_data();
            BusyGuard guard(f.busy_);
            {
              py::gil_scoped_release release;
              f.run(za.data(), T, quality.is_none() ? nullptr : qa.data(), nis_out, accepted_out,
                    threads);
            }
            return py::make_tuple(nis, accepted);
          },
          py::arg("z"), py::arg("quality"), py::arg("threads"));
  const auto n = &KalmanFleet::dim_x;
  const auto m_dim = &KalmanFleet::dim_z;
  matrix_property(fleet, "F", &KalmanFleet::F, &KalmanFleet::set_F, n, n);
  matrix_property(fleet, "Q", &KalmanFleet::Q, &KalmanFleet::set_Q, n, n);
  matrix_property(fleet, "H", &KalmanFleet::H, &KalmanFleet::set_H, m_dim, n);
  matrix_property(fleet, "R", &KalmanFleet::R, &KalmanFleet::set_R, m_dim, m_dim);
}

}  // namespace

void bind_filters(py::module_& m) {
  bind_models(m);
  bind_filter(m);
  bind_fleet(m);
  m.def("has_fixed_kernel", &has_fixed_kernel, py::arg("n"), py::arg("m"),
        "Whether (n, m) runs on a fixed-size (compiled-in) Kalman kernel.");
}

}  // namespace fmitwin::bindings
