/* fmt_instance.c - FMI-version-independent runtime shared by every fmt model (see fmt_instance.h). */
#include "fmt_instance.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FMT_STRINGIFY2(x) #x
#define FMT_STRINGIFY(x) FMT_STRINGIFY2(x)
#ifndef FMT_GUID
#include "fmt_token.h" /* a source FMU's build: fmt_mdgen wrote the token beside the sources */
#endif
const char fmt_token[] = FMT_STRINGIFY(FMT_GUID);

/* The model's layout for the co-simulation integrator. The library build compiles this file in
 * one unit with the model file and defines FMT_LAYOUT, with fmt_layout.h (written by fmt_mdgen from
 * the same variable table) giving the states, their derivatives and the number of event indicators
 * as constants: the integrator then inlines the equations and keeps the states in registers, off
 * the memory round trips of the value array. A build from the FMU's sources/ (file by file, e.g.
 * by FMPy) reads the same layout from the instance; both compute the same numbers. */
#ifdef FMT_LAYOUT
#include "fmt_layout.h"
static const int layout_states[] = {FMT_LAYOUT_STATES};
static const int layout_derivatives[] = {FMT_LAYOUT_DERIVATIVES};
#define FMT_NX(inst) FMT_LAYOUT_N_STATES
#define FMT_STATE_VR(inst, i) layout_states[i]
#define FMT_DERIVATIVE_VR(inst, i) layout_derivatives[i]
#define FMT_NZ(inst) FMT_LAYOUT_N_EVENT_INDICATORS
#else
#define FMT_NX(inst) ((inst)->n_states)
#define FMT_STATE_VR(inst, i) ((inst)->states[i])
#define FMT_DERIVATIVE_VR(inst, i) ((inst)->derivatives[i])
#define FMT_NZ(inst) ((inst)->n_event_indicators)
#endif

/* Relative time resolution of event location in co-simulation. */
#define FMT_EVENT_TIME_TOLERANCE 1e-12
#define FMT_MAX_BISECTIONS 200

static const char *mode_name(fmt_mode mode) {
    switch (mode) {
    case FMT_MODE_INSTANTIATED: return "instantiated";
    case FMT_MODE_INITIALIZATION: return "initialization mode";
    case FMT_MODE_EVENT: return "event mode";
    case FMT_MODE_CONTINUOUS_TIME: return "continuous-time mode";
    case FMT_MODE_STEP: return "step mode";
    case FMT_MODE_TERMINATED: return "terminated";
    }
    return "unknown mode";
}

void fmt_log(const fmt_instance *inst, fmt_status status, const char *category, const char *format, ...) {
    if (!inst || !inst->log || (status < FMT_WARNING && !inst->logging_on)) return;
    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    inst->log(inst, status, category, message);
}

bool fmt_refuse_mode(const fmt_instance *inst, const char *function) {
    if (!inst) return false;
    fmt_log(inst, FMT_ERROR, "logStatusError", "%s is not allowed in %s.", function, mode_name(inst->mode));
    return false;
}

static bool is_state(const fmt_instance *inst, int index) {
    for (int i = 0; i < inst->n_states; i++)
        if (inst->states[i] == index) return true;
    return false;
}

static void load_start_values(fmt_instance *inst) {
    const fmt_model *m = inst->model;
    for (int i = 0; i < m->n_variables; i++) {
        const fmt_variable *var = &m->variables[i];
        bool has_start = var->initial == FMT_EXACT || var->initial == FMT_APPROX || var->causality == FMT_INPUT;
        inst->v[i] = has_start ? var->start : 0.0;
    }
    inst->dirty = true;
}

