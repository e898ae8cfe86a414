/* fmt_fmi2.c - the FMI 2.0 C API (model exchange and co-simulation) over fmt_instance. */
#include <stdlib.h>
#include <string.h>

#include "fmi2Functions.h"
#include "fmt_instance.h"

typedef struct {
    fmi2CallbackLogger logger;
    fmi2ComponentEnvironment environment;
} fmi2_adapter;

static void log_fmi2(const fmt_instance *inst, fmt_status status, const char *category, const char *message) {
    const fmi2_adapter *adapter = inst->adapter_data;
    if (!adapter->logger) return;
    /* The logger treats the message as a printf format: escape '%'. */
    char escaped[2048];
    size_t k = 0;
    for (const char *c = message; *c && k + 2 < sizeof escaped; c++) {
        if (*c == '%') escaped[k++] = '%';
        escaped[k++] = *c;
    }
    escaped[k] = '\0';
    adapter->logger(adapter->environment, inst->name, (fmi2Status)status, category, escaped);
}

/* Start of every function taking a component: the instance, in one of the allowed modes. */
#define ENTER(fn, modes)                                                                                           \
    fmt_instance *inst = (fmt_instance *)c;                                                                        \
    if (!fmt_require_mode(inst, (modes), fn)) return fmi2Error

static fmi2Status no_variables_of_type(fmt_instance *inst, const char *type, size_t nvr) {
    if (nvr == 0) return fmi2OK;
    fmt_log(inst, FMT_ERROR, "logStatusError", "%s has no %s variables: all its variables are Real.",
            inst->model->name, type);
    return fmi2Error;
}

static fmi2Status wrong_count(fmt_instance *inst, const char *fn, const char *what, size_t got, int expected) {
    fmt_log(inst, FMT_ERROR, "logStatusError", "%s: %s has %zu elements but %s has %d.", fn, what, got,
            inst->model->name, expected);
    return fmi2Error;
}

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }

const char *fmi2GetVersion(void) { return fmi2Version; }

fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean loggingOn, size_t nCategories,
                               const fmi2String categories[]) {
    (void)nCategories;
    (void)categories;
    ENTER("fmi2SetDebugLogging", FMT_MODES_ANY);
    inst->logging_on = loggingOn;
    return fmi2OK;
}

fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType, fmi2String fmuGUID,
                              fmi2String fmuResourceLocation, const fmi2CallbackFunctions *functions,
                              fmi2Boolean visible, fmi2Boolean loggingOn) {
    (void)fmuResourceLocation;
    (void)visible;
    fmi2_adapter *adapter = calloc(1, sizeof *adapter);
    if (!adapter) return NULL;
    if (functions) {
        adapter->logger = functions->logger;
        adapter->environment = functions->componentEnvironment;
    }
    fmt_instance *inst =
        fmt_instantiate(instanceName, fmuGUID, fmuType == fmi2CoSimulation ? FMT_CO_SIMULATION : FMT_MODEL_EXCHANGE,
                        log_fmi2, adapter, loggingOn);
    if (!inst) free(adapter);
    return inst;
}

void fmi2FreeInstance(fmi2Component c) {
    fmt_instance *inst = c;
    if (!inst) return;
    free(inst->adapter_data);
    fmt_free_instance(inst);
}

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean toleranceDefined, fmi2Real tolerance,
                               fmi2Real startTime, fmi2Boolean stopTimeDefined, fmi2Real stopTime) {
    (void)toleranceDefined;
    (void)tolerance;
    (void)stopTimeDefined;
    (void)stopTime;
    ENTER("fmi2SetupExperiment", FMT_MODE_INSTANTIATED);
    fmt_set_time(inst, startTime);
    return fmi2OK;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component c) {
    ENTER("fmi2EnterInitializationMode", FMT_MODE_INSTANTIATED);
    return (fmi2Status)fmt_enter_initialization(inst, inst->v[0]);
}

fmi2Status fmi2ExitInitializationMode(fmi2Component c) {
    ENTER("fmi2ExitInitializationMode", FMT_MODE_INITIALIZATION);
    return (fmi2Status)fmt_exit_initialization(inst);
}

fmi2Status fmi2Terminate(fmi2Component c) {
    ENTER("fmi2Terminate", FMT_MODES_INITIALIZED);
    inst->mode = FMT_MODE_TERMINATED;
    return fmi2OK;
}

fmi2Status fmi2Reset(fmi2Component c) {
    ENTER("fmi2Reset", FMT_MODES_ANY);
    fmt_reset(inst);
    return fmi2OK;
}

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Real value[]) {
    ENTER("fmi2GetReal", FMT_MODES_ANY);
    return (fmi2Status)fmt_get_float64(inst, vr, nvr, value);
}

fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Real value[]) {
    ENTER("fmi2SetReal", FMT_MODES_ANY);
    return (fmi2Status)fmt_set_float64(inst, vr, nvr, value);
}

fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Integer value[]) {
    (void)vr;
    (void)value;
    ENTER("fmi2GetInteger", FMT_MODES_ANY);
    return no_variables_of_type(inst, "Integer", nvr);
}

fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Boolean value[]) {
    (void)vr;
    (void)value;
    ENTER("fmi2GetBoolean", FMT_MODES_ANY);
    return no_variables_of_type(inst, "Boolean", nvr);
}

fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2String value[]) {
    (void)vr;
    (void)value;
    ENTER("fmi2GetString", FMT_MODES_ANY);
    return no_variables_of_type(inst, "String", nvr);
}

fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Integer value[]) {
    (void)vr;
    (void)value;
    ENTER("fmi2SetInteger", FMT_MODES_ANY);
    return no_variables_of_type(inst, "Integer", nvr);
}

fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Boolean value[]) {
    (void)vr;
    (void)value;
    ENTER("fmi2SetBoolean", FMT_MODES_ANY);
    return no_variables_of_type(inst, "Boolean", nvr);
}

fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2String value[]) {
    (void)vr;
    (void)value;
    ENTER("fmi2SetString", FMT_MODES_ANY);
    return no_variables_of_type(inst, "String", nvr);
}

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *FMUstate) {
    ENTER("fmi2GetFMUstate", FMT_MODES_ANY);
    fmt_snapshot *s = fmt_get_snapshot(inst, *FMUstate);
    if (!s) return fmi2Fatal;
    *FMUstate = s;
    return fmi2OK;
}

fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate FMUstate) {
    ENTER("fmi2SetFMUstate", FMT_MODES_ANY);
    return (fmi2Status)fmt_set_snapshot(inst, FMUstate);
}

fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *FMUstate) {
    ENTER("fmi2FreeFMUstate", FMT_MODES_ANY);
    fmt_free_snapshot(*FMUstate);
    *FMUstate = NULL;
    return fmi2OK;
}

fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate FMUstate, size_t *size) {
    (void)FMUstate;
    ENTER("fmi2SerializedFMUstateSize", FMT_MODES_ANY);
    *size = fmt_snapshot_size(inst);
    return fmi2OK;
}

fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate FMUstate, fmi2Byte serializedState[], size_t size) {
    ENTER("fmi2SerializeFMUstate", FMT_MODES_ANY);
    if (size < fmt_snapshot_size(inst))
        return wrong_count(inst, "fmi2SerializeFMUstate", "the buffer", size, (int)fmt_snapshot_size(inst));
    fmt_serialize_snapshot(FMUstate, (unsigned char *)serializedState);
    return fmi2OK;
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte serializedState[], size_t size,
                                   fmi2FMUstate *FMUstate) {
    ENTER("fmi2DeSerializeFMUstate", FMT_MODES_ANY);
    fmt_snapshot *s = fmt_deserialize_snapshot(inst, (const unsigned char *)serializedState, size);
    if (!s) return fmi2Error;
    fmt_free_snapshot(*FMUstate);
    *FMUstate = s;
    return fmi2OK;
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference vUnknown_ref[], size_t nUnknown,
                                        const fmi2ValueReference vKnown_ref[], size_t nKnown,
                                        const fmi2Real dvKnown[], fmi2Real dvUnknown[]) {
    ENTER("fmi2GetDirectionalDerivative", FMT_MODES_ANY & ~FMT_MODE_INSTANTIATED);
    return (fmi2Status)fmt_directional_derivative(inst, vUnknown_ref, nUnknown, vKnown_ref, nKnown, dvKnown,
                                                  dvUnknown, false);
}

/* ---- model exchange ---- */

fmi2Status fmi2EnterEventMode(fmi2Component c) {
    ENTER("fmi2EnterEventMode", FMT_MODE_EVENT | FMT_MODE_CONTINUOUS_TIME);
    inst->mode = FMT_MODE_EVENT;
    return fmi2OK;
}

fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *eventInfo) {
    ENTER("fmi2NewDiscreteStates", FMT_MODE_EVENT);
    fmt_update_discrete(inst);
    eventInfo->newDiscreteStatesNeeded = fmi2False;
    eventInfo->terminateSimulation = fmi2False;
    eventInfo->nominalsOfContinuousStatesChanged = fmi2False;
    eventInfo->valuesOfContinuousStatesChanged = fmi2False;
    eventInfo->nextEventTimeDefined = fmi2False;
    eventInfo->nextEventTime = 0.0;
    return fmi2OK;
}

fmi2Status fmi2EnterContinuousTimeMode(fmi2Component c) {
    ENTER("fmi2EnterContinuousTimeMode", FMT_MODE_EVENT);
    inst->mode = FMT_MODE_CONTINUOUS_TIME;
    return fmi2OK;
}

fmi2Status fmi2CompletedIntegratorStep(fmi2Component c, fmi2Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi2Boolean *enterEventMode, fmi2Boolean *terminateSimulation) {
    (void)noSetFMUStatePriorToCurrentPoint;
    ENTER("fmi2CompletedIntegratorStep", FMT_MODE_CONTINUOUS_TIME);
    *enterEventMode = fmi2False; /* no step events: events come from event indicators only */
    *terminateSimulation = fmi2False;
    return fmi2OK;
}

