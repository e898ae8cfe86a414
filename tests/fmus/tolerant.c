/* tolerant.c - a test-only FMI 2.0 co-simulation FMU whose internal solver uses the tolerance the
 * master passes in fmi2SetupExperiment (as Dymola's CS FMUs do), built by the tests.
 *
 *   der(x) = -x, integrated inside doStep by explicit Euler with substeps of sqrt(tolerance)
 *   (0.1 when no tolerance is given), so x depends on the tolerance; `tolerance` reports the
 *   value received (0: none). y = x until t reaches nan_time, NaN from then on. At stop_after the
 *   FMU asks to terminate (fmi2Discard, fmi2Terminated, fmi2LastSuccessfulTime = stop_after).
 * Value references: 0 x, 1 der(x), 2 tolerance, 3 y, 4 nan_time, 5 stop_after. */
#define NX 0
#define NZ 0
#define NR 6
#define NI 1
#include "fmi_model.h"

static void model_start(Model *m) {
  m->r[0] = 1.0;
  m->r[4] = 1e300;
  m->r[5] = 1e300;
}
static void model_derivatives(Model *m) {
  m->r[1] = -m->r[0];
  m->r[2] = m->tolerance;
  m->r[3] = m->t >= m->r[4] ? NAN : m->r[0];
}
static void model_indicators(const Model *m, double z[]) {}
static void model_event(Model *m, EventInfo *info) {}
static int model_do_step(Model *m, double h) {
  const double end = fmin(m->t + h, m->r[5]);
  const double substep = m->tolerance > 0 ? sqrt(m->tolerance) : 0.1;
  while (m->t < end - 1e-12 * fmax(1.0, fabs(end))) {
    const double dt = fmin(substep, end - m->t);
    m->r[0] += dt * -m->r[0];
    m->t += dt;
  }
  m->t = end;
  return end >= m->r[5];
}