fmt_instance *fmt_instantiate(const char *name, const char *token, fmt_interface interface, fmt_log_fn log,
                              void *adapter_data, bool logging_on) {
    const fmt_model *m = &FMT_MODEL;
    fmt_instance *inst = calloc(1, sizeof *inst);
    if (!inst) return NULL;
    inst->model = m;
    inst->interface = interface;
    inst->log = log;
    inst->adapter_data = adapter_data;
    inst->logging_on = logging_on;
    inst->name = strdup(name ? name : "");
    inst->v = calloc((size_t)m->n_variables, sizeof *inst->v);
    inst->states = calloc((size_t)m->n_variables, sizeof *inst->states);
    inst->derivatives = calloc((size_t)m->n_variables, sizeof *inst->derivatives);
    inst->event_indicators = calloc((size_t)m->n_variables, sizeof *inst->event_indicators);
    inst->knowns = calloc((size_t)m->n_variables, sizeof *inst->knowns);
    /* RK4: x0, k1, the stage sum (n_states each); event location: z0 (n_event_indicators). */
    inst->work = calloc(4 * (size_t)m->n_variables, sizeof *inst->work);
    inst->column = calloc((size_t)m->n_variables, sizeof *inst->column);
    if (!inst->column || !inst->name || !inst->v || !inst->states || !inst->derivatives || !inst->event_indicators ||
        !inst->knowns || !inst->work) {
        fmt_free_instance(inst);
        return NULL;
    }
    if (!token || strcmp(token, fmt_token) != 0) {
        fmt_log(inst, FMT_ERROR, "logStatusError",
                "The GUID / instantiation token '%s' does not match this binary's '%s': the "
                "modelDescription.xml and the binary come from different builds; rebuild the FMU.",
                token ? token : "(null)", fmt_token);
        fmt_free_instance(inst);
        return NULL;
    }
    for (int i = 0; i < m->n_variables; i++) {
        const fmt_variable *var = &m->variables[i];
        if (var->derivative_of > 0) {
            inst->states[inst->n_states] = var->derivative_of;
            inst->derivatives[inst->n_states++] = i;
        }
        if (var->event_indicator) inst->event_indicators[inst->n_event_indicators++] = i;
    }
    bool layout_matches = FMT_NX(inst) == inst->n_states && FMT_NZ(inst) == inst->n_event_indicators;
    for (int i = 0; layout_matches && i < inst->n_states; i++)
        layout_matches = FMT_STATE_VR(inst, i) == inst->states[i] && FMT_DERIVATIVE_VR(inst, i) == inst->derivatives[i];
    if (!layout_matches) { /* a stale fmt_layout.h: the build missed a change of the table */
        fmt_log(inst, FMT_ERROR, "logStatusError",
                "The binary's compiled state layout does not match its variable table: rebuild the FMU.");
        fmt_free_instance(inst);
        return NULL;
    }
    for (int i = 0; i < inst->n_states; i++) inst->knowns[inst->n_knowns++] = inst->states[i];
    for (int i = 0; i < m->n_variables; i++)
        if (m->variables[i].causality == FMT_INPUT) inst->knowns[inst->n_knowns++] = i;
    inst->mode = FMT_MODE_INSTANTIATED;
    load_start_values(inst);
    return inst;
}

void fmt_free_instance(fmt_instance *inst) {
    if (!inst) return;
    free(inst->name);
    free(inst->v);
    free(inst->states);
    free(inst->derivatives);
    free(inst->event_indicators);
    free(inst->knowns);
    free(inst->work);
    free(inst->column);
    free(inst);
}

void fmt_reset(fmt_instance *inst) {
    inst->mode = FMT_MODE_INSTANTIATED;
    load_start_values(inst);
}

static void refresh(fmt_instance *inst) {
    if (!inst->dirty) return;
    inst->model->evaluate(inst->v);
    inst->dirty = false;
}

/* Runs the model's consistency check; logs and returns false when it fails. */
static bool model_consistent(fmt_instance *inst) {
    const char *problem = inst->model->check ? inst->model->check(inst->v) : NULL;
    if (problem) fmt_log(inst, FMT_ERROR, "logStatusError", "%s", problem);
    return problem == NULL;
}

