/* model.c — the parameter store: a table of named tensors laid out in one flat params buffer (with
 * grads, adam_m, adam_v of the same size) and one flat buffer of non-trainable state. */
#include <stdlib.h>
#include <string.h>

#include "nn/net_internal.h"
#include "util/util.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void nn_ctx_init(NnCtx *ctx, int nthreads, uint64_t seed) {
    memset(ctx, 0, sizeof *ctx);
    if (nthreads <= 0) {
#ifdef _OPENMP
        nthreads = omp_get_max_threads();
#else
        nthreads = 1;
#endif
    }
    ctx->nthreads = nthreads;
    ctx->training = 0;
    ctx->device = NN_CPU;
    ctx->winograd = NN_WINO_AUTO;
    sl_rng_seed(&ctx->rng, seed);
}

void nn_model_init(NnModel *m) { memset(m, 0, sizeof *m); }

void nn_model_touch(NnModel *m) {
    static unsigned long long next;
    m->version = __atomic_add_fetch(&next, 1, __ATOMIC_RELAXED);
}

void nn_model_free(NnModel *m) {
    if (m->dev) SL_DIE("nn_model_free: the model is still on the device (nn_model_release_device first)");
    for (int i = 0; i < m->nnets; i++) nn_net_destroy(m->nets[i]);
    free(m->nets);
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    free(m->buffers);
    free(m->tensors);
    memset(m, 0, sizeof *m);
}

int nn_model_add_tensor(NnModel *m, const char *name, int ndim, const int *shape, int trainable) {
    SL_ASSERT(!m->finalized);
    SL_ASSERT(ndim >= 1 && ndim <= 4);
    SL_ASSERT(strlen(name) < sizeof m->tensors[0].name);
    if (nn_model_find(m, name)) SL_DIE("nn: duplicate tensor name %s", name);
    if (m->ntensors == m->cap_tensors) {
        m->cap_tensors = m->cap_tensors ? 2 * m->cap_tensors : 32;
        m->tensors = xrealloc(m->tensors, sizeof(NnTensorInfo) * m->cap_tensors);
    }
    NnTensorInfo *t = &m->tensors[m->ntensors];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        SL_ASSERT(shape[i] > 0);
        t->shape[i] = shape[i];
        SL_ASSERT(sl_mul_ok(numel, (size_t)shape[i], &numel));
    }
    t->numel = numel;
    t->trainable = trainable;
    if (trainable) {
        t->offset = m->nparams;
        m->nparams += numel;
    } else {
        t->offset = m->nbuffers;
        m->nbuffers += numel;
    }
    return m->ntensors++;
}

const NnTensorInfo *nn_model_find(const NnModel *m, const char *name) {
    for (int i = 0; i < m->ntensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

float *nn_tensor_data(const NnModel *m, const NnTensorInfo *t) {
    SL_ASSERT(m->finalized);
    return (t->trainable ? m->params : m->buffers) + t->offset;
}

void nn_model_finalize(NnModel *m) {
    SL_ASSERT(!m->finalized);
    size_t np = m->nparams ? m->nparams : 1, nb = m->nbuffers ? m->nbuffers : 1;
    m->params = xcalloc(np, sizeof(float));
    m->grads = xcalloc(np, sizeof(float));
    m->adam_m = xcalloc(np, sizeof(float));
    m->adam_v = xcalloc(np, sizeof(float));
    m->buffers = xcalloc(nb, sizeof(float));
    m->finalized = 1;
    for (int i = 0; i < m->ntensors; i++) {
        const NnTensorInfo *t = &m->tensors[i];
        if (!t->trainable && sl_endswith(t->name, ".running_var")) {
            float *d = nn_tensor_data(m, t);
            for (size_t j = 0; j < t->numel; j++) d[j] = 1.0f;
        }
    }
    for (int i = 0; i < m->nnets; i++) nn_net_bind(m->nets[i]);
    nn_model_touch(m);
}

void nn_model_init_weights(NnModel *m, SlRng *rng) {
    SL_ASSERT(m->finalized);
    for (int i = 0; i < m->nnets; i++) nn_net_init_weights(m->nets[i], rng);
    nn_model_touch(m);
}

size_t nn_model_param_count(const NnModel *m) { return m->nparams; }

void nn_model_zero_grad(NnModel *m) {
    SL_ASSERT(m->finalized);
    memset(m->grads, 0, sizeof(float) * m->nparams);
}
