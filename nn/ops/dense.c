/* dense.c — fully connected layer out[B,O] = in[B,I] w[O,I]^T + b: a reference in plain loops and
 * the fast path (one sgemm per batch for each of forward, dweight and dinput).
 * https://pytorch.org/docs/stable/generated/torch.nn.Linear.html */
#include "nn/ops/ops.h"

void dense_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int I, int O) {
    for (int n = 0; n < B; n++)
        for (int o = 0; o < O; o++) {
            float acc = b ? b[o] : 0.0f;
            const float *wr = w + (size_t)o * I, *x = in + (size_t)n * I;
            for (int i = 0; i < I; i++) acc += wr[i] * x[i];
            out[(size_t)n * O + o] = acc;
        }
}

void dense_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int B, int I, int O) {
    for (int n = 0; n < B; n++)
        for (int o = 0; o < O; o++) {
            float d = dout[(size_t)n * O + o];
            if (db) db[o] += d;
            for (int i = 0; i < I; i++) {
                if (dw) dw[(size_t)o * I + i] += d * in[(size_t)n * I + i];
                if (din) din[(size_t)n * I + i] += d * w[(size_t)o * I + i];
            }
        }
}

#define DENSE_T_MIN_B 16 /* from this batch the forward takes w x in^T (ops.h) */

size_t dense_workspace(int B, int O) { return B >= DENSE_T_MIN_B ? (size_t)B * O : 0; }

void dense_forward(float *out, const float *in, const float *w, const float *b, int B, int I, int O, float *work,
                   int nthreads) {
    nn_blas_threads(nthreads);
    if (work && B >= DENSE_T_MIN_B) {
        /* work[O, B] = w[O, I] x in[B, I]^T, then out[n][o] = work[o][n] + b[o] */
        nn_sgemm(0, 1, O, B, I, 1.0f, w, I, in, I, 0.0f, work, B);
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * O)) schedule(static))
        for (int n = 0; n < B; n++)
            for (int o = 0; o < O; o++) out[(size_t)n * O + o] = work[(size_t)o * B + n] + (b ? b[o] : 0.0f);
        return;
    }
    nn_sgemm(0, 1, B, O, I, 1.0f, in, I, w, I, 0.0f, out, O);
    if (b) {
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * O)) schedule(static))
        for (int n = 0; n < B; n++)
NN_OMP(omp simd)
            for (int o = 0; o < O; o++) out[(size_t)n * O + o] += b[o];
    }
}

static void dense_bwd(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                      int I, int O, int acc, int nthreads) {
    nn_blas_threads(nthreads);
    if (db) {
NN_OMP(omp parallel for num_threads(nn_par(nthreads, (double)B * O)) schedule(static))
        for (int o = 0; o < O; o++) {
            float acc = 0;
            for (int n = 0; n < B; n++) acc += dout[(size_t)n * O + o];
            db[o] += acc;
        }
    }
    if (dw) nn_sgemm(1, 0, O, I, B, 1.0f, dout, O, in, I, 1.0f, dw, I);
    if (din) nn_sgemm(0, 0, B, I, O, 1.0f, dout, O, w, I, acc ? 1.0f : 0.0f, din, I);
}

void dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                    const float *w, int B, int I, int O, int nthreads) {
    dense_bwd(din, dw, db, dout, in, w, B, I, O, 1, nthreads);
}

void dense_backward_write(float *din, float *dw, float *db, const float *dout, const float *in,
                          const float *w, int B, int I, int O, int nthreads) {
    dense_bwd(din, dw, db, dout, in, w, B, I, O, 0, nthreads);
}
