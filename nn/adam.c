/* adam.c — Adam over the model's flat buffers in one fused pass, with torch.optim.Adam semantics
 * (L2 weight decay added to the gradient, bias correction, eps added to sqrt(v_hat)).
 * https://pytorch.org/docs/stable/generated/torch.optim.Adam.html (Kingma & Ba 2015,
 * https://arxiv.org/abs/1412.6980) */
#include <math.h>
#include <string.h>

#include "nn/device.h"
#include "nn/nn.h"
#include "nn/ops/ops.h"
#include "util/util.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static void adam_run(NnModel *m, const NnAdam *cfg, long step, int nthreads) {
    SL_ASSERT(m->finalized && step >= 1);
    float b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps, wd = cfg->weight_decay;
    double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
    float step_size = (float)(cfg->lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    float *p = m->params, *g = m->grads, *mm = m->adam_m, *vv = m->adam_v;
    size_t n = m->nparams;
    int zero = cfg->zero_grad;
NN_OMP(omp parallel for simd num_threads(nthreads) schedule(static) if (n >= 65536))
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        float mi = b1 * mm[i] + (1.0f - b1) * gi;
        float vi = b2 * vv[i] + (1.0f - b2) * gi * gi;
        mm[i] = mi;
        vv[i] = vi;
        p[i] -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
        if (zero) g[i] = 0.0f;
    }
}

void nn_adam_step(NnModel *m, const NnAdam *cfg, long step) {
#ifdef _OPENMP
    adam_run(m, cfg, step, omp_get_max_threads());
#else
    adam_run(m, cfg, step, 1);
#endif
}

void nn_adam_step_ctx(NnModel *m, NnCtx *ctx, const NnAdam *cfg, long step) {
    if (ctx->device == NN_CUDA) { /* nn/device.c: one kernel over the model's device mirror */
        nn_dev_adam_step(m, ctx, cfg, step);
        return;
    }
    if (ctx->device != NN_CPU) SL_DIE("nn_adam_step: device %d is not built in", ctx->device);
    adam_run(m, cfg, step, ctx->nthreads);
}
