/* state_space.c - a test-only FMI 3.0 FMU (co-simulation and model exchange) with arrays.
 *
 *   der(x) = A x + B u,  y = C x        (x: n states, u: scalar input, y: scalar output)
 * n (value reference 1, UInt64) is a structural parameter (1..8, set in configuration mode);
 * A (2, n x n, row-major), B (3, n), C (4, n) are array parameters, x (7, n) the state array,
 * der(x) (8, n) its derivative, u (6), y (9). Co-simulation integrates with classical RK4 at
 * 1000 substeps per communication step. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fmi3Functions.h"

#define MAXN 8

typedef struct {
  double t, u;
  uint64_t n;
  double A[MAXN * MAXN], B[MAXN], C[MAXN], x[MAXN], dx[MAXN];
  bool configuring;
} Model;

static fmi3Instance instantiate(void) {
  Model *m = calloc(1, sizeof(Model));
  static const double A[9] = {0, 1, 0, 0, 0, 1, -6, -11, -6}; /* eigenvalues -1, -2, -3 */
  m->n = 3;
  memcpy(m->A, A, sizeof A);
  m->B[2] = 1.0;
  m->C[0] = 1.0;
  m->x[0] = 1.0;
  return m;
}
fmi3Instance fmi3InstantiateModelExchange(fmi3String name, fmi3String token, fmi3String res,
                                          fmi3Boolean visible, fmi3Boolean logging,
                                          fmi3InstanceEnvironment env,
                                          fmi3LogMessageCallback log) {
  return instantiate();
}
fmi3Instance fmi3InstantiateCoSimulation(fmi3String name, fmi3String token, fmi3String res,
                                         fmi3Boolean visible, fmi3Boolean logging,
                                         fmi3Boolean event_mode, fmi3Boolean early,
                                         const fmi3ValueReference req[], size_t nreq,
                                         fmi3InstanceEnvironment env, fmi3LogMessageCallback log,
                                         fmi3IntermediateUpdateCallback update) {
  return instantiate();
}
void fmi3FreeInstance(fmi3Instance c) { free(c); }
const char *fmi3GetVersion(void) { return fmi3Version; }
fmi3Status fmi3SetDebugLogging(fmi3Instance c, fmi3Boolean on, size_t n, const fmi3String cat[]) {
  return fmi3OK;
}
fmi3Status fmi3EnterConfigurationMode(fmi3Instance c) {
  ((Model *)c)->configuring = true;
  return fmi3OK;
}
fmi3Status fmi3ExitConfigurationMode(fmi3Instance c) {
  ((Model *)c)->configuring = false;
  return fmi3OK;
}
fmi3Status fmi3EnterInitializationMode(fmi3Instance c, fmi3Boolean tol_defined, fmi3Float64 tol,
                                       fmi3Float64 t0, fmi3Boolean stop_defined, fmi3Float64 t1) {
  ((Model *)c)->t = t0;
  return fmi3OK;
}
fmi3Status fmi3ExitInitializationMode(fmi3Instance c) { return fmi3OK; }
fmi3Status fmi3Terminate(fmi3Instance c) { return fmi3OK; }
fmi3Status fmi3Reset(fmi3Instance c) { return fmi3Error; }

