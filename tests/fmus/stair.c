/* stair.c - a test-only FMI 2.0 FMU (model exchange and co-simulation) with time events on
 * communication points and a terminating event, built by the tests.
 *
 *   counter = 1 at t = 0, + 1 at every whole second (time events); at counter = 10 (t = 9) the
 *   FMU asks to terminate (model exchange: terminateSimulation in the event update;
 *   co-simulation: doStep returns fmi2Discard with fmi2Terminated, last successful time 9).
 * Value references: Integer 0 counter; Real 0 nothing. */
#define NX 0
#define NZ 0
#define NR 1
#define NI 1
#include "fmi_model.h"

#define LAST 10

static const double kEps = 1e-9;

static void model_start(Model *m) { m->i[0] = 1; }
static void model_derivatives(Model *m) {}
static void model_indicators(const Model *m, double z[]) {}
static void model_event(Model *m, EventInfo *info) {
  if (m->t > 0.0 && m->t >= m->i[0] - kEps) m->i[0] += 1; /* the time event at t = counter */
  info->terminate = m->i[0] >= LAST;
  info->next_time_defined = true;
  info->next_time = m->i[0];
}
static int model_do_step(Model *m, double h) {
  const double end = m->t + h;
  while (m->i[0] < LAST && end >= m->i[0] - kEps) m->i[0] += 1;
  if (m->i[0] >= LAST) {
    m->t = LAST - 1;
    return 1;
  }
  return 0;
}
