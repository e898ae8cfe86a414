#include "fmitwin/fmu/cosimulation.hpp"

#include <cmath>
#include <stdexcept>

namespace fmitwin::fmu {

FmuSimulator::FmuSimulator(std::shared_ptr<FmuAccess> access) : access_(std::move(access)) {
  if (!access_) throw std::invalid_argument("FmuSimulator: no FMU");
}

void FmuSimulator::set_real(const ValueReference* vr, std::size_t n, const double* values) {
  access_->set_real(vr, n, values);
}
void FmuSimulator::get_real(const ValueReference* vr, std::size_t n, double* values) {
  access_->get_real(vr, n, values);
}
void FmuSimulator::set_integer(const ValueReference* vr, std::size_t n,
                               const std::int64_t* values) {
  access_->set_integer(vr, n, values);
}
void FmuSimulator::get_integer(const ValueReference* vr, std::size_t n, std::int64_t* values) {
  access_->get_integer(vr, n, values);
}
void FmuSimulator::set_boolean(const ValueReference* vr, std::size_t n, const bool* values) {
  access_->set_boolean(vr, n, values);
}
void FmuSimulator::get_boolean(const ValueReference* vr, std::size_t n, bool* values) {
  access_->get_boolean(vr, n, values);
}

CoSimulation::CoSimulation(std::shared_ptr<FmuAccess> access, double tolerance)
    : FmuSimulator(std::move(access)), tolerance_(tolerance) {
  if (access_->interface_type() != InterfaceType::co_simulation) {
    throw std::invalid_argument("CoSimulation needs an FMU instantiated for co-simulation");
  }
}

void CoSimulation::set_tolerance(double tolerance) {
  if (std::isnan(tolerance) || std::isinf(tolerance)) {
    throw std::invalid_argument("tolerance must be a finite number (<= 0: undefined)");
  }
  tolerance_ = tolerance;
}

void CoSimulation::enter_initialization(double start_time, double stop_time) {
  access_->enter_initialization(start_time, stop_time, tolerance_);
}

void CoSimulation::exit_initialization() { access_->exit_initialization(); }

std::unique_ptr<SimulatorState> CoSimulation::save_state() {
  return std::make_unique<SavedFmuState>(access_, access_->get_state(nullptr));
}

void CoSimulation::restore_state(const SimulatorState& state) {
  const auto* saved = dynamic_cast<const SavedFmuState*>(&state);
  if (saved == nullptr) throw std::invalid_argument("restore_state: not a state saved by this FMU");
  access_->set_state(saved->handle());
}

}  // namespace fmitwin::fmu
