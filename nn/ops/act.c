/* act.c — elementwise activations and their gradients: leaky ReLU, ReLU, sigmoid.
 * https://pytorch.org/docs/stable/generated/torch.nn.LeakyReLU.html
 * https://pytorch.org/docs/stable/generated/torch.nn.ReLU.html
 * https://pytorch.org/docs/stable/generated/torch.nn.Sigmoid.html */
#include <math.h>

#include "nn/ops/ops.h"

/* Small arrays are not worth waking threads for. */
#define PAR_MIN 32768

void leaky_relu_forward(float *out, const float *in, size_t n, float slope, int nthreads) {
NN_OMP(omp parallel for simd num_threads(nthreads) schedule(static) if (n > PAR_MIN))
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : slope * in[i];
}

void leaky_relu_backward(float *din, const float *dout, const float *in, size_t n, float slope, int nthreads) {
NN_OMP(omp parallel for simd num_threads(nthreads) schedule(static) if (n > PAR_MIN))
    for (size_t i = 0; i < n; i++) din[i] += in[i] > 0.0f ? dout[i] : slope * dout[i];
}

void relu_forward(float *out, const float *in, size_t n, int nthreads) {
NN_OMP(omp parallel for simd num_threads(nthreads) schedule(static) if (n > PAR_MIN))
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void relu_backward(float *din, const float *dout, const float *in, size_t n, int nthreads) {
NN_OMP(omp parallel for simd num_threads(nthreads) schedule(static) if (n > PAR_MIN))
    for (size_t i = 0; i < n; i++) din[i] += in[i] > 0.0f ? dout[i] : 0.0f;
}

void sigmoid_forward(float *out, const float *in, size_t n, int nthreads) {
NN_OMP(omp parallel for simd num_threads(nthreads) schedule(static) if (n > PAR_MIN))
    for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
}

void sigmoid_backward(float *din, const float *dout, const float *out, size_t n, int nthreads) {
NN_OMP(omp parallel for simd num_threads(nthreads) schedule(static) if (n > PAR_MIN))
    for (size_t i = 0; i < n; i++) din[i] += dout[i] * out[i] * (1.0f - out[i]);
}
