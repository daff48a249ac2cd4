/* build.h — labelled-dataset generation, the pipeline behind `swaplab dataset`: consented face sets
 * (and for swaps a model that knows their subjects) become a detector dataset split by identity
 * (train/val/test, each >= 2 identities, never by frame) with real samples, fake samples (face swaps,
 * self-blended images or both), per-sample masks and landmarks, labels.csv, dataset.json and a
 * DeepfakeBench-style JSON index. Format: docs/FORMATS.md "Detector dataset".
 *
 *   DsConfig c; ds_config_default(&c); c.model = "run"; c.facesets = dirs; c.n_sets = 6; c.out = "ds";
 *   DsReport r; if (ds_build(&c, &r, &err)) ...                                             */
#ifndef SL_DATASET_BUILD_H
#define SL_DATASET_BUILD_H

#include "dataset/export.h"
#include "infer/swap.h"
#include "util/mpi.h"
#include "util/util.h"

#define DS_MAX_SIZE 1024
#define DS_DEFAULT_SIZE 128 /* sample side without a model (sbi alone); with one, its face size */
#define DS_MAX_IDS 256

enum { DS_FAKE_SWAP = 1, DS_FAKE_SBI = 2 };

typedef struct {
    const char *model;             /* run directory or model file (needed for swaps; NULL for sbi alone) */
    const char *const *facesets;   /* one consented face set per identity */
    int n_sets;
    const char *const *into;       /* --into: face sets of people the model need not know (consent
                                      scope dataset), test split only: each frame is a real test
                                      sample and, with swaps, receives the face of one of the model's
                                      test identities (round robin): a cross-domain test set */
    int n_into;
    const char *out;
    double frac[3];                /* train/val/test shares (dsx_parse_splits) */
    const char *splits;            /* their text, for the record */
    int fakes;                     /* DS_FAKE_SWAP | DS_FAKE_SBI */
    int with_label;                /* draw the visible SYNTHETIC label on fakes (default 0: a detector
                                      would learn the label, not the swap) */
    SwapOptions swap;
    int size;                      /* sample side; 0 = the model's face size (>= 64) */
    int per_identity, seed, threads;
    int frames_per_clip;           /* faces from video: at most this many per clip, evenly spaced in
                                      time (DSX_DEFAULT_FRAMES_PER_CLIP; 0 = all) */
    int n_video, video_crf[DSX_MAX_VERSIONS]; /* --video-versions: H.264 CRFs of the clip versions */
    const char *key_path, *wm_key, *revocations, *policy;
    const char *device;            /* cpu, cuda, auto; NULL = auto without a CPU-fallback note */
} DsConfig;

void ds_config_default(DsConfig *c);
/* "swap", "sbi" or "swap+sbi" (also "sbi+swap") -> DS_FAKE_* bits; -1 with err otherwise. */
int ds_parse_method(const char *s, int *fakes, SlErr *err);
const char *ds_method_name(int fakes);

typedef struct {
    long samples, skipped;
    long videos;            /* --video-versions files written */
    int real[3], fake[3];   /* per split */
    int identities[3];      /* per split */
    double seconds;
    int ranks;              /* the MPI ranks that wrote it (1 without a launcher) */
} DsReport;

/* Builds the dataset, holding out's lock (util/lock.h). Refuses (-1 with err, nothing left behind
 * but an empty directory tree) bad input: consent (under the lab policy c->policy), fewer than 6
 * identities, an identity the model does not know, an existing dataset in out, a split left with
 * one class; a failed write (a full disk) stops it with no labels.csv. */
int ds_build(const DsConfig *c, DsReport *rep, SlErr *err);

/* The same over the ranks of an MPI job (mpi from sl_mpi_init; rank 0 of 1 without a launcher is
 * ds_build). Rank r writes the samples of identities r, r + N, ... (identities sorted by subject), in
 * rounds of 4 identities per rank ($SWAPLAB_DATASET_ROUND); each fake is staged as a hidden
 * .NAME.unlogged until rank 0 has appended the round's log entries in the one-process order
 * (infer/staged.h), then moved into place. Rank 0 alone holds out's lock, writes the --video-versions
 * (after every sample), and writes labels.csv, the index and dataset.json ("ranks": N) from every
 * rank's gathered samples in the one-process order. The splits, the samples and their bytes are
 * one process's (with the same --threads; docs/SCALE.md says what differs between any two runs).
 * Every rank runs the consent gate; ranks whose options, model, face sets, consent manifests or
 * signing key differ from rank 0's are refused before anything is written, naming the rank. 0 on
 * every rank when all succeeded; else -1 on every rank, err filled on rank 0 (naming the failing
 * rank) and empty on the others. */
int ds_build_mpi(SlMpi *mpi, const DsConfig *c, DsReport *rep, SlErr *err);
/* (--into sets come after the model's identities in the one-process order, each sorted by subject;
 * their faces go to the test split only and are never swapped into another frame.) */

/* Writes a 68 x 2 float32 array as a NumPy .npy file (format 1.0), atomically. */
int ds_write_landmarks_npy(const char *path, const float lm[][2], int n, SlErr *err);

#endif