fmt_status fmt_enter_initialization(fmt_instance *inst, double start_time) {
    if (!isfinite(start_time)) {
        fmt_log(inst, FMT_ERROR, "logStatusError", "The start time %g is not finite.", start_time);
        return FMT_ERROR;
    }
    inst->v[0] = start_time;
    inst->dirty = true;
    inst->mode = FMT_MODE_INITIALIZATION;
    return FMT_OK;
}

fmt_status fmt_exit_initialization(fmt_instance *inst) {
    if (!model_consistent(inst)) return FMT_ERROR;
    fmt_update_discrete(inst);
    refresh(inst);
    inst->mode = inst->interface == FMT_MODEL_EXCHANGE ? FMT_MODE_EVENT : FMT_MODE_STEP;
    return FMT_OK;
}

/* Why variable `index` may not be set now, or NULL when it may. */
static const char *not_settable(const fmt_instance *inst, int index) {
    const fmt_variable *var = &inst->model->variables[index];
    bool before_init = inst->mode & (FMT_MODE_INSTANTIATED | FMT_MODE_INITIALIZATION);
    switch (var->causality) {
    case FMT_INPUT:
        return inst->mode == FMT_MODE_TERMINATED ? "inputs cannot be set after fmiTerminate" : NULL;
    case FMT_PARAMETER:
        if (before_init) return NULL;
        if (var->variability == FMT_TUNABLE && (inst->mode & (FMT_MODE_EVENT | FMT_MODE_STEP))) return NULL;
        return var->variability == FMT_TUNABLE
                   ? "tunable parameters can only be set before initialization, in event mode or between "
                     "co-simulation steps"
                   : "it is a fixed parameter: set it before fmiExitInitializationMode (re-instantiate or "
                     "reset to change it)";
    case FMT_INDEPENDENT:
        return "it is the independent variable: use fmiSetTime / the doStep time instead";
    default:
        if (var->initial == FMT_EXACT || var->initial == FMT_APPROX) {
            if (before_init) return NULL;
            return is_state(inst, index)
                       ? "it is a continuous state: set its start value before initialization, or use "
                         "fmiSetContinuousStates (model exchange) or an FMU state (fmiSetFMUState)"
                       : "its start value can only be set before initialization";
        }
        return "it is computed by the model (calculated), not an input, parameter or start value";
    }
}

static fmt_status no_such_variable(const fmt_instance *inst, uint32_t vr) {
    fmt_log(inst, FMT_ERROR, "logStatusError", "Value reference %u does not exist: the model has value references 0..%d.",
            vr, inst->model->n_variables - 1);
    return FMT_ERROR;
}

fmt_status fmt_get_float64(fmt_instance *inst, const uint32_t vr[], size_t n, double values[]) {
    refresh(inst); /* a no-op unless something changed since the last evaluation */
    const double *v = inst->v;
    const uint32_t n_variables = (uint32_t)inst->model->n_variables;
    for (size_t i = 0; i < n; i++) {
        if (vr[i] >= n_variables) return no_such_variable(inst, vr[i]);
        values[i] = v[vr[i]];
    }
    return FMT_OK;
}

/* True when setting values[] at vr[] would change no value bit (the model stays evaluated). */
static bool changes_nothing(const fmt_instance *inst, const uint32_t vr[], size_t n, const double values[]) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&inst->v[vr[i]], &values[i], sizeof(double)) != 0) return false;
    return true;
}

