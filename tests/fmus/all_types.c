/* all_types.c - a test-only FMI 3.0 FMU (co-simulation and model exchange) with a variable of
 * every numeric type, built by the tests (tests/fmus/build.py).
 *
 * Each input (value references 1..12: Float64, Float32, Int8, UInt8, Int16, UInt16, Int32,
 * UInt32, Int64, UInt64, Boolean, Enumeration) is passed through to the output of the same type
 * (value reference + 20). f32_affine (33) = 3 * f32_in + 0.1, computed in float32 arithmetic.
 * One continuous state x (40), der(x) (41) = f64_in; the co-simulation step integrates it
 * exactly (explicit Euler is exact for a constant rate over one step). A String parameter
 * (50) is declared only: fmitwin refuses to simulate it. */
#include <stdbool.h>
#include <stdlib.h>

#include "fmi3Functions.h"

typedef struct {
  double t, x;
  double f64;
  float f32;
  int8_t i8;
  uint8_t u8;
  int16_t i16;
  uint16_t u16;
  int32_t i32;
  uint32_t u32;
  int64_t i64, e;
  uint64_t u64;
  bool b;
} Model;

static fmi3Instance instantiate(void) {
  Model *m = calloc(1, sizeof(Model));
  m->u64 = UINT64_MAX; /* the start values of modelDescription.xml */
  m->e = 1;
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
fmi3Status fmi3EnterInitializationMode(fmi3Instance c, fmi3Boolean tol_defined, fmi3Float64 tol,
                                       fmi3Float64 t0, fmi3Boolean stop_defined, fmi3Float64 t1) {
  ((Model *)c)->t = t0;
  return fmi3OK;
}
fmi3Status fmi3ExitInitializationMode(fmi3Instance c) { return fmi3OK; }
fmi3Status fmi3Terminate(fmi3Instance c) { return fmi3OK; }
fmi3Status fmi3Reset(fmi3Instance c) { return fmi3Error; }

fmi3Status fmi3GetFloat64(fmi3Instance c, const fmi3ValueReference vr[], size_t n, fmi3Float64 v[],
                          size_t nv) {
  Model *m = c;
  for (size_t i = 0; i < n; i++) {
    switch (vr[i]) {
      case 0: v[i] = m->t; break;
      case 1: case 21: v[i] = m->f64; break;
      case 40: v[i] = m->x; break;
      case 41: v[i] = m->f64; break;
      default: return fmi3Error;
    }
  }
  return fmi3OK;
}
fmi3Status fmi3SetFloat64(fmi3Instance c, const fmi3ValueReference vr[], size_t n,
                          const fmi3Float64 v[], size_t nv) {
  Model *m = c;
  for (size_t i = 0; i < n; i++) {
    if (vr[i] == 1) m->f64 = v[i];
    else if (vr[i] == 40) m->x = v[i];
    else return fmi3Error;
  }
  return fmi3OK;
}
fmi3Status fmi3GetFloat32(fmi3Instance c, const fmi3ValueReference vr[], size_t n, fmi3Float32 v[],
                          size_t nv) {
  Model *m = c;
  for (size_t i = 0; i < n; i++) {
    if (vr[i] == 2 || vr[i] == 22) v[i] = m->f32;
    else if (vr[i] == 33) v[i] = 3.0f * m->f32 + 0.1f;
    else return fmi3Error;
  }
  return fmi3OK;
}
fmi3Status fmi3GetInt64(fmi3Instance c, const fmi3ValueReference vr[], size_t n, fmi3Int64 v[],
                        size_t nv) {
  Model *m = c;
  for (size_t i = 0; i < n; i++) {
    if (vr[i] == 9 || vr[i] == 29) v[i] = m->i64;
    else if (vr[i] == 12 || vr[i] == 32) v[i] = m->e;
    else return fmi3Error;
  }
  return fmi3OK;
}
fmi3Status fmi3SetInt64(fmi3Instance c, const fmi3ValueReference vr[], size_t n,
                        const fmi3Int64 v[], size_t nv) {
  Model *m = c;
  for (size_t i = 0; i < n; i++) {
    if (vr[i] == 9) m->i64 = v[i];
    else if (vr[i] == 12) m->e = v[i];
    else return fmi3Error;
  }
  return fmi3OK;
}

/* Get and set of a pass-through pair: input `in`, output in + 20. */
#define PASS_THROUGH(Type, Name, field, in)                                                   \
  fmi3Status fmi3Get##Name(fmi3Instance c, const fmi3ValueReference vr[], size_t n, Type v[], \
                           size_t nv) {                                                       \
    for (size_t i = 0; i < n; i++) {                                                          \
      if (vr[i] != in && vr[i] != in + 20) return fmi3Error;                                  \
      v[i] = ((Model *)c)->field;                                                             \
    }                                                                                         \
    return fmi3OK;                                                                            \
  }                                                                                           \
  fmi3Status fmi3Set##Name(fmi3Instance c, const fmi3ValueReference vr[], size_t n,           \
                           const Type v[], size_t nv) {                                       \
    for (size_t i = 0; i < n; i++) {                                                          \
      if (vr[i] != in) return fmi3Error;                                                      \
      ((Model *)c)->field = v[i];                                                             \
    }                                                                                         \
    return fmi3OK;                                                                            \
  }

PASS_THROUGH(fmi3Int8, Int8, i8, 3)
PASS_THROUGH(fmi3UInt8, UInt8, u8, 4)
PASS_THROUGH(fmi3Int16, Int16, i16, 5)
PASS_THROUGH(fmi3UInt16, UInt16, u16, 6)
PASS_THROUGH(fmi3Int32, Int32, i32, 7)
PASS_THROUGH(fmi3UInt32, UInt32, u32, 8)
PASS_THROUGH(fmi3UInt64, UInt64, u64, 10)
PASS_THROUGH(fmi3Boolean, Boolean, b, 11)

fmi3Status fmi3SetFloat32(fmi3Instance c, const fmi3ValueReference vr[], size_t n,
                          const fmi3Float32 v[], size_t nv) {
  for (size_t i = 0; i < n; i++) {
    if (vr[i] != 2) return fmi3Error;
    ((Model *)c)->f32 = v[i];
  }
  return fmi3OK;
}

fmi3Status fmi3DoStep(fmi3Instance c, fmi3Float64 t, fmi3Float64 h, fmi3Boolean no_set,
                      fmi3Boolean *event, fmi3Boolean *terminate, fmi3Boolean *early,
                      fmi3Float64 *last) {
  Model *m = c;
  m->x += h * m->f64;
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
  ((Model *)c)->x = x[0];
  return fmi3OK;
}
fmi3Status fmi3GetContinuousStates(fmi3Instance c, fmi3Float64 x[], size_t n) {
  x[0] = ((Model *)c)->x;
  return fmi3OK;
}
fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance c, fmi3Float64 dx[], size_t n) {
  dx[0] = ((Model *)c)->f64;
  return fmi3OK;
}
fmi3Status fmi3GetEventIndicators(fmi3Instance c, fmi3Float64 z[], size_t n) { return fmi3OK; }
fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance c, fmi3Float64 x[], size_t n) {
  x[0] = 1.0;
  return fmi3OK;
}
fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance c, size_t *n) {
  *n = 1;
  return fmi3OK;
}
fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance c, size_t *n) {
  *n = 0;
  return fmi3OK;
}

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
fmi3Status fmi3EnterConfigurationMode(I c) { return fmi3Error; }
fmi3Status fmi3ExitConfigurationMode(I c) { return fmi3Error; }
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
