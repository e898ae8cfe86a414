/* state_space.c - a test-only FMI 3.0 FMU (co-simulation and model exchange) with arrays.
 *
 *   der(x) = A x + B u,  y = C x        (x: n states, u: scalar input, y: scalar output)
 * n (value reference 1, UInt64) is a structural parameter (1..8, set in configuration mode);
 * A (2, n x n, row-major), B (3, n), C (4, n) are array parameters, x (7, n) the state array,
 * der(x) (8, n) its derivative, u (6), y (9). Co-simulation integrates with classical RK4 at
 * 1000 substeps per communication step. */
#include <string.h>

#define FMI_VERSION 3
#define NX 0 /* n states: the continuous-state functions are the model's own */
#define NZ 0
#define NR 1
#define NI 1
#define MAXN 8
#define MODEL_OWN_ACCESSORS
#define MODEL_OWN_STATES
#define MODEL_FIELDS                                                                           \
  double u;                                                                                    \
  uint64_t n;                                                                                  \
  double A[MAXN * MAXN], B[MAXN], C[MAXN], x[MAXN], dx[MAXN];                                  \
  bool configuring;
#include "fmi_model.h"

static void derivatives(const Model *m, const double *x, double *dx) {
  for (size_t i = 0; i < m->n; i++) {
    dx[i] = m->B[i] * m->u;
    for (size_t j = 0; j < m->n; j++) dx[i] += m->A[i * m->n + j] * x[j];
  }
}

static void model_start(Model *m) {
  static const double A[9] = {0, 1, 0, 0, 0, 1, -6, -11, -6}; /* eigenvalues -1, -2, -3 */
  m->n = 3;
  memcpy(m->A, A, sizeof A);
  m->B[2] = 1.0;
  m->C[0] = 1.0;
  m->x[0] = 1.0;
}
static void model_derivatives(Model *m) { derivatives(m, m->x, m->dx); }
static void model_indicators(const Model *m, double z[]) {}
static void model_event(Model *m, EventInfo *info) {}
static int model_do_step(Model *m, double h) {
  const int substeps = 1000;
  const double dt = h / substeps;
  double k1[MAXN], k2[MAXN], k3[MAXN], k4[MAXN], s[MAXN];
  for (int step = 0; step < substeps; step++) {
    derivatives(m, m->x, k1);
    for (size_t i = 0; i < m->n; i++) s[i] = m->x[i] + 0.5 * dt * k1[i];
    derivatives(m, s, k2);
    for (size_t i = 0; i < m->n; i++) s[i] = m->x[i] + 0.5 * dt * k2[i];
    derivatives(m, s, k3);
    for (size_t i = 0; i < m->n; i++) s[i] = m->x[i] + dt * k3[i];
    derivatives(m, s, k4);
    for (size_t i = 0; i < m->n; i++)
      m->x[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
  }
  return 0;
}

/* The values behind a value reference and how many there are; NULL for an unknown one. */
static double *floats(Model *m, fmi3ValueReference vr, size_t *count) {
  const size_t n = m->n;
  switch (vr) {
    case 0: *count = 1; return &m->t;
    case 2: *count = n * n; return m->A;
    case 3: *count = n; return m->B;
    case 4: *count = n; return m->C;
    case 6: *count = 1; return &m->u;
    case 7: *count = n; return m->x;
    case 8: derivatives(m, m->x, m->dx); *count = n; return m->dx;
    default: return NULL;
  }
}

fmi3Status fmi3GetFloat64(fmi3Instance c, const fmi3ValueReference vr[], size_t nvr,
                          fmi3Float64 v[], size_t nv) {
  Model *m = c;
  size_t k = 0;
  for (size_t i = 0; i < nvr; i++) {
    if (vr[i] == 9) {
      if (k + 1 > nv) return fmi3Error;
      double y = 0.0;
      for (size_t j = 0; j < m->n; j++) y += m->C[j] * m->x[j];
      v[k++] = y;
      continue;
    }
    size_t count;
    const double *p = floats(m, vr[i], &count);
    if (p == NULL || k + count > nv) return fmi3Error;
    memcpy(v + k, p, count * sizeof(double));
    k += count;
  }
  return k == nv ? fmi3OK : fmi3Error;
}
fmi3Status fmi3SetFloat64(fmi3Instance c, const fmi3ValueReference vr[], size_t nvr,
                          const fmi3Float64 v[], size_t nv) {
  Model *m = c;
  size_t k = 0;
  for (size_t i = 0; i < nvr; i++) {
    size_t count;
    double *p = vr[i] == 0 || vr[i] == 8 ? NULL : floats(m, vr[i], &count);
    if (p == NULL || k + count > nv) return fmi3Error;
    memcpy(p, v + k, count * sizeof(double));
    k += count;
  }
  return k == nv ? fmi3OK : fmi3Error;
}
fmi3Status fmi3GetUInt64(fmi3Instance c, const fmi3ValueReference vr[], size_t nvr,
                         fmi3UInt64 v[], size_t nv) {
  if (nvr != 1 || vr[0] != 1 || nv != 1) return fmi3Error;
  v[0] = ((Model *)c)->n;
  return fmi3OK;
}
fmi3Status fmi3SetUInt64(fmi3Instance c, const fmi3ValueReference vr[], size_t nvr,
                         const fmi3UInt64 v[], size_t nv) {
  Model *m = c;
  if (nvr != 1 || vr[0] != 1 || nv != 1 || !m->configuring || v[0] < 1 || v[0] > MAXN)
    return fmi3Error;
  m->n = v[0];
  return fmi3OK;
}

REFUSE_OTHER_TYPES
REFUSE_TYPE(fmi3Int32, Int32)

/* n states, set in configuration mode */
fmi3Status fmi3EnterConfigurationMode(fmi3Instance c) {
  ((Model *)c)->configuring = true;
  return fmi3OK;
}
fmi3Status fmi3ExitConfigurationMode(fmi3Instance c) {
  ((Model *)c)->configuring = false;
  return fmi3OK;
}
fmi3Status fmi3SetContinuousStates(fmi3Instance c, const fmi3Float64 x[], size_t n) {
  Model *m = c;
  if (n != m->n) return fmi3Error;
  memcpy(m->x, x, n * sizeof(double));
  return fmi3OK;
}
fmi3Status fmi3GetContinuousStates(fmi3Instance c, fmi3Float64 x[], size_t n) {
  Model *m = c;
  if (n != m->n) return fmi3Error;
  memcpy(x, m->x, n * sizeof(double));
  return fmi3OK;
}
fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance c, fmi3Float64 dx[], size_t n) {
  Model *m = c;
  if (n != m->n) return fmi3Error;
  derivatives(m, m->x, dx);
  return fmi3OK;
}
fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance c, fmi3Float64 x[], size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = 1.0;
  return fmi3OK;
}
fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance c, size_t *n) {
  *n = ((Model *)c)->n;
  return fmi3OK;
}
