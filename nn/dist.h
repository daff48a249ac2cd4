/* dist.h — data-parallel training over processes and nodes: the sum of every rank's gradients
 * over the model's flat gradient buffer (MPI_Allreduce on the CPU, ncclAllReduce on GPUs when the
 * build has NCCL), on the ranks of util/mpi.h (MPI optional at build time; a plain `swaplab` is
 * rank 0 of 1 and never touches MPI). Modelled on llm.c's multi-GPU setup: MPI starts the ranks
 * and hands NCCL its unique id.
 *
 *   NnDist d;
 *   if (nn_dist_init(&d, &err)) ...;             (rank, size; MPI_Init when launched)
 *   nn_dist_allreduce_grads(&d, &model, &ctx);   (grads = sum over ranks, on the device holding them)
 *   nn_dist_finalize(&d);
 *
 * GPUs: with several ranks on a node, nn_dist_init gives each rank its own GPU before the CUDA runtime
 * starts (CUDA_VISIBLE_DEVICES narrowed to entry LOCAL_RANK of the list, or to GPU LOCAL_RANK).
 * A collective the transport fails (a rank died) ends the job naming the rank (util/mpi.h). */
#ifndef SL_DIST_H
#define SL_DIST_H

#include <stddef.h>

#include "nn/nn.h"
#include "util/mpi.h"
#include "util/util.h"

typedef struct {
    int rank, size;   /* 0 and 1 without MPI (copies of mpi's) */
    SlMpi mpi;
    void *nccl;       /* NCCL communicator state (GPU builds with NCCL), created on first GPU use */
    double reduce_s;  /* seconds spent in gradient all-reduces (for logs and benchmarks) */
} NnDist;

/* 1 when this build has NCCL for GPU all-reduces. */
int nn_dist_nccl_built(void);
/* Sets rank and size (MPI_Init when launched by mpirun/srun). -1 with err when launched with more
 * than one rank by a build without MPI, or when MPI cannot start. */
int nn_dist_init(NnDist *d, SlErr *err);
void nn_dist_finalize(NnDist *d);

/* In place: buf = the sum of buf over all ranks (host memory). */
void nn_dist_allreduce_f32(NnDist *d, float *buf, size_t n);
void nn_dist_allreduce_f64(NnDist *d, double *buf, size_t n);
/* The model's gradients summed over ranks, where ctx keeps them (host, or the device mirror: NCCL
 * when built, else through host memory). Adds the time to d->reduce_s. */
void nn_dist_allreduce_grads(NnDist *d, NnModel *m, NnCtx *ctx);
/* all[r * n .. r * n + n) = rank r's mine (n bytes each, the same n on every rank). */
void nn_dist_allgather(NnDist *d, const void *mine, size_t n, void *all);
/* root's buf (n bytes) on every rank. */
void nn_dist_bcast(NnDist *d, void *buf, size_t n, int root);
/* The number of ranks that passed ok == 0 (every rank calls it): a failure on one rank reaches all. */
int nn_dist_count_failed(NnDist *d, int ok);
/* Ends every rank of the job with exit code `code` (after this rank printed why). */
void nn_dist_abort(NnDist *d, int code) __attribute__((noreturn));

#endif
