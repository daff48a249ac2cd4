/* act.c — elementwise activations and their gradients: leaky ReLU, ReLU, sigmoid.
 * https://pytorch.org/docs/stable/generated/torch.nn.LeakyReLU.html
 * https://pytorch.org/docs/stable/generated/torch.nn.ReLU.html
 * https://pytorch.org/docs/stable/generated/torch.nn.Sigmoid.html
 *
 * Each op is a vector kernel over a range, compiled per ISA (NN_SIMD_CLONES), run on contiguous
 * chunks, one per thread. Written as `omp parallel for simd` loops with the select inside the
 * subscript, gcc 12 -O2 compiled them as scalar code with a branch per element: the ReLU backward
 * of the ResNet-10 detector's step took 14.6% of it (perf), against 1.1% for the forward. */
#include <math.h>

#include "nn/ops/ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Small arrays are not worth waking threads for. */
#define PAR_MIN 32768

/* This thread's chunk of n elements, in multiples of 16 floats. */
static void chunk(size_t n, size_t *lo, size_t *hi) {
    size_t t = 0, T = 1;
#ifdef _OPENMP
    t = (size_t)omp_get_thread_num(), T = (size_t)omp_get_num_threads();
#endif
    size_t per = (n + T - 1) / T;
    per = (per + 15) / 16 * 16;
    *lo = t * per < n ? t * per : n;
    *hi = *lo + per < n ? *lo + per : n;
}

NN_SIMD_CLONES static void leaky_fwd_k(float *out, const float *in, size_t n, float slope) {
NN_OMP(omp simd)
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = x > 0.0f ? x : slope * x;
    }
}
/* The backward kernels add into din (acc) or write it (!acc: din need not be zeroed first). */
NN_SIMD_CLONES static void leaky_bwd_k(float *din, const float *dout, const float *in, size_t n, float slope,
                                       int acc) {
    if (acc) {
NN_OMP(omp simd)
        for (size_t i = 0; i < n; i++) din[i] += in[i] > 0.0f ? dout[i] : slope * dout[i];
    } else {
NN_OMP(omp simd)
        for (size_t i = 0; i < n; i++) din[i] = in[i] > 0.0f ? dout[i] : slope * dout[i];
    }
}
NN_SIMD_CLONES static void relu_fwd_k(float *out, const float *in, size_t n) {
NN_OMP(omp simd)
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = x > 0.0f ? x : 0.0f;
    }
}
NN_SIMD_CLONES static void relu_bwd_k(float *din, const float *dout, const float *in, size_t n, int acc) {
    if (acc) {
NN_OMP(omp simd)
        for (size_t i = 0; i < n; i++) din[i] += in[i] > 0.0f ? dout[i] : 0.0f;
    } else {
NN_OMP(omp simd)
        for (size_t i = 0; i < n; i++) din[i] = in[i] > 0.0f ? dout[i] : 0.0f;
    }
}
/* The residual join out = ReLU(a + b) and the skip's gradient d += s (its ReLU gate is
 * relu_backward_write in place, from the output). */
NN_SIMD_CLONES static void add_relu_fwd_k(float *out, const float *a, const float *b, size_t n) {
NN_OMP(omp simd)
    for (size_t i = 0; i < n; i++) {
        float x = a[i] + b[i];
        out[i] = x > 0.0f ? x : 0.0f;
    }
}
NN_SIMD_CLONES static void add_into_k(float *d, const float *s, size_t n) {
NN_OMP(omp simd)
    for (size_t i = 0; i < n; i++) d[i] += s[i];
}
NN_SIMD_CLONES static void sigmoid_fwd_k(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
}
NN_SIMD_CLONES static void sigmoid_bwd_k(float *din, const float *dout, const float *out, size_t n, int acc) {
    if (acc) {
NN_OMP(omp simd)
        for (size_t i = 0; i < n; i++) din[i] += dout[i] * out[i] * (1.0f - out[i]);
    } else {
NN_OMP(omp simd)
        for (size_t i = 0; i < n; i++) din[i] = dout[i] * out[i] * (1.0f - out[i]);
    }
}

