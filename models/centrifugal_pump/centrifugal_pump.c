/* centrifugal_pump.c - a speed-controlled centrifugal pump whose bearing wears out.
 *
 * Hydraulics (quasi-static; s = w / w_rated, u = valve opening; affinity laws):
 *   pump curve    H = H0 s^2 - a Q^2,                 a = (H0 - H_bep) / Q_bep^2
 *   system curve  H = H_static + K_system Q^2 / u^2
 *   => Q = u sqrt(max(0, H0 s^2 - H_static) / (a u^2 + K_system))
 *   useful power  P_h = rho g Q H
 *   hydraulic shaft power (linear in Q, peak efficiency eta_bep exactly at the BEP)
 *                 P_hs = (1 + c_hydraulic D) (P0 s^3 + p1 s^2 Q),
 *                 P_bep = rho g Q_bep H_bep / eta_bep,  P0 = 2 P_bep (H0 - H_bep) / H_bep,
 *                 p1 = (P_bep - P0) / Q_bep
 * Bearing (D = wear, 0 new .. D_limit failed):
 *   friction torque  T_f = T_f0 (1 + c_friction D) tanh(w / 1 rad/s),  P_f = T_f w
 *   shaft power P = P_hs + P_f,  torque = P_hs / w + T_f,  efficiency = P_h / P
 *   off-design      x = (Q - s Q_bep) / Q_bep
 *   vibration RMS   v = v_base (s^2 + k_vibration x^2) + v_wear D^2 s
 *   bearing load    F = s^2 + k_radial x^2             (1 at the rated BEP)
 *   wear            dD/dt = r0 s F^3 (1 + alpha D)     (L10 life law: damage ~ n P^3; alpha: damage
 *                                                       accelerates as the bearing degrades)
 *                   r0 = ln(1 + alpha D_limit) / (alpha rated_life), so that at the rated BEP the
 *                   bearing reaches D_limit after exactly rated_life operating hours.
 *   temperature     tau dT_b/dt = T_ambient + R_thermal P_f - T_b
 *   operating hours dh/dt = 1/3600 while running (w > 1 % of w_rated, not failed)
 * Failure: when D reaches D_limit (state event) the protection trips the pump: `failed` latches to
 * 1 and the pump stands still from then on (speed input ignored, wear stops).
 *
 * For constant inputs the wear has the closed form D(t) = ((1 + alpha D0) e^(alpha r t) - 1) / alpha,
 * r = r0 s F^3, and fails at t_f = ln((1 + alpha D_limit) / (1 + alpha D0)) / (alpha r).
 * Same equations as CentrifugalPump.mo. Jacobians come from the same code via dual numbers.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "fmt_dual.h"
#include "fmt_model.h"

#define GRAVITY 9.80665      /* m/s2 */
#define FRICTION_SMOOTHING 1.0 /* rad/s: friction torque tanh(w / this) */
#define RUNNING_FRACTION 0.01  /* of rated speed: counts as operating hours above this */
#define WEAR_LIMIT_TOLERANCE 1e-9 /* located events may stop this short of the limit */

enum {
    TIME,
    WEAR, DER_WEAR, T_BEARING, DER_T_BEARING, HOURS, DER_HOURS,
    SPEED, VALVE,
    FLOW, HEAD, POWER, TORQUE, EFFICIENCY, VIBRATION, FAILED,
    FAILURE_MARGIN,
    W_RATED, H0, Q_BEP, H_BEP, ETA_BEP, RHO, H_STATIC, K_SYSTEM,
    T_FRICTION, C_FRICTION, C_HYDRAULIC, V_BASE, V_WEAR, K_VIBRATION, K_RADIAL,
    RATED_LIFE, ALPHA, WEAR_LIMIT, T_AMBIENT, R_THERMAL, TAU_THERMAL,
    CS_MAX_STEP, N_VARIABLES
};

#define RPM (3.14159265358979323846 / 30.0)

