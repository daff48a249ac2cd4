/* bench_peak.c — the machine's single-precision FMA peak, measured: each of T threads runs a loop
 * of independent fused multiply-adds on registers (no memory traffic), once with 512-bit vectors
 * (AVX-512F), once with 256-bit (AVX2 + FMA), where the CPU has them, and once with the compiler's
 * plain code. A GFLOP counts one FMA as 2 FLOPs. The best is the peak against which `bench_ops`
 * states each layer's share (issue 21: a stated share of the FMA peak for the largest layers).
 *
 *   build/bench/bench_peak [--threads T] [--ms 300]
 * Last line: RESULT peak threads=T gflops=G isa=avx512|avx2|scalar avx512=G1 avx2=G2 scalar=G3
 * (G1/G2 are 0 where the CPU lacks that ISA). The loop keeps 12 accumulators of FMA chains, more
 * than latency x throughput of current x86 cores (4 x 2), so the FMA ports stay busy. */
#include <stdio.h>
#include <string.h>

#include "util/args.h"
#include "util/util.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SL_PEAK_X86 1
#endif

#define NACC 12

#ifdef SL_PEAK_X86
__attribute__((target("avx512f"))) static float loop_avx512(long iters, float seed) {
    __m512 acc[NACC];
    for (int k = 0; k < NACC; k++) acc[k] = _mm512_set1_ps(seed + 0.001f * (float)k);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
        for (int k = 0; k < NACC; k++) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
    __m512 s = acc[0];
    for (int k = 1; k < NACC; k++) s = _mm512_add_ps(s, acc[k]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float loop_avx2(long iters, float seed) {
    __m256 acc[NACC];
    for (int k = 0; k < NACC; k++) acc[k] = _mm256_set1_ps(seed + 0.001f * (float)k);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
        for (int k = 0; k < NACC; k++) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
    __m256 s = acc[0];
    for (int k = 1; k < NACC; k++) s = _mm256_add_ps(s, acc[k]);
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}
#endif

/* The plain build's code (SSE2 on x86-64: multiply then add, 4 lanes). */
static float loop_scalar(long iters, float seed) {
    typedef float v4 __attribute__((vector_size(16)));
    v4 acc[NACC];
    for (int k = 0; k < NACC; k++) acc[k] = (v4){seed, seed, seed, seed} + 0.001f * (float)k;
    const v4 a = {0.999999f, 0.999999f, 0.999999f, 0.999999f}, b = {1e-7f, 1e-7f, 1e-7f, 1e-7f};
    for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
        for (int k = 0; k < NACC; k++) acc[k] = acc[k] * a + b;
    v4 s = acc[0];
    for (int k = 1; k < NACC; k++) s += acc[k];
    return s[0] + s[1] + s[2] + s[3];
}

/* FLOPs per iteration of each loop: NACC vectors x lanes x 2. */
typedef float (*LoopFn)(long, float);

/* GFLOP/s of T threads each running fn for about ms milliseconds; best of 3 runs. */
static double measure(LoopFn fn, int lanes, int threads, int ms, volatile float *sink) {
    long iters = 1000;
    for (;;) { /* calibrate on one thread: iters for ~ms/3 */
        double t0 = sl_now();
        *sink += fn(iters, 1.0f);
        double t = sl_now() - t0;
        if (t > ms * 1e-3 / 3 || iters > (1L << 40)) break;
        iters *= t < 1e-4 ? 16 : 2;
    }
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = sl_now();
        float s = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : s) schedule(static, 1)
        for (int t = 0; t < threads; t++) s += fn(iters, 1.0f + (float)t);
        double dt = sl_now() - t0;
        *sink += s;
        double g = (double)threads * (double)iters * NACC * lanes * 2 / dt / 1e9;
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = 2, ms = 300;
    SlArg spec[] = {
        {"--threads", SL_ARG_INT, &threads, "T", "threads, one FMA loop each (default 2)", 1, 1024},
        {"--ms", SL_ARG_INT, &ms, "MS", "milliseconds per measured run, about (default 300)", 10, 60000},
        {0},
    };
    int rc = sl_args_parse("bench_peak", NULL, "The machine's single-precision FMA peak, in GFLOP/s.", spec, argc - 1,
                           argv + 1, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    volatile float sink = 0;
    double g512 = 0, g256 = 0, gs;
#ifdef SL_PEAK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) g512 = measure(loop_avx512, 16, threads, ms, &sink);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) g256 = measure(loop_avx2, 8, threads, ms, &sink);
#endif
    gs = measure(loop_scalar, 4, threads, ms, &sink);
    double best = gs;
    const char *isa = "scalar";
    if (g256 > best) best = g256, isa = "avx2";
    if (g512 > best) best = g512, isa = "avx512";
    printf("FMA peak, %d threads: AVX-512 %.1f GFLOP/s, AVX2 %.1f GFLOP/s, plain -O2 code %.1f GFLOP/s (0: no such ISA)\n",
           threads, g512, g256, gs);
    printf("RESULT peak threads=%d gflops=%.1f isa=%s avx512=%.1f avx2=%.1f scalar=%.1f\n", threads, best, isa, g512,
           g256, gs);
    return sink == 12345.0f ? 1 : 0; /* keeps the loops */
}
