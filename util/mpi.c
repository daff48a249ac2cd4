/* mpi.c — launcher detection, MPI start and the host collectives (see mpi.h). */
#include "util/mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SL_HAVE_MPI
#include <mpi.h>
#endif

static int env_int(const char *name) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : -1;
}

int sl_mpi_launched_size(void) {
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_NTASKS", NULL};
    static const char *const ranks[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", NULL};
    int launched = 0;
    for (int i = 0; ranks[i]; i++) launched |= env_int(ranks[i]) >= 0;
    if (!launched) return 0;
    for (int i = 0; sizes[i]; i++)
        if (env_int(sizes[i]) > 0) return env_int(sizes[i]);
    return 1;
}

int sl_mpi_launched_rank(void) {
    static const char *const ranks[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", NULL};
    for (int i = 0; ranks[i]; i++)
        if (env_int(ranks[i]) >= 0) return env_int(ranks[i]);
    return 0;
}

int sl_mpi_local_rank(void) {
    static const char *const names[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID", NULL};
    for (int i = 0; names[i]; i++)
        if (env_int(names[i]) >= 0) return env_int(names[i]);
    return -1;
}

int sl_mpi_built(void) {
#ifdef SL_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

#ifdef SL_HAVE_MPI
/* A transport error (a dead peer, a broken link): say which rank saw it, then end the job. */
static void check(SlMpi *m, int rc, const char *what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    fprintf(stderr, "swaplab: rank %d of %d: %s failed (%s): another rank has probably died; ending the job. "
                    "The last checkpoint written is intact: continue with --resume\n",
            m->rank, m->size, what, msg);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}
#endif

int sl_mpi_init(SlMpi *m, SlErr *err) {
    memset(m, 0, sizeof *m);
    m->size = 1;
    int launched = sl_mpi_launched_size();
    if (launched <= 0) return 0;
#ifdef SL_HAVE_MPI
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return sl_fail(err, "MPI could not start (launched with %d ranks)", launched);
    m->on = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    return 0;
#else
    if (launched > 1)
        return sl_fail(err, "started by an MPI launcher with %d ranks, but this swaplab was built without MPI: each "
                       "copy would do all the work into the same output. Rebuild with libopenmpi-dev installed "
                       "(the build banner then shows MPI ✓) or run one process", launched);
    return 0;
#endif
}

void sl_mpi_finalize(SlMpi *m) {
#ifdef SL_HAVE_MPI
    if (m->on) MPI_Finalize();
#endif
    m->on = 0;
}

void sl_mpi_sum_f32(SlMpi *m, float *buf, size_t n) {
    if (m->size <= 1) return;
#ifdef SL_HAVE_MPI
    /* MPI counts are int: large buffers go in pieces */
    for (size_t off = 0; off < n; off += (size_t)1 << 30) {
        size_t k = n - off < ((size_t)1 << 30) ? n - off : ((size_t)1 << 30);
        check(m, MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "all-reduce");
    }
#else
    (void)buf, (void)n;
#endif
}

void sl_mpi_sum_f64(SlMpi *m, double *buf, size_t n) {
    if (m->size <= 1) return;
#ifdef SL_HAVE_MPI
    SL_ASSERT(n < ((size_t)1 << 30));
    check(m, MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "all-reduce");
#else
    (void)buf, (void)n;
#endif
}

void sl_mpi_allgather(SlMpi *m, const void *mine, size_t n, void *all) {
    if (m->size <= 1) {
        memcpy(all, mine, n);
        return;
    }
#ifdef SL_HAVE_MPI
    SL_ASSERT(n < ((size_t)1 << 30));
    check(m, MPI_Allgather(mine, (int)n, MPI_BYTE, all, (int)n, MPI_BYTE, MPI_COMM_WORLD), "all-gather");
#endif
}

void sl_mpi_bcast(SlMpi *m, void *buf, size_t n, int root) {
    if (m->size <= 1) return;
#ifdef SL_HAVE_MPI
    SL_ASSERT(n < ((size_t)1 << 30));
    check(m, MPI_Bcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
#else
    (void)buf, (void)n, (void)root;
#endif
}

int sl_mpi_count_failed(SlMpi *m, int ok) {
    if (m->size <= 1) return !ok;
    double f = !ok;
    sl_mpi_sum_f64(m, &f, 1);
    return (int)(f + 0.5);
}

void sl_mpi_abort(SlMpi *m, int code) {
#ifdef SL_HAVE_MPI
    if (m->on) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    (void)m;
    exit(code);
}