static void derivatives(const Model *m, const double *x, double *dx) {
  for (size_t i = 0; i < m->n; i++) {
    dx[i] = m->B[i] * m->u;
    for (size_t j = 0; j < m->n; j++) dx[i] += m->A[i * m->n + j] * x[j];
  }
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

fmi3Status fmi3DoStep(fmi3Instance c, fmi3Float64 t, fmi3Float64 h, fmi3Boolean no_set,
                      fmi3Boolean *event, fmi3Boolean *terminate, fmi3Boolean *early,
                      fmi3Float64 *last) {
  Model *m = c;
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
  m->t = t + h;
  *event = *terminate = *early = false;
  *last = m->t;
  return fmi3OK;
}

fmi3Status fmi3EnterEventMode(fmi3Instance c) { return fmi3OK; }
fmi3Status fmi3UpdateDiscreteStates(fmi3Instance c, fmi3Boolean *needed, fmi3Boolean *terminate,
                                    fmi3Boolean *nominals, fmi3Boolean *values,
                                    fmi3Boolean *next_defined, fmi3Float64 *next) {
  *needed = *terminate = *nominals = *values = *next_defined = false;
  *next = 0.0;
  return fmi3OK;
}
fmi3Status fmi3EnterContinuousTimeMode(fmi3Instance c) { return fmi3OK; }
fmi3Status fmi3CompletedIntegratorStep(fmi3Instance c, fmi3Boolean no_set, fmi3Boolean *event,
                                       fmi3Boolean *terminate) {
  *event = *terminate = false;
  return fmi3OK;
}
fmi3Status fmi3SetTime(fmi3Instance c, fmi3Float64 t) {
  ((Model *)c)->t = t;
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
fmi3Status fmi3GetEventIndicators(fmi3Instance c, fmi3Float64 z[], size_t n) { return fmi3OK; }
fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance c, fmi3Float64 x[], size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = 1.0;
  return fmi3OK;
}
fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance c, size_t *n) {
  *n = ((Model *)c)->n;
  return fmi3OK;
}
fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance c, size_t *n) {
  *n = 0;
  return fmi3OK;
}

/* The other value accessors: this FMU has no variables of those types. */
#define NO_ACCESSORS(Type, Name)                                                               \
  fmi3Status fmi3Get##Name(fmi3Instance c, const fmi3ValueReference vr[], size_t n, Type v[],  \
                           size_t nv) {                                                        \
    return n ? fmi3Error : fmi3OK;                                                             \
  }                                                                                            \
  fmi3Status fmi3Set##Name(fmi3Instance c, const fmi3ValueReference vr[], size_t n,            \
                           const Type v[], size_t nv) {                                        \
    return n ? fmi3Error : fmi3OK;                                                             \
  }
NO_ACCESSORS(fmi3Float32, Float32)
NO_ACCESSORS(fmi3Int8, Int8)
NO_ACCESSORS(fmi3UInt8, UInt8)
NO_ACCESSORS(fmi3Int16, Int16)
NO_ACCESSORS(fmi3UInt16, UInt16)
NO_ACCESSORS(fmi3Int32, Int32)
NO_ACCESSORS(fmi3UInt32, UInt32)
NO_ACCESSORS(fmi3Int64, Int64)
NO_ACCESSORS(fmi3Boolean, Boolean)

