/* dist.c — the gradient all-reduce over MPI ranks, NCCL on GPUs (see dist.h). */
#include "nn/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/device.h"

#if defined(SL_HAVE_NCCL) && defined(SL_HAVE_CUDA) && defined(SL_HAVE_MPI)
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include "nn/cuda/backend.h"
#define DIST_NCCL 1
#endif

int nn_dist_nccl_built(void) {
#ifdef DIST_NCCL
    return 1;
#else
    return 0;
#endif
}

/* One GPU per rank on a node: the rank's local index picks one of CUDA_VISIBLE_DEVICES (or GPU
 * number local rank when unset), before the CUDA runtime starts, so every rank's context (which
 * uses its first visible GPU) lands on its own device. */
static void pick_gpu(int local_rank) {
    if (local_rank < 0 || !nn_cuda_built()) return;
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    char pick[64];
    if (!v || !*v) {
        snprintf(pick, sizeof pick, "%d", local_rank);
    } else {
        int n = 1;
        for (const char *c = v; *c; c++) n += *c == ',';
        if (n == 1) return; /* the launcher (or the user) gave this rank its GPU */
        int want = local_rank % n, k = 0;
        const char *c = v;
        while (k < want && (c = strchr(c, ','))) c++, k++;
        size_t len = strcspn(c, ",");
        snprintf(pick, sizeof pick, "%.*s", (int)(len < 60 ? len : 60), c);
    }
    setenv("CUDA_VISIBLE_DEVICES", pick, 1);
}

int nn_dist_init(NnDist *d, SlErr *err) {
    memset(d, 0, sizeof *d);
    if (sl_mpi_init(&d->mpi, err)) return -1;
    d->rank = d->mpi.rank, d->size = d->mpi.size;
    if (d->size > 1) pick_gpu(sl_mpi_local_rank());
    return 0;
}

void nn_dist_finalize(NnDist *d) {
#ifdef DIST_NCCL
    if (d->nccl) {
        ncclCommDestroy(*(ncclComm_t *)d->nccl);
        free(d->nccl);
        d->nccl = NULL;
    }
#endif
    sl_mpi_finalize(&d->mpi);
}

void nn_dist_allreduce_f32(NnDist *d, float *buf, size_t n) { sl_mpi_sum_f32(&d->mpi, buf, n); }
void nn_dist_allreduce_f64(NnDist *d, double *buf, size_t n) { sl_mpi_sum_f64(&d->mpi, buf, n); }

#ifdef DIST_NCCL
#define NCCL_CHECK(d, x)                                                                                     \
    do {                                                                                                     \
        ncclResult_t r_ = (x);                                                                               \
        if (r_ != ncclSuccess) {                                                                             \
            fprintf(stderr, "swaplab: rank %d of %d: %s failed: %s (%s:%d); ending the job\n", (d)->rank,     \
                    (d)->size, #x, ncclGetErrorString(r_), __FILE__, __LINE__);                              \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                                    \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

/* One communicator over all ranks, each on the GPU its context selected; rank 0's id via MPI. */
static ncclComm_t *nccl_comm(NnDist *d) {
    if (d->nccl) return d->nccl;
    ncclUniqueId id;
    if (d->rank == 0) NCCL_CHECK(d, ncclGetUniqueId(&id));
    nn_dist_bcast(d, &id, sizeof id, 0);
    ncclComm_t *c = xmalloc(sizeof *c);
    NCCL_CHECK(d, ncclCommInitRank(c, d->size, id, d->rank));
    d->nccl = c;
    return c;
}
#endif

void nn_dist_allreduce_grads(NnDist *d, NnModel *m, NnCtx *ctx) {
    if (d->size <= 1) return;
    double t0 = sl_now();
    float *g = nn_model_device_grads(m); /* nn/device.h: where the model trains */
    if (ctx->device == NN_CUDA && g != m->grads) {
#ifdef DIST_NCCL
        NnCudaState *st = ctx->cuda;
        cudaStream_t s = (cudaStream_t)st->stream;
        NCCL_CHECK(d, ncclAllReduce(g, g, m->nparams, ncclFloat, ncclSum, *nccl_comm(d), s));
        cudaStreamSynchronize(s);
#else
        /* no NCCL: through host memory */
        float *h = xmalloc(sizeof(float) * (m->nparams ? m->nparams : 1));
        nn_dev_download(ctx, h, g, m->nparams);
        nn_dist_allreduce_f32(d, h, m->nparams);
        nn_dev_upload(ctx, g, h, m->nparams);
        nn_dev_sync(ctx);
        free(h);
#endif
    } else {
        nn_dist_allreduce_f32(d, m->grads, m->nparams);
    }
    d->reduce_s += sl_now() - t0;
}

void nn_dist_allgather(NnDist *d, const void *mine, size_t n, void *all) { sl_mpi_allgather(&d->mpi, mine, n, all); }
void nn_dist_bcast(NnDist *d, void *buf, size_t n, int root) { sl_mpi_bcast(&d->mpi, buf, n, root); }
int nn_dist_count_failed(NnDist *d, int ok) { return sl_mpi_count_failed(&d->mpi, ok); }
void nn_dist_abort(NnDist *d, int code) { sl_mpi_abort(&d->mpi, code); }
