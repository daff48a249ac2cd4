/* batchnorm.c — batch normalisation per channel over (batch, H, W) with PyTorch's semantics:
 * biased variance to normalise, unbiased variance into running_var, momentum 0.1, eps 1e-5.
 * https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html (Ioffe & Szegedy 2015,
 * https://arxiv.org/abs/1502.03167). Statistics are summed in float within a row and in double
 * across rows. */
#include <math.h>

#include "nn/ops/ops.h"
#include "util/util.h"

/* Per-row kernels, compiled per ISA: the sums run in float over vector lanes (one row, H*W values,
 * at a time) and are added up in double across rows. As scalar double loops they took 12.6% of the
 * ResNet-10 detector's training step (perf: batchnorm_forward 7.6%, batchnorm_backward 5.0%). */
NN_SIMD_CLONES static float row_sum(const float *x, int n) {
    float s = 0.0f;
NN_OMP(omp simd reduction(+ : s))
    for (int i = 0; i < n; i++) s += x[i];
    return s;
}
NN_SIMD_CLONES static float row_sqdev(const float *x, int n, float m) {
    float s = 0.0f;
NN_OMP(omp simd reduction(+ : s))
    for (int i = 0; i < n; i++) {
        float d = x[i] - m;
        s += d * d;
    }
    return s;
}
NN_SIMD_CLONES static void row_affine(float *y, const float *x, int n, float m, float k, float bb) {
NN_OMP(omp simd)
    for (int i = 0; i < n; i++) y[i] = (x[i] - m) * k + bb;
}
/* the same followed by ReLU (batchnorm_relu_forward) */
NN_SIMD_CLONES static void row_affine_relu(float *y, const float *x, int n, float m, float k, float bb) {
NN_OMP(omp simd)
    for (int i = 0; i < n; i++) {
        float v = (x[i] - m) * k + bb;
        y[i] = v > 0.0f ? v : 0.0f;
    }
}
/* sum d and sum d * (x - m) * is over a row */
NN_SIMD_CLONES static void row_grad_sums(const float *d, const float *x, int n, float m, float is, float *sd, float *sdx) {
    float a = 0.0f, b = 0.0f;
NN_OMP(omp simd reduction(+ : a, b))
    for (int i = 0; i < n; i++) {
        float g = d[i];
        a += g;
        b += g * ((x[i] - m) * is);
    }
    *sd = a, *sdx = b;
}
/* the same with d gated by a following ReLU: d where the batch norm's output (x - m) * k + bb, computed
 * as row_affine_relu computes it, is > 0, else 0 (the gate from x: no pass over the ReLU's output) */
NN_SIMD_CLONES static void row_grad_sums_gated(const float *d, const float *x, int n, float m, float is, float k,
                                               float bb, float *sd, float *sdx) {
    float a = 0.0f, b = 0.0f;
NN_OMP(omp simd reduction(+ : a, b))
    for (int i = 0; i < n; i++) {
        float xc = x[i] - m;
        float g = xc * k + bb > 0.0f ? d[i] : 0.0f;
        a += g;
        b += g * (xc * is);
    }
    *sd = a, *sdx = b;
}
NN_SIMD_CLONES static void row_dx_gated(float *dx, const float *d, const float *x, int n, float m, float is, float k,
                                        float bb, float a, float bcoef) {
NN_OMP(omp simd)
    for (int i = 0; i < n; i++) {
        float xc = x[i] - m;
        dx[i] = k * ((xc * k + bb > 0.0f ? d[i] : 0.0f) - a - xc * is * bcoef);
    }
}
NN_SIMD_CLONES static void row_dx(float *dx, const float *d, const float *x, int n, float m, float is, float k, float a,
                                  float bcoef, int acc) {
    if (acc) {
NN_OMP(omp simd)
        for (int i = 0; i < n; i++) dx[i] += k * (d[i] - a - (x[i] - m) * is * bcoef);
    } else {
NN_OMP(omp simd)
        for (int i = 0; i < n; i++) dx[i] = k * (d[i] - a - (x[i] - m) * is * bcoef);
    }
}

