/* detector.h — the detector interface and its registry: every kind of detector (the spectral
 * baseline, Meso-4, MesoInception-4, the small ResNet) is a row of one table with its name, the
 * metadata "arch" its model files carry, and load / logit / heatmap / save / free functions, so
 * `swaplab detect train|eval|scan|calibrate`, `verify --detector`, the report and the demo work with
 * any of them without knowing which. A new detector is one file plus its row in detector.c (a CNN:
 * one DetCnnArch, detect/cnn.h).
 *
 * Scores: det_model_logit is the raw logit (higher = more fake); det_model_score its sigmoid, the
 * uncalibrated P(fake); det_model_prob the calibrated P(fake) and det_model_decide the decision at
 * the model's calibrated threshold (detect/calib.h), read from the file's metadata. */
#ifndef SL_DETECTOR_H
#define SL_DETECTOR_H

#include "data/image.h"
#include "detect/calib.h"
#include "detect/cnn.h"
#include "detect/spectral.h"
#include "nn/nn.h"
#include "util/util.h"

typedef struct DetModel DetModel;

typedef struct {
    const char *name;  /* `--method` and the metadata arch of CNNs: "meso4" */
    const char *arch;  /* the metadata arch of its files */
    const char *title; /* for people: "Meso-4" */
    const char *about; /* one line for --help */
    const DetCnnArch *cnn; /* CNN detectors: the network; NULL otherwise */
    int (*load)(DetModel *m, const char *path, SlErr *err);
    float (*logit)(DetModel *m, const Image *img);
    /* occlusion heatmap of P(fake) over the image the model sees (heatmap.h); *hh, *hw its size */
    float *(*heatmap)(DetModel *m, const Image *img, int patch, int stride, int *hh, int *hw);
    /* rewrites the model file with the extra metadata (key, value, ..., NULL) */
    int (*save)(const DetModel *m, const char *path, const char *const *meta, SlErr *err);
    void (*free)(DetModel *m);
} DetKind;

struct DetModel {
    const DetKind *kind;
    SpectralDetector spectral;
    DetCnn cnn;
    NnCtx ctx;       /* CNN inference context (eval mode) */
    DetCalib calib;  /* .present = 0 when the file has none */
    char sha256[65]; /* of the model file */
};

/* The registry: kinds in order (spectral, meso4, mesoinception4, resnet10). */
int det_kind_count(void);
const DetKind *det_kind_at(int i);
const DetKind *det_kind_by_name(const char *name); /* NULL when unknown */
const DetKind *det_kind_by_arch(const char *arch);
/* "spectral, meso4, ..." into buf. */
void det_kind_names(char *buf, size_t n);

/* Loads a model file of any kind (chosen by its metadata arch), with its calibration. nthreads for
 * CNNs (<= 0: default). want (may be NULL) refuses a file of another kind with a sentence naming both. */
int det_model_load(const char *path, int nthreads, const DetKind *want, DetModel *m, SlErr *err);
void det_model_free(DetModel *m);
const char *det_model_arch(const DetModel *m);
/* The side a CNN resizes images to; 0 for a model that takes any size. */
int det_model_input_side(const DetModel *m);
float det_model_logit(DetModel *m, const Image *img);
/* sigmoid(logit): the uncalibrated P(fake). */
float det_model_score(DetModel *m, const Image *img);
/* Calibrated P(fake) of a logit, and the decision (1 fake) at the calibrated threshold. */
double det_model_prob(const DetModel *m, double logit);
int det_model_decide(const DetModel *m, double logit);
float *det_model_heatmap(DetModel *m, const Image *img, int patch, int stride, int *hh, int *hw);
/* Rewrites path (atomically) with the model's weights, its metadata and calibration c. */
int det_model_save_calibrated(const DetModel *m, const char *path, const DetCalib *c, SlErr *err);

/* One image against one model, for `verify --detector` and scripts: the logit, calibrated P(fake)
 * and the decision, and whether the model has a calibration (else the decision is P >= 0.5). */
typedef struct {
    float logit;
    double prob;
    int fake;
    int calibrated;
    double threshold;
} DetVerdict;
int det_scan_file(DetModel *m, const char *image_path, DetVerdict *v, SlErr *err);

#endif