fmi2Status fmi2SetTime(fmi2Component c, fmi2Real time) {
    ENTER("fmi2SetTime", FMT_MODE_EVENT | FMT_MODE_CONTINUOUS_TIME);
    fmt_set_time(inst, time);
    return fmi2OK;
}

fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[], size_t nx) {
    ENTER("fmi2SetContinuousStates", FMT_MODE_EVENT | FMT_MODE_CONTINUOUS_TIME);
    if (nx != (size_t)inst->n_states) return wrong_count(inst, "fmi2SetContinuousStates", "x", nx, inst->n_states);
    fmt_set_states(inst, x);
    return fmi2OK;
}

fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real derivatives[], size_t nx) {
    ENTER("fmi2GetDerivatives", FMT_MODES_ANY & ~FMT_MODE_INSTANTIATED);
    if (nx != (size_t)inst->n_states) return wrong_count(inst, "fmi2GetDerivatives", "derivatives", nx, inst->n_states);
    fmt_get_derivatives(inst, derivatives);
    return fmi2OK;
}

fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real eventIndicators[], size_t ni) {
    ENTER("fmi2GetEventIndicators", FMT_MODES_ANY & ~FMT_MODE_INSTANTIATED);
    if (ni != (size_t)inst->n_event_indicators)
        return wrong_count(inst, "fmi2GetEventIndicators", "eventIndicators", ni, inst->n_event_indicators);
    fmt_get_event_indicators(inst, eventIndicators);
    return fmi2OK;
}

fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[], size_t nx) {
    ENTER("fmi2GetContinuousStates", FMT_MODES_ANY & ~FMT_MODE_INSTANTIATED);
    if (nx != (size_t)inst->n_states) return wrong_count(inst, "fmi2GetContinuousStates", "x", nx, inst->n_states);
    fmt_get_states(inst, x);
    return fmi2OK;
}

fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c, fmi2Real x_nominal[], size_t nx) {
    ENTER("fmi2GetNominalsOfContinuousStates", FMT_MODES_ANY);
    if (nx != (size_t)inst->n_states)
        return wrong_count(inst, "fmi2GetNominalsOfContinuousStates", "x_nominal", nx, inst->n_states);
    fmt_get_nominals(inst, x_nominal);
    return fmi2OK;
}

/* ---- co-simulation ---- */

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                       const fmi2Integer order[], const fmi2Real value[]) {
    (void)vr;
    (void)order;
    (void)value;
    ENTER("fmi2SetRealInputDerivatives", FMT_MODES_ANY);
    if (nvr == 0) return fmi2OK;
    fmt_log(inst, FMT_ERROR, "logStatusError",
            "fmi2SetRealInputDerivatives: inputs are held constant over a step (canInterpolateInputs=false).");
    return fmi2Error;
}

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                        const fmi2Integer order[], fmi2Real value[]) {
    (void)vr;
    (void)order;
    (void)value;
    ENTER("fmi2GetRealOutputDerivatives", FMT_MODES_ANY);
    if (nvr == 0) return fmi2OK;
    fmt_log(inst, FMT_ERROR, "logStatusError",
            "fmi2GetRealOutputDerivatives: not provided (maxOutputDerivativeOrder=0).");
    return fmi2Error;
}

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real currentCommunicationPoint, fmi2Real communicationStepSize,
                      fmi2Boolean noSetFMUStatePriorToCurrentPoint) {
    (void)noSetFMUStatePriorToCurrentPoint;
    ENTER("fmi2DoStep", FMT_MODE_STEP);
    return (fmi2Status)fmt_do_step(inst, currentCommunicationPoint, communicationStepSize);
}

fmi2Status fmi2CancelStep(fmi2Component c) {
    ENTER("fmi2CancelStep", FMT_MODE_STEP);
    fmt_log(inst, FMT_ERROR, "logStatusError", "fmi2CancelStep: doStep is synchronous, there is nothing to cancel.");
    return fmi2Error;
}

static fmi2Status no_status(fmi2Component c, const char *fn) {
    ENTER(fn, FMT_MODES_ANY);
    fmt_log(inst, FMT_ERROR, "logStatusError", "%s: doStep is synchronous and never returns fmi2Pending.", fn);
    return fmi2Discard;
}

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *value) {
    (void)s;
    (void)value;
    return no_status(c, "fmi2GetStatus");
}

fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *value) {
    fmt_instance *inst = c;
    if (inst && s == fmi2LastSuccessfulTime) {
        *value = inst->v[0];
        return fmi2OK;
    }
    return no_status(c, "fmi2GetRealStatus");
}

fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *value) {
    (void)s;
    (void)value;
    return no_status(c, "fmi2GetIntegerStatus");
}

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value) {
    fmt_instance *inst = c;
    if (inst && s == fmi2Terminated) {
        *value = fmi2False;
        return fmi2OK;
    }
    return no_status(c, "fmi2GetBooleanStatus");
}

fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *value) {
    (void)s;
    (void)value;
    return no_status(c, "fmi2GetStringStatus");
}
