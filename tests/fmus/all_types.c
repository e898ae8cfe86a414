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
#include <stddef.h>
#include <stdlib.h>

#include "fmi3Functions.h"

typedef struct {
  double t, x;
  double f64;
  float f32, f32_affine;
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
  m->f32_affine = 0.1f;
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

/* The variable behind a value reference when it has type `kind` (and, when setting, is an input
 * or the state); NULL otherwise. */
typedef enum { F64, F32, I8, U8, I16, U16, I32, U32, I64, U64, BOOL } Kind;
static void *variable(Model *m, fmi3ValueReference vr, Kind kind, bool setting) {
  static const struct {
    fmi3ValueReference vr;
    Kind kind;
    bool settable;
    size_t offset;
  } table[] = {
      {0, F64, false, offsetof(Model, t)},     {1, F64, true, offsetof(Model, f64)},
      {21, F64, false, offsetof(Model, f64)},  {40, F64, true, offsetof(Model, x)},
      {41, F64, false, offsetof(Model, f64)},  {2, F32, true, offsetof(Model, f32)},
      {22, F32, false, offsetof(Model, f32)},  {33, F32, false, offsetof(Model, f32_affine)},
      {3, I8, true, offsetof(Model, i8)},      {23, I8, false, offsetof(Model, i8)},
      {4, U8, true, offsetof(Model, u8)},      {24, U8, false, offsetof(Model, u8)},
      {5, I16, true, offsetof(Model, i16)},    {25, I16, false, offsetof(Model, i16)},
      {6, U16, true, offsetof(Model, u16)},    {26, U16, false, offsetof(Model, u16)},
      {7, I32, true, offsetof(Model, i32)},    {27, I32, false, offsetof(Model, i32)},
      {8, U32, true, offsetof(Model, u32)},    {28, U32, false, offsetof(Model, u32)},
      {9, I64, true, offsetof(Model, i64)},    {29, I64, false, offsetof(Model, i64)},
      {10, U64, true, offsetof(Model, u64)},   {30, U64, false, offsetof(Model, u64)},
      {11, BOOL, true, offsetof(Model, b)},    {31, BOOL, false, offsetof(Model, b)},
      {12, I64, true, offsetof(Model, e)},     {32, I64, false, offsetof(Model, e)},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (table[i].vr == vr && table[i].kind == kind && (table[i].settable || !setting)) {
      return (char *)m + table[i].offset;
    }
  }
  return NULL;
}

/* fmi3Get<Name> and fmi3Set<Name>: each value reference must name a variable of that type. */
#define ACCESSORS(Type, Name, kind)                                                            \
  fmi3Status fmi3Get##Name(fmi3Instance c, const fmi3ValueReference vr[], size_t n, Type v[],  \
                           size_t nv) {                                                        \
    for (size_t i = 0; i < n; i++) {                                                           \
      const Type *p = variable(c, vr[i], kind, false);                                         \
      if (p == NULL) return fmi3Error;                                                         \
      v[i] = *p;                                                                               \
    }                                                                                          \
    return fmi3OK;                                                                             \
  }                                                                                            \
  fmi3Status fmi3Set##Name(fmi3Instance c, const fmi3ValueReference vr[], size_t n,            \
                           const Type v[], size_t nv) {                                        \
    Model *m = c;                                                                              \
    for (size_t i = 0; i < n; i++) {                                                           \
      Type *p = variable(m, vr[i], kind, true);                                                \
      if (p == NULL) return fmi3Error;                                                         \
      *p = v[i];                                                                               \
    }                                                                                          \
    m->f32_affine = 3.0f * m->f32 + 0.1f; /* in float32 arithmetic */                        \
    return fmi3OK;                                                                             \
  }

ACCESSORS(fmi3Float64, Float64, F64)
ACCESSORS(fmi3Float32, Float32, F32)
ACCESSORS(fmi3Int8, Int8, I8)
ACCESSORS(fmi3UInt8, UInt8, U8)
ACCESSORS(fmi3Int16, Int16, I16)
ACCESSORS(fmi3UInt16, UInt16, U16)
ACCESSORS(fmi3Int32, Int32, I32)
ACCESSORS(fmi3UInt32, UInt32, U32)
ACCESSORS(fmi3Int64, Int64, I64)
ACCESSORS(fmi3UInt64, UInt64, U64)
ACCESSORS(fmi3Boolean, Boolean, BOOL)

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