fmt_status fmt_set_float64(fmt_instance *inst, const uint32_t vr[], size_t n, const double values[]) {
    const fmt_model *m = inst->model;
    for (size_t i = 0; i < n; i++) {
        if (vr[i] >= (uint32_t)m->n_variables) return no_such_variable(inst, vr[i]);
        const fmt_variable *var = &m->variables[vr[i]];
        const char *why = not_settable(inst, (int)vr[i]);
        if (why) {
            fmt_log(inst, FMT_ERROR, "logStatusError", "Cannot set '%s' in %s: %s.", var->name,
                    mode_name(inst->mode), why);
            return FMT_ERROR;
        }
        double x = values[i];
        if (!isfinite(x)) {
            fmt_log(inst, FMT_ERROR, "logStatusError", "Cannot set '%s' to %g: the value must be finite.",
                    var->name, x);
            return FMT_ERROR;
        }
        if ((var->has_min && x < var->min) || (var->has_max && x > var->max)) {
            fmt_log(inst, FMT_ERROR, "logStatusError",
                    "Cannot set '%s' to %g: it must lie in [%g, %g]%s%s.", var->name, x,
                    var->has_min ? var->min : -INFINITY, var->has_max ? var->max : INFINITY,
                    var->unit ? " " : "", var->unit ? var->unit : "");
            return FMT_ERROR;
        }
    }
    /* A master typically sets every input before every step, most of them unchanged: keeping
     * the evaluation then saves recomputing the model (and the check) for nothing. */
    if (changes_nothing(inst, vr, n, values)) return FMT_OK;
    /* After initialization a change must keep the model consistent at once (before it, the
     * check waits for fmiExitInitializationMode so that values can be set in any order). */
    bool check_now = (inst->mode & FMT_MODES_INITIALIZED) && m->check;
    double few[16]; /* the saved values of a small call, without allocating */
    double *saved = !check_now ? NULL : n <= sizeof few / sizeof few[0] ? few : malloc(n * sizeof *saved);
    if (check_now && !saved) return FMT_FATAL;
    for (size_t i = 0; i < n; i++) {
        if (saved) saved[i] = inst->v[vr[i]];
        inst->v[vr[i]] = values[i];
    }
    inst->dirty = true;
    fmt_status status = FMT_OK;
    if (check_now && !model_consistent(inst)) {
        for (size_t i = n; i-- > 0;) inst->v[vr[i]] = saved[i]; /* reverse: repeated refs end as before */
        status = FMT_ERROR;
    }
    if (saved != few) free(saved);
    return status;
}

void fmt_set_time(fmt_instance *inst, double time) {
    inst->v[0] = time;
    inst->dirty = true;
}

void fmt_set_states(fmt_instance *inst, const double x[]) {
    for (int i = 0; i < inst->n_states; i++) inst->v[inst->states[i]] = x[i];
    inst->dirty = true;
}

void fmt_get_states(const fmt_instance *inst, double x[]) {
    for (int i = 0; i < inst->n_states; i++) x[i] = inst->v[inst->states[i]];
}

void fmt_get_derivatives(fmt_instance *inst, double dx[]) {
    refresh(inst);
    for (int i = 0; i < inst->n_states; i++) dx[i] = inst->v[inst->derivatives[i]];
}

void fmt_get_event_indicators(fmt_instance *inst, double z[]) {
    refresh(inst);
    for (int i = 0; i < inst->n_event_indicators; i++) z[i] = inst->v[inst->event_indicators[i]];
}

void fmt_get_nominals(const fmt_instance *inst, double nominals[]) {
    for (int i = 0; i < inst->n_states; i++) {
        double nominal = inst->model->variables[inst->states[i]].nominal;
        nominals[i] = nominal > 0 ? nominal : 1.0;
    }
}

void fmt_update_discrete(fmt_instance *inst) {
    if (!inst->model->update_discrete) return;
    refresh(inst);
    inst->model->update_discrete(inst->v);
    inst->dirty = true;
    fmt_log(inst, FMT_OK, "logEvents", "Event at t = %.17g handled.", inst->v[0]);
}

/* ---- co-simulation: classical RK4 with fixed sub-steps and state-event location ---- */

/* fmax(1, x) for the time tolerances, inline (fmax is a library call). */
static inline double at_least_one(double x) { return x > 1.0 ? x : 1.0; }

/* Moves the instance to time t and states x0 + c k, where k is the given vector (k1) or, for NULL,
 * the derivatives the previous stage's evaluation left in v; adds weight * k to sum (weight 1
 * starts the sum) and evaluates the model there. Reading k straight from v and fusing the sum keep
 * the step's dependency chain short: each stage is one pass over the states and one evaluation. */
