/* toggler.c - a test-only FMI 2.0 model-exchange FMU with time events (built by the tests).
 *
 *   der(x) = r,  r in {+1, -1} flips at every t = k * period (time events), n counts the flips.
 * x(t) is a triangle wave, exact for any Runge-Kutta method when steps end at the events.
 * Value references: 0 x, 1 der(x), 2 period (parameter), 3 n (Integer output). */
#define NX 1
#define NZ 0
#define NR 3
#define NI 4
#define STATE_VRS {0}
#define DERIVATIVE_VRS {1}
#include "fmi_model.h"

/* the next flip: after n flips, at (n + 1) * period */
static double next_flip(const Model *m) { return (m->i[3] + 1) * m->r[2]; }

static void model_start(Model *m) {
  m->r[1] = 1.0;
  m->r[2] = 0.25;
}
static void model_derivatives(Model *m) {}
static void model_indicators(const Model *m, double z[]) {}
static void model_event(Model *m, EventInfo *info) {
  const double next = next_flip(m);
  if (m->t >= next - 1e-12 * fmax(1.0, fabs(next))) { /* the time event is due */
    m->r[1] = -m->r[1];
    m->i[3] += 1;
  }
  info->next_time_defined = true;
  info->next_time = next_flip(m);
}
static int model_do_step(Model *m, double h) { return 0; }
