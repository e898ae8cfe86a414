/* fmt_fmi3.c - the FMI 3.0 C API (model exchange and co-simulation) over fmt_instance. */
#include <stdlib.h>
#include <string.h>

#include "fmi3Functions.h"
#include "fmt_instance.h"

typedef struct {
    fmi3LogMessageCallback log_message;
    fmi3InstanceEnvironment environment;
} fmi3_adapter;

static void log_fmi3(const fmt_instance *inst, fmt_status status, const char *category, const char *message) {
    const fmi3_adapter *adapter = inst->adapter_data;
    if (adapter->log_message) adapter->log_message(adapter->environment, (fmi3Status)status, category, message);
}

/* Start of every function taking an instance: the instance, in one of the allowed modes. */
#define ENTER(fn, modes)                                                                                           \
    fmt_instance *inst = (fmt_instance *)instance;                                                                 \
    if (!fmt_require_mode(inst, (modes), fn)) return fmi3Error

static fmi3Status unsupported(fmi3Instance instance, const char *fn, const char *why) {
    ENTER(fn, FMT_MODES_ANY);
    fmt_log(inst, FMT_ERROR, "logStatusError", "%s: %s", fn, why);
    return fmi3Error;
}

static fmi3Status wrong_count(fmt_instance *inst, const char *fn, const char *what, size_t got, size_t expected) {
    fmt_log(inst, FMT_ERROR, "logStatusError", "%s: %s has %zu elements, expected %zu.", fn, what, got, expected);
    return fmi3Error;
}

static fmi3Instance instantiate(fmi3String instanceName, fmi3String instantiationToken, fmt_interface interface,
                                fmi3Boolean loggingOn, fmi3InstanceEnvironment instanceEnvironment,
                                fmi3LogMessageCallback logMessage) {
    fmi3_adapter *adapter = calloc(1, sizeof *adapter);
    if (!adapter) return NULL;
    adapter->log_message = logMessage;
    adapter->environment = instanceEnvironment;
    fmt_instance *inst = fmt_instantiate(instanceName, instantiationToken, interface, log_fmi3, adapter, loggingOn);
    if (!inst) free(adapter);
    return inst;
}

const char *fmi3GetVersion(void) { return fmi3Version; }

fmi3Status fmi3SetDebugLogging(fmi3Instance instance, fmi3Boolean loggingOn, size_t nCategories,
                               const fmi3String categories[]) {
    (void)nCategories;
    (void)categories;
    ENTER("fmi3SetDebugLogging", FMT_MODES_ANY);
    inst->logging_on = loggingOn;
    return fmi3OK;
}

fmi3Instance fmi3InstantiateModelExchange(fmi3String instanceName, fmi3String instantiationToken,
                                          fmi3String resourcePath, fmi3Boolean visible, fmi3Boolean loggingOn,
                                          fmi3InstanceEnvironment instanceEnvironment,
                                          fmi3LogMessageCallback logMessage) {
    (void)resourcePath;
    (void)visible;
    return instantiate(instanceName, instantiationToken, FMT_MODEL_EXCHANGE, loggingOn, instanceEnvironment,
                       logMessage);
}

fmi3Instance fmi3InstantiateCoSimulation(fmi3String instanceName, fmi3String instantiationToken,
                                         fmi3String resourcePath, fmi3Boolean visible, fmi3Boolean loggingOn,
                                         fmi3Boolean eventModeUsed, fmi3Boolean earlyReturnAllowed,
                                         const fmi3ValueReference requiredIntermediateVariables[],
                                         size_t nRequiredIntermediateVariables,
                                         fmi3InstanceEnvironment instanceEnvironment,
                                         fmi3LogMessageCallback logMessage,
                                         fmi3IntermediateUpdateCallback intermediateUpdate) {
    /* Events are handled inside doStep (hasEventMode=false); steps never return early. */
    (void)resourcePath;
    (void)visible;
    (void)eventModeUsed;
    (void)earlyReturnAllowed;
    (void)requiredIntermediateVariables;
    (void)nRequiredIntermediateVariables;
    (void)intermediateUpdate;
    return instantiate(instanceName, instantiationToken, FMT_CO_SIMULATION, loggingOn, instanceEnvironment,
                       logMessage);
}

