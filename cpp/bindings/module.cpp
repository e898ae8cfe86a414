#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "fmitwin's compiled core: Kalman filtering, FMU stepping and co-simulation.";
  fmitwin::bindings::bind_filters(m);
  fmitwin::bindings::bind_fmu(m);
  fmitwin::bindings::bind_cosim(m);
}
