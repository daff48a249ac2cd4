/* train.h — training and calibrating any detector of the registry (detect/detector.h) on a detector
 * dataset: the pipelines behind `swaplab detect train` and `swaplab detect calibrate`, with one
 * configuration struct (every option in one place: its default here, its flag in cmd_detect.c).
 *
 *   DetTrainConfig c; det_train_config_default(&c);
 *   c.kind = det_kind_by_name("meso4"); c.out = "m.safetensors"; c.size = 128;
 *   det_train(&train_set, &c, &report, &err);          // then
 *   det_calibrate_file(c.out, "DS", "val", 0.01, threads, &cal, &err);  */
#ifndef SL_DETECT_TRAIN_H
#define SL_DETECT_TRAIN_H

#include <stdint.h>

#include "detect/dataset.h"
#include "detect/detector.h"

typedef struct {
    const DetKind *kind; /* from the registry (default spectral) */
    const char *out;     /* model file to write */
    int augment;         /* Wang et al. 2020 blur + JPEG augmentation */
    double augment_h264; /* probability of an H.264 round trip per training image (robust_augment_h264) */
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
    int progress;   /* show a progress bar */
} DetTrainConfig;

void det_train_config_default(DetTrainConfig *c);

typedef struct {
    long steps_done;  /* CNN: steps taken in total; spectral: Newton iterations */
    double loss;      /* final training loss (CNN: EMA) */
    int converged;    /* spectral */
    int nothing_to_do;/* resume found the model already at --steps */
} DetTrainReport;

/* Trains c->kind on ds (both classes needed) and writes c->out (and for CNNs c->out.adam, every
 * save_every steps, atomically; a resumed run continues exactly). -1 with err on bad input. */
int det_train(const DetDataset *ds, const DetTrainConfig *c, DetTrainReport *rep, SlErr *err);

/* Logits of every sample of ds under model m (no perturbation), into logits [ds->n]. -1 with err
 * when an image cannot be read. */
int det_logits_of(DetModel *m, const DetDataset *ds, float *logits, int progress, SlErr *err);

/* Fits the calibration (detect/calib.h) of model file `model` on split `split` of dataset `data` at
 * validation FPR target_fpr, and rewrites the model file with it (atomically). The split must hold
 * both classes; out (may be NULL) receives it. */
int det_calibrate_file(const char *model, const char *data, const char *split, double target_fpr, int threads,
                       DetCalib *out, SlErr *err);

#endif
