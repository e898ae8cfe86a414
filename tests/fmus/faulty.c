/* faulty.c - a test-only FMI 2.0 model-exchange FMU that fails on demand (built by the tests).
 *
 *   der(x) = (u - x) / tau,  tau = 1 s;  u is an input.
 * u >  1e5: fmi2GetDerivatives returns fmi2Error (a model that gives up);
 * u < -1e5: the derivative is NaN (a model that breaks silently).
 * Value references: 0 x, 1 der(x), 2 u (input). */
#define NX 1
#define NZ 0
#define NR 3
#define NI 1
#define STATE_VRS {0}
#define DERIVATIVE_VRS {1}
#include "fmi_model.h"

static void model_start(Model *m) {}
static void model_derivatives(Model *m) {
  m->r[1] = m->r[2] < -1e5 ? NAN : m->r[2] - m->r[0];
  m->failed = m->r[2] > 1e5;
}
static void model_indicators(const Model *m, double z[]) {}
static void model_event(Model *m, EventInfo *info) {}
static int model_do_step(Model *m, double h) { return 0; }
