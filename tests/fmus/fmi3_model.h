/* fmi3_model.h - the FMI 3.0 functions of fmi_model.h (included by it, not directly): Real
 * variables are Float64, Integer variables Int32; the other types, clocks and scheduled
 * execution are refused (fmi3Error), as FMPy resolves every FMI 3.0 function when it loads. */

/* fmi3Get<Name> and fmi3Set<Name> for a type the model has no variables of. */
#define REFUSE_TYPE(Type, Name)                                                                \
  fmi3Status fmi3Get##Name(fmi3Instance c, const fmi3ValueReference vr[], size_t n, Type v[],  \
                           size_t nv) {                                                        \
    return n == 0 ? fmi3OK : fmi3Error;                                                        \
  }                                                                                            \
  fmi3Status fmi3Set##Name(fmi3Instance c, const fmi3ValueReference vr[], size_t n,            \
                           const Type v[], size_t nv) {                                        \
    return n == 0 ? fmi3OK : fmi3Error;                                                        \
  }

/* The types but Float64, Int32 and UInt64 (and String, Binary: always refused). */
#define REFUSE_OTHER_TYPES                                                                     \
  REFUSE_TYPE(fmi3Float32, Float32)                                                            \
  REFUSE_TYPE(fmi3Int8, Int8)                                                                  \
  REFUSE_TYPE(fmi3UInt8, UInt8)                                                                \
  REFUSE_TYPE(fmi3Int16, Int16)                                                                \
  REFUSE_TYPE(fmi3UInt16, UInt16)                                                              \
  REFUSE_TYPE(fmi3UInt32, UInt32)                                                              \
  REFUSE_TYPE(fmi3Int64, Int64)                                                                \
  REFUSE_TYPE(fmi3Boolean, Boolean)

static fmi3Instance instantiate(fmi3String name, fmi3Boolean logging) {
  Model *m = calloc(1, sizeof(Model));
  m->logging = logging;
  m->name = strdup(name);
  model_start(m);
  return m;
}
fmi3Instance fmi3InstantiateModelExchange(fmi3String name, fmi3String token, fmi3String res,
                                          fmi3Boolean visible, fmi3Boolean logging,
                                          fmi3InstanceEnvironment env,
                                          fmi3LogMessageCallback log) {
  return instantiate(name, logging);
}
fmi3Instance fmi3InstantiateCoSimulation(fmi3String name, fmi3String token, fmi3String res,
                                         fmi3Boolean visible, fmi3Boolean logging,
                                         fmi3Boolean event_mode, fmi3Boolean early,
                                         const fmi3ValueReference req[], size_t nreq,
                                         fmi3InstanceEnvironment env, fmi3LogMessageCallback log,
                                         fmi3IntermediateUpdateCallback update) {
  return instantiate(name, logging);
}
void fmi3FreeInstance(fmi3Instance c) {
  free(((Model *)c)->name);
  free(c);
}
const char *fmi3GetVersion(void) { return fmi3Version; }
fmi3Status fmi3SetDebugLogging(fmi3Instance c, fmi3Boolean on, size_t n, const fmi3String cat[]) {
  ((Model *)c)->logging = on;
  return fmi3OK;
}
fmi3Status fmi3EnterInitializationMode(fmi3Instance c, fmi3Boolean tolerance_defined,
                                       fmi3Float64 tolerance, fmi3Float64 t0,
                                       fmi3Boolean stop_defined, fmi3Float64 t1) {
  Model *m = c;
  m->t = t0;
  m->tolerance = tolerance_defined ? tolerance : 0.0;
  return fmi3OK;
}
fmi3Status fmi3ExitInitializationMode(fmi3Instance c) {
  model_derivatives(c);
#ifdef MODEL_INITIALIZED
  model_initialized(c);
#endif
  return fmi3OK;
}
fmi3Status fmi3Terminate(fmi3Instance c) { return fmi3OK; }
fmi3Status fmi3Reset(fmi3Instance c) { return fmi3Error; }

#ifndef MODEL_OWN_ACCESSORS
fmi3Status fmi3GetFloat64(fmi3Instance c, const fmi3ValueReference vr[], size_t n,
                          fmi3Float64 v[], size_t nv) {
  Model *m = c;
  model_derivatives(m);
  for (size_t k = 0; k < n; k++) {
    if (vr[k] >= NR) return fmi3Error;
    v[k] = m->r[vr[k]];
  }
  return fmi3OK;
}
fmi3Status fmi3SetFloat64(fmi3Instance c, const fmi3ValueReference vr[], size_t n,
                          const fmi3Float64 v[], size_t nv) {
  Model *m = c;
  for (size_t k = 0; k < n; k++) {
    if (vr[k] >= NR) return fmi3Error;
    m->r[vr[k]] = v[k];
  }
  return fmi3OK;
}
fmi3Status fmi3GetInt32(fmi3Instance c, const fmi3ValueReference vr[], size_t n, fmi3Int32 v[],
                        size_t nv) {
  Model *m = c;
  for (size_t k = 0; k < n; k++) {
    if (vr[k] >= NI) return fmi3Error;
    v[k] = m->i[vr[k]];
  }
  return fmi3OK;
}
fmi3Status fmi3SetInt32(fmi3Instance c, const fmi3ValueReference vr[], size_t n,
                        const fmi3Int32 v[], size_t nv) {
  Model *m = c;
  for (size_t k = 0; k < n; k++) {
    if (vr[k] >= NI) return fmi3Error;
    m->i[vr[k]] = v[k];
  }
  return fmi3OK;
}
REFUSE_OTHER_TYPES
REFUSE_TYPE(fmi3UInt64, UInt64)
#endif