fmi3Instance fmi3InstantiateScheduledExecution(fmi3String instanceName, fmi3String instantiationToken,
                                               fmi3String resourcePath, fmi3Boolean visible, fmi3Boolean loggingOn,
                                               fmi3InstanceEnvironment instanceEnvironment,
                                               fmi3LogMessageCallback logMessage, fmi3ClockUpdateCallback clockUpdate,
                                               fmi3LockPreemptionCallback lockPreemption,
                                               fmi3UnlockPreemptionCallback unlockPreemption) {
    (void)instanceName;
    (void)instantiationToken;
    (void)resourcePath;
    (void)visible;
    (void)loggingOn;
    (void)clockUpdate;
    (void)lockPreemption;
    (void)unlockPreemption;
    if (logMessage)
        logMessage(instanceEnvironment, fmi3Error, "logStatusError",
                   "Scheduled execution is not supported: instantiate for model exchange or co-simulation.");
    return NULL;
}

void fmi3FreeInstance(fmi3Instance instance) {
    fmt_instance *inst = instance;
    if (!inst) return;
    free(inst->adapter_data);
    fmt_free_instance(inst);
}

fmi3Status fmi3EnterInitializationMode(fmi3Instance instance, fmi3Boolean toleranceDefined, fmi3Float64 tolerance,
                                       fmi3Float64 startTime, fmi3Boolean stopTimeDefined, fmi3Float64 stopTime) {
    (void)toleranceDefined;
    (void)tolerance;
    (void)stopTimeDefined;
    (void)stopTime;
    ENTER("fmi3EnterInitializationMode", FMT_MODE_INSTANTIATED);
    return (fmi3Status)fmt_enter_initialization(inst, startTime);
}

fmi3Status fmi3ExitInitializationMode(fmi3Instance instance) {
    ENTER("fmi3ExitInitializationMode", FMT_MODE_INITIALIZATION);
    return (fmi3Status)fmt_exit_initialization(inst);
}

fmi3Status fmi3EnterEventMode(fmi3Instance instance) {
    ENTER("fmi3EnterEventMode", FMT_MODE_EVENT | FMT_MODE_CONTINUOUS_TIME);
    inst->mode = FMT_MODE_EVENT;
    return fmi3OK;
}

fmi3Status fmi3Terminate(fmi3Instance instance) {
    ENTER("fmi3Terminate", FMT_MODES_INITIALIZED);
    inst->mode = FMT_MODE_TERMINATED;
    return fmi3OK;
}

fmi3Status fmi3Reset(fmi3Instance instance) {
    ENTER("fmi3Reset", FMT_MODES_ANY);
    fmt_reset(inst);
    return fmi3OK;
}

fmi3Status fmi3GetFloat64(fmi3Instance instance, const fmi3ValueReference valueReferences[], size_t nValueReferences,
                          fmi3Float64 values[], size_t nValues) {
    ENTER("fmi3GetFloat64", FMT_MODES_ANY);
    if (nValues != nValueReferences) return wrong_count(inst, "fmi3GetFloat64", "values", nValues, nValueReferences);
    return (fmi3Status)fmt_get_float64(inst, valueReferences, nValueReferences, values);
}

fmi3Status fmi3SetFloat64(fmi3Instance instance, const fmi3ValueReference valueReferences[], size_t nValueReferences,
                          const fmi3Float64 values[], size_t nValues) {
    ENTER("fmi3SetFloat64", FMT_MODES_ANY);
    if (nValues != nValueReferences) return wrong_count(inst, "fmi3SetFloat64", "values", nValues, nValueReferences);
    return (fmi3Status)fmt_set_float64(inst, valueReferences, nValueReferences, values);
}