#define THREADS(n, nthreads) ((n) > PAR_MIN ? (nthreads) : 1)

void leaky_relu_forward(float *out, const float *in, size_t n, float slope, int nthreads) {
NN_OMP(omp parallel num_threads(THREADS(n, nthreads)))
    {
        size_t lo, hi;
        chunk(n, &lo, &hi);
        leaky_fwd_k(out + lo, in + lo, hi - lo, slope);
    }
}

static void leaky_relu_backward_acc(float *din, const float *dout, const float *in, size_t n, float slope, int acc,
                                    int nthreads) {
NN_OMP(omp parallel num_threads(THREADS(n, nthreads)))
    {
        size_t lo, hi;
        chunk(n, &lo, &hi);
        leaky_bwd_k(din + lo, dout + lo, in + lo, hi - lo, slope, acc);
    }
}
void leaky_relu_backward(float *din, const float *dout, const float *in, size_t n, float slope, int nthreads) {
    leaky_relu_backward_acc(din, dout, in, n, slope, 1, nthreads);
}
void leaky_relu_backward_write(float *din, const float *dout, const float *in, size_t n, float slope,
                               int nthreads) {
    leaky_relu_backward_acc(din, dout, in, n, slope, 0, nthreads);
}

void relu_forward(float *out, const float *in, size_t n, int nthreads) {
NN_OMP(omp parallel num_threads(THREADS(n, nthreads)))
    {
        size_t lo, hi;
        chunk(n, &lo, &hi);
        relu_fwd_k(out + lo, in + lo, hi - lo);
    }
}

static void relu_backward_acc(float *din, const float *dout, const float *in, size_t n, int acc, int nthreads) {
NN_OMP(omp parallel num_threads(THREADS(n, nthreads)))
    {
        size_t lo, hi;
        chunk(n, &lo, &hi);
        relu_bwd_k(din + lo, dout + lo, in + lo, hi - lo, acc);
    }
}
void relu_backward(float *din, const float *dout, const float *in, size_t n, int nthreads) {
    relu_backward_acc(din, dout, in, n, 1, nthreads);
}
void relu_backward_write(float *din, const float *dout, const float *in, size_t n, int nthreads) {
    relu_backward_acc(din, dout, in, n, 0, nthreads);
}

void sigmoid_forward(float *out, const float *in, size_t n, int nthreads) {
NN_OMP(omp parallel num_threads(THREADS(n, nthreads)))
    {
        size_t lo, hi;
        chunk(n, &lo, &hi);
        sigmoid_fwd_k(out + lo, in + lo, hi - lo);
    }
}

static void sigmoid_backward_acc(float *din, const float *dout, const float *out, size_t n, int acc, int nthreads) {
NN_OMP(omp parallel num_threads(THREADS(n, nthreads)))
    {
        size_t lo, hi;
        chunk(n, &lo, &hi);
        sigmoid_bwd_k(din + lo, dout + lo, out + lo, hi - lo, acc);
    }
}
void sigmoid_backward(float *din, const float *dout, const float *out, size_t n, int nthreads) {
    sigmoid_backward_acc(din, dout, out, n, 1, nthreads);
}
void sigmoid_backward_write(float *din, const float *dout, const float *out, size_t n, int nthreads) {
    sigmoid_backward_acc(din, dout, out, n, 0, nthreads);
}

void add_relu_forward(float *out, const float *a, const float *b, size_t n, int nthreads) {
NN_OMP(omp parallel num_threads(THREADS(n, nthreads)))
    {
        size_t lo, hi;
        chunk(n, &lo, &hi);
        add_relu_fwd_k(out + lo, a + lo, b + lo, hi - lo);
    }
}

void add_into(float *d, const float *s, size_t n, int nthreads) {
NN_OMP(omp parallel num_threads(THREADS(n, nthreads)))
    {
        size_t lo, hi;
        chunk(n, &lo, &hi);
        add_into_k(d + lo, s + lo, hi - lo);
    }
}
