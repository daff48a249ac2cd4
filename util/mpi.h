/* mpi.h — processes started by an MPI launcher (mpirun, srun): rank, size and the few host
 * collectives that sharded commands and the trainer need. Optional at build time (SL_HAVE_MPI);
 * the engine's gradient all-reduce (nn/dist.h) is built on it.
 *
 * MPI is initialised only when the environment names a rank (OMPI_COMM_WORLD_RANK, PMIX_RANK,
 * PMI_RANK, SLURM_PROCID): a plain `swaplab` never touches MPI, whatever the build, and is rank 0
 * of 1, for which every collective is a no-op or a copy. A build without MPI that a launcher
 * started with more than one rank is refused by sl_mpi_init (every copy would do all the work into
 * the same output).
 *
 * A collective that the transport fails (another rank died) prints which rank saw it and ends the
 * job (MPI_Abort): the others would wait for ever. */
#ifndef SL_MPI_H
#define SL_MPI_H

#include <stddef.h>

#include "util/util.h"

typedef struct {
    int rank, size; /* 0 and 1 without MPI */
    int on;         /* 1 when sl_mpi_init initialised MPI (sl_mpi_finalize must end it) */
} SlMpi;

/* 1 when this build has MPI. */
int sl_mpi_built(void);
/* Ranks a launcher announced in the environment (0 when not started by one). */
int sl_mpi_launched_size(void);
/* This process's rank as the launcher announced it (0 when not started by one), before MPI starts:
 * for what only rank 0 may do first, such as taking the run directory's lock. */
int sl_mpi_launched_rank(void);
/* The rank's index on its node from the launcher's environment, or -1. */
int sl_mpi_local_rank(void);
/* Sets rank and size; MPI_Init when started by a launcher. -1 with err (see above). */
int sl_mpi_init(SlMpi *m, SlErr *err);
void sl_mpi_finalize(SlMpi *m);

/* In place: buf = the sum over ranks. */
void sl_mpi_sum_f32(SlMpi *m, float *buf, size_t n);
void sl_mpi_sum_f64(SlMpi *m, double *buf, size_t n);
/* all[r * n .. r * n + n) = rank r's mine (n bytes, the same n on every rank). */
void sl_mpi_allgather(SlMpi *m, const void *mine, size_t n, void *all);
/* root's buf (n bytes) on every rank. */
void sl_mpi_bcast(SlMpi *m, void *buf, size_t n, int root);
/* Rank 0 receives every rank's n bytes (n may differ across ranks), in rank order: *all (malloc'ed;
 * the caller frees it) and lens[r] = rank r's n. On other ranks *all = NULL and lens is untouched
 * (it may be NULL there). Without MPI: a copy of mine. */
void sl_mpi_gatherv(SlMpi *m, const void *mine, size_t n, void **all, size_t *lens);
/* Every rank must have been given the same `text` (e.g. its parsed options as "key=value ..."):
 * 0 when all agree, else -1 on every rank with err naming the first rank that differs, what
 * (e.g. "options") and the first differing key=value. Texts are compared by SHA-256. */
int sl_mpi_agree(SlMpi *m, const char *what, const char *text, SlErr *err);
/* The number of ranks that passed ok == 0 (every rank calls it; it is also a barrier). */
int sl_mpi_count_failed(SlMpi *m, int ok);
/* Every rank learns whether every rank got through a stage (ok != 0; a failing rank's err says why):
 * 0 when all did, else -1 on every rank, with err on rank 0 = the first failing rank's message as
 * "rank R of N: ..." (and how many failed), and err->msg empty on the other ranks (nothing more to
 * say). One process: 0 when ok, else -1 with err untouched. */
int sl_mpi_all_ok(SlMpi *m, int ok, SlErr *err);
/* Ends every rank of the job with exit code `code`. */
void sl_mpi_abort(SlMpi *m, int code) __attribute__((noreturn));

#endif
