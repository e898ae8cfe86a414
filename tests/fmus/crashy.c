/* crashy.c - a test-only FMI 2.0 co-simulation FMU that takes its process down on request.
 *
 *   y = gain * t (Real output). A step ending after fail_at logs a warning, then, by the
 * Integer parameter mode: 1 dereferences NULL (segfault), 2 calls abort(), 3 never returns;
 * mode 0 steps normally. Value references: Real 0 y, 1 gain, 2 fail_at; Integer 3 mode. */
#include <unistd.h>

#define NX 0
#define NZ 0
#define NR 3
#define NI 4
#include "fmi_model.h"

static void model_start(Model *m) {
  m->r[1] = 2.5;
  m->r[2] = 1e300;
}
static void model_derivatives(Model *m) { m->r[0] = m->r[1] * m->t; }
static void model_indicators(const Model *m, double z[]) {}
static void model_event(Model *m, EventInfo *info) {}
static int model_do_step(Model *m, double h) {
  const int mode = m->i[3];
  if (m->t + h > m->r[2] && mode != 0) {
    model_log(m, fmi2Warning, "logStatusWarning", "mode %d: failing in the step from t = %g",
              mode, m->t);
    if (mode == 1) {
      volatile double *nowhere = NULL;
      *nowhere = m->t;
    } else if (mode == 2) {
      abort();
    } else {
      for (;;) sleep(1);
    }
  }
  return 0;
}