static void bn_forward(float *out, float *mean, float *invstd, const float *in, const float *gamma, const float *beta,
                       float *running_mean, float *running_var, float *num_batches, int B, int C, int HW, int training,
                       float momentum, float eps, int relu, int nthreads) {
    size_t cnt = (size_t)B * HW;
    if (training) SL_ASSERT(cnt > 1);
    nthreads = nn_par(nthreads, (double)cnt * C);
NN_OMP(omp parallel for num_threads(nthreads) schedule(static))
    for (int c = 0; c < C; c++) {
        double mu, var;
        if (training) {
            double s = 0, ss = 0;
            for (int n = 0; n < B; n++) s += row_sum(in + ((size_t)n * C + c) * HW, HW);
            mu = s / (double)cnt;
            float mf = (float)mu;
            for (int n = 0; n < B; n++) ss += row_sqdev(in + ((size_t)n * C + c) * HW, HW, mf);
            var = ss / (double)cnt;
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * ss / (double)(cnt - 1));
        } else {
            mu = running_mean[c];
            var = running_var[c];
        }
        float m = (float)mu, is = (float)(1.0 / sqrt(var + eps));
        mean[c] = m;
        invstd[c] = is;
        float g = gamma ? gamma[c] : 1.0f, bb = beta ? beta[c] : 0.0f;
        for (int n = 0; n < B; n++) {
            size_t o = ((size_t)n * C + c) * HW;
            if (relu) row_affine_relu(out + o, in + o, HW, m, is * g, bb);
            else row_affine(out + o, in + o, HW, m, is * g, bb);
        }
    }
    if (training && num_batches) *num_batches += 1.0f;
}

void batchnorm_forward(float *out, float *mean, float *invstd, const float *in, const float *gamma,
                       const float *beta, float *running_mean, float *running_var, float *num_batches,
                       int B, int C, int HW, int training, float momentum, float eps, int nthreads) {
    bn_forward(out, mean, invstd, in, gamma, beta, running_mean, running_var, num_batches, B, C, HW, training, momentum,
               eps, 0, nthreads);
}

void batchnorm_relu_forward(float *out, float *mean, float *invstd, const float *in, const float *gamma,
                            const float *beta, float *running_mean, float *running_var, float *num_batches,
                            int B, int C, int HW, int training, float momentum, float eps, int nthreads) {
    bn_forward(out, mean, invstd, in, gamma, beta, running_mean, running_var, num_batches, B, C, HW, training, momentum,
               eps, 1, nthreads);
}

/* gated: a ReLU followed (dout is then the ReLU's output gradient), beta the batch norm's shift (NULL: 0) */
static void bn_backward(float *din, float *dgamma, float *dbeta, const float *dout, int gated, const float *beta,
                        const float *in,
                        const float *mean, const float *invstd, const float *gamma, int B, int C, int HW, int training,
                        int acc, int nthreads) {
    size_t cnt = (size_t)B * HW;
    nthreads = nn_par(nthreads, (double)cnt * C);
NN_OMP(omp parallel for num_threads(nthreads) schedule(static))
    for (int c = 0; c < C; c++) {
        float m = mean[c], is = invstd[c], g = gamma ? gamma[c] : 1.0f, bb = beta ? beta[c] : 0.0f;
        float k = g * is; /* as bn_forward's */
        double sd = 0, sdx = 0; /* sum dout, sum dout * xhat */
        for (int n = 0; n < B; n++) {
            float a, b;
            size_t o = ((size_t)n * C + c) * HW;
            if (gated) row_grad_sums_gated(dout + o, in + o, HW, m, is, k, bb, &a, &b);
            else row_grad_sums(dout + o, in + o, HW, m, is, &a, &b);
            sd += a, sdx += b;
        }
        if (dgamma) dgamma[c] += (float)sdx;
        if (dbeta) dbeta[c] += (float)sd;
        if (!din) continue;
        float a = training ? (float)(sd / (double)cnt) : 0.0f;
        float bcoef = training ? (float)(sdx / (double)cnt) : 0.0f;
        for (int n = 0; n < B; n++) {
            size_t o = ((size_t)n * C + c) * HW;
            if (gated) row_dx_gated(din + o, dout + o, in + o, HW, m, is, k, bb, a, bcoef); /* writes */
            else row_dx(din + o, dout + o, in + o, HW, m, is, k, a, bcoef, acc);
        }
    }
}

void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *mean, const float *invstd, const float *gamma, int B, int C,
                        int HW, int training, int nthreads) {
    bn_backward(din, dgamma, dbeta, dout, 0, NULL, in, mean, invstd, gamma, B, C, HW, training, 1, nthreads);
}

void batchnorm_backward_write(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                              const float *mean, const float *invstd, const float *gamma, int B, int C,
                              int HW, int training, int nthreads) {
    bn_backward(din, dgamma, dbeta, dout, 0, NULL, in, mean, invstd, gamma, B, C, HW, training, 0, nthreads);
}

void batchnorm_relu_backward_write(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                   const float *mean, const float *invstd, const float *gamma, const float *beta, int B,
                                   int C, int HW, int training, int nthreads) {
    bn_backward(din, dgamma, dbeta, dout, 1, beta, in, mean, invstd, gamma, B, C, HW, training, 0, nthreads);
}