static inline void rk4_stage(fmt_instance *inst, double t, double c, const double *restrict k, double weight,
                             double *restrict sum) {
    double *restrict v = inst->v;
    const double *restrict x0 = inst->work;
    for (int i = 0; i < FMT_NX(inst); i++) {
        double ki = k ? k[i] : v[FMT_DERIVATIVE_VR(inst, i)];
        sum[i] = weight == 1.0 ? ki : sum[i] + weight * ki;
        v[FMT_STATE_VR(inst, i)] = x0[i] + c * ki;
    }
    v[0] = t;
    FMT_MODEL.evaluate(v);
}

/* One RK4 step of size h from (t, x0) to the time t_new (t + h, or the communication point that it
 * rounds to), with x0 and k1 = f(t, x0) in inst->work: leaves the instance at (t_new, x(t + h)),
 * evaluated. */
static void rk4_step(fmt_instance *inst, double t, double h, double t_new) {
    const int n = FMT_NX(inst);
    const double *restrict x0 = inst->work, *restrict k1 = x0 + n;
    double *restrict sum = inst->work + 2 * n; /* k1 + 2 k2 + 2 k3, summed in that order */
    rk4_stage(inst, t + 0.5 * h, 0.5 * h, k1, 1.0, sum);
    rk4_stage(inst, t + 0.5 * h, 0.5 * h, NULL, 2.0, sum);
    rk4_stage(inst, t + h, h, NULL, 2.0, sum);
    double *restrict v = inst->v;
    for (int i = 0; i < n; i++)
        v[FMT_STATE_VR(inst, i)] = x0[i] + h / 6.0 * (sum[i] + v[FMT_DERIVATIVE_VR(inst, i)]);
    v[0] = t_new;
    FMT_MODEL.evaluate(v);
    inst->dirty = false;
}

/* True when an event indicator changed side of zero between z0 and the instance's (evaluated)
 * current values. */
static bool crossed(const fmt_instance *inst, const double *z0) {
    for (int i = 0; i < inst->n_event_indicators; i++)
        if ((z0[i] > 0) != (inst->v[inst->event_indicators[i]] > 0)) return true;
    return false;
}

fmt_status fmt_do_step(fmt_instance *inst, double time, double step) {
    double t = inst->v[0];
    if (!(step > 0) || !isfinite(step)) {
        fmt_log(inst, FMT_ERROR, "logStatusError", "The communication step size %g must be positive and finite.",
                step);
        return FMT_ERROR;
    }
    if (fabs(time - t) > 1e-9 * at_least_one(fabs(t))) {
        fmt_log(inst, FMT_ERROR, "logStatusError",
                "doStep from t = %.17g but the instance is at t = %.17g: communication points must follow "
                "each other (restore an FMU state to go back).",
                time, t);
        return FMT_ERROR;
    }
    double max_step = inst->v[FMT_MODEL.cosim_max_step];
    if (!(max_step > 0) || !isfinite(max_step)) {
        fmt_log(inst, FMT_ERROR, "logStatusError", "The parameter '%s' = %g must be positive and finite.",
                FMT_MODEL.variables[FMT_MODEL.cosim_max_step].name, max_step);
        return FMT_ERROR;
    }
    const int n = FMT_NX(inst);
    double *x0 = inst->work, *k1 = inst->work + n;
    double *z0 = inst->work + 3 * FMT_MODEL.n_variables;
    double t_end = time + step;
    double end_tolerance = FMT_EVENT_TIME_TOLERANCE * at_least_one(fabs(t_end));
    t = time;
    refresh(inst);
    while (t_end - t > end_tolerance) {
        /* Equal sub-steps over what remains, none longer than max_step (typically one: the
         * division is skipped then). */
        double remaining = t_end - t, h = remaining;
        if (remaining > max_step) {
            double substeps = ceil(remaining / max_step - 1e-9);
            if (substeps > 1.0) h = remaining / substeps;
        }
        /* The last sub-step lands exactly on the communication point. */
        double t_next = remaining - h <= end_tolerance ? t_end : t + h;
        for (int i = 0; i < n; i++) { /* the instance is evaluated at (t, x0) */
            x0[i] = inst->v[FMT_STATE_VR(inst, i)];
            k1[i] = inst->v[FMT_DERIVATIVE_VR(inst, i)];
        }
        for (int i = 0; i < FMT_NZ(inst); i++) z0[i] = inst->v[inst->event_indicators[i]];
        rk4_step(inst, t, h, t_next);
        if (FMT_NZ(inst) > 0 && crossed(inst, z0)) {
            /* Bisect the sub-step length for the first crossing, re-integrating from x0 each time so
             * the located state is an RK4 step from the sub-step start; continue just after it. */
            double lo = 0.0, hi = h;
            for (int k = 0; k < FMT_MAX_BISECTIONS && hi - lo > FMT_EVENT_TIME_TOLERANCE * at_least_one(fabs(t));
                 k++) {
                double mid = 0.5 * (lo + hi);
                rk4_step(inst, t, mid, t + mid);
                if (crossed(inst, z0))
                    hi = mid;
                else
                    lo = mid;
            }
            rk4_step(inst, t, hi, t + hi);
            fmt_update_discrete(inst);
            t_next = remaining - hi <= end_tolerance ? t_end : t + hi;
            if (inst->v[0] != t_next) fmt_set_time(inst, t_next);
            refresh(inst);
        }
        t = t_next;
    }
    refresh(inst);
    return FMT_OK;
}

