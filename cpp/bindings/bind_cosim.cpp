#include "bindings.hpp"

namespace fmitwin::bindings {

void bind_cosim(pybind11::module_& m) { (void)m; }

}  // namespace fmitwin::bindings
