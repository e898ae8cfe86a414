// Each concern binds its own part of the fmitwin._core extension module.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>

namespace fmitwin::bindings {

// Lets Ctrl-C stop a long loop that runs with the GIL released: interrupted(), called from the
// loop now and then, reacquires the GIL at most every 20 ms of wall time and runs Python's
// pending signal handlers (PyErr_CheckSignals). True once a handler raised (KeyboardInterrupt):
// the loop then stops, and the binding rethrows with `throw pybind11::error_already_set()` once
// it holds the GIL again. One object per call, on the thread that called from Python.
class SignalPoll {
 public:
  bool interrupted() {
    if (raised_) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(20)) return false;
    last_ = now;
    pybind11::gil_scoped_acquire gil;
    raised_ = PyErr_CheckSignals() != 0;
    return raised_;
  }
  bool raised() const { return raised_; }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  bool raised_ = false;
};

void bind_filters(pybind11::module_& m);
void bind_fmu(pybind11::module_& m);
void bind_cosim(pybind11::module_& m);

}  // namespace fmitwin::bindings