fmi3Status fmi3DoStep(fmi3Instance c, fmi3Float64 t, fmi3Float64 h, fmi3Boolean no_set,
                      fmi3Boolean *event, fmi3Boolean *terminate, fmi3Boolean *early,
                      fmi3Float64 *last) {
  Model *m = c;
  *event = *early = false;
  m->t = t;
  const int outcome = model_do_step(m, h);
  if (outcome < 0) return fmi3Error;
  *terminate = outcome > 0;
  if (!*terminate) m->t = t + h;
  *last = m->t;
  return fmi3OK;
}

fmi3Status fmi3GetFMUState(fmi3Instance c, fmi3FMUState *s) {
  if (*s == NULL) *s = malloc(sizeof(Model));
  memcpy(*s, c, sizeof(Model));
  return fmi3OK;
}
fmi3Status fmi3SetFMUState(fmi3Instance c, fmi3FMUState s) {
  memcpy(c, s, sizeof(Model));
  return fmi3OK;
}
fmi3Status fmi3FreeFMUState(fmi3Instance c, fmi3FMUState *s) {
  free(*s);
  *s = NULL;
  return fmi3OK;
}

/* ---- model exchange ---- */
fmi3Status fmi3EnterEventMode(fmi3Instance c) { return fmi3OK; }
fmi3Status fmi3UpdateDiscreteStates(fmi3Instance c, fmi3Boolean *needed, fmi3Boolean *terminate,
                                    fmi3Boolean *nominals, fmi3Boolean *values,
                                    fmi3Boolean *next_defined, fmi3Float64 *next) {
  EventInfo event = {false, false, false, 0.0};
  model_event(c, &event);
  model_derivatives(c);
  *needed = *nominals = false;
  *terminate = event.terminate;
  *values = event.values_changed;
  *next_defined = event.next_time_defined;
  *next = event.next_time;
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
#ifndef MODEL_OWN_STATES
fmi3Status fmi3SetContinuousStates(fmi3Instance c, const fmi3Float64 x[], size_t n) {
#if NX > 0
  Model *m = c;
  if (n != NX) return fmi3Error;
  for (size_t k = 0; k < n; k++) m->r[state_vrs[k]] = x[k];
  return fmi3OK;
#else
  return fmi3Error;
#endif
}
fmi3Status fmi3GetContinuousStates(fmi3Instance c, fmi3Float64 x[], size_t n) {
#if NX > 0
  Model *m = c;
  if (n != NX) return fmi3Error;
  for (size_t k = 0; k < n; k++) x[k] = m->r[state_vrs[k]];
  return fmi3OK;
#else
  return fmi3Error;
#endif
}
fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance c, fmi3Float64 dx[], size_t n) {
#if NX > 0
  Model *m = c;
  if (n != NX) return fmi3Error;
  m->failed = false;
  model_derivatives(m);
  if (m->failed) return fmi3Error;
  for (size_t k = 0; k < n; k++) dx[k] = m->r[derivative_vrs[k]];
  return fmi3OK;
#else
  return fmi3Error;
#endif
}
fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance c, fmi3Float64 x[], size_t n) {
  if (n != NX) return fmi3Error;
  for (size_t k = 0; k < n; k++) x[k] = 1.0;
  return fmi3OK;
}
fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance c, size_t *n) {
  *n = NX;
  return fmi3OK;
}
fmi3Status fmi3EnterConfigurationMode(fmi3Instance c) { return fmi3Error; }
fmi3Status fmi3ExitConfigurationMode(fmi3Instance c) { return fmi3Error; }
#endif
fmi3Status fmi3GetEventIndicators(fmi3Instance c, fmi3Float64 z[], size_t n) {
  if (n != NZ) return fmi3Error;
  if (n > 0) model_indicators(c, z);
  return fmi3OK;
}
fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance c, size_t *n) {
  *n = NZ;
  return fmi3OK;
}

/* ---- not supported ---- */
typedef fmi3Instance I;
typedef const fmi3ValueReference *VRs;
REFUSE_TYPE(fmi3String, String)
fmi3Instance fmi3InstantiateScheduledExecution(fmi3String a, fmi3String b, fmi3String c,
                                               fmi3Boolean d, fmi3Boolean e,
                                               fmi3InstanceEnvironment f, fmi3LogMessageCallback g,
                                               fmi3ClockUpdateCallback h,
                                               fmi3LockPreemptionCallback i,
                                               fmi3UnlockPreemptionCallback j) {
  return NULL;
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
