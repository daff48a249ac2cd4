/* trainer.h — the face-swap training loop: consent gate, data loading on threads with
 * augmentation, masked DSSIM + MSE loss per identity, Adam, progress line and JSON-lines log,
 * preview grids, periodic fidelity evaluation, atomic checkpoints, bit-exact resume, Ctrl-C.
 *
 * Determinism: the faces and augmentation of step s for identity i come from an RNG seeded by
 * (seed, s, i) alone, so N steps equal N/2 steps + resume + N/2 steps, byte for byte on the CPU
 * (with the same thread count), whatever the loader threads' timing. */
#ifndef SL_TRAINER_H
#define SL_TRAINER_H

#include "util/util.h"

typedef struct {
    const char **facesets; /* one directory per identity, decoder order */
    int n_facesets;
    const char *out;       /* run directory */
    const char *preset;    /* NULL: "tiny" for a new run; the run's own on resume */
    long steps;            /* total steps (0 = use minutes) */
    double minutes;        /* wall-clock budget of this invocation (0 = use steps) */
    int batch;             /* faces per identity per step */
    int resume;
    unsigned long long seed;
    float lr, beta1, beta2;
    float w_dssim, w_mse;  /* loss weights */
    int augment;           /* 0: no augmentation (input == target) */
    float warp;            /* random-warp strength: std of the 5x5 grid displacements, fraction of the side */
    float jitter;          /* colour jitter of the input only: L*, a*, b* shifts uniform in +-jitter */
    int loaders;           /* loader threads */
    int threads;           /* compute threads (0 = all) */
    int preview_every, save_every, eval_every, log_every; /* in steps; 0 = automatic */
    double save_minutes;   /* also checkpoint every this many minutes */
    int timelapse;         /* keep every preview in previews/ (else only latest.png + a few) */
    int holdout_every;     /* face i with i % k == k-1 is held out for evaluation (0 = none) */
    const char *revocations; /* revocation list for the consent gate (NULL = default) */
    const char *device;    /* "cpu", "cuda", "auto" */
    const char *init;      /* new run: start from this pretrained model (train/pretrain.h); NULL = random */
} TrainOptions;

void train_options_default(TrainOptions *o);
/* Runs (or resumes) training. Returns 0 on success (also after Ctrl-C: the checkpoint is saved),
 * 1 on a refusal or failure (err holds the message). */
int train_run(const TrainOptions *o, SlErr *err);

#endif
