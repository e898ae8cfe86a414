// Symbol lookup in a shared library that FMPy has already loaded (internal to cpp/src/fmu).
#pragma once

#include <cstdint>
#include <string>

#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

#include "fmitwin/simulator.hpp"

namespace fmitwin::fmu::detail {

// Returns the address of `name`, or nullptr when the library does not export it.
inline void* find_symbol(std::uintptr_t handle, const char* name) {
#ifdef _WIN32
  return reinterpret_cast<void*>(GetProcAddress(reinterpret_cast<HMODULE>(handle), name));
#else
  return dlsym(reinterpret_cast<void*>(handle), name);
#endif
}

// Binds `fn` to the symbol `name`; a missing symbol is an error only when `required`.
template <typename Fn>
void bind_symbol(std::uintptr_t handle, const char* name, Fn*& fn, bool required) {
  fn = reinterpret_cast<Fn*>(find_symbol(handle, name));
  if (fn == nullptr && required) {
    throw FmuError(std::string("the FMU's shared library does not export ") + name +
                   ", which this FMU's interface type requires");
  }
}

// Message of a failed FMI call, e.g. "fmi2DoStep returned Error".
inline std::string status_message(const char* function, int status) {
  static const char* const names[] = {"OK", "Warning", "Discard", "Error", "Fatal", "Pending"};
  const char* name = (status >= 0 && status <= 5) ? names[status] : "an unknown status";
  return std::string(function) + " returned " + name;
}

// Refuses an optional FMI function the model description does not declare (capability `flag`).
inline void require(bool capable, const char* function, const char* flag) {
  if (!capable) {
    throw FmuError(std::string(function) +
                   " is not available: the model description does not set " + flag + "=\"true\"");
  }
}

}  // namespace fmitwin::fmu::detail
