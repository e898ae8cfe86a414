/* chatty.c - a test-only FMI 2.0 co-simulation FMU that logs printf-style messages.
 *
 *   y = gain * t (Real output), label = "chatty" (String output).
 * With logging on it logs "instantiated <name> with gain <gain>" (a format with arguments, as
 * FMI 2.0 defines log messages); a step ending after fail_at logs an error and returns fmi2Error.
 * Value references: Real 0 y, 1 gain (parameter), 2 fail_at (parameter); String 0 label. */
#define NX 0
#define NZ 0
#define NR 3
#define NI 1
#define NS 1
#define MODEL_INITIALIZED
#include "fmi_model.h"

static void model_start(Model *m) {
  m->r[1] = 2.5;
  m->r[2] = 1e300;
  m->s[0] = "chatty";
}
static void model_derivatives(Model *m) { m->r[0] = m->r[1] * m->t; }
static void model_initialized(Model *m) {
  if (m->logging)
    model_log(m, fmi2OK, "logAll", "instantiated %s with gain %.2f and %d output(s)", m->name,
              m->r[1], 2);
}
static void model_indicators(const Model *m, double z[]) {}
static void model_event(Model *m, EventInfo *info) {}
static int model_do_step(Model *m, double h) {
  if (m->t + h > m->r[2]) {
    model_log(m, fmi2Error, "logStatusError", "the step from t = %g to %g passes fail_at = %g",
              m->t, m->t + h, m->r[2]);
    return -1;
  }
  return 0;
}
