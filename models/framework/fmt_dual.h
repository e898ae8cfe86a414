/* fmt_dual.h - forward-mode dual numbers for models whose Jacobian is tedious by hand.
 *
 * A model writes its equations once over fmt_dual values (value v, tangent d); seeding one
 * state or input with d = 1 yields that Jacobian column exactly (no finite differences), and
 * seeding nothing evaluates the model. Header-only, no allocation.
 */
#ifndef FMT_DUAL_H
#define FMT_DUAL_H

#include <math.h>

typedef struct {
    double v; /* value */
    double d; /* derivative along the seeded direction */
} fmt_dual;

static inline fmt_dual fmt_constant(double v) { return (fmt_dual){v, 0.0}; }
static inline fmt_dual fmt_add(fmt_dual a, fmt_dual b) { return (fmt_dual){a.v + b.v, a.d + b.d}; }
static inline fmt_dual fmt_sub(fmt_dual a, fmt_dual b) { return (fmt_dual){a.v - b.v, a.d - b.d}; }
static inline fmt_dual fmt_shift(fmt_dual a, double c) { return (fmt_dual){a.v + c, a.d}; }
static inline fmt_dual fmt_scale(fmt_dual a, double c) { return (fmt_dual){a.v * c, a.d * c}; }
static inline fmt_dual fmt_mul(fmt_dual a, fmt_dual b) { return (fmt_dual){a.v * b.v, a.d * b.v + a.v * b.d}; }
static inline fmt_dual fmt_div(fmt_dual a, fmt_dual b) {
    return (fmt_dual){a.v / b.v, (a.d * b.v - a.v * b.d) / (b.v * b.v)};
}
static inline fmt_dual fmt_sqrt(fmt_dual a) {
    double r = sqrt(a.v);
    return (fmt_dual){r, a.d / (2.0 * r)};
}
static inline fmt_dual fmt_tanh(fmt_dual a) {
    double t = tanh(a.v);
    return (fmt_dual){t, a.d * (1.0 - t * t)};
}

#endif
