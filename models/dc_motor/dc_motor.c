/* dc_motor.c - permanent-magnet DC motor driving an inertia with viscous and Coulomb friction.
 *
 *   L di/dt   = V - R i - k w
 *   J dw/dt   = k i - b w - tau_c tanh(w / w_c) - tau_load
 *   dphi/dt   = w
 *   tau_motor = k i,   P_electric = V i
 *
 * tanh(w / w_c) smooths the Coulomb friction sign(w) over |w| < w_c so the equations stay
 * differentiable (with tau_c = 0 the model is linear). Same equations as DCMotor.mo.
 */
#include <math.h>
#include <stddef.h>

#include "fmt_model.h"

enum {
    TIME, I, DER_I, W, DER_W, PHI, DER_PHI, V, TAU_LOAD, TAU_MOTOR, P_ELECTRIC,
    R, L, K, J, B, TAU_C, W_C, CS_MAX_STEP, N_VARIABLES
};

static const fmt_variable variables[N_VARIABLES] = {
    [TIME] = {"time", "Simulation time", FMT_INDEPENDENT, FMT_CONTINUOUS, FMT_NO_INITIAL, .unit = "s"},
    [I] = {"i", "Armature current (state)", FMT_OUTPUT, FMT_CONTINUOUS, FMT_EXACT, 0.0, "A", .nominal = 10.0,
           FMT_DEPENDS(I)},
    [DER_I] = {"der(i)", "Rate of change of the armature current", FMT_LOCAL, FMT_CONTINUOUS, FMT_CALCULATED,
               .unit = "A/s", .derivative_of = I, FMT_DEPENDS(I, W, V)},
    [W] = {"w", "Shaft angular speed (state)", FMT_OUTPUT, FMT_CONTINUOUS, FMT_EXACT, 0.0, "rad/s", "rpm",
           .nominal = 100.0, FMT_DEPENDS(W)},
    [DER_W] = {"der(w)", "Shaft angular acceleration", FMT_LOCAL, FMT_CONTINUOUS, FMT_CALCULATED, .unit = "rad/s2",
               .derivative_of = W, FMT_DEPENDS(I, W, TAU_LOAD)},
    [PHI] = {"phi", "Shaft angle (state)", FMT_OUTPUT, FMT_CONTINUOUS, FMT_EXACT, 0.0, "rad", .nominal = 100.0,
             FMT_DEPENDS(PHI)},
    [DER_PHI] = {"der(phi)", "Shaft angular speed", FMT_LOCAL, FMT_CONTINUOUS, FMT_CALCULATED, .unit = "rad/s",
                 .derivative_of = PHI, FMT_DEPENDS(W)},
    [V] = {"V", "Armature voltage", FMT_INPUT, FMT_CONTINUOUS, FMT_EXACT, 0.0, "V"},
    [TAU_LOAD] = {"tau_load", "Load torque opposing the rotation", FMT_INPUT, FMT_CONTINUOUS, FMT_EXACT, 0.0, "N.m"},
    [TAU_MOTOR] = {"tau_motor", "Electromagnetic torque k i", FMT_OUTPUT, FMT_CONTINUOUS, FMT_CALCULATED,
                   .unit = "N.m", FMT_DEPENDS(I)},
    [P_ELECTRIC] = {"P_electric", "Electrical input power V i", FMT_OUTPUT, FMT_CONTINUOUS, FMT_CALCULATED,
                    .unit = "W", "kW", FMT_DEPENDS(I, V)},
    [R] = {"R", "Armature resistance", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 1.2, "Ohm", FMT_MIN(0.0)},
    [L] = {"L", "Armature inductance", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 0.01, "H", FMT_MIN(0.0)},
    [K] = {"k", "Torque constant = back-EMF constant", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 0.7, "N.m/A",
           FMT_MIN(0.0)},
    [J] = {"J", "Moment of inertia of rotor and load", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 0.02, "kg.m2",
           FMT_MIN(0.0)},
    [B] = {"b", "Viscous friction coefficient", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 1e-3, "N.m.s/rad",
           FMT_MIN(0.0)},
    [TAU_C] = {"tau_c", "Coulomb friction torque", FMT_PARAMETER, FMT_TUNABLE, FMT_EXACT, 0.05, "N.m", FMT_MIN(0.0)},
    [W_C] = {"w_c", "Speed over which the Coulomb friction is smoothed (tanh)", FMT_PARAMETER, FMT_TUNABLE,
             FMT_EXACT, 0.1, "rad/s", FMT_MIN(0.0)},
    [CS_MAX_STEP] = {"cs_max_step", "Co-simulation only: largest internal RK4 step", FMT_PARAMETER, FMT_FIXED,
                     FMT_EXACT, 1e-4, "s", FMT_MIN(0.0)},
};

static void evaluate(double *v) {
    v[TAU_MOTOR] = v[K] * v[I];
    v[P_ELECTRIC] = v[V] * v[I];
    v[DER_I] = (v[V] - v[R] * v[I] - v[K] * v[W]) / v[L];
    v[DER_W] = (v[TAU_MOTOR] - v[B] * v[W] - v[TAU_C] * tanh(v[W] / v[W_C]) - v[TAU_LOAD]) / v[J];
    v[DER_PHI] = v[W];
}

static void tangent(const double *v, int known, double *dv) {
    switch (known) {
    case I:
        dv[DER_I] = -v[R] / v[L];
        dv[DER_W] = v[K] / v[J];
        dv[TAU_MOTOR] = v[K];
        dv[P_ELECTRIC] = v[V];
        break;
    case W: {
        double th = tanh(v[W] / v[W_C]);
        dv[DER_I] = -v[K] / v[L];
        dv[DER_W] = (-v[B] - v[TAU_C] * (1.0 - th * th) / v[W_C]) / v[J];
        dv[DER_PHI] = 1.0;
        break;
    }
    case V:
        dv[DER_I] = 1.0 / v[L];
        dv[P_ELECTRIC] = v[I];
        break;
    case TAU_LOAD:
        dv[DER_W] = -1.0 / v[J];
        break;
    }
}

static const char *check(const double *v) {
    if (!(v[L] > 0)) return "DCMotor: parameter 'L' must be > 0 H (the armature has inductance).";
    if (!(v[J] > 0)) return "DCMotor: parameter 'J' must be > 0 kg.m2 (the shaft has inertia).";
    if (!(v[W_C] > 0)) return "DCMotor: parameter 'w_c' must be > 0 rad/s (use a small value such as 0.1).";
    if (!(v[CS_MAX_STEP] > 0)) return "DCMotor: parameter 'cs_max_step' must be > 0 s.";
    return NULL;
}

const fmt_model FMT_MODEL = {
    .name = "DCMotor",
    .description = "Permanent-magnet DC motor (armature R, L, torque constant k) driving an inertia J with "
                   "viscous (b) and smoothed Coulomb (tau_c) friction and an external load torque.",
    .variables = variables,
    .n_variables = N_VARIABLES,
    .cosim_max_step = CS_MAX_STEP,
    .start_time = 0.0,
    .stop_time = 1.0,
    .tolerance = 1e-6,
    .step_size = 1e-3,
    .evaluate = evaluate,
    .tangent = tangent,
    .check = check,
};
