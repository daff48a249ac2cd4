/* colour.h — colour transfer for compositing a swapped face: make the decoder's face match the
 * colour of the face it replaces, inside the face mask, before blending (infer/swap.h).
 *
 * Images are planar float RGB in [0,1] (CHW: 3 planes of n pixels, the model's layout); mask has
 * n weights in [0,1] and says which pixels count (avg and reinhard weight by it; hist counts the
 * pixels with weight >= 0.5). Every function changes img in place, for all n pixels (the statistics
 * come from the masked ones), and clamps the result to [0,1].
 *
 *  - avg:      add to each channel the difference of the weighted means (ref - img).
 *  - rct:      Reinhard, Ashikhmin, Gooch, Shirley, "Color Transfer between Images", IEEE CG&A
 *              21(5), 2001, https://doi.org/10.1109/38.946629 — per-channel mean/std transfer, here
 *              in CIE L*a*b* (sRGB D65, as OpenCV's COLOR_RGB2Lab and faceswap's color_transfer).
 *              "reinhard" is accepted as another name for it.
 *  - lct:      linear colour transfer: the RGB mean and covariance of img made those of ref,
 *              x' = Cr^1/2 Ci^-1/2 (x - mi) + mr with symmetric matrix square roots (DeepFaceLab's
 *              linear_color_transfer, mode "pca"; Hertzmann 2001).
 *  - hist:     per-channel histogram matching (quantile mapping: a value at quantile q of img's
 *              masked pixels becomes the value at quantile q of ref's), exact up to ties.
 *
 * Statistics and their application are separate (colour_stats, colour_apply), so a video path can
 * smooth the statistics over time before applying them; colour_transfer = both in one call. */
#ifndef SL_COLOUR_H
#define SL_COLOUR_H

#include <stddef.h>

typedef enum { COLOUR_NONE = 0, COLOUR_AVG, COLOUR_REINHARD, COLOUR_HIST, COLOUR_LCT } ColourMode;
#define COLOUR_RCT COLOUR_REINHARD
#define COLOUR_NMODES 5

/* "none", "avg", "rct" (or "reinhard"), "hist", "lct" <-> ColourMode; parse returns -1 for an
 * unknown name; colour_mode_name gives the canonical name ("rct" for COLOUR_REINHARD). */
int colour_mode_parse(const char *s, ColourMode *m);
const char *colour_mode_name(ColourMode m);

/* Dispatches on mode (COLOUR_NONE leaves img alone). Returns 0, or -1 (img unchanged) when the
 * mask selects no pixel. */
int colour_transfer(ColourMode mode, float *img, const float *ref, const float *mask, size_t n);
int colour_transfer_avg(float *img, const float *ref, const float *mask, size_t n);
int colour_transfer_reinhard(float *img, const float *ref, const float *mask, size_t n);
int colour_transfer_hist(float *img, const float *ref, const float *mask, size_t n);
int colour_transfer_lct(float *img, const float *ref, const float *mask, size_t n);

/* Summary colour statistics of the masked pixels of one image (weights = mask values > 0): what
 * avg, rct and lct need. A video path computes them per frame, smooths them over time (e.g. an
 * exponential average of every field) and applies the smoothed ones with colour_apply. */
typedef struct {
    double weight;          /* total mask weight; 0 = no pixel selected */
    double rgb_mean[3];     /* sRGB in [0,1] */
    double rgb_cov[3][3];   /* weighted covariance of R, G, B */
    double lab_mean[3], lab_std[3]; /* CIE L*a*b* (D65) */
} ColourStats;
/* Fills *s from img's pixels weighted by mask; -1 (s->weight = 0) when the mask selects none. */
int colour_stats(ColourStats *s, const float *img, const float *mask, size_t n);
/* Moves img (all n pixels, clamped to [0,1]) from the statistics `from` (normally img's own) to
 * `to` (the face it replaces) by mode: none (no change), avg, rct or lct. hist needs the whole
 * distributions, not these statistics: -1 (img unchanged), as for a stats with weight 0. */
int colour_apply(ColourMode mode, float *img, size_t n, const ColourStats *from, const ColourStats *to);


/* Part of a transfer: img = before + amount * (img - before) for the 3*n values (img holds the
 * transferred face, before the face as it was; amount in [0,1]: 1 = the whole transfer, 0 = none).
 * Both are in [0,1], so the result is too. */
void colour_mix(float *img, const float *before, float amount, size_t n);

/* Weighted mean and standard deviation of channel values x[0..n) with weights w (NULL = 1). */
void colour_weighted_stats(const float *x, const float *w, size_t n, double *mean, double *std);

#endif