/* ---- directional derivatives ---- */

static bool is_unknown(const fmt_instance *inst, int index) {
    const fmt_variable *var = &inst->model->variables[index];
    return var->causality == FMT_OUTPUT || var->derivative_of > 0 || var->event_indicator;
}

static bool is_known(const fmt_instance *inst, int index) {
    for (int i = 0; i < inst->n_knowns; i++)
        if (inst->knowns[i] == index) return true;
    return false;
}

/* inst->column = d v / d v[known] at the current point. */
static void jacobian_column(fmt_instance *inst, int known) {
    for (int i = 0; i < inst->model->n_variables; i++) inst->column[i] = 0.0;
    inst->column[known] = 1.0; /* a state that is also an output depends on itself only */
    inst->model->tangent(inst->v, known, inst->column);
}

fmt_status fmt_directional_derivative(fmt_instance *inst, const uint32_t unknowns[], size_t n_unknowns,
                                      const uint32_t knowns[], size_t n_knowns, const double seed[],
                                      double sensitivity[], bool adjoint) {
    const fmt_model *m = inst->model;
    for (size_t i = 0; i < n_unknowns; i++) {
        if (unknowns[i] >= (uint32_t)m->n_variables || !is_unknown(inst, (int)unknowns[i])) {
            fmt_log(inst, FMT_ERROR, "logStatusError",
                    "Directional derivative: unknown %u is not an output, state derivative or event "
                    "indicator of %s.",
                    unknowns[i], m->name);
            return FMT_ERROR;
        }
    }
    for (size_t j = 0; j < n_knowns; j++) {
        if (knowns[j] >= (uint32_t)m->n_variables || !is_known(inst, (int)knowns[j])) {
            fmt_log(inst, FMT_ERROR, "logStatusError",
                    "Directional derivative: known %u is not a continuous state or input of %s.", knowns[j],
                    m->name);
            return FMT_ERROR;
        }
    }
    refresh(inst);
    size_t n_out = adjoint ? n_knowns : n_unknowns;
    for (size_t k = 0; k < n_out; k++) sensitivity[k] = 0.0;
    for (size_t j = 0; j < n_knowns; j++) {
        if (!adjoint && seed[j] == 0.0) continue;
        jacobian_column(inst, (int)knowns[j]);
        for (size_t i = 0; i < n_unknowns; i++) {
            double d = inst->column[unknowns[i]];
            if (adjoint)
                sensitivity[j] += seed[i] * d;
            else
                sensitivity[i] += d * seed[j];
        }
    }
    return FMT_OK;
}

