#include "bindings.hpp"

namespace fmitwin::bindings {

void bind_fmu(pybind11::module_& m) { (void)m; }

}  // namespace fmitwin::bindings
