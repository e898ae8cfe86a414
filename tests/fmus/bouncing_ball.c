/* bouncing_ball.c - a test-only FMI 2.0 model-exchange FMU with a state event, built by the tests.
 *
 *   der(h) = v, der(v) = -g; event indicator h; when h falls through 0, v := -e v (e: the
 *   restitution, a tunable parameter that acts only at events). Between impacts the flow is
 *   quadratic in time, so one RK4 step is exact and so is the state after a located impact.
 * Value references: 0 h, 1 v, 2 der(h), 3 der(v), 4 g, 5 e. */
#define NX 2
#define NZ 1
#define NR 6
#define NI 1
#define STATE_VRS {0, 1}
#define DERIVATIVE_VRS {2, 3}
#include "fmi_model.h"

static void model_start(Model *m) {
  m->r[0] = 1.0;
  m->r[4] = 9.81;
  m->r[5] = 0.7;
}
static void model_derivatives(Model *m) {
  m->r[2] = m->r[1];
  m->r[3] = -m->r[4];
}
static void model_indicators(const Model *m, double z[]) { z[0] = m->r[0]; }
static void model_event(Model *m, EventInfo *info) {
  if (m->r[0] <= 0.0 && m->r[1] < 0.0) {
    m->r[1] = -m->r[5] * m->r[1];
    info->values_changed = true;
  }
}
static int model_do_step(Model *m, double h) { return 0; }
