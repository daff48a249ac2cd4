/* gemm.c — row-major single-precision GEMM for the engine: oneDNN's dnnl_sgemm when built with
 * SL_HAVE_DNNL (JIT kernels for the machine's widest ISA; on the 2-CPU AVX-512 EPYC of
 * docs/PERFORMANCE.md whole training steps ran faster than with OpenBLAS's Haswell kernels), else
 * OpenBLAS cblas_sgemm when built with SL_HAVE_BLAS, and always a blocked C fallback (used without
 * either, and tested against them). SL_GEMM=openblas in the environment picks OpenBLAS in a build
 * that has both (for side-by-side benchmarks).
 * Semantics of BLAS sgemm: https://www.netlib.org/lapack/explore-html/d4/de2/sgemm_8f.html
 * dnnl_sgemm: https://oneapi-src.github.io/oneDNN/group_dnnl_api_blas.html */
#include "nn/ops/ops.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#ifdef SL_HAVE_BLAS
#include <cblas.h>
#endif
#ifdef SL_HAVE_DNNL
#include <dnnl.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

enum { GEMM_BLOCKED, GEMM_OPENBLAS, GEMM_ONEDNN };
static int gemm_kind = GEMM_BLOCKED;
static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;

static void gemm_pick(void) {
#ifdef SL_HAVE_BLAS
    gemm_kind = GEMM_OPENBLAS;
#endif
#ifdef SL_HAVE_DNNL
    const char *e = getenv("SL_GEMM");
    if (!(e && !strcmp(e, "openblas") && gemm_kind == GEMM_OPENBLAS)) gemm_kind = GEMM_ONEDNN;
#endif
}

static int gemm_backend(void) {
    pthread_once(&gemm_once, gemm_pick);
    return gemm_kind;
}

int nn_have_blas(void) { return gemm_backend() != GEMM_BLOCKED; }

const char *nn_gemm_name(void) {
    switch (gemm_backend()) {
    case GEMM_ONEDNN: return "oneDNN";
    case GEMM_OPENBLAS: return "OpenBLAS";
    default: return "none (blocked C)";
    }
}

/* Threads for a GEMM called outside a parallel region (inside one, each call runs on its own
 * thread). OpenBLAS keeps its own count; oneDNN takes OpenMP's, which nn_sgemm sets around the call. */
static int gemm_threads = 1;
#ifdef SL_HAVE_BLAS
static pthread_mutex_t blas_mu = PTHREAD_MUTEX_INITIALIZER;
#endif

void nn_blas_threads(int n) {
    if (n < 1) n = 1;
    gemm_threads = n;
#ifdef SL_HAVE_BLAS
    if (openblas_get_num_threads() != n) openblas_set_num_threads(n);
#endif
}

/* Blocks: rows of C in groups of 4 (each B row loaded once per group), K in panels of KB so the
 * B panel stays in cache; op(A) rows are packed (alpha-scaled) so A^T costs nothing extra. */
#define KB 256
void nn_sgemm_blocked(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                      int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    SL_ASSERT(M >= 0 && N >= 0 && K >= 0);
    if (M == 0 || N == 0) return;
    /* op(B) as rows of N: when transB, gather a KB x N panel first. */
NN_OMP(omp parallel if ((double)M * N * K >= 1e6))
    {
        float *apack = xmalloc(sizeof(float) * 4 * KB);
        float *bpanel = transB ? xmalloc(sizeof(float) * (size_t)KB * N) : NULL;
        for (int k0 = 0; k0 < K || (K == 0 && k0 == 0); k0 += KB) {
            int kb = K - k0 < KB ? K - k0 : KB;
            if (bpanel) {
                for (int kk = 0; kk < kb; kk++)
                    for (int j = 0; j < N; j++) bpanel[(size_t)kk * N + j] = B[(size_t)j * ldb + k0 + kk];
            }
NN_OMP(omp for schedule(static))
            for (int i0 = 0; i0 < M; i0 += 4) {
                int ib = M - i0 < 4 ? M - i0 : 4;
                for (int r = 0; r < ib; r++) {
                    float *crow = C + (size_t)(i0 + r) * ldc;
                    if (k0 == 0) {
                        if (beta == 0.0f) memset(crow, 0, sizeof(float) * N);
                        else if (beta != 1.0f)
                            for (int j = 0; j < N; j++) crow[j] *= beta;
                    }
                    for (int kk = 0; kk < kb; kk++) {
                        int k = k0 + kk;
                        apack[r * KB + kk] = alpha * (transA ? A[(size_t)k * lda + i0 + r] : A[(size_t)(i0 + r) * lda + k]);
                    }
                }
                for (int kk = 0; kk < kb; kk++) {
                    const float *brow = bpanel ? bpanel + (size_t)kk * N : B + (size_t)(k0 + kk) * ldb;
                    for (int r = 0; r < ib; r++) {
                        float a = apack[r * KB + kk];
                        float *crow = C + (size_t)(i0 + r) * ldc;
NN_OMP(omp simd)
                        for (int j = 0; j < N; j++) crow[j] += a * brow[j];
                    }
                }
            }
            if (K == 0) break;
        }
        free(apack);
        free(bpanel);
    }
}

void nn_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M == 0 || N == 0) return;
    int kind = gemm_backend();
#ifdef SL_HAVE_DNNL
    if (kind == GEMM_ONEDNN) {
        int prev = 0;
#ifdef _OPENMP
        if (!omp_in_parallel() && omp_get_max_threads() != gemm_threads) {
            prev = omp_get_max_threads();
            omp_set_num_threads(gemm_threads);
        }
#endif
        dnnl_status_t st = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb,
                                      beta, C, ldc);
#ifdef _OPENMP
        if (prev) omp_set_num_threads(prev);
#endif
        if (st == dnnl_success) return;
        /* dnnl_sgemm fails only on bad arguments; the paths below then say what is wrong or cope */
    }
#endif
#ifdef SL_HAVE_BLAS
    if (kind != GEMM_BLOCKED) {
        /* Debian's OpenBLAS (0.3.21, OpenMP build) computes wrong results when two threads outside
         * any parallel region call it at once (its buffers are shared; test_nn_ops t_conv_threads
         * failed 20 of 30 runs): such calls take turns. Inside a parallel region each call runs on
         * its own thread, as OpenBLAS's OpenMP build supports. */
        int serial = 1;
#ifdef _OPENMP
        serial = !omp_in_parallel();
#endif
        if (serial) pthread_mutex_lock(&blas_mu);
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        if (serial) pthread_mutex_unlock(&blas_mu);
        return;
    }
#endif
    (void)kind;
    nn_sgemm_blocked(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
