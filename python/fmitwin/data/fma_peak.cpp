// One core's double-precision FMA peak, measured: 12 independent chains of 4-wide FMAs (AVX2 +
// FMA where the CPU has them, else 2-wide SSE2 multiply-adds). Built by fmitwin.benchmarking.
// Timed in process CPU time (std::clock).
//
// usage: fma_peak   ->  prints the best GFLOP/s of one core
#include <cstdio>
#include <ctime>

typedef double v4 __attribute__((vector_size(32)));
typedef double v2 __attribute__((vector_size(16)));

// The same loop body for both instruction sets: a macro, since GCC does not compile a template
// instantiation for the target of the function that calls it.
#define FMITWIN_FMA_CHAINS(V)                                                          \
  V acc[12];                                                                           \
  for (int i = 0; i < 12; ++i) acc[i] = V{} + 1.0 + i * 1e-3;                          \
  const V a = V{} + 0.999999, b = V{} + 1e-7;                                          \
  const std::clock_t start = std::clock();                                             \
  for (long k = 0; k < iterations; ++k)                                                \
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * a + b;                              \
  const double seconds = double(std::clock() - start) / CLOCKS_PER_SEC;                \
  for (int i = 0; i < 12; ++i) sink += acc[i][0];                                      \
  return 2.0 * 12 * (sizeof(V) / sizeof(double)) * iterations / seconds / 1e9;

__attribute__((target("avx2,fma"))) static double run_fma(long iterations, double& sink) {
  FMITWIN_FMA_CHAINS(v4)
}

static double run_sse2(long iterations, double& sink) { FMITWIN_FMA_CHAINS(v2) }

int main() {
  double sink = 0, best = 0;
  const bool fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  for (int repeat = 0; repeat < 5; ++repeat) {
    const double g = fma ? run_fma(20000000, sink) : run_sse2(20000000, sink);
    if (g > best) best = g;
  }
  std::printf("%.3f %s\n", best, fma ? "avx2-fma" : "sse2");
  return sink == 12345.0;  // keeps the chains alive
}