/* Every variable is Float64: the other typed accessors accept only empty requests. */
static fmi3Status no_variables_of_type(fmi3Instance instance, const char *fn, size_t nValueReferences) {
    ENTER(fn, FMT_MODES_ANY);
    if (nValueReferences == 0) return fmi3OK;
    fmt_log(inst, FMT_ERROR, "logStatusError", "%s: %s has only Float64 variables.", fn, inst->model->name);
    return fmi3Error;
}

#define FMT_NO_ACCESSORS(Type, CType)                                                                              \
    fmi3Status fmi3Get##Type(fmi3Instance instance, const fmi3ValueReference valueReferences[],                    \
                             size_t nValueReferences, CType values[], size_t nValues) {                            \
        (void)valueReferences;                                                                                     \
        (void)values;                                                                                              \
        (void)nValues;                                                                                             \
        return no_variables_of_type(instance, "fmi3Get" #Type, nValueReferences);                                  \
    }                                                                                                              \
    fmi3Status fmi3Set##Type(fmi3Instance instance, const fmi3ValueReference valueReferences[],                    \
                             size_t nValueReferences, const CType values[], size_t nValues) {                      \
        (void)valueReferences;                                                                                     \
        (void)values;                                                                                              \
        (void)nValues;                                                                                             \
        return no_variables_of_type(instance, "fmi3Set" #Type, nValueReferences);                                  \
    }

FMT_NO_ACCESSORS(Float32, fmi3Float32)
FMT_NO_ACCESSORS(Int8, fmi3Int8)
FMT_NO_ACCESSORS(UInt8, fmi3UInt8)
FMT_NO_ACCESSORS(Int16, fmi3Int16)
FMT_NO_ACCESSORS(UInt16, fmi3UInt16)
FMT_NO_ACCESSORS(Int32, fmi3Int32)
FMT_NO_ACCESSORS(UInt32, fmi3UInt32)
FMT_NO_ACCESSORS(Int64, fmi3Int64)
FMT_NO_ACCESSORS(UInt64, fmi3UInt64)
FMT_NO_ACCESSORS(Boolean, fmi3Boolean)
FMT_NO_ACCESSORS(String, fmi3String)

fmi3Status fmi3GetBinary(fmi3Instance instance, const fmi3ValueReference valueReferences[], size_t nValueReferences,
                         size_t valueSizes[], fmi3Binary values[], size_t nValues) {
    (void)valueReferences;
    (void)valueSizes;
    (void)values;
    (void)nValues;
    return no_variables_of_type(instance, "fmi3GetBinary", nValueReferences);
}

fmi3Status fmi3SetBinary(fmi3Instance instance, const fmi3ValueReference valueReferences[], size_t nValueReferences,
                         const size_t valueSizes[], const fmi3Binary values[], size_t nValues) {
    (void)valueReferences;
    (void)valueSizes;
    (void)values;
    (void)nValues;
    return no_variables_of_type(instance, "fmi3SetBinary", nValueReferences);
}

fmi3Status fmi3GetClock(fmi3Instance instance, const fmi3ValueReference valueReferences[], size_t nValueReferences,
                        fmi3Clock values[]) {
    (void)valueReferences;
    (void)values;
    return no_variables_of_type(instance, "fmi3GetClock", nValueReferences);
}

fmi3Status fmi3SetClock(fmi3Instance instance, const fmi3ValueReference valueReferences[], size_t nValueReferences,
                        const fmi3Clock values[]) {
    (void)valueReferences;
    (void)values;
    return no_variables_of_type(instance, "fmi3SetClock", nValueReferences);
}

fmi3Status fmi3GetNumberOfVariableDependencies(fmi3Instance instance, fmi3ValueReference valueReference,
                                               size_t *nDependencies) {
    ENTER("fmi3GetNumberOfVariableDependencies", FMT_MODES_ANY);
    int n;
    if (!fmt_dependencies(inst, valueReference, &n)) {
        fmt_log(inst, FMT_ERROR, "logStatusError",
                "fmi3GetNumberOfVariableDependencies: %u is not an output, state derivative or event indicator.",
                valueReference);
        return fmi3Error;
    }
    *nDependencies = (size_t)n;
    return fmi3OK;
}

fmi3Status fmi3GetVariableDependencies(fmi3Instance instance, fmi3ValueReference dependent,
                                       size_t elementIndicesOfDependent[], fmi3ValueReference independents[],
                                       size_t elementIndicesOfIndependents[], fmi3DependencyKind dependencyKinds[],
                                       size_t nDependencies) {
    ENTER("fmi3GetVariableDependencies", FMT_MODES_ANY);
    int n;
    const int *depends = fmt_dependencies(inst, dependent, &n);
    if (!depends) {
        fmt_log(inst, FMT_ERROR, "logStatusError",
                "fmi3GetVariableDependencies: %u is not an output, state derivative or event indicator.", dependent);
        return fmi3Error;
    }
    if (nDependencies != (size_t)n)
        return wrong_count(inst, "fmi3GetVariableDependencies", "nDependencies", nDependencies, (size_t)n);
    for (int i = 0; i < n; i++) {
        elementIndicesOfDependent[i] = 0; /* scalars */
        independents[i] = (fmi3ValueReference)depends[i];
        elementIndicesOfIndependents[i] = 0;
        dependencyKinds[i] = fmi3Dependent;
    }
    return fmi3OK;
}

fmi3Status fmi3GetFMUState(fmi3Instance instance, fmi3FMUState *FMUState) {
    ENTER("fmi3GetFMUState", FMT_MODES_ANY);
    fmt_snapshot *s = fmt_get_snapshot(inst, *FMUState);
    if (!s) return fmi3Fatal;
    *FMUState = s;
    return fmi3OK;
}

fmi3Status fmi3SetFMUState(fmi3Instance instance, fmi3FMUState FMUState) {
    ENTER("fmi3SetFMUState", FMT_MODES_ANY);
    return (fmi3Status)fmt_set_snapshot(inst, FMUState);
}

fmi3Status fmi3FreeFMUState(fmi3Instance instance, fmi3FMUState *FMUState) {
    ENTER("fmi3FreeFMUState", FMT_MODES_ANY);
    fmt_free_snapshot(*FMUState);
    *FMUState = NULL;
    return fmi3OK;
}

fmi3Status fmi3SerializedFMUStateSize(fmi3Instance instance, fmi3FMUState FMUState, size_t *size) {
    (void)FMUState;
    ENTER("fmi3SerializedFMUStateSize", FMT_MODES_ANY);
    *size = fmt_snapshot_size(inst);
    return fmi3OK;
}

fmi3Status fmi3SerializeFMUState(fmi3Instance instance, fmi3FMUState FMUState, fmi3Byte serializedState[],
                                 size_t size) {
    ENTER("fmi3SerializeFMUState", FMT_MODES_ANY);
    if (size < fmt_snapshot_size(inst))
        return wrong_count(inst, "fmi3SerializeFMUState", "the buffer", size, fmt_snapshot_size(inst));
    fmt_serialize_snapshot(FMUState, serializedState);
    return fmi3OK;
}

fmi3Status fmi3DeserializeFMUState(fmi3Instance instance, const fmi3Byte serializedState[], size_t size,
                                   fmi3FMUState *FMUState) {
    ENTER("fmi3DeserializeFMUState", FMT_MODES_ANY);
    fmt_snapshot *s = fmt_deserialize_snapshot(inst, serializedState, size);
    if (!s) return fmi3Error;
    *FMUState = s;
    return fmi3OK;
}

static fmi3Status derivative(fmi3Instance instance, const char *fn, const fmi3ValueReference unknowns[],
                             size_t nUnknowns, const fmi3ValueReference knowns[], size_t nKnowns,
                             const fmi3Float64 seed[], size_t nSeed, fmi3Float64 sensitivity[], size_t nSensitivity,
                             bool adjoint) {
    ENTER(fn, FMT_MODES_ANY & ~FMT_MODE_INSTANTIATED);
    size_t seeds = adjoint ? nUnknowns : nKnowns, sensitivities = adjoint ? nKnowns : nUnknowns;
    if (nSeed != seeds) return wrong_count(inst, fn, "seed", nSeed, seeds);
    if (nSensitivity != sensitivities) return wrong_count(inst, fn, "sensitivity", nSensitivity, sensitivities);
    return (fmi3Status)fmt_directional_derivative(inst, unknowns, nUnknowns, knowns, nKnowns, seed, sensitivity,
                                                  adjoint);
}

fmi3Status fmi3GetDirectionalDerivative(fmi3Instance instance, const fmi3ValueReference unknowns[], size_t nUnknowns,
                                        const fmi3ValueReference knowns[], size_t nKnowns, const fmi3Float64 seed[],
                                        size_t nSeed, fmi3Float64 sensitivity[], size_t nSensitivity) {
    return derivative(instance, "fmi3GetDirectionalDerivative", unknowns, nUnknowns, knowns, nKnowns, seed, nSeed,
                      sensitivity, nSensitivity, false);
}

fmi3Status fmi3GetAdjointDerivative(fmi3Instance instance, const fmi3ValueReference unknowns[], size_t nUnknowns,
                                    const fmi3ValueReference knowns[], size_t nKnowns, const fmi3Float64 seed[],
                                    size_t nSeed, fmi3Float64 sensitivity[], size_t nSensitivity) {
    return derivative(instance, "fmi3GetAdjointDerivative", unknowns, nUnknowns, knowns, nKnowns, seed, nSeed,
                      sensitivity, nSensitivity, true);
}

/* ---- clocks and configuration: this model has neither structural parameters nor clocks ---- */

#define NO_CLOCKS "the model has no clocks."
#define NO_STRUCTURAL_PARAMETERS "the model has no structural parameters."

fmi3Status fmi3EnterConfigurationMode(fmi3Instance instance) {
    return unsupported(instance, "fmi3EnterConfigurationMode", NO_STRUCTURAL_PARAMETERS);
}

fmi3Status fmi3ExitConfigurationMode(fmi3Instance instance) {
    return unsupported(instance, "fmi3ExitConfigurationMode", NO_STRUCTURAL_PARAMETERS);
}

fmi3Status fmi3GetIntervalDecimal(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                  size_t nValueReferences, fmi3Float64 intervals[], fmi3IntervalQualifier qualifiers[]) {
    (void)valueReferences;
    (void)nValueReferences;
    (void)intervals;
    (void)qualifiers;
    return unsupported(instance, "fmi3GetIntervalDecimal", NO_CLOCKS);
}

fmi3Status fmi3GetIntervalFraction(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                   size_t nValueReferences, fmi3UInt64 counters[], fmi3UInt64 resolutions[],
                                   fmi3IntervalQualifier qualifiers[]) {
    (void)valueReferences;
    (void)nValueReferences;
    (void)counters;
    (void)resolutions;
    (void)qualifiers;
    return unsupported(instance, "fmi3GetIntervalFraction", NO_CLOCKS);
}

fmi3Status fmi3GetShiftDecimal(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                               size_t nValueReferences, fmi3Float64 shifts[]) {
    (void)valueReferences;
    (void)nValueReferences;
    (void)shifts;
    return unsupported(instance, "fmi3GetShiftDecimal", NO_CLOCKS);
}

fmi3Status fmi3GetShiftFraction(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                size_t nValueReferences, fmi3UInt64 counters[], fmi3UInt64 resolutions[]) {
    (void)valueReferences;
    (void)nValueReferences;
    (void)counters;
    (void)resolutions;
    return unsupported(instance, "fmi3GetShiftFraction", NO_CLOCKS);
}

fmi3Status fmi3SetIntervalDecimal(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                  size_t nValueReferences, const fmi3Float64 intervals[]) {
    (void)valueReferences;
    (void)nValueReferences;
    (void)intervals;
    return unsupported(instance, "fmi3SetIntervalDecimal", NO_CLOCKS);
}

fmi3Status fmi3SetIntervalFraction(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                   size_t nValueReferences, const fmi3UInt64 counters[],
                                   const fmi3UInt64 resolutions[]) {
    (void)valueReferences;
    (void)nValueReferences;
    (void)counters;
    (void)resolutions;
    return unsupported(instance, "fmi3SetIntervalFraction", NO_CLOCKS);
}

fmi3Status fmi3SetShiftDecimal(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                               size_t nValueReferences, const fmi3Float64 shifts[]) {
    (void)valueReferences;
    (void)nValueReferences;
    (void)shifts;
    return unsupported(instance, "fmi3SetShiftDecimal", NO_CLOCKS);
}

fmi3Status fmi3SetShiftFraction(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                size_t nValueReferences, const fmi3UInt64 counters[], const fmi3UInt64 resolutions[]) {
    (void)valueReferences;
    (void)nValueReferences;
    (void)counters;
    (void)resolutions;
    return unsupported(instance, "fmi3SetShiftFraction", NO_CLOCKS);
}

fmi3Status fmi3EvaluateDiscreteStates(fmi3Instance instance) {
    return unsupported(instance, "fmi3EvaluateDiscreteStates", NO_CLOCKS);
}

fmi3Status fmi3ActivateModelPartition(fmi3Instance instance, fmi3ValueReference clockReference,
                                      fmi3Float64 activationTime) {
    (void)clockReference;
    (void)activationTime;
    return unsupported(instance, "fmi3ActivateModelPartition", "scheduled execution is not supported.");
}

fmi3Status fmi3UpdateDiscreteStates(fmi3Instance instance, fmi3Boolean *discreteStatesNeedUpdate,
                                    fmi3Boolean *terminateSimulation, fmi3Boolean *nominalsOfContinuousStatesChanged,
                                    fmi3Boolean *valuesOfContinuousStatesChanged, fmi3Boolean *nextEventTimeDefined,
                                    fmi3Float64 *nextEventTime) {
    ENTER("fmi3UpdateDiscreteStates", FMT_MODE_EVENT);
    fmt_update_discrete(inst);
    *discreteStatesNeedUpdate = fmi3False;
    *terminateSimulation = fmi3False;
    *nominalsOfContinuousStatesChanged = fmi3False;
    *valuesOfContinuousStatesChanged = fmi3False;
    *nextEventTimeDefined = fmi3False;
    *nextEventTime = 0.0;
    return fmi3OK;
}

/* ---- model exchange ---- */

fmi3Status fmi3EnterContinuousTimeMode(fmi3Instance instance) {
    ENTER("fmi3EnterContinuousTimeMode", FMT_MODE_EVENT);
    inst->mode = FMT_MODE_CONTINUOUS_TIME;
    return fmi3OK;
}

fmi3Status fmi3CompletedIntegratorStep(fmi3Instance instance, fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi3Boolean *enterEventMode, fmi3Boolean *terminateSimulation) {
    (void)noSetFMUStatePriorToCurrentPoint;
    ENTER("fmi3CompletedIntegratorStep", FMT_MODE_CONTINUOUS_TIME);
    *enterEventMode = fmi3False; /* no step events: events come from event indicators only */
    *terminateSimulation = fmi3False;
    return fmi3OK;
}

fmi3Status fmi3SetTime(fmi3Instance instance, fmi3Float64 time) {
    ENTER("fmi3SetTime", FMT_MODE_EVENT | FMT_MODE_CONTINUOUS_TIME);
    fmt_set_time(inst, time);
    return fmi3OK;
}

fmi3Status fmi3SetContinuousStates(fmi3Instance instance, const fmi3Float64 continuousStates[],
                                   size_t nContinuousStates) {
    ENTER("fmi3SetContinuousStates", FMT_MODE_EVENT | FMT_MODE_CONTINUOUS_TIME);
    if (nContinuousStates != (size_t)inst->n_states)
        return wrong_count(inst, "fmi3SetContinuousStates", "continuousStates", nContinuousStates,
                           (size_t)inst->n_states);
    fmt_set_states(inst, continuousStates);
    return fmi3OK;
}

fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance instance, fmi3Float64 derivatives[],
                                             size_t nContinuousStates) {
    ENTER("fmi3GetContinuousStateDerivatives", FMT_MODES_ANY & ~FMT_MODE_INSTANTIATED);
    if (nContinuousStates != (size_t)inst->n_states)
        return wrong_count(inst, "fmi3GetContinuousStateDerivatives", "derivatives", nContinuousStates,
                           (size_t)inst->n_states);
    fmt_get_derivatives(inst, derivatives);
    return fmi3OK;
}

