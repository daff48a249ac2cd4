/* dropout.c — inverted dropout: in training each element is zeroed with probability p and the
 * rest scaled by 1/(1-p); the mask is drawn in order from the caller's SlRng, so a seeded run is
 * reproducible. https://pytorch.org/docs/stable/generated/torch.nn.Dropout.html
 * (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html) */
#include "nn/ops/ops.h"
#include "util/util.h"

void dropout_forward(float *out, float *mask, const float *in, size_t n, float p, SlRng *rng) {
    SL_ASSERT(p >= 0.0f && p < 1.0f);
    float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) {
        mask[i] = sl_rng_uniform(rng) < p ? 0.0f : scale;
        out[i] = in[i] * mask[i];
    }
}

void dropout_backward(float *din, const float *dout, const float *mask, size_t n, int nthreads) {
NN_OMP(omp parallel for simd num_threads(nthreads) schedule(static) if (n > 32768))
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * mask[i];
}

void dropout_backward_write(float *din, const float *dout, const float *mask, size_t n, int nthreads) {
NN_OMP(omp parallel for simd num_threads(nthreads) schedule(static) if (n > 32768))
    for (size_t i = 0; i < n; i++) din[i] = dout[i] * mask[i];
}
