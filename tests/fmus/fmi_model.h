/* fmi_model.h - the FMI API (model exchange and co-simulation; FMI 2.0, or FMI 3.0 when the
 * including file defines FMI_VERSION 3 first) around a small test model, shared by the
 * test-only FMUs of tests/fmus/ that include it.
 *
 * The including file defines, before `#include "fmi2_model.h"`:
 *   NX, NZ              continuous states and event indicators
 *   NR, NI              Real and Integer variables: value reference k is m->r[k] / m->i[k]
 *   STATE_VRS           value references of the states, e.g. {0, 1} (ignored when NX is 0)
 *   DERIVATIVE_VRS      value references of their derivatives
 * and the model functions (m->t is the time, m->r / m->i the variables):
 *   void model_start(Model *m)                     start values (at instantiation)
 *   void model_derivatives(Model *m)               writes the derivative variables
 *   void model_indicators(const Model *m, double z[])
 *   void model_event(Model *m, EventInfo *info)      event mode: discrete update
 *   int  model_do_step(Model *m, double h)         CS: advance m->t by h (1: terminate at m->t,
 *                                                  -1: the step fails with fmi2Error / fmi3Error)
 * Optionally, before the include:
 *   NS                  String variables (FMI 2.0): value reference k is m->s[k], read-only
 *   MODEL_FIELDS        more members of Model, e.g. `float f32; bool b;`
 *   MODEL_INITIALIZED   defined: the model defines void model_initialized(Model *m), called at
 *                       the end of initialization mode (after model_derivatives)
 *   MODEL_OWN_ACCESSORS (FMI 3.0) the model defines the fmi3Get/Set functions of every type but
 *                       String and Binary itself (REFUSE_TYPE(Type, Name) refuses a type,
 *                       REFUSE_OTHER_TYPES all but Float64, Int32 and UInt64)
 *   MODEL_OWN_STATES    (FMI 3.0) the model defines the continuous-state functions itself
 *                       (fmi3Get/SetContinuousStates, fmi3GetContinuousStateDerivatives,
 *                       fmi3GetNominalsOfContinuousStates, fmi3GetNumberOfContinuousStates)
 *                       and configuration mode (fmi3Enter/ExitConfigurationMode)
 * A model function may set m->failed: the FMI call that ran it (fmi2GetDerivatives /
 * fmi3GetContinuousStateDerivatives) returns fmi2Error / fmi3Error. With logging on
 * (m->logging), FMI 2.0 models log through model_log(m, status, category, format, ...), a
 * printf-style message with its arguments as FMI 2.0 passes them. The instance name is m->name.
 * The framework checks the master the way strict FMUs do: state and indicator arrays of another
 * length than declared (e.g. fmi2GetDerivatives(c, NULL, 0) with states) return fmi2Error, and
 * so does fmi2GetDerivatives / fmi2GetContinuousStates on a model without states (as some
 * exporting tools do). FMU states are copies of the model (fmi2GetFMUstate works). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdbool.h>

#ifndef FMI_VERSION
#define FMI_VERSION 2
#endif
#ifndef NS
#define NS 0
#endif
#ifndef MODEL_FIELDS
#define MODEL_FIELDS
#endif

#if FMI_VERSION == 3
#include "fmi3Functions.h"
#else
#include "fmi2Functions.h"
#endif

typedef struct {
  double t, tolerance; /* tolerance: 0 when the master gave none */
  double r[NR];
  int i[NI];
#if NS > 0
  const char *s[NS];
#endif
  int terminated;
  bool logging, failed;
  char *name; /* copied: the caller's string need not outlive the instantiation */
#if FMI_VERSION == 2
  const fmi2CallbackFunctions *cb;
#endif
  MODEL_FIELDS
} Model;

static void model_start(Model *m);
static void model_derivatives(Model *m);
static void model_indicators(const Model *m, double z[]);
/* What an event update reports (all false / 0 unless the model sets them). */
typedef struct {
  bool terminate, values_changed, next_time_defined;
  double next_time;
} EventInfo;

static void model_event(Model *m, EventInfo *info);
static int model_do_step(Model *m, double h);
#ifdef MODEL_INITIALIZED
static void model_initialized(Model *m);
#endif

#if NX > 0
static const unsigned int state_vrs[NX] = STATE_VRS;
static const unsigned int derivative_vrs[NX] = DERIVATIVE_VRS;
#endif

#if FMI_VERSION == 3
#include "fmi3_model.h"
#else
#include "fmi2_model.h"
#endif

