/* colour.h — colour transfer for compositing a swapped face: make the decoder's face match the
 * colour of the face it replaces, inside the face mask, before blending (infer/swap.h).
 *
 * Images are planar float RGB in [0,1] (CHW: 3 planes of n pixels, the model's layout); mask has
 * n weights in [0,1] and says which pixels count (avg and reinhard weight by it; hist counts the
 * pixels with weight >= 0.5). Every function changes img in place, for all n pixels (the statistics
 * come from the masked ones), and clamps the result to [0,1].
 *
 *  - avg:      add to each channel the difference of the weighted means (ref - img).
 *  - reinhard: Reinhard, Ashikhmin, Gooch, Shirley, "Color Transfer between Images", IEEE CG&A
 *              21(5), 2001, https://doi.org/10.1109/38.946629 — per-channel mean/std transfer, here
 *              in CIE L*a*b* (sRGB D65, as OpenCV's COLOR_RGB2Lab and faceswap's color_transfer).
 *  - hist:     per-channel histogram matching (quantile mapping: a value at quantile q of img's
 *              masked pixels becomes the value at quantile q of ref's), exact up to ties. */
#ifndef SL_COLOUR_H
#define SL_COLOUR_H

#include <stddef.h>

typedef enum { COLOUR_NONE = 0, COLOUR_AVG, COLOUR_REINHARD, COLOUR_HIST } ColourMode;

/* "none", "avg", "reinhard", "hist" <-> ColourMode; parse returns -1 for an unknown name. */
int colour_mode_parse(const char *s, ColourMode *m);
const char *colour_mode_name(ColourMode m);

/* Dispatches on mode (COLOUR_NONE leaves img alone). Returns 0, or -1 (img unchanged) when the
 * mask selects no pixel. */
int colour_transfer(ColourMode mode, float *img, const float *ref, const float *mask, size_t n);
int colour_transfer_avg(float *img, const float *ref, const float *mask, size_t n);
int colour_transfer_reinhard(float *img, const float *ref, const float *mask, size_t n);
int colour_transfer_hist(float *img, const float *ref, const float *mask, size_t n);

/* sRGB in [0,1] <-> CIE L*a*b* (D65 white; L in [0,100]), one pixel. */
void colour_rgb_to_lab(const float rgb[3], float lab[3]);
void colour_lab_to_rgb(const float lab[3], float rgb[3]);

/* Weighted mean and standard deviation of channel values x[0..n) with weights w (NULL = 1). */
void colour_weighted_stats(const float *x, const float *w, size_t n, double *mean, double *std);

#endif
