/* adam.cu — one fused Adam pass over the device copies of the model's flat buffers (params, grads,
 * m, v), torch.optim.Adam semantics as nn/adam.c: L2 weight decay added to the gradient, bias
 * corrections computed on the host in double, optional zeroing of the gradients in the same pass.
 * https://pytorch.org/docs/stable/generated/torch.optim.Adam.html (https://arxiv.org/abs/1412.6980) */
#include <math.h>

#include "nn/cuda/common.cuh"

__global__ static void k_adam(float *p, float *g, float *m, float *v, size_t n, float b1, float b2, float eps,
                              float wd, float step_size, float inv_sqrt_bc2, int zero) {
    GRID_STRIDE(i, n) {
        float gi = g[i] + wd * p[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
        if (zero) g[i] = 0.0f;
    }
}

extern "C" void nn_cuda_adam_step(float *p, float *g, float *m, float *v, size_t n, const NnAdam *cfg, long step,
                                  NnCtx *ctx) {
    if (step < 1) sl_die_at(__FILE__, __LINE__, "adam step %ld < 1", step);
    if (!n) return;
    double bc1 = 1.0 - pow(cfg->beta1, (double)step), bc2 = 1.0 - pow(cfg->beta2, (double)step);
    float step_size = (float)(cfg->lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    k_adam<<<nn_blocks(n), NN_THREADS, 0, cuda_stream(ctx)>>>(p, g, m, v, n, cfg->beta1, cfg->beta2, cfg->eps,
                                                               cfg->weight_decay, step_size, inv_sqrt_bc2,
                                                               cfg->zero_grad);
    LAUNCH_CHECK();
}
