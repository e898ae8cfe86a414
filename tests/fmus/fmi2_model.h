/* fmi2_model.h - the FMI 2.0 functions of fmi_model.h (included by it, not directly). */
#define model_log(m, status, category, ...)                                                    \
  (m)->cb->logger((m)->cb->componentEnvironment, (m)->name, status, category, __VA_ARGS__)

fmi2Component fmi2Instantiate(fmi2String name, fmi2Type type, fmi2String guid, fmi2String res,
                              const fmi2CallbackFunctions *cb, fmi2Boolean visible,
                              fmi2Boolean logging) {
  Model *m = calloc(1, sizeof(Model));
  m->logging = logging;
  m->name = strdup(name);
  m->cb = cb;
  model_start(m);
  return m;
}
void fmi2FreeInstance(fmi2Component c) {
  free(((Model *)c)->name);
  free(c);
}
const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }
fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean on, size_t n, const fmi2String cat[]) {
  ((Model *)c)->logging = on;
  return fmi2OK;
}
fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean tolerance_defined, fmi2Real tolerance,
                               fmi2Real t0, fmi2Boolean sd, fmi2Real t1) {
  Model *m = c;
  m->t = t0;
  m->tolerance = tolerance_defined ? tolerance : 0.0;
  return fmi2OK;
}
fmi2Status fmi2EnterInitializationMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2ExitInitializationMode(fmi2Component c) {
  model_derivatives(c);
#ifdef MODEL_INITIALIZED
  model_initialized(c);
#endif
  return fmi2OK;
}
fmi2Status fmi2Terminate(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2Reset(fmi2Component c) { return fmi2Error; }

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Real v[]) {
  Model *m = c;
  model_derivatives(m);
  for (size_t k = 0; k < n; k++) {
    if (vr[k] >= NR) return fmi2Error;
    v[k] = m->r[vr[k]];
  }
  return fmi2OK;
}
fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                       const fmi2Real v[]) {
  Model *m = c;
  for (size_t k = 0; k < n; k++) {
    if (vr[k] >= NR) return fmi2Error;
    m->r[vr[k]] = v[k];
  }
  return fmi2OK;
}
fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                          fmi2Integer v[]) {
  Model *m = c;
  for (size_t k = 0; k < n; k++) {
    if (vr[k] >= NI) return fmi2Error;
    v[k] = m->i[vr[k]];
  }
  return fmi2OK;
}
fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                          const fmi2Integer v[]) {
  Model *m = c;
  for (size_t k = 0; k < n; k++) {
    if (vr[k] >= NI) return fmi2Error;
    m->i[vr[k]] = v[k];
  }
  return fmi2OK;
}
fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                          fmi2Boolean v[]) { return n == 0 ? fmi2OK : fmi2Error; }
fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                          const fmi2Boolean v[]) { return n == 0 ? fmi2OK : fmi2Error; }
fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                         fmi2String v[]) {
#if NS > 0
  Model *m = c;
  for (size_t k = 0; k < n; k++) {
    if (vr[k] >= NS) return fmi2Error;
    v[k] = m->s[vr[k]];
  }
  return fmi2OK;
#else
  return n == 0 ? fmi2OK : fmi2Error;
#endif
}
fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                         const fmi2String v[]) { return n == 0 ? fmi2OK : fmi2Error; }

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *s) {
  if (*s == NULL) *s = malloc(sizeof(Model));
  memcpy(*s, c, sizeof(Model));
  return fmi2OK;
}
fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate s) {
  memcpy(c, s, sizeof(Model));
  return fmi2OK;
}
fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *s) {
  free(*s);
  *s = NULL;
  return fmi2OK;
}
fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate s, size_t *n) {
  return fmi2Error;
}
fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate s, fmi2Byte b[], size_t n) {
  return fmi2Error;
}
fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte b[], size_t n,
                                   fmi2FMUstate *s) { return fmi2Error; }
fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference u[], size_t nu,
                                        const fmi2ValueReference k[], size_t nk,
                                        const fmi2Real dk[], fmi2Real du[]) { return fmi2Error; }

/* ---- model exchange ---- */
fmi2Status fmi2EnterEventMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *info) {
  EventInfo event = {false, false, false, 0.0};
  model_event(c, &event);
  model_derivatives(c);
  info->newDiscreteStatesNeeded = fmi2False;
  info->terminateSimulation = event.terminate;
  info->nominalsOfContinuousStatesChanged = fmi2False;
  info->valuesOfContinuousStatesChanged = event.values_changed;
  info->nextEventTimeDefined = event.next_time_defined;
  info->nextEventTime = event.next_time;
  return fmi2OK;
}
fmi2Status fmi2EnterContinuousTimeMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2CompletedIntegratorStep(fmi2Component c, fmi2Boolean no_set, fmi2Boolean *event,
                                       fmi2Boolean *term) {
  *event = fmi2False;
  *term = fmi2False;
  return fmi2OK;
}
fmi2Status fmi2SetTime(fmi2Component c, fmi2Real t) {
  ((Model *)c)->t = t;
  return fmi2OK;
}
fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[], size_t n) {
#if NX > 0
  Model *m = c;
  if (n != NX) return fmi2Error;
  for (size_t k = 0; k < n; k++) m->r[state_vrs[k]] = x[k];
  return fmi2OK;
#else
  return fmi2Error;
#endif
}
fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[], size_t n) {
#if NX > 0
  Model *m = c;
  if (n != NX) return fmi2Error;
  for (size_t k = 0; k < n; k++) x[k] = m->r[state_vrs[k]];
  return fmi2OK;
#else
  return fmi2Error;
#endif
}
fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real dx[], size_t n) {
#if NX > 0
  Model *m = c;
  if (n != NX) return fmi2Error;
  m->failed = false;
  model_derivatives(m);
  if (m->failed) return fmi2Error;
  for (size_t k = 0; k < n; k++) dx[k] = m->r[derivative_vrs[k]];
  return fmi2OK;
#else
  return fmi2Error;
#endif
}
fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real z[], size_t n) {
  if (n != NZ) return fmi2Error;
  if (n > 0) model_indicators(c, z);
  return fmi2OK;
}
fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c, fmi2Real x[], size_t n) {
  if (n != NX) return fmi2Error;
  for (size_t k = 0; k < n; k++) x[k] = 1.0;
  return fmi2OK;
}

/* ---- co-simulation ---- */
fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                                       const fmi2Integer order[], const fmi2Real v[]) {
  return fmi2Error;
}
fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                                        const fmi2Integer order[], fmi2Real v[]) {
  return fmi2Error;
}
fmi2Status fmi2DoStep(fmi2Component c, fmi2Real t, fmi2Real h, fmi2Boolean no_prior) {
  Model *m = c;
  if (m->terminated) return fmi2Error;
  m->t = t;
  const int outcome = model_do_step(m, h);
  if (outcome < 0) return fmi2Error;
  if (outcome > 0) {
    m->terminated = 1;
    return fmi2Discard;
  }
  m->t = t + h;
  return fmi2OK;
}
fmi2Status fmi2CancelStep(fmi2Component c) { return fmi2Error; }
fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *v) {
  return fmi2Error;
}
fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *v) {
  if (s != fmi2LastSuccessfulTime) return fmi2Error;
  *v = ((Model *)c)->t;
  return fmi2OK;
}
fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *v) {
  return fmi2Error;
}
fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *v) {
  if (s != fmi2Terminated) return fmi2Error;
  *v = ((Model *)c)->terminated ? fmi2True : fmi2False;
  return fmi2OK;
}
fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *v) {
  return fmi2Error;
}
