#include "fmitwin/fmu/fmu_access.hpp"

namespace fmitwin::fmu {

std::shared_ptr<FmuAccess> make_fmi2_access(InterfaceType, std::uintptr_t, std::uintptr_t,
                                            std::size_t, std::size_t, bool, bool);
std::shared_ptr<FmuAccess> make_fmi3_access(InterfaceType, std::uintptr_t, std::uintptr_t,
                                            std::size_t, std::size_t, bool, bool);

std::shared_ptr<FmuAccess> make_fmu_access(FmiVersion version, InterfaceType type,
                                           std::uintptr_t library_handle, std::uintptr_t instance,
                                           std::size_t state_count,
                                           std::size_t event_indicator_count, bool can_save_state,
                                           bool provides_directional_derivatives) {
  if (library_handle == 0 || instance == 0) {
    throw std::invalid_argument("make_fmu_access: the FMU is not loaded and instantiated");
  }
  if (version == FmiVersion::fmi2) {
    return make_fmi2_access(type, library_handle, instance, state_count, event_indicator_count,
                            can_save_state, provides_directional_derivatives);
  }
  return make_fmi3_access(type, library_handle, instance, state_count, event_indicator_count,
                          can_save_state, provides_directional_derivatives);
}

}  // namespace fmitwin::fmu
