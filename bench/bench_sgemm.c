/* bench_sgemm.c — the ceiling for training throughput: OpenBLAS sgemm GFLOP/s on exactly the GEMMs
 * one training step of a swap-model preset makes (im2col convolutions and dense layers, forward,
 * weight gradient and input gradient), with the thread count the trainer uses. If a step were
 * nothing but these GEMMs at this speed it would run at `bound_img_s` images/s; bench/run.sh
 * reports swaplab's measured throughput as a share of it. BLAS sgemm: https://www.netlib.org/blas/
 *
 *   build/bench/bench_sgemm --preset original --batch 16 --threads 2
 * Last line: RESULT sgemm preset=P batch=B threads=T gflops=G bound_img_s=I cpu_gflops=G
 *            cpu_bound_img_s=I fwd_gflop=F
 * The cpu_ figures use process CPU seconds / T instead of wall time: the idle-machine estimate on
 * a shared machine (with OMP_WAIT_POLICY=passive, so waiting threads do not burn CPU). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/ops/ops.h"
#include "model/swap_model.h"
#include "util/args.h"
#include "util/rng.h"

typedef struct {
    int ta, tb, M, N, K;
    double count; /* how many times a step makes it */
} Gemm;

typedef struct {
    Gemm *g;
    int n, cap;
} GemmList;

static void add(GemmList *l, int ta, int tb, int M, int N, int K, double count) {
    for (int i = 0; i < l->n; i++) {
        Gemm *g = &l->g[i];
        if (g->ta == ta && g->tb == tb && g->M == M && g->N == N && g->K == K) {
            g->count += count;
            return;
        }
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->g = xrealloc(l->g, sizeof *l->g * (size_t)l->cap);
    }
    l->g[l->n++] = (Gemm){ta, tb, M, N, K, count};
}

/* The three GEMMs of a conv layer as nn/ops/conv2d.c makes them (im2col over the batch). */
static void conv(GemmList *l, int B, int cin, int cout, int k, int ho, int wo, int first, double times) {
    int R = cin * k * k, N = B * ho * wo;
    add(l, 0, 0, cout, N, R, times);         /* out = W col */
    add(l, 0, 1, cout, R, N, times);         /* dW += dout col^T */
    if (!first) add(l, 1, 0, R, N, cout, times); /* dcol = W^T dout */
}

/* nn/ops/dense.c: out = in W^T; dW += dout^T in; din = dout W. */
static void dense(GemmList *l, int B, int in, int out, double times) {
    add(l, 0, 1, B, out, in, times);
    add(l, 1, 0, out, in, B, times);
    add(l, 0, 0, B, in, out, times);
}

/* One training step: each of the 2 sides runs the encoder and its own decoder. */
static void step_gemms(GemmList *l, const SwapArch *a, int B) {
    int h = a->size, cin = 3;
    for (int i = 0; i < a->nenc; i++) {
        h /= 2;
        conv(l, B, cin, a->enc[i], 5, h, h, i == 0, 2);
        cin = a->enc[i];
    }
    dense(l, B, cin * h * h, a->dense, 2);
    dense(l, B, a->dense, a->bottleneck * h * h, 2);
    conv(l, B, a->bottleneck, 4 * a->enc_up, 3, h, h, 0, 2);
    h *= 2;
    cin = a->enc_up;
    for (int i = 0; i < a->ndec; i++) {
        conv(l, B, cin, 4 * a->dec[i], 3, h, h, 0, 2);
        cin = a->dec[i];
        h *= 2;
    }
    /* The output conv (Cout = 3) is a direct convolution in the engine, not a GEMM, and a GEMM of
     * that shape would run at a few GFLOP/s; it is left out of the rate (it is < 2% of the FLOPs
     * but still counted in the per-image FLOPs of the bound). */
}

/* Forward FLOPs of one image through the encoder and one decoder (2 per multiply-add). */
static double arch_forward_flops(const SwapArch *a) {
    double f = 0;
    int h = a->size, cin = 3;
    for (int i = 0; i < a->nenc; i++) {
        h /= 2;
        f += 2.0 * cin * 25 * a->enc[i] * h * h;
        cin = a->enc[i];
    }
    double z = (double)a->bottleneck * h * h;
    f += 2.0 * cin * h * h * a->dense + 2.0 * a->dense * z;
    f += 2.0 * a->bottleneck * 9 * 4 * a->enc_up * h * h;
    h *= 2;
    cin = a->enc_up;
    for (int i = 0; i < a->ndec; i++) {
        f += 2.0 * cin * 9 * 4 * a->dec[i] * h * h;
        cin = a->dec[i];
        h *= 2;
    }
    return f + 2.0 * cin * 25 * 3 * h * h;
}

