/* fmt_model.h - what a model file defines: its variable table and its equations.
 *
 * The fmitwin model toolkit ("fmt") lets a physics model be written once, as a table of scalar
 * Float64 variables plus a few pure functions, and serves it through both the FMI 2.0 and the
 * FMI 3.0 C API (fmt_fmi2.c, fmt_fmi3.c), in model exchange and co-simulation, and generates its
 * modelDescription.xml (fmt_mdgen.c). A model file defines exactly one `const fmt_model
 * FMT_MODEL` and nothing else with external linkage.
 *
 * Conventions
 * - Variable i of the table has value reference i. Variable 0 is the independent variable `time`.
 * - All values live in one array `double v[n_variables]` indexed by value reference; the model's
 *   functions read and write that array (name the indices with an enum in the model file).
 * - A continuous state is a variable whose derivative is another variable of the table: the
 *   derivative's `derivative_of` names the state. States are ordered by their derivatives' order
 *   in the table.
 * - An event indicator is a local variable flagged `event_indicator`; an event happens where it
 *   changes sign (FMI state event), after which `update_discrete` runs.
 *
 * Ownership: the table and the model are static, read-only data owned by the model file.
 */
#ifndef FMT_MODEL_H
#define FMT_MODEL_H

#include <stdbool.h>

#define FMT_END (-1) /* terminates a dependency list */

typedef enum {
    FMT_INDEPENDENT,
    FMT_PARAMETER,
    FMT_CALCULATED_PARAMETER,
    FMT_INPUT,
    FMT_OUTPUT,
    FMT_LOCAL
} fmt_causality;

typedef enum { FMT_CONSTANT, FMT_FIXED, FMT_TUNABLE, FMT_DISCRETE, FMT_CONTINUOUS } fmt_variability;

/* FMT_NO_INITIAL only for the independent variable. */
typedef enum { FMT_NO_INITIAL, FMT_EXACT, FMT_APPROX, FMT_CALCULATED } fmt_initial;

typedef struct {
    const char *name;
    const char *description;
    fmt_causality causality;
    fmt_variability variability;
    fmt_initial initial;
    double start;             /* used for initial exact/approx and for inputs */
    const char *unit;         /* NULL: none; else a name known to fmt_units (fmt_mdgen.c) */
    const char *display_unit; /* NULL: none */
    bool has_min, has_max;
    double min, max;
    double nominal;           /* 0: none (1 assumed); used for continuous states */
    int derivative_of;        /* for a state derivative: the state's index; 0 otherwise */
    bool event_indicator;
    /* For outputs, derivatives and event indicators: the states and inputs this variable depends
     * on, terminated by FMT_END; NULL means "may depend on all of them". */
    const int *depends;
} fmt_variable;

/* Designated-initializer shorthands for the table. */
#define FMT_MIN(x) .has_min = true, .min = (x)
#define FMT_MAX(x) .has_max = true, .max = (x)
#define FMT_DEPENDS(...) .depends = (const int[]){__VA_ARGS__, FMT_END}
#define FMT_DEPENDS_ON_NOTHING .depends = (const int[]){FMT_END}

typedef struct {
    const char *name;        /* modelName, e.g. "HeatedTank" */
    const char *description; /* one paragraph for the model description */
    const fmt_variable *variables;
    int n_variables;
    /* Index of the parameter that bounds the internal RK4 step of co-simulation (seconds). */
    int cosim_max_step;
    double start_time, stop_time, tolerance, step_size; /* DefaultExperiment */

    /* Computes every calculated parameter, derivative, output, local and event indicator from
     * time, states, inputs, parameters and discrete variables in v. Pure: no other side effects. */
    void (*evaluate)(double *v);
    /* Forward-mode derivative at the point v (already evaluated): sets dv[i] = d v[i] / d v[known]
     * for every derivative, output and event indicator i, where known is a continuous state or an
     * input. dv arrives zeroed except dv[known] = 1. Analytic. */
    void (*tangent)(const double *v, int known, double *dv);
    /* Event mode: updates discrete variables after an event indicator changed sign (and once at
     * the end of initialization). NULL when the model has no discrete variables. */
    void (*update_discrete)(double *v);
    /* Checks parameters, inputs and start values; returns NULL when consistent, else a message
     * naming the variable, the problem and the fix. NULL function: nothing to check beyond the
     * table's min/max. */
    const char *(*check)(const double *v);
} fmt_model;

extern const fmt_model FMT_MODEL;

#endif
