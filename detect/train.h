/* train.h — training and calibrating any detector of the registry (detect/detector.h) on a detector
 * dataset: the pipelines behind `swaplab detect train` and `swaplab detect calibrate`, with one
 * configuration struct (every option in one place: its default here, its flag in cmd_detect.c).
 *
 *   DetTrainConfig c; det_train_config_default(&c);
 *   c.kind = det_kind_by_name("meso4"); c.out = "m.safetensors"; c.size = 128;
 *   det_train(&train_set, &c, &report, &err);          // then
 *   det_calibrate_file(c.out, "DS", "val", 0.01, CALIB_SCOPE_POOLED, threads, &cal, &err);  */
#ifndef SL_DETECT_TRAIN_H
#define SL_DETECT_TRAIN_H

#include <stdint.h>

#include "detect/dataset.h"
#include "detect/detector.h"

typedef struct {
    const DetKind *kind; /* from the registry (default spectral) */
    const char *out;     /* model file to write */
    int augment;         /* Wang et al. 2020 blur + JPEG augmentation */
    double augment_h264; /* probability that a training draw takes its sample's H.264 copy (det_h264_copies) */
    uint64_t seed;
    int threads;         /* <= 0: all */
    /* spectral */
    int bins;
    double l2;
    const char *spectra_svg; /* may be NULL */
    /* CNNs */
    int size;       /* input side; 0: the network's default */
    int steps, batch, save_every, resume;
    double lr;
    int lr_cosine;  /* 1: the learning rate of step s (0-based) is lr * (1 + cos(pi s / steps)) / 2; 0: constant */
    int pooled_fakes; /* 0: each kind of fake (labels.csv method: swap, sbi, ...) is drawn equally often; 1: all fakes in one pool */
    int paired_reals; /* 1: each real of a batch is the frame its neighbouring fake was made from (labels.csv target and
                       * frame), where the set holds it (Shiohara & Yamasaki 2022 train on such pairs); 0: reals drawn
                       * on their own */
    int progress;   /* show a progress bar */
} DetTrainConfig;

void det_train_config_default(DetTrainConfig *c);

/* The learning rate of step s (0-based) of c's run (c->steps steps): a resumed run follows it too. */
float det_lr_at(const DetTrainConfig *c, long s);

/* The kinds of fake (labels.csv "method") of a training set, for drawing each kind equally often:
 * idx [cnt] (the fakes' sample indices) is reordered kind by kind (stable; kinds in order of first
 * appearance, beyond DET_FAKE_KINDS_MAX the last ones share a pool), kind k being idx[start[k] ..
 * start[k + 1]). n = 1 (one pool, idx untouched) when the set has one kind, no method column, or
 * pooled is set. desc is "pooled" or "per-method:swap,sbi" (the model file's metadata). */
#define DET_FAKE_KINDS_MAX 16
typedef struct {
    int n, start[DET_FAKE_KINDS_MAX + 1];
    char desc[160];
} DetFakeKinds;
void det_fake_kinds(const DetDataset *ds, int *idx, int cnt, int pooled, DetFakeKinds *fk);

typedef struct {
    long steps_done;  /* CNN: steps taken in total; spectral: Newton iterations */
    double loss;      /* final training loss (CNN: EMA) */
    int converged;    /* spectral */
    int nothing_to_do;/* resume found the model already at --steps */
} DetTrainReport;

/* Trains c->kind on ds (both classes needed) and writes c->out (and for CNNs c->out.adam, every
 * save_every steps, atomically; a resumed run continues exactly). -1 with err on bad input. */
int det_train(const DetDataset *ds, const DetTrainConfig *c, DetTrainReport *rep, SlErr *err);

/* The H.264 training copies behind --augment-h264 P: every clip of ds (labels.csv `clip`; a sample
 * without one is a one-frame clip) encoded once as one H.264 video, in pieces of
 * DET_SCORE_CLIP_FRAMES frames as `detect eval --perturb h264:CRF` encodes the test clips, at a CRF
 * drawn per clip from U{ROBUST_AUG_CRF_LO..ROBUST_AUG_CRF_HI} (seeded), and its decoded frames
 * written as PNGs into a fresh temporary directory (TMPDIR, else /tmp): path[i] is sample i's copy.
 * A training draw then takes the copy with probability P, so the detector sees inter-coded faces as
 * the evaluation makes them (an intra round trip of single images did not carry to h264:40,
 * docs/PERFORMANCE.md). det_h264_copies_free removes the files and the directory. -1 with err (and
 * nothing left behind) when an image cannot be read or no H.264 encoder is available. */
typedef struct {
    char dir[SL_PATH_MAX];
    char **path; /* [n], NULL when none were made */
    int n;
} DetH264Copies;
int det_h264_copies(const DetDataset *ds, uint64_t seed, int progress, DetH264Copies *hc, SlErr *err);
void det_h264_copies_free(DetH264Copies *hc);

/* Logits of every sample of ds under model m (no perturbation), into logits [ds->n]. -1 with err
 * when an image cannot be read. */
int det_logits_of(DetModel *m, const DetDataset *ds, float *logits, int progress, SlErr *err);

/* Fits the calibration (detect/calib.h) of model file `model` on split `split` of dataset `data` at
 * validation FPR target_fpr in scope (CALIB_SCOPE_*), and rewrites the model file with it
 * (atomically). The split must hold both classes; out (may be NULL) receives it. */
int det_calibrate_file(const char *model, const char *data, const char *split, double target_fpr, int scope,
                       int threads, DetCalib *out, SlErr *err);

#endif
