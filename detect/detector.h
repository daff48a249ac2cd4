/* detector.h — one handle for any trained detector file (the spectral baseline or Meso-4), chosen
 * by the safetensors metadata "arch", so `swaplab detect eval|scan`, the report and the demo score
 * images without knowing which kind they hold. */
#ifndef SL_DETECTOR_H
#define SL_DETECTOR_H

#include "data/image.h"
#include "detect/meso.h"
#include "detect/spectral.h"
#include "nn/nn.h"
#include "util/util.h"

typedef enum { DET_SPECTRAL = 1, DET_MESO4 = 2 } DetKind;

typedef struct {
    DetKind kind;
    SpectralDetector spectral;
    Meso4 meso;
    NnCtx ctx; /* Meso-4 inference context (eval mode) */
    char sha256[65]; /* of the model file */
} DetModel;

/* Loads a model file written by spectral_save or meso4_save. nthreads for Meso-4 (<= 0: default). */
int det_model_load(const char *path, int nthreads, DetModel *m, SlErr *err);
void det_model_free(DetModel *m);
const char *det_model_arch(const DetModel *m); /* "durall2019-spectral-lr" or "meso4" */
/* P(fake) of an image (any size). */
float det_model_score(DetModel *m, const Image *img);

/* Occlusion heatmap of img for this model (heatmap.h), h x w of the image the model sees: the image
 * itself for the spectral model, resized to the input side for Meso-4. *hh, *hw receive the map
 * size; returns the malloc'ed map. */
float *det_model_heatmap(DetModel *m, const Image *img, int patch, int stride, int *hh, int *hw);

#endif