const int *fmt_dependencies(const fmt_instance *inst, uint32_t vr, int *n) {
    *n = 0;
    if (vr >= (uint32_t)inst->model->n_variables || !is_unknown(inst, (int)vr)) return NULL;
    const int *depends = inst->model->variables[vr].depends;
    if (!depends) {
        *n = inst->n_knowns;
        return inst->knowns;
    }
    while (depends[*n] != FMT_END) (*n)++;
    return depends;
}

/* ---- FMU state snapshots ---- */

struct fmt_snapshot {
    uint64_t signature; /* identifies the model build (hash of the token) */
    int32_t n_variables;
    int16_t mode;
    int16_t interface; /* model exchange and co-simulation modes do not mix */
    double v[];
};

static uint64_t token_signature(void) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *c = fmt_token; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h;
}

size_t fmt_snapshot_size(const fmt_instance *inst) {
    return sizeof(fmt_snapshot) + (size_t)inst->model->n_variables * sizeof(double);
}

fmt_snapshot *fmt_get_snapshot(fmt_instance *inst, fmt_snapshot *reuse) {
    fmt_snapshot *s = reuse ? reuse : malloc(fmt_snapshot_size(inst));
    if (!s) return NULL;
    refresh(inst);
    s->signature = token_signature();
    s->n_variables = inst->model->n_variables;
    s->mode = (int16_t)inst->mode;
    s->interface = (int16_t)inst->interface;
    memcpy(s->v, inst->v, (size_t)inst->model->n_variables * sizeof(double));
    return s;
}

fmt_status fmt_set_snapshot(fmt_instance *inst, const fmt_snapshot *s) {
    if (!s || s->signature != token_signature() || s->n_variables != inst->model->n_variables) {
        fmt_log(inst, FMT_ERROR, "logStatusError",
                "The FMU state was not taken from this model build (%s): take it with fmiGetFMUState of "
                "an instance of the same FMU.",
                inst->model->name);
        return FMT_ERROR;
    }
    if (s->interface != (int16_t)inst->interface) {
        fmt_log(inst, FMT_ERROR, "logStatusError",
                "The FMU state was taken from a %s instance but this one is %s: restore it into an instance "
                "of the same interface.",
                s->interface == FMT_MODEL_EXCHANGE ? "model-exchange" : "co-simulation",
                inst->interface == FMT_MODEL_EXCHANGE ? "model exchange" : "co-simulation");
        return FMT_ERROR;
    }
    inst->mode = (fmt_mode)s->mode;
    memcpy(inst->v, s->v, (size_t)inst->model->n_variables * sizeof(double));
    inst->dirty = false; /* the snapshot was taken evaluated */
    return FMT_OK;
}

void fmt_free_snapshot(fmt_snapshot *snapshot) { free(snapshot); }

void fmt_serialize_snapshot(const fmt_snapshot *snapshot, unsigned char *bytes) {
    memcpy(bytes, snapshot, sizeof(fmt_snapshot) + (size_t)snapshot->n_variables * sizeof(double));
}

fmt_snapshot *fmt_deserialize_snapshot(fmt_instance *inst, const unsigned char *bytes, size_t size) {
    fmt_snapshot header;
    if (size != fmt_snapshot_size(inst) || !bytes) {
        fmt_log(inst, FMT_ERROR, "logStatusError",
                "A serialized FMU state of %s has %zu bytes, got %zu: pass the bytes that fmiSerializeFMUState "
                "wrote.",
                inst->model->name, fmt_snapshot_size(inst), size);
        return NULL;
    }
    memcpy(&header, bytes, sizeof header);
    if (header.signature != token_signature() || header.n_variables != inst->model->n_variables) {
        fmt_log(inst, FMT_ERROR, "logStatusError",
                "The serialized FMU state was not written by this model build (%s).", inst->model->name);
        return NULL;
    }
    fmt_snapshot *s = malloc(size);
    if (s) memcpy(s, bytes, size);
    return s;
}
