/* crashy.c - a test-only FMI 2.0 co-simulation FMU that takes its process down on request.
 *
 *   y = gain * t (Real output). A step ending after fail_at logs a warning, then, by the
 * Integer parameter mode: 1 dereferences NULL (segfault), 2 calls abort(), 3 never returns;
 * mode 0 steps normally. Value references: Real 0 y, 1 gain, 2 fail_at; Integer 3 mode. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmi2Functions.h"

typedef struct {
  double t, gain, fail_at;
  int logging, mode;
  char *name; /* copied: the caller's string need not outlive fmi2Instantiate */
  const fmi2CallbackFunctions *cb;
} Crashy;

fmi2Component fmi2Instantiate(fmi2String name, fmi2Type type, fmi2String guid, fmi2String res,
                              const fmi2CallbackFunctions *cb, fmi2Boolean visible,
                              fmi2Boolean logging) {
  Crashy *m = calloc(1, sizeof(Crashy));
  m->gain = 2.5;
  m->fail_at = 1e300;
  m->logging = logging;
  m->name = strdup(name);
  m->cb = cb;
  return m;
}
void fmi2FreeInstance(fmi2Component c) {
  free(((Crashy *)c)->name);
  free(c);
}
const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }
fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean on, size_t n, const fmi2String cat[]) {
  ((Crashy *)c)->logging = on;
  return fmi2OK;
}
fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean td, fmi2Real tol, fmi2Real t0,
                               fmi2Boolean sd, fmi2Real t1) {
  ((Crashy *)c)->t = t0;
  return fmi2OK;
}
fmi2Status fmi2EnterInitializationMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2ExitInitializationMode(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2Terminate(fmi2Component c) { return fmi2OK; }
fmi2Status fmi2Reset(fmi2Component c) { return fmi2Error; }
fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Real v[]) {
  Crashy *m = c;
  for (size_t i = 0; i < n; i++) v[i] = vr[i] == 0 ? m->gain * m->t : vr[i] == 1 ? m->gain : m->fail_at;
  return fmi2OK;
}
fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                       const fmi2Real v[]) {
  Crashy *m = c;
  for (size_t i = 0; i < n; i++) {
    if (vr[i] == 1) m->gain = v[i];
    else if (vr[i] == 2) m->fail_at = v[i];
    else return fmi2Error;
  }
  return fmi2OK;
}
fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                          fmi2Integer v[]) {
  for (size_t i = 0; i < n; i++) {
    if (vr[i] != 3) return fmi2Error;
    v[i] = ((Crashy *)c)->mode;
  }
  return fmi2OK;
}
fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                          const fmi2Integer v[]) {
  for (size_t i = 0; i < n; i++) {
    if (vr[i] != 3) return fmi2Error;
    ((Crashy *)c)->mode = v[i];
  }
  return fmi2OK;
}
fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                          fmi2Boolean v[]) {
  return n ? fmi2Error : fmi2OK;
}
fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                          const fmi2Boolean v[]) {
  return n ? fmi2Error : fmi2OK;
}
fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                         fmi2String v[]) {
  return n ? fmi2Error : fmi2OK;
}
fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                         const fmi2String v[]) {
  return n ? fmi2Error : fmi2OK;
}
fmi2Status fmi2DoStep(fmi2Component c, fmi2Real t, fmi2Real h, fmi2Boolean noSetPrior) {
  Crashy *m = c;
  if (t + h > m->fail_at && m->mode != 0) {
    m->cb->logger(m->cb->componentEnvironment, m->name, fmi2Warning, "logStatusWarning",
                  "mode %d: failing in the step from t = %g", m->mode, t);
    if (m->mode == 1) {
      volatile double *nowhere = NULL;
      *nowhere = t;
    } else if (m->mode == 2) {
      abort();
    } else {
      for (;;) sleep(1);
    }
  }
  m->t = t + h;
  return fmi2OK;
}
fmi2Status fmi2CancelStep(fmi2Component c) { return fmi2Error; }
fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *v) { return fmi2Error; }
fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *v) {
  return fmi2Error;
}
fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *v) {
  return fmi2Error;
}
fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *v) {
  return fmi2Error;
}
fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *v) {
  return fmi2Error;
}
fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                                       const fmi2Integer order[], const fmi2Real value[]) {
  return fmi2Error;
}
fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                                        const fmi2Integer order[], fmi2Real value[]) {
  return fmi2Error;
}
fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *s) { return fmi2Error; }
fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate s) { return fmi2Error; }
fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *s) { return fmi2Error; }
fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate s, size_t *n) {
  return fmi2Error;
}
fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate s, fmi2Byte b[], size_t n) {
  return fmi2Error;
}
fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte b[], size_t n,
                                   fmi2FMUstate *s) {
  return fmi2Error;
}
fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference u[], size_t nu,
                                        const fmi2ValueReference k[], size_t nk,
                                        const fmi2Real dk[], fmi2Real du[]) {
  return fmi2Error;
}
