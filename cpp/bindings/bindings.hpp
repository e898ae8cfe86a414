// Each concern binds its own part of the fmitwin._core extension module.
#pragma once

#include <pybind11/pybind11.h>

namespace fmitwin::bindings {

void bind_filters(pybind11::module_& m);
void bind_fmu(pybind11::module_& m);
void bind_cosim(pybind11::module_& m);

}  // namespace fmitwin::bindings
