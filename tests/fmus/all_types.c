/* all_types.c - a test-only FMI 3.0 FMU (co-simulation and model exchange) with a variable of
 * every numeric type, built by the tests (tests/fmus/build.py).
 *
 * Each input (value references 1..12: Float64, Float32, Int8, UInt8, Int16, UInt16, Int32,
 * UInt32, Int64, UInt64, Boolean, Enumeration) is passed through to the output of the same type
 * (value reference + 20). f32_affine (33) = 3 * f32_in + 0.1, computed in float32 arithmetic.
 * One continuous state x (40, m->r[0]), der(x) (41) = f64_in; the co-simulation step
 * integrates it exactly (explicit Euler is exact for a constant rate over one step). A String
 * parameter (50) is declared only: fmitwin refuses to simulate it. */
#include <stddef.h>

#define FMI_VERSION 3
#define NX 1
#define NZ 0
#define NR 2 /* x, der(x) */
#define NI 1
#define STATE_VRS {0}
#define DERIVATIVE_VRS {1}
#define MODEL_OWN_ACCESSORS
#define MODEL_FIELDS                                                                           \
  double f64;                                                                                  \
  float f32, f32_affine;                                                                       \
  int8_t i8;                                                                                   \
  uint8_t u8;                                                                                  \
  int16_t i16;                                                                                 \
  uint16_t u16;                                                                                \
  int32_t i32;                                                                                 \
  uint32_t u32;                                                                                \
  int64_t i64, e;                                                                              \
  uint64_t u64;                                                                                \
  bool b;
#include "fmi_model.h"

static void model_start(Model *m) {
  m->u64 = UINT64_MAX; /* the start values of modelDescription.xml */
  m->e = 1;
  m->f32_affine = 0.1f;
}
static void model_derivatives(Model *m) { m->r[1] = m->f64; }
static void model_indicators(const Model *m, double z[]) {}
static void model_event(Model *m, EventInfo *info) {}
static int model_do_step(Model *m, double h) {
  m->r[0] += h * m->f64;
  return 0;
}

/* The variable behind a value reference when it has type `kind` (and, when setting, is an input
 * or the state); NULL otherwise. */
typedef enum { F64, F32, I8, U8, I16, U16, I32, U32, I64, U64, BOOL } Kind;
static void *variable(Model *m, fmi3ValueReference vr, Kind kind, bool setting) {
  static const struct {
    fmi3ValueReference vr;
    Kind kind;
    bool settable;
    size_t offset;
  } table[] = {
      {0, F64, false, offsetof(Model, t)},     {1, F64, true, offsetof(Model, f64)},
      {21, F64, false, offsetof(Model, f64)},  {40, F64, true, offsetof(Model, r)},
      {41, F64, false, offsetof(Model, f64)},  {2, F32, true, offsetof(Model, f32)},
      {22, F32, false, offsetof(Model, f32)},  {33, F32, false, offsetof(Model, f32_affine)},
      {3, I8, true, offsetof(Model, i8)},      {23, I8, false, offsetof(Model, i8)},
      {4, U8, true, offsetof(Model, u8)},      {24, U8, false, offsetof(Model, u8)},
      {5, I16, true, offsetof(Model, i16)},    {25, I16, false, offsetof(Model, i16)},
      {6, U16, true, offsetof(Model, u16)},    {26, U16, false, offsetof(Model, u16)},
      {7, I32, true, offsetof(Model, i32)},    {27, I32, false, offsetof(Model, i32)},
      {8, U32, true, offsetof(Model, u32)},    {28, U32, false, offsetof(Model, u32)},
      {9, I64, true, offsetof(Model, i64)},    {29, I64, false, offsetof(Model, i64)},
      {10, U64, true, offsetof(Model, u64)},   {30, U64, false, offsetof(Model, u64)},
      {11, BOOL, true, offsetof(Model, b)},    {31, BOOL, false, offsetof(Model, b)},
      {12, I64, true, offsetof(Model, e)},     {32, I64, false, offsetof(Model, e)},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (table[i].vr == vr && table[i].kind == kind && (table[i].settable || !setting)) {
      return (char *)m + table[i].offset;
    }
  }
  return NULL;
}

/* fmi3Get<Name> and fmi3Set<Name>: each value reference must name a variable of that type. */
#define ACCESSORS(Type, Name, kind)                                                            \
  fmi3Status fmi3Get##Name(fmi3Instance c, const fmi3ValueReference vr[], size_t n, Type v[],  \
                           size_t nv) {                                                        \
    for (size_t i = 0; i < n; i++) {                                                           \
      const Type *p = variable(c, vr[i], kind, false);                                         \
      if (p == NULL) return fmi3Error;                                                         \
      v[i] = *p;                                                                               \
    }                                                                                          \
    return fmi3OK;                                                                             \
  }                                                                                            \
  fmi3Status fmi3Set##Name(fmi3Instance c, const fmi3ValueReference vr[], size_t n,            \
                           const Type v[], size_t nv) {                                        \
    Model *m = c;                                                                              \
    for (size_t i = 0; i < n; i++) {                                                           \
      Type *p = variable(m, vr[i], kind, true);                                                \
      if (p == NULL) return fmi3Error;                                                         \
      *p = v[i];                                                                               \
    }                                                                                          \
    m->f32_affine = 3.0f * m->f32 + 0.1f; /* in float32 arithmetic */                        \
    return fmi3OK;                                                                             \
  }

ACCESSORS(fmi3Float64, Float64, F64)
ACCESSORS(fmi3Float32, Float32, F32)
ACCESSORS(fmi3Int8, Int8, I8)
ACCESSORS(fmi3UInt8, UInt8, U8)
ACCESSORS(fmi3Int16, Int16, I16)
ACCESSORS(fmi3UInt16, UInt16, U16)
ACCESSORS(fmi3Int32, Int32, I32)
ACCESSORS(fmi3UInt32, UInt32, U32)
ACCESSORS(fmi3Int64, Int64, I64)
ACCESSORS(fmi3UInt64, UInt64, U64)
ACCESSORS(fmi3Boolean, Boolean, BOOL)