static const fmt_variable variables[N_VARIABLES] = {
    [TIME] = {"time", "Simulation time", FMT_INDEPENDENT, FMT_CONTINUOUS, FMT_NO_INITIAL, .unit = "s"},
    [WEAR] = {"wear", "Bearing wear (state): 0 new, wear_limit failed", FMT_OUTPUT, FMT_CONTINUOUS, FMT_EXACT, 0.0,
              "1", FMT_MIN(0.0), .nominal = 1.0, FMT_DEPENDS(WEAR)},
    [DER_WEAR] = {"der(wear)", "Wear rate", FMT_LOCAL, FMT_CONTINUOUS, FMT_CALCULATED, .unit = "1/s",
                  .derivative_of = WEAR, FMT_DEPENDS(WEAR, SPEED, VALVE)},
    [T_BEARING] = {"T_bearing", "Bearing temperature (state)", FMT_OUTPUT, FMT_CONTINUOUS, FMT_EXACT, 298.15, "K",
                   "degC", FMT_MIN(0.0), .nominal = 300.0, FMT_DEPENDS(T_BEARING)},
    [DER_T_BEARING] = {"der(T_bearing)", "Rate of change of the bearing temperature", FMT_LOCAL, FMT_CONTINUOUS,
                       FMT_CALCULATED, .unit = "K/s", .derivative_of = T_BEARING,
                       FMT_DEPENDS(WEAR, T_BEARING, SPEED)},
    [HOURS] = {"operating_hours", "Operating hours (state): time spent running", FMT_OUTPUT, FMT_CONTINUOUS,
               FMT_EXACT, 0.0, "h", FMT_MIN(0.0), .nominal = 1000.0, FMT_DEPENDS(HOURS)},
    [DER_HOURS] = {"der(operating_hours)", "Operating hours per second: 1/3600 while running", FMT_LOCAL,
                   FMT_CONTINUOUS, FMT_CALCULATED, .derivative_of = HOURS, FMT_DEPENDS(SPEED)},
    [SPEED] = {"speed", "Shaft speed commanded by the drive", FMT_INPUT, FMT_CONTINUOUS, FMT_EXACT, 2950 * RPM,
               "rad/s", "rpm", FMT_MIN(0.0)},
    [VALVE] = {"valve", "Discharge valve opening", FMT_INPUT, FMT_CONTINUOUS, FMT_EXACT, 1.0, "1", FMT_MIN(0.0),
               FMT_MAX(1.0)},
    [FLOW] = {"Q", "Volume flow", FMT_OUTPUT, FMT_CONTINUOUS, FMT_CALCULATED, .unit = "m3/s", "m3/h",
              FMT_DEPENDS(SPEED, VALVE)},
    [HEAD] = {"H", "Pump head", FMT_OUTPUT, FMT_CONTINUOUS, FMT_CALCULATED, .unit = "m", FMT_DEPENDS(SPEED, VALVE)},
    [POWER] = {"P_shaft", "Shaft power drawn", FMT_OUTPUT, FMT_CONTINUOUS, FMT_CALCULATED, .unit = "W", "kW",
               FMT_DEPENDS(WEAR, SPEED, VALVE)},
    [TORQUE] = {"torque", "Shaft torque drawn from the drive", FMT_OUTPUT, FMT_CONTINUOUS, FMT_CALCULATED,
                .unit = "N.m", FMT_DEPENDS(WEAR, SPEED, VALVE)},
    [EFFICIENCY] = {"efficiency", "Overall efficiency P_h / P_shaft", FMT_OUTPUT, FMT_CONTINUOUS, FMT_CALCULATED,
                    .unit = "1", FMT_DEPENDS(WEAR, SPEED, VALVE)},
    [VIBRATION] = {"vibration", "Bearing-housing vibration velocity, RMS", FMT_OUTPUT, FMT_CONTINUOUS,
                   FMT_CALCULATED, .unit = "mm/s", FMT_DEPENDS(WEAR, SPEED, VALVE)},
    [FAILED] = {"failed", "1 once the bearing has failed and the pump tripped, else 0", FMT_OUTPUT, FMT_DISCRETE,
                FMT_CALCULATED, .unit = "1", FMT_DEPENDS_ON_NOTHING},
    [FAILURE_MARGIN] = {"failure_margin", "Event indicator: wear_limit - wear while running, -1 once failed",
                        FMT_LOCAL, FMT_CONTINUOUS, FMT_CALCULATED, .unit = "1", .event_indicator = true,
                        FMT_DEPENDS(WEAR)},
    [W_RATED] = {"w_rated", "Rated speed (pump curve data refer to it)", FMT_PARAMETER, FMT_FIXED, FMT_EXACT,
                 2950 * RPM, "rad/s", "rpm", FMT_MIN(0.0)},
    [H0] = {"H0", "Shut-off head at rated speed", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 36.0, "m", FMT_MIN(0.0)},
    [Q_BEP] = {"Q_bep", "Best-efficiency-point flow at rated speed", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT,
               30.0 / 3600.0, "m3/s", "m3/h", FMT_MIN(0.0)},
    [H_BEP] = {"H_bep", "Best-efficiency-point head at rated speed", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 30.0,
               "m", FMT_MIN(0.0)},
    [ETA_BEP] = {"eta_bep", "Hydraulic efficiency at the best-efficiency point", FMT_PARAMETER, FMT_TUNABLE,
                 FMT_EXACT, 0.72, "1", FMT_MIN(0.0), FMT_MAX(1.0)},
    [RHO] = {"rho", "Liquid density", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 998.0, "kg/m3", FMT_MIN(0.0)},
    [H_STATIC] = {"H_static", "Static head of the system", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 10.0, "m",
                  FMT_MIN(0.0)},
    [K_SYSTEM] = {"K_system", "System resistance with the valve fully open: H = H_static + K_system Q^2",
                  FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 20.0 / ((30.0 / 3600.0) * (30.0 / 3600.0)), "s2/m5",
                  FMT_MIN(0.0)},
    [T_FRICTION] = {"T_friction", "Bearing friction torque when new", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 0.4,
                    "N.m", FMT_MIN(0.0)},
    [C_FRICTION] = {"c_friction", "Relative friction increase at wear = 1", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT,
                    2.0, "1", FMT_MIN(0.0)},
    [C_HYDRAULIC] = {"c_hydraulic", "Relative hydraulic loss increase at wear = 1 (rotor eccentricity, gap wear)",
                     FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 0.15, "1", FMT_MIN(0.0)},
    [V_BASE] = {"v_base", "Vibration RMS of the new pump at the rated best-efficiency point", FMT_PARAMETER,
                FMT_TUNABLE, FMT_EXACT, 1.2, "mm/s", FMT_MIN(0.0)},
    [V_WEAR] = {"v_wear", "Vibration RMS added by the bearing at wear = 1 and rated speed", FMT_PARAMETER,
                FMT_TUNABLE, FMT_EXACT, 6.0, "mm/s", FMT_MIN(0.0)},
    [K_VIBRATION] = {"k_vibration", "Vibration increase with off-design flow", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT,
                     0.5, "1", FMT_MIN(0.0)},
    [K_RADIAL] = {"k_radial", "Bearing load increase with off-design flow (radial thrust)", FMT_PARAMETER,
                  FMT_TUNABLE, FMT_EXACT, 0.6, "1", FMT_MIN(0.0)},
    [RATED_LIFE] = {"rated_life", "Operating hours from new to failure at the rated best-efficiency point",
                    FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 3000.0, "h", FMT_MIN(0.0)},
    [ALPHA] = {"alpha", "Wear acceleration: damage rate grows as (1 + alpha wear)", FMT_PARAMETER, FMT_TUNABLE,
               FMT_EXACT, 3.0, "1", FMT_MIN(0.0)},
    [WEAR_LIMIT] = {"wear_limit", "Wear at which the bearing fails", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 1.0, "1",
                    FMT_MIN(0.0)},
    [T_AMBIENT] = {"T_ambient", "Ambient temperature around the bearing housing", FMT_PARAMETER, FMT_TUNABLE,
                   FMT_EXACT, 298.15, "K", "degC", FMT_MIN(0.0)},
    [R_THERMAL] = {"R_thermal", "Thermal resistance bearing to ambient", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 0.15,
                   "K/W", FMT_MIN(0.0)},
    [TAU_THERMAL] = {"tau_thermal", "Thermal time constant of the bearing housing", FMT_PARAMETER, FMT_TUNABLE,
                     FMT_EXACT, 1200.0, "s", FMT_MIN(0.0)},
    [CS_MAX_STEP] = {"cs_max_step", "Co-simulation only: largest internal RK4 step", FMT_PARAMETER, FMT_FIXED,
                     FMT_EXACT, 60.0, "s", FMT_MIN(0.0)},
};

