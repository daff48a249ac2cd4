/* swap_run.h — the still-image pipeline of `swaplab swap`: the consent gate, the face set's faces
 * through the model (swap_faces), every output written with provenance into
 * OUT/<from>_to_<to>/NNNNNN.png and one summary (swap.json), in one process or shared out over the
 * ranks of an MPI job (util/mpi.h, docs/SCALE.md).
 *
 * Ranks. Rank r of R swaps the batches k (SWAP_BATCH consecutive faces each) with k % R == r, so
 * every face goes through the model in the very batch one process would use, and writes its own
 * outputs (one file per face: no two ranks write the same file). An output is logged before it
 * exists: a rank stages its files as hidden .NNNNNN.png.unlogged; after every round of 32 batches
 * per rank ($SWAPLAB_SWAP_ROUND), rank 0 appends the round's entries to the transparency log in the
 * one-process order (face by face, frame then --raw face) and only then does each rank rename its
 * staged files into place. Rank 0
 * alone takes the output folder's lock and writes swap.json, from every rank's gathered counts.
 * The result equals the one-process result: the same files, the same pixels and records except
 * their timestamps, the log's entries in the same order. Every rank runs the consent gate itself;
 * ranks whose options, model, face sets or consent manifests differ from rank 0's are refused
 * (naming the rank), and a rank that fails ends the job with its message, nothing of the round
 * logged or moved into place. */
#ifndef SL_SWAP_RUN_H
#define SL_SWAP_RUN_H

#include "infer/swap.h"
#include "util/mpi.h"

typedef struct {
    const char *model, *from, *to, *out;      /* required */
    const char *to_faceset, *revocations, *policy, *key_path, *device; /* NULL: the defaults */
    SwapOptions o;
    int with_label, raw, limit, threads;      /* limit 0 = every face; threads 0 = all cores */
} SwapRunArgs;

typedef struct {
    int count;                         /* faces swapped (over all ranks) */
    double seconds;                    /* wall time of the swapping, on rank 0 */
    int ranks;
    char from_subject[128], to_subject[128];
    char pair_dir[SL_PATH_MAX];        /* OUT/<from>_to_<to> */
    char summary[SL_PATH_MAX];         /* OUT/swap.json */
} SwapRunStats;

/* Runs the swap on this rank (mpi: from sl_mpi_init; rank 0 of 1 without a launcher). 0 on every
 * rank when all succeeded; else -1 on every rank, with err filled on rank 0 (naming the failing
 * rank when there are several) and err->msg empty on the others (nothing more to say). */
int swap_run(SlMpi *mpi, const SwapRunArgs *a, SwapRunStats *st, SlErr *err);

#endif
