/* trainer.h — the face-swap training loop: consent gate, data loading on threads with
 * augmentation, masked DSSIM + MSE loss per identity, Adam with a learning-rate schedule, progress
 * line and JSON-lines log, preview grids, periodic fidelity evaluation, atomic checkpoints,
 * bit-exact resume, Ctrl-C, and data-parallel training over MPI ranks (nn/dist.h).
 *
 * Shape: a TrainConfig (train/config.h) holds every hyperparameter; train_step() is one step
 * (forward, loss, backward, gradient all-reduce, optimizer); the loop around it calls the log,
 * preview, evaluation and checkpoint hooks. Rank 0 alone writes logs, previews and checkpoints.
 *
 * Determinism: sample b of identity i's global batch at step s (faces and augmentation) comes from
 * an RNG seeded by (seed, s, i, b) alone, so N steps equal N/2 steps + resume + N/2 steps, byte for
 * byte on the CPU (with the same thread count), whatever the loader threads' timing. With R ranks,
 * rank r trains samples [B*r/R, B*(r+1)/R) of every identity's batch and the losses are weighted by
 * each rank's share of the loss normaliser, so R ranks give the one-process result within float
 * tolerance, and a run may resume with another rank count. */
#ifndef SL_TRAINER_H
#define SL_TRAINER_H

#include "train/config.h"
#include "util/util.h"

typedef struct {
    const char **facesets; /* one directory per identity, decoder order */
    int n_facesets;
    const char *out;       /* run directory */
    const char *preset;    /* NULL: "tiny" for a new run; the run's own on resume */
    TrainConfig cfg;       /* hyperparameters of a new run (cfg.preset is set from preset; cfg.lr 0 =
                              the preset's default); a resumed run keeps those in its state.json */
    unsigned cfg_given;    /* bit i: row i of train_params came from the command line (a resumed run
                              keeps its own value and says so when they differ) */
    long steps;            /* total steps (0 = use minutes) */
    double minutes;        /* wall-clock budget of this invocation (0 = use steps) */
    int resume;
    int loaders;           /* loader threads */
    int threads;           /* compute threads (0 = all) */
    int preview_every, save_every, eval_every, log_every; /* in steps; 0 = automatic */
    double save_minutes;   /* also checkpoint every this many minutes */
    int timelapse;         /* keep every preview in previews/ (else only latest.png + a few) */
    const char *revocations; /* revocation list for the consent gate (NULL = default) */
    const char *device;    /* "cpu", "cuda", "auto"; NULL = auto, quiet about the CPU fallback */
    const char *init;      /* new run: start from this pretrained model (train/pretrain.h); NULL = random */
} TrainOptions;

void train_options_default(TrainOptions *o);
/* Runs (or resumes) training. Returns 0 on success (also after Ctrl-C: the checkpoint is saved),
 * 1 on a refusal or failure (err holds the message; under MPI, ranks other than the one that has
 * something to say get an empty message and print nothing). */
int train_run(const TrainOptions *o, SlErr *err);

#endif
