/* gemm.c — row-major single-precision GEMM for the engine: OpenBLAS cblas_sgemm when built with
 * SL_HAVE_BLAS, and always a blocked C fallback (used without BLAS, and tested against it).
 * Semantics of BLAS sgemm: https://www.netlib.org/lapack/explore-html/d4/de2/sgemm_8f.html */
#include "nn/ops/ops.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#ifdef SL_HAVE_BLAS
#include <cblas.h>
#endif

int nn_have_blas(void) {
#ifdef SL_HAVE_BLAS
    return 1;
#else
    return 0;
#endif
}

void nn_blas_threads(int n) {
#ifdef SL_HAVE_BLAS
    if (n < 1) n = 1;
    if (openblas_get_num_threads() != n) openblas_set_num_threads(n);
#else
    (void)n;
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
#ifdef SL_HAVE_BLAS
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    nn_sgemm_blocked(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}