/* What this FMU does not do: FMPy resolves every FMI 3.0 function when it loads the library. */
typedef fmi3Instance I;
typedef const fmi3ValueReference *VRs;
fmi3Instance fmi3InstantiateScheduledExecution(fmi3String a, fmi3String b, fmi3String c,
                                               fmi3Boolean d, fmi3Boolean e,
                                               fmi3InstanceEnvironment f, fmi3LogMessageCallback g,
                                               fmi3ClockUpdateCallback h,
                                               fmi3LockPreemptionCallback i,
                                               fmi3UnlockPreemptionCallback j) {
  return NULL;
}
fmi3Status fmi3GetString(I c, VRs vr, size_t n, fmi3String v[], size_t nv) { return fmi3Error; }
fmi3Status fmi3SetString(I c, VRs vr, size_t n, const fmi3String v[], size_t nv) {
  return fmi3Error;
}
fmi3Status fmi3GetBinary(I c, VRs vr, size_t n, size_t s[], fmi3Binary v[], size_t nv) {
  return fmi3Error;
}
fmi3Status fmi3SetBinary(I c, VRs vr, size_t n, const size_t s[], const fmi3Binary v[],
                         size_t nv) {
  return fmi3Error;
}
fmi3Status fmi3GetClock(I c, VRs vr, size_t n, fmi3Clock v[]) { return fmi3Error; }
fmi3Status fmi3SetClock(I c, VRs vr, size_t n, const fmi3Clock v[]) { return fmi3Error; }
fmi3Status fmi3GetNumberOfVariableDependencies(I c, fmi3ValueReference vr, size_t *n) {
  return fmi3Error;
}
fmi3Status fmi3GetVariableDependencies(I c, fmi3ValueReference vr, size_t a[],
                                       fmi3ValueReference b[], size_t d[],
                                       fmi3DependencyKind k[], size_t n) {
  return fmi3Error;
}
fmi3Status fmi3GetFMUState(I c, fmi3FMUState *s) { return fmi3Error; }
fmi3Status fmi3SetFMUState(I c, fmi3FMUState s) { return fmi3Error; }
fmi3Status fmi3FreeFMUState(I c, fmi3FMUState *s) { return fmi3Error; }
fmi3Status fmi3SerializedFMUStateSize(I c, fmi3FMUState s, size_t *n) { return fmi3Error; }
fmi3Status fmi3SerializeFMUState(I c, fmi3FMUState s, fmi3Byte b[], size_t n) {
  return fmi3Error;
}
fmi3Status fmi3DeserializeFMUState(I c, const fmi3Byte b[], size_t n, fmi3FMUState *s) {
  return fmi3Error;
}
fmi3Status fmi3GetDirectionalDerivative(I c, VRs u, size_t nu, VRs k, size_t nk,
                                        const fmi3Float64 s[], size_t ns, fmi3Float64 d[],
                                        size_t nd) {
  return fmi3Error;
}
fmi3Status fmi3GetAdjointDerivative(I c, VRs u, size_t nu, VRs k, size_t nk,
                                    const fmi3Float64 s[], size_t ns, fmi3Float64 d[],
                                    size_t nd) {
  return fmi3Error;
}
fmi3Status fmi3GetIntervalDecimal(I c, VRs vr, size_t n, fmi3Float64 v[],
                                  fmi3IntervalQualifier q[]) {
  return fmi3Error;
}
fmi3Status fmi3GetIntervalFraction(I c, VRs vr, size_t n, fmi3UInt64 a[], fmi3UInt64 b[],
                                   fmi3IntervalQualifier q[]) {
  return fmi3Error;
}
fmi3Status fmi3GetShiftDecimal(I c, VRs vr, size_t n, fmi3Float64 v[]) { return fmi3Error; }
fmi3Status fmi3GetShiftFraction(I c, VRs vr, size_t n, fmi3UInt64 a[], fmi3UInt64 b[]) {
  return fmi3Error;
}
fmi3Status fmi3SetIntervalDecimal(I c, VRs vr, size_t n, const fmi3Float64 v[]) {
  return fmi3Error;
}
fmi3Status fmi3SetIntervalFraction(I c, VRs vr, size_t n, const fmi3UInt64 a[],
                                   const fmi3UInt64 b[]) {
  return fmi3Error;
}
fmi3Status fmi3SetShiftDecimal(I c, VRs vr, size_t n, const fmi3Float64 v[]) {
  return fmi3Error;
}
fmi3Status fmi3SetShiftFraction(I c, VRs vr, size_t n, const fmi3UInt64 a[],
                                const fmi3UInt64 b[]) {
  return fmi3Error;
}
fmi3Status fmi3EvaluateDiscreteStates(I c) { return fmi3Error; }
fmi3Status fmi3EnterStepMode(I c) { return fmi3Error; }
fmi3Status fmi3GetOutputDerivatives(I c, VRs vr, size_t n, const fmi3Int32 o[], fmi3Float64 v[],
                                    size_t nv) {
  return fmi3Error;
}
fmi3Status fmi3ActivateModelPartition(I c, fmi3ValueReference clock, fmi3Float64 t) {
  return fmi3Error;
}
