/* staged.h — provenance outputs of the ranks of an MPI job, logged in the one-process order
 * (docs/SCALE.md): every output is appended to the transparency log before it exists (infer/ledger.h),
 * but under a launcher the ranks make their outputs at once while the log must read as one process
 * wrote it. So a rank makes an output (provenance_make_png), writes it under a hidden name next to its
 * final one (DIR/.NAME.unlogged) and keeps its log entry; at the end of a round rank 0 gathers every
 * rank's entries, appends them sorted by their keys (k1, k2: the one-process order) and only then does
 * each rank rename its staged files into place. Used by infer/swap_run.c and dataset/build.c.
 *
 *   StagedList l = {0};
 *   staged_put(&l, face, 0, path, &po, err);               // per output, on the rank that made it
 *   if (staged_log(mpi, &l, key, err) == 0 && staged_commit(&l, err) == 0) ...  // every rank
 *   staged_free(&l, 1);                                    // a failed round: its files removed */
#ifndef SL_STAGED_H
#define SL_STAGED_H

#include "infer/provenance.h"
#include "util/mpi.h"

#define STAGED_SUFFIX ".unlogged"

typedef struct {
    int k1, k2;         /* the one-process order: by k1, then k2 */
    char *final, *staged;
    char *entry;        /* NULL: not logged (the log is off, or a file without provenance) */
    char *ledger_dir;
} StagedOutput;

typedef struct {
    StagedOutput *v;
    int n, cap;
} StagedList;

/* Writes po's bytes (atomically) to the hidden DIR/.NAME.unlogged beside path = DIR/NAME and adds it
 * to l with po's log entry (taken: po->entry is NULL after). -1 with err when the write fails. */
int staged_put(StagedList *l, int k1, int k2, const char *path, ProvOutput *po, SlErr *err);
/* Adds a file the caller has written at `staged` (no log entry: e.g. a blend mask) to move to final. */
void staged_add(StagedList *l, int k1, int k2, const char *final, const char *staged);
/* Every rank: rank 0 gathers every rank's entries and appends them in (k1, k2) order, each to its
 * log folder. 0 on every rank when all were logged; else -1 on every rank, with err on rank 0 (the
 * output that could not be logged) and empty on the others. */
int staged_log(SlMpi *mpi, const StagedList *l, const SlKeypair *key, SlErr *err);
/* Renames this rank's staged files into place and empties l; -1 with err at the first that fails. */
int staged_commit(StagedList *l, SlErr *err);
/* Frees l; remove_files: also unlinks the staged files not moved into place (a failed round). */
void staged_free(StagedList *l, int remove_files);
/* Removes the hidden staged files a killed earlier job left in dir (call under the output's lock). */
void staged_remove_stale(const char *dir);

#endif
