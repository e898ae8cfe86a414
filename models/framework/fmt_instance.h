/* fmt_instance.h - the FMI-version-independent runtime of an fmt model instance.
 *
 * fmt_fmi2.c and fmt_fmi3.c are thin adapters: each FMI call checks its arguments and mode, then
 * calls one of the functions below, which hold all behaviour shared by both FMI versions (value
 * access, initialization, events, the co-simulation integrator, directional derivatives, FMU
 * state snapshots).
 *
 * Ownership: fmt_instantiate allocates the instance and everything it points to; fmt_free_instance
 * releases it. Snapshots (fmt_snapshot) are separate allocations owned by the importer between
 * fmt_get_snapshot and fmt_free_snapshot.
 *
 * Call order (both FMI versions): instantiate -> [set start values] -> enter_initialization ->
 * [set values] -> exit_initialization -> (model exchange: event mode <-> continuous-time mode |
 * co-simulation: do_step ...) -> terminate -> free. fmt_reset returns to "instantiated".
 */
#ifndef FMT_INSTANCE_H
#define FMT_INSTANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fmt_model.h"

/* Same numbering as fmi2Status and fmi3Status (OK .. Fatal), so adapters cast directly. */
typedef enum { FMT_OK, FMT_WARNING, FMT_DISCARD, FMT_ERROR, FMT_FATAL } fmt_status;

typedef enum { FMT_MODEL_EXCHANGE, FMT_CO_SIMULATION } fmt_interface;

/* Modes as bit flags so that a call can name every mode it is allowed in. */
typedef enum {
    FMT_MODE_INSTANTIATED = 1 << 0,
    FMT_MODE_INITIALIZATION = 1 << 1,
    FMT_MODE_EVENT = 1 << 2,
    FMT_MODE_CONTINUOUS_TIME = 1 << 3,
    FMT_MODE_STEP = 1 << 4,
    FMT_MODE_TERMINATED = 1 << 5
} fmt_mode;

#define FMT_MODES_ANY 0x3f
#define FMT_MODES_INITIALIZED (FMT_MODE_EVENT | FMT_MODE_CONTINUOUS_TIME | FMT_MODE_STEP)

struct fmt_instance;

/* Delivers a finished log line to the importer through the adapter's callback. */
typedef void (*fmt_log_fn)(const struct fmt_instance *instance, fmt_status status,
                           const char *category, const char *message);

typedef struct fmt_instance {
    const fmt_model *model;
    fmt_interface interface;
    fmt_mode mode;
    char *name;
    fmt_log_fn log;
    void *adapter_data; /* the adapter's callbacks and environment pointer (not owned) */
    bool logging_on;
    bool dirty; /* v's computed entries are stale since the last input/state/time change */
    int n_states, n_event_indicators;
    int *states;           /* variable index of each continuous state */
    int *derivatives;      /* variable index of each state's derivative */
    int *event_indicators; /* variable index of each event indicator */
    int n_knowns;
    int *knowns;           /* states and inputs: what directional derivatives differentiate by */
    double *v;             /* all variable values, indexed by value reference */
    double *work;          /* integrator scratch */
    double *column;        /* one Jacobian column (tangent) */
} fmt_instance;

/* A copy of everything that defines an instance's state (for get/set FMU state). */
typedef struct fmt_snapshot fmt_snapshot;

/* The build's GUID / instantiation token, compiled in from CMake. */
extern const char fmt_token[];

fmt_instance *fmt_instantiate(const char *name, const char *token, fmt_interface interface,
                              fmt_log_fn log, void *adapter_data, bool logging_on);
void fmt_free_instance(fmt_instance *inst);
void fmt_reset(fmt_instance *inst);

/* Logs printf-style. Errors and warnings always reach the importer; other categories only with
 * debug logging on. */
void fmt_log(const fmt_instance *inst, fmt_status status, const char *category, const char *format,
             ...)
#ifdef __GNUC__
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Returns true when inst is in one of `modes`; otherwise logs that `function` is not allowed in
 * the current mode and returns false. A NULL instance is reported as false without logging. */
bool fmt_require_mode(const fmt_instance *inst, unsigned modes, const char *function);

fmt_status fmt_enter_initialization(fmt_instance *inst, double start_time);
fmt_status fmt_exit_initialization(fmt_instance *inst);

fmt_status fmt_get_float64(fmt_instance *inst, const uint32_t vr[], size_t n, double values[]);
/* Validates every value (existence, settable in this mode, finite, min/max, model check) before
 * changing anything: a rejected call leaves the instance unchanged. */
fmt_status fmt_set_float64(fmt_instance *inst, const uint32_t vr[], size_t n, const double values[]);

/* Model exchange */
void fmt_set_time(fmt_instance *inst, double time);
void fmt_set_states(fmt_instance *inst, const double x[]);
void fmt_get_states(const fmt_instance *inst, double x[]);
void fmt_get_derivatives(fmt_instance *inst, double dx[]);
void fmt_get_event_indicators(fmt_instance *inst, double z[]);
void fmt_get_nominals(const fmt_instance *inst, double nominals[]);
/* Event mode: runs the model's discrete update once (it reaches its fixed point in one pass). */
void fmt_update_discrete(fmt_instance *inst);

/* Co-simulation: integrates from the current time, which must equal `time`, over `step`. */
fmt_status fmt_do_step(fmt_instance *inst, double time, double step);

/* Forward (adjoint=false): sensitivity[i] = sum_j d unknown_i / d known_j * seed[j].
 * Adjoint (adjoint=true):   sensitivity[j] = sum_i seed[i] * d unknown_i / d known_j. */
fmt_status fmt_directional_derivative(fmt_instance *inst, const uint32_t unknowns[], size_t n_unknowns,
                                      const uint32_t knowns[], size_t n_knowns, const double seed[],
                                      double sensitivity[], bool adjoint);

/* The states and inputs that variable vr (a derivative, output or event indicator) depends on, as
 * listed in the table (all states and inputs when the table lists none); NULL for other variables. */
const int *fmt_dependencies(const fmt_instance *inst, uint32_t vr, int *n);

fmt_snapshot *fmt_get_snapshot(fmt_instance *inst, fmt_snapshot *reuse);
fmt_status fmt_set_snapshot(fmt_instance *inst, const fmt_snapshot *snapshot);
void fmt_free_snapshot(fmt_snapshot *snapshot);
size_t fmt_snapshot_size(const fmt_instance *inst);
void fmt_serialize_snapshot(const fmt_snapshot *snapshot, unsigned char *bytes);
/* Returns NULL (and logs why) when the bytes are not a snapshot of this model. */
fmt_snapshot *fmt_deserialize_snapshot(fmt_instance *inst, const unsigned char *bytes, size_t size);

#endif