/* Wear rate coefficient r0 (1/s): the rated BEP reaches wear_limit in rated_life hours. */
static double nominal_wear_rate(const double *v) {
    double life = v[RATED_LIFE] * 3600.0, limit = v[WEAR_LIMIT], alpha = v[ALPHA];
    return alpha > 0 ? log1p(alpha * limit) / (alpha * life) : limit / life;
}

static fmt_dual seeded(const double *v, int index, int known) { return (fmt_dual){v[index], index == known}; }

static void put(double *values, double *tangents, int index, fmt_dual x) {
    if (values) values[index] = x.v;
    if (tangents) tangents[index] = x.d;
}

/* The model equations over dual numbers, seeded along `known` (-1: none). Writes computed values
 * to `values` and/or their tangents to `tangents` (either may be NULL). */
static void equations(const double *v, int known, double *values, double *tangents) {
    bool failed = v[FAILED] > 0.5;
    fmt_dual wear = seeded(v, WEAR, known), t_bearing = seeded(v, T_BEARING, known);
    fmt_dual speed = failed ? fmt_constant(0.0) : seeded(v, SPEED, known); /* tripped: stands still */
    fmt_dual valve = seeded(v, VALVE, known);
    double q_bep = v[Q_BEP], h0 = v[H0], h_bep = v[H_BEP], rho_g = v[RHO] * GRAVITY;
    double a = (h0 - h_bep) / (q_bep * q_bep);
    double p_bep = rho_g * q_bep * h_bep / v[ETA_BEP];
    double p0 = 2.0 * p_bep * (h0 - h_bep) / h_bep, p1 = (p_bep - p0) / q_bep;

    fmt_dual s = fmt_scale(speed, 1.0 / v[W_RATED]), s2 = fmt_mul(s, s);
    fmt_dual lift = fmt_shift(fmt_scale(s2, h0), -v[H_STATIC]);
    fmt_dual flow = fmt_constant(0.0);
    if (lift.v > 0) {
        fmt_dual resistance = fmt_shift(fmt_scale(fmt_mul(valve, valve), a), v[K_SYSTEM]);
        flow = fmt_mul(valve, fmt_sqrt(fmt_div(lift, resistance)));
    }
    fmt_dual head = fmt_sub(fmt_scale(s2, h0), fmt_scale(fmt_mul(flow, flow), a));
    fmt_dual useful_power = fmt_scale(fmt_mul(flow, head), rho_g);

    fmt_dual hydraulic_loss = fmt_shift(fmt_scale(wear, v[C_HYDRAULIC]), 1.0);
    /* Hydraulic torque times w_rated: (1 + c_h D) (P0 s^2 + p1 s Q); power is that times s. */
    fmt_dual hydraulic_torque_w =
        fmt_mul(hydraulic_loss, fmt_add(fmt_scale(s2, p0), fmt_scale(fmt_mul(s, flow), p1)));
    fmt_dual friction_torque = fmt_mul(fmt_scale(fmt_shift(fmt_scale(wear, v[C_FRICTION]), 1.0), v[T_FRICTION]),
                                       fmt_tanh(fmt_scale(speed, 1.0 / FRICTION_SMOOTHING)));
    fmt_dual friction_power = fmt_mul(friction_torque, speed);
    fmt_dual power = fmt_add(fmt_mul(hydraulic_torque_w, s), friction_power);
    fmt_dual torque = fmt_add(fmt_scale(hydraulic_torque_w, 1.0 / v[W_RATED]), friction_torque);
    fmt_dual efficiency = power.v > 0 ? fmt_div(useful_power, power) : fmt_constant(0.0);

    fmt_dual off_design = fmt_scale(fmt_sub(flow, fmt_scale(s, q_bep)), 1.0 / q_bep);
    fmt_dual off_design2 = fmt_mul(off_design, off_design);
    fmt_dual vibration = fmt_add(fmt_scale(fmt_add(s2, fmt_scale(off_design2, v[K_VIBRATION])), v[V_BASE]),
                                 fmt_scale(fmt_mul(fmt_mul(wear, wear), s), v[V_WEAR]));
    fmt_dual load = fmt_add(s2, fmt_scale(off_design2, v[K_RADIAL]));
    fmt_dual load3 = fmt_mul(load, fmt_mul(load, load));
    fmt_dual der_wear = fmt_scale(fmt_mul(fmt_mul(s, load3), fmt_shift(fmt_scale(wear, v[ALPHA]), 1.0)),
                                  nominal_wear_rate(v));
    fmt_dual der_t_bearing = fmt_scale(
        fmt_sub(fmt_shift(fmt_scale(friction_power, v[R_THERMAL]), v[T_AMBIENT]), t_bearing), 1.0 / v[TAU_THERMAL]);
    bool running = !failed && speed.v > RUNNING_FRACTION * v[W_RATED];
    fmt_dual margin = failed ? fmt_constant(-1.0) : fmt_shift(fmt_scale(wear, -1.0), v[WEAR_LIMIT]);

    put(values, tangents, FLOW, flow);
    put(values, tangents, HEAD, head);
    put(values, tangents, POWER, power);
    put(values, tangents, TORQUE, torque);
    put(values, tangents, EFFICIENCY, efficiency);
    put(values, tangents, VIBRATION, vibration);
    put(values, tangents, DER_WEAR, der_wear);
    put(values, tangents, DER_T_BEARING, der_t_bearing);
    put(values, tangents, DER_HOURS, fmt_constant(running ? 1.0 / 3600.0 : 0.0));
    put(values, tangents, FAILURE_MARGIN, margin);
}

