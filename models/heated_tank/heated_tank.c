/* heated_tank.c - a well-mixed liquid tank with an electric heater losing heat to its surroundings.
 *
 *   C dT/dt = P_heater - UA (T - T_ambient),   C = m c_p
 *   Q_loss  = UA (T - T_ambient)
 *
 * For constant inputs: T(t) = T_inf + (T(0) - T_inf) exp(-t / tau), T_inf = T_ambient + P_heater / UA,
 * tau = C / UA. Same equations as HeatedTank.mo.
 */
#include <stddef.h>

#include "fmt_model.h"

enum { TIME, T, DER_T, P_HEATER, Q_LOSS, MASS, C_P, UA, T_AMBIENT, HEAT_CAPACITY, CS_MAX_STEP, N_VARIABLES };

static const fmt_variable variables[N_VARIABLES] = {
    [TIME] = {"time", "Simulation time", FMT_INDEPENDENT, FMT_CONTINUOUS, FMT_NO_INITIAL, .unit = "s"},
    [T] = {"T", "Liquid temperature (state)", FMT_OUTPUT, FMT_CONTINUOUS, FMT_EXACT, 293.15, "K", "degC",
           FMT_MIN(0.0), .nominal = 300.0, FMT_DEPENDS(T)},
    [DER_T] = {"der(T)", "Rate of change of the liquid temperature", FMT_LOCAL, FMT_CONTINUOUS, FMT_CALCULATED,
               .unit = "K/s", .derivative_of = T, FMT_DEPENDS(T, P_HEATER)},
    [P_HEATER] = {"P_heater", "Electric heater power", FMT_INPUT, FMT_CONTINUOUS, FMT_EXACT, 0.0, "W", "kW",
                  FMT_MIN(0.0)},
    [Q_LOSS] = {"Q_loss", "Heat flow lost to the surroundings", FMT_OUTPUT, FMT_CONTINUOUS, FMT_CALCULATED,
                .unit = "W", FMT_DEPENDS(T)},
    [MASS] = {"m", "Liquid mass", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 100.0, "kg", FMT_MIN(0.0)},
    [C_P] = {"c_p", "Specific heat capacity of the liquid", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 4186.0,
             "J/(kg.K)", FMT_MIN(0.0)},
    [UA] = {"UA", "Heat-loss coefficient to the surroundings (area times heat transfer coefficient)", FMT_PARAMETER,
            FMT_TUNABLE, FMT_EXACT, 40.0, "W/K", FMT_MIN(0.0)},
    [T_AMBIENT] = {"T_ambient", "Ambient temperature", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 293.15, "K", "degC",
                   FMT_MIN(0.0)},
    [HEAT_CAPACITY] = {"C", "Heat capacity of the tank contents, m c_p", FMT_CALCULATED_PARAMETER, FMT_TUNABLE,
                       FMT_CALCULATED, .unit = "J/K"},
    [CS_MAX_STEP] = {"cs_max_step", "Co-simulation only: largest internal RK4 step", FMT_PARAMETER, FMT_FIXED,
                     FMT_EXACT, 10.0, "s", FMT_MIN(0.0)},
};

static void evaluate(double *v) {
    v[HEAT_CAPACITY] = v[MASS] * v[C_P];
    v[Q_LOSS] = v[UA] * (v[T] - v[T_AMBIENT]);
    /* Times the reciprocal: 1 / C depends on parameters only, so the division runs beside the
     * state's dependency chain (through the integrator's stages) instead of on it. */
    v[DER_T] = (v[P_HEATER] - v[Q_LOSS]) * (1.0 / v[HEAT_CAPACITY]);
}

static void tangent(const double *v, int known, double *dv) {
    if (known == T) {
        dv[DER_T] = -v[UA] / v[HEAT_CAPACITY];
        dv[Q_LOSS] = v[UA];
    } else if (known == P_HEATER) {
        dv[DER_T] = 1.0 / v[HEAT_CAPACITY];
    }
}

static const char *check(const double *v) {
    if (!(v[MASS] > 0)) return "HeatedTank: parameter 'm' must be > 0 kg (the tank holds some liquid).";
    if (!(v[C_P] > 0)) return "HeatedTank: parameter 'c_p' must be > 0 J/(kg.K).";
    if (!(v[CS_MAX_STEP] > 0)) return "HeatedTank: parameter 'cs_max_step' must be > 0 s.";
    return NULL;
}

const fmt_model FMT_MODEL = {
    .name = "HeatedTank",
    .description = "Well-mixed liquid tank heated electrically and losing heat to ambient: "
                   "m c_p dT/dt = P_heater - UA (T - T_ambient).",
    .variables = variables,
    .n_variables = N_VARIABLES,
    .cosim_max_step = CS_MAX_STEP,
    .start_time = 0.0,
    .stop_time = 36000.0,
    .tolerance = 1e-6,
    .step_size = 60.0,
    .evaluate = evaluate,
    .tangent = tangent,
    .check = check,
};
