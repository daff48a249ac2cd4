/* batchnorm.c — batch normalisation per channel over (batch, H, W) with PyTorch's semantics:
 * biased variance to normalise, unbiased variance into running_var, momentum 0.1, eps 1e-5.
 * https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html (Ioffe & Szegedy 2015,
 * https://arxiv.org/abs/1502.03167). Statistics are accumulated in double. */
#include <math.h>

#include "nn/ops/ops.h"
#include "util/util.h"

void batchnorm_forward(float *out, float *mean, float *invstd, const float *in, const float *gamma,
                       const float *beta, float *running_mean, float *running_var, float *num_batches,
                       int B, int C, int HW, int training, float momentum, float eps, int nthreads) {
    size_t cnt = (size_t)B * HW;
    if (training) SL_ASSERT(cnt > 1);
    nthreads = nn_par(nthreads, (double)cnt * C);
NN_OMP(omp parallel for num_threads(nthreads) schedule(static))
    for (int c = 0; c < C; c++) {
        double mu, var;
        if (training) {
            double s = 0, ss = 0;
            for (int n = 0; n < B; n++) {
                const float *x = in + ((size_t)n * C + c) * HW;
                for (int i = 0; i < HW; i++) s += x[i];
            }
            mu = s / (double)cnt;
            for (int n = 0; n < B; n++) {
                const float *x = in + ((size_t)n * C + c) * HW;
                for (int i = 0; i < HW; i++) {
                    double d = x[i] - mu;
                    ss += d * d;
                }
            }
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
            const float *x = in + ((size_t)n * C + c) * HW;
            float *y = out + ((size_t)n * C + c) * HW;
NN_OMP(omp simd)
            for (int i = 0; i < HW; i++) y[i] = (x[i] - m) * is * g + bb;
        }
    }
    if (training && num_batches) *num_batches += 1.0f;
}

void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *mean, const float *invstd, const float *gamma, int B, int C,
                        int HW, int training, int nthreads) {
    size_t cnt = (size_t)B * HW;
    nthreads = nn_par(nthreads, (double)cnt * C);
NN_OMP(omp parallel for num_threads(nthreads) schedule(static))
    for (int c = 0; c < C; c++) {
        float m = mean[c], is = invstd[c], g = gamma ? gamma[c] : 1.0f;
        double sd = 0, sdx = 0; /* sum dout, sum dout * xhat */
        for (int n = 0; n < B; n++) {
            const float *x = in + ((size_t)n * C + c) * HW;
            const float *d = dout + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                sd += d[i];
                sdx += (double)d[i] * ((x[i] - m) * is);
            }
        }
        if (dgamma) dgamma[c] += (float)sdx;
        if (dbeta) dbeta[c] += (float)sd;
        if (!din) continue;
        float k = g * is;
        float a = training ? (float)(sd / (double)cnt) : 0.0f;
        float bcoef = training ? (float)(sdx / (double)cnt) : 0.0f;
        for (int n = 0; n < B; n++) {
            const float *x = in + ((size_t)n * C + c) * HW;
            const float *d = dout + ((size_t)n * C + c) * HW;
            float *dx = din + ((size_t)n * C + c) * HW;
NN_OMP(omp simd)
            for (int i = 0; i < HW; i++) dx[i] += k * (d[i] - a - (x[i] - m) * is * bcoef);
        }
    }
}