static void evaluate(double *v) { equations(v, -1, v, NULL); }

static void tangent(const double *v, int known, double *dv) { equations(v, known, NULL, dv); }

/* Failure latches: once tripped the pump stays down (until reset or a restored FMU state). */
static void update_discrete(double *v) {
    if (v[WEAR] >= v[WEAR_LIMIT] - WEAR_LIMIT_TOLERANCE) v[FAILED] = 1.0;
}

static const char *check(const double *v) {
    if (!(v[W_RATED] > 0)) return "CentrifugalPump: parameter 'w_rated' must be > 0 rad/s.";
    if (!(v[Q_BEP] > 0) || !(v[H_BEP] > 0))
        return "CentrifugalPump: parameters 'Q_bep' and 'H_bep' must be > 0 (the best-efficiency point).";
    if (!(v[H0] > v[H_BEP]) || !(v[H0] < 1.5 * v[H_BEP]))
        return "CentrifugalPump: parameter 'H0' (shut-off head) must lie between H_bep and 1.5 H_bep so that "
               "the pump curve falls with flow and the shut-off power stays below the BEP power.";
    if (!(v[ETA_BEP] > 0)) return "CentrifugalPump: parameter 'eta_bep' must be in (0, 1].";
    if (!(v[RHO] > 0)) return "CentrifugalPump: parameter 'rho' must be > 0 kg/m3.";
    if (!(v[K_SYSTEM] > 0)) return "CentrifugalPump: parameter 'K_system' must be > 0 s2/m5 (the pipe has resistance).";
    if (!(v[RATED_LIFE] > 0)) return "CentrifugalPump: parameter 'rated_life' must be > 0 h.";
    if (!(v[WEAR_LIMIT] > 0)) return "CentrifugalPump: parameter 'wear_limit' must be > 0.";
    if (!(v[TAU_THERMAL] > 0)) return "CentrifugalPump: parameter 'tau_thermal' must be > 0 s.";
    if (!(v[CS_MAX_STEP] > 0)) return "CentrifugalPump: parameter 'cs_max_step' must be > 0 s.";
    return NULL;
}

const fmt_model FMT_MODEL = {
    .name = "CentrifugalPump",
    .description = "Speed-controlled centrifugal pump on a throttled pipe system whose rolling bearing wears over "
                   "operating hours (raising friction, vibration and bearing temperature, lowering efficiency) "
                   "until it fails at wear_limit and the pump trips.",
    .variables = variables,
    .n_variables = N_VARIABLES,
    .cosim_max_step = CS_MAX_STEP,
    .start_time = 0.0,
    .stop_time = 3500.0 * 3600.0,
    .tolerance = 1e-6,
    .step_size = 3600.0,
    .evaluate = evaluate,
    .tangent = tangent,
    .update_discrete = update_discrete,
    .check = check,
};
