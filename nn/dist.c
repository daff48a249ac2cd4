/* dist.c — ranks, gradient all-reduce and agreement collectives over MPI, NCCL on GPUs (see dist.h).
 * Modelled on llm.c's multi-GPU setup: MPI starts the ranks and hands NCCL its unique id. */
#include "nn/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/device.h"

#ifdef SL_HAVE_MPI
#include <mpi.h>
#endif
#if defined(SL_HAVE_NCCL) && defined(SL_HAVE_CUDA) && defined(SL_HAVE_MPI)
#include <cuda_runtime.h>
#include <nccl.h>

#include "nn/cuda/backend.h"
#define DIST_NCCL 1
#endif

static int env_int(const char *name) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : -1;
}

int nn_dist_launched_size(void) {
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_NTASKS", NULL};
    static const char *const ranks[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", NULL};
    int launched = 0;
    for (int i = 0; ranks[i]; i++) launched |= env_int(ranks[i]) >= 0;
    if (!launched) return 0;
    for (int i = 0; sizes[i]; i++)
        if (env_int(sizes[i]) > 0) return env_int(sizes[i]);
    return 1;
}

int nn_dist_built(void) {
#ifdef SL_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int nn_dist_nccl_built(void) {
#ifdef DIST_NCCL
    return 1;
#else
    return 0;
#endif
}

#ifdef SL_HAVE_MPI
/* A transport error (a dead peer, a broken link): say which rank saw it, then end the job. */
static void check(NnDist *d, int rc, const char *what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    fprintf(stderr, "swaplab: rank %d of %d: %s failed (%s): another rank has probably died; ending the job. "
                    "The last checkpoint written is intact: continue with --resume\n",
            d->rank, d->size, what, msg);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}
#endif

#ifdef SL_HAVE_MPI
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
#endif

int nn_dist_init(NnDist *d, SlErr *err) {
    memset(d, 0, sizeof *d);
    d->size = 1;
    int launched = nn_dist_launched_size();
    if (launched <= 0) return 0;
#ifdef SL_HAVE_MPI
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return sl_fail(err, "MPI could not start (launched with %d ranks)", launched);
    d->mpi = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    if (d->size > 1) {
        int local = env_int("OMPI_COMM_WORLD_LOCAL_RANK");
        if (local < 0) local = env_int("SLURM_LOCALID");
        if (local < 0) local = env_int("MPI_LOCALRANKID");
        pick_gpu(local);
    }
    return 0;
#else
    if (launched > 1)
        return sl_fail(err, "started by an MPI launcher with %d ranks, but this swaplab was built without MPI: each "
                       "copy would train alone into the same run directory. Rebuild with libopenmpi-dev installed "
                       "(the build banner then shows MPI ✓) or run one process", launched);
    return 0;
#endif
}

void nn_dist_finalize(NnDist *d) {
#ifdef DIST_NCCL
    if (d->nccl) {
        ncclCommDestroy(*(ncclComm_t *)d->nccl);
        free(d->nccl);
        d->nccl = NULL;
    }
#endif
#ifdef SL_HAVE_MPI
    if (d->mpi) MPI_Finalize();
#endif
    d->mpi = 0;
}

void nn_dist_allreduce_f32(NnDist *d, float *buf, size_t n) {
    if (d->size <= 1) return;
#ifdef SL_HAVE_MPI
    /* MPI counts are int: large buffers go in pieces */
    for (size_t off = 0; off < n; off += (size_t)1 << 30) {
        size_t k = n - off < ((size_t)1 << 30) ? n - off : ((size_t)1 << 30);
        check(d, MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "all-reduce");
    }
#else
    (void)buf, (void)n;
#endif
}

void nn_dist_allreduce_f64(NnDist *d, double *buf, size_t n) {
    if (d->size <= 1) return;
#ifdef SL_HAVE_MPI
    SL_ASSERT(n < ((size_t)1 << 30));
    check(d, MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "all-reduce");
#else
    (void)buf, (void)n;
#endif
}

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
    float *g = nn_dev_grads(m, ctx);
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

void nn_dist_allgather(NnDist *d, const void *mine, size_t n, void *all) {
    if (d->size <= 1) {
        memcpy(all, mine, n);
        return;
    }
#ifdef SL_HAVE_MPI
    SL_ASSERT(n < ((size_t)1 << 30));
    check(d, MPI_Allgather(mine, (int)n, MPI_BYTE, all, (int)n, MPI_BYTE, MPI_COMM_WORLD), "all-gather");
#endif
}

void nn_dist_bcast(NnDist *d, void *buf, size_t n, int root) {
    if (d->size <= 1) return;
#ifdef SL_HAVE_MPI
    SL_ASSERT(n < ((size_t)1 << 30));
    check(d, MPI_Bcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
#else
    (void)buf, (void)n, (void)root;
#endif
}

int nn_dist_count_failed(NnDist *d, int ok) {
    if (d->size <= 1) return !ok;
    double f = !ok;
    nn_dist_allreduce_f64(d, &f, 1);
    return (int)(f + 0.5);
}

void nn_dist_abort(NnDist *d, int code) {
#ifdef SL_HAVE_MPI
    if (d->mpi) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    (void)d;
    exit(code);
}