/* CPU seconds of the whole process (all threads). */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best of several runs (the machine may be shared: the minimum is the least disturbed run):
 * at least 3 runs and 0.2 s, at most 8 runs; 2 runs for a GEMM over 0.4 s. *cpu gets the least
 * process CPU time of a run. */
static double time_gemm(const Gemm *g, float *A, float *Bm, float *C, double *cpu) {
    int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
    double best = 1e30, total = 0;
    *cpu = 1e30;
    for (int r = 0; r < 8; r++) {
        double t0 = sl_now(), c0 = cpu_now();
        nn_sgemm(g->ta, g->tb, g->M, g->N, g->K, 1.0f, A, lda, Bm, ldb, 0.0f, C, g->N);
        double dt = sl_now() - t0, dc = cpu_now() - c0;
        if (dt < best) best = dt;
        if (dc < *cpu) *cpu = dc;
        total += dt;
        if ((r >= 2 && total >= 0.2) || (r >= 1 && best > 0.4)) break;
    }
    return best;
}

int main(int argc, char **argv) {
    const char *preset = "original";
    int batch = 16, threads = 2, verbose = 0;
    SlArg spec[] = {
        {"--preset", SL_ARG_STR, &preset, "NAME", "swap-model preset whose GEMMs to time (original)"},
        {"--batch", SL_ARG_INT, &batch, "B", "faces per side per step (16)"},
        {"--threads", SL_ARG_INT, &threads, "T", "OpenBLAS threads (2)"},
        {"--verbose", SL_ARG_FLAG, &verbose, NULL, "print every GEMM shape"},
        {0},
    };
    int rc = sl_args_parse("bench_sgemm", NULL, "OpenBLAS sgemm on a training step's GEMMs.", spec,
                           argc - 1, argv + 1, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!nn_have_blas()) {
        printf("bench_sgemm: built without OpenBLAS; the blocked C fallback is timed instead\n");
    }
    SwapArch a;
    SlErr err;
    if (swap_arch_preset(preset, &a, &err)) {
        fprintf(stderr, "bench_sgemm: %s\n", err.msg);
        return 2;
    }
    nn_blas_threads(threads);
    GemmList l = {0};
    step_gemms(&l, &a, batch);
    size_t amax = 0, bmax = 0, cmax = 0;
    for (int i = 0; i < l.n; i++) {
        size_t M = (size_t)l.g[i].M, N = (size_t)l.g[i].N, K = (size_t)l.g[i].K;
        if (M * K > amax) amax = M * K;
        if (K * N > bmax) bmax = K * N;
        if (M * N > cmax) cmax = M * N;
    }
    float *A = xmalloc(amax * sizeof(float)), *B = xmalloc(bmax * sizeof(float)),
          *C = xmalloc(cmax * sizeof(float));
    SlRng rng;
    sl_rng_seed(&rng, 1);
    for (size_t i = 0; i < amax; i++) A[i] = sl_rng_range(&rng, -1, 1);
    for (size_t i = 0; i < bmax; i++) B[i] = sl_rng_range(&rng, -1, 1);
    double flops = 0, secs = 0, cpus = 0;
    for (int i = 0; i < l.n; i++) {
        const Gemm *g = &l.g[i];
        double f = 2.0 * g->M * g->N * g->K;
        double c, t = time_gemm(g, A, B, C, &c);
        flops += f * g->count;
        secs += t * g->count;
        cpus += c / threads * g->count;
        if (verbose)
            printf("  %c%c M=%-6d N=%-6d K=%-6d x%-3g %7.1f GFLOP/s\n", g->ta ? 'T' : 'N',
                   g->tb ? 'T' : 'N', g->M, g->N, g->K, g->count, f / t / 1e9);
    }
    /* bound = rate / (3 x forward FLOPs per image): training ~ forward + 2 backward GEMMs */
    double rate = flops / secs, crate = flops / cpus, fwd = arch_forward_flops(&a);
    printf("RESULT sgemm preset=%s batch=%d threads=%d gflops=%.2f bound_img_s=%.3f cpu_gflops=%.2f "
           "cpu_bound_img_s=%.3f fwd_gflop=%.4f\n", preset, batch, threads, rate / 1e9,
           rate / (3.0 * fwd), crate / 1e9, crate / (3.0 * fwd), fwd / 1e9);
    free(A);
    free(B);
    free(C);
    free(l.g);
    return 0;
}
