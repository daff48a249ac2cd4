/* fidelity.h — swap fidelity measured against the renderer's ground truth (synthetic face sets):
 * swap held-out frames A→B, compare with A's frame re-rendered with B's inner face
 * (data/groundtruth.h), inside the face mask, with two baselines that give the numbers a meaning:
 * the unswapped source crop (what "doing nothing" scores) and B's mean face (what "drawing an
 * average B" scores). Also identity transfer: a small classifier (softmax regression on the inner
 * face — brows to mouth — of every identity's aligned training crops) says whether the swap looks
 * like B, and expression and pose preservation (landmark error against the ground truth's landmarks,
 * with dlib's 68-point predictor, data/landmarks.h).
 *
 *   Fidelity *f = fidelity_prepare(sets, n, model size, 10, 16, &err);
 *   fidelity_run(f, model, &ctx, &report, &err);   (as often as wanted, e.g. every N steps)
 *   fidelity_free(f); */
#ifndef SL_FIDELITY_H
#define SL_FIDELITY_H

#include <jansson.h>
#include <stdio.h>

#include "data/faceset.h"
#include "data/image.h"
#include "nn/nn.h"
#include "model/swap_model.h"
#include "train/facedata.h"


typedef struct {
    int a, b, n;                 /* source and target identity (set indices), faces evaluated */
    double psnr, ssim;           /* swap vs ground truth, inside the face mask (dB; 0..1) */
    double psnr_src, ssim_src;   /* baseline: the unswapped source crop vs ground truth */
    double psnr_mean, ssim_mean; /* baseline: B's mean face vs ground truth */
    double id_transfer;          /* share of swaps the identity classifier calls B */
    double id_stay;              /* share it still calls A */
    /* expression and pose kept: mean distance, in pixels at the model's size, between dlib's 68
     * landmarks found on an image and the renderer's exact landmarks of the ground truth (-1 when
     * the landmark model is not installed). On the swap; on the unswapped source (baseline: A's
     * inner face sits at other points); on B's mean face (baseline: pose and expression lost); on
     * the ground truth itself (the predictor's own floor). */
    double lm_err, lm_err_src, lm_err_mean, lm_err_gt;
} FidelityPair;

typedef struct {
    int npairs;
    FidelityPair pair[SWAP_MAX_IDS * (SWAP_MAX_IDS - 1)];
    FidelityPair all;   /* mean over pairs (a = b = -1) */
    double id_acc_real; /* the classifier's accuracy on real held-out crops (sanity: near 1) */
    int heldout;        /* 1 when the evaluated faces were held out of training */
    long step;
} FidelityReport;

typedef struct Fidelity Fidelity;

/* Loads evaluation faces (up to max_faces per set: the held-out ones, or the first ones when a
 * set is too small to hold any out), renders their ground truth for every ordered pair, the mean
 * face and classifier features of every identity, at the model's size. Needs synthetic sets
 * (refuses others with a message). */
Fidelity *fidelity_prepare(const FaceSet *sets, int nsets, int size, int holdout_every, int max_faces,
                           SlErr *err);
/* The same with the faces already loaded at model size (data[a] for sets[a], train/facedata.h),
 * as the trainer has them: no PNG is read again. data NULL: fidelity_prepare. */
Fidelity *fidelity_prepare_data(const FaceSet *sets, const FaceData *data, int nsets, int size,
                                int holdout_every, int max_faces, SlErr *err);
int fidelity_run(Fidelity *f, SwapModel *m, NnCtx *ctx, FidelityReport *r, SlErr *err);
void fidelity_free(Fidelity *f);
json_t *fidelity_to_json(const FidelityReport *r, const FaceSet *sets);
void fidelity_print(FILE *out, const FidelityReport *r, const FaceSet *sets);

/* Helpers shared with the trainer: masked PSNR / SSIM of two CHW RGB images in [0,1] of side s,
 * weighted by mask (s*s, may be NULL). SSIM: 11x11 Gaussian window, sigma 1.5, valid positions. */
double fidelity_psnr(const float *x, const float *y, const float *mask, int s);
double fidelity_ssim(const float *x, const float *y, const float *mask, int s);

#endif