fmi3Status fmi3GetEventIndicators(fmi3Instance instance, fmi3Float64 eventIndicators[], size_t nEventIndicators) {
    ENTER("fmi3GetEventIndicators", FMT_MODES_ANY & ~FMT_MODE_INSTANTIATED);
    if (nEventIndicators != (size_t)inst->n_event_indicators)
        return wrong_count(inst, "fmi3GetEventIndicators", "eventIndicators", nEventIndicators,
                           (size_t)inst->n_event_indicators);
    fmt_get_event_indicators(inst, eventIndicators);
    return fmi3OK;
}

fmi3Status fmi3GetContinuousStates(fmi3Instance instance, fmi3Float64 continuousStates[], size_t nContinuousStates) {
    ENTER("fmi3GetContinuousStates", FMT_MODES_ANY & ~FMT_MODE_INSTANTIATED);
    if (nContinuousStates != (size_t)inst->n_states)
        return wrong_count(inst, "fmi3GetContinuousStates", "continuousStates", nContinuousStates,
                           (size_t)inst->n_states);
    fmt_get_states(inst, continuousStates);
    return fmi3OK;
}

fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance instance, fmi3Float64 nominals[], size_t nContinuousStates) {
    ENTER("fmi3GetNominalsOfContinuousStates", FMT_MODES_ANY);
    if (nContinuousStates != (size_t)inst->n_states)
        return wrong_count(inst, "fmi3GetNominalsOfContinuousStates", "nominals", nContinuousStates,
                           (size_t)inst->n_states);
    fmt_get_nominals(inst, nominals);
    return fmi3OK;
}

fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance instance, size_t *nEventIndicators) {
    ENTER("fmi3GetNumberOfEventIndicators", FMT_MODES_ANY);
    *nEventIndicators = (size_t)inst->n_event_indicators;
    return fmi3OK;
}

fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance instance, size_t *nContinuousStates) {
    ENTER("fmi3GetNumberOfContinuousStates", FMT_MODES_ANY);
    *nContinuousStates = (size_t)inst->n_states;
    return fmi3OK;
}

/* ---- co-simulation ---- */

fmi3Status fmi3EnterStepMode(fmi3Instance instance) {
    return unsupported(instance, "fmi3EnterStepMode", "the FMU has no event mode in co-simulation (hasEventMode=false).");
}

fmi3Status fmi3GetOutputDerivatives(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                    size_t nValueReferences, const fmi3Int32 orders[], fmi3Float64 values[],
                                    size_t nValues) {
    (void)valueReferences;
    (void)nValueReferences;
    (void)orders;
    (void)values;
    (void)nValues;
    return unsupported(instance, "fmi3GetOutputDerivatives", "not provided (maxOutputDerivativeOrder=0).");
}

fmi3Status fmi3DoStep(fmi3Instance instance, fmi3Float64 currentCommunicationPoint, fmi3Float64 communicationStepSize,
                      fmi3Boolean noSetFMUStatePriorToCurrentPoint, fmi3Boolean *eventHandlingNeeded,
                      fmi3Boolean *terminateSimulation, fmi3Boolean *earlyReturn, fmi3Float64 *lastSuccessfulTime) {
    (void)noSetFMUStatePriorToCurrentPoint;
    ENTER("fmi3DoStep", FMT_MODE_STEP);
    fmt_status status = fmt_do_step(inst, currentCommunicationPoint, communicationStepSize);
    *eventHandlingNeeded = fmi3False;
    *terminateSimulation = fmi3False;
    *earlyReturn = fmi3False;
    *lastSuccessfulTime = inst->v[0];
    return (fmi3Status)status;
}
