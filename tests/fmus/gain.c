/* gain.c - a test-only FMI 2.0 model-exchange FMU without continuous states (a block such as
 * OpenModelica's Gain), built by the tests. Like those FMUs it returns fmi2Error from
 * fmi2GetDerivatives / fmi2GetContinuousStates, which have nothing to return (fmi_model.h).
 *
 *   y = k * u.  With claim_states = 1 it misbehaves: its event update reports that the values of
 *   its continuous states changed, though it declares none.
 * Value references: Real 0 u, 1 y, 2 k; Integer 0 claim_states. */
#define NX 0
#define NZ 0
#define NR 3
#define NI 1
#include "fmi_model.h"

static void model_start(Model *m) { m->r[2] = 2.0; }
static void model_derivatives(Model *m) { m->r[1] = m->r[2] * m->r[0]; }
static void model_indicators(const Model *m, double z[]) {}
static void model_event(Model *m, EventInfo *info) {
  if (m->i[0]) info->values_changed = true;
}
static int model_do_step(Model *m, double h) { return 0; }
