/* align.h — face alignment shared by synthetic and real faces: a least-squares similarity
 * (Umeyama 1991, "Least-squares estimation of transformation parameters between two point
 * patterns", IEEE TPAMI 13(4), no reflection) of landmarks 17–67 (the jaw line is left out) onto a
 * mean-face template, affine warps of images in both directions, and landmark-hull masks.
 *
 * Coordinates: x right, y down, in pixels, with pixel centres at +0.5 (pixel (i, j) covers
 * [i, i+1) x [j, j+1)), the same convention as the renderer (data/synth/synth.h) and the landmark
 * detector. An affine maps a point p of one image to a*p: x' = m[0] x + m[1] y + m[2],
 * y' = m[3] x + m[4] y + m[5].
 *
 * Template and crop: the template is the 2-D mean face of points 17–67 in normalised [0,1]
 * coordinates used by the classic deepfakes/faceswap umeyama alignment (brows at the top, lower
 * lip near 0.91). A crop of side `size` with coverage `c` places template point t at
 * size * (0.5 + c * (t - 0.5)): the template's unit square takes the central fraction c of the
 * crop side, the rest is context (jaw, forehead, hair). Smaller coverage = more context.
 * Default 0.625 = the classic deepfakes 48-pixel padding of a 256 crop (1 - 2*48/256). */
#ifndef SL_ALIGN_H
#define SL_ALIGN_H

#include <stdint.h>

#include "data/image.h"

#define ALIGN_NLM 68
#define ALIGN_FIRST_LM 17 /* points used by the similarity: 17..67 (brows, nose, eyes, mouth) */
#define ALIGN_DEFAULT_COVERAGE 0.625f

typedef struct {
    double m[6]; /* [a b tx; c d ty] row-major: x' = m0 x + m1 y + m2, y' = m3 x + m4 y + m5 */
} Affine;

/* The template point k (17 <= k < 68) in [0,1] normalised coordinates. */
void align_template_point(int k, float *x, float *y);

/* Least-squares similarity (rotation, uniform scale, translation; never a reflection) mapping the
 * n points src[i] onto dst[i] (points are x,y pairs). Returns 0, or -1 when the source points are
 * degenerate (all equal / n < 2). */
int align_umeyama(const float (*src)[2], const float (*dst)[2], int n, Affine *out);

/* The affine from a source frame (with 68 landmarks lm) to an aligned crop of side size and the
 * given coverage (see the top of this file). Returns -1 for degenerate landmarks. */
int align_face_affine(const float lm[ALIGN_NLM][2], int size, float coverage, Affine *out);

/* Matrix helpers. Inversion aborts on a singular matrix (a bug: similarities never are). */
void affine_apply(const Affine *a, float x, float y, float *ox, float *oy);
void affine_invert(const Affine *a, Affine *inv);
void affine_compose(const Affine *second, const Affine *first, Affine *out); /* second∘first */
double affine_scale(const Affine *a); /* sqrt(|det|): the similarity's scale */
void align_transform_landmarks(const Affine *a, const float in[ALIGN_NLM][2], float out[ALIGN_NLM][2]);

/* Border handling of the warps: replicate the edge pixel, or a constant colour. */
typedef enum { ALIGN_BORDER_REPLICATE, ALIGN_BORDER_CONSTANT } AlignBorder;

/* Warps src into a new out_w x out_h image *out (same channel count; free with image_free), where
 * a maps src coordinates to out coordinates: out(p) = src(a^-1 p), bilinear. bg (c bytes) is the
 * colour for ALIGN_BORDER_CONSTANT (NULL = black). Use a for frame → crop, and the same a for the
 * inverse direction with align_warp_inverse. */
void align_warp(const Image *src, const Affine *a, int out_w, int out_h, AlignBorder border,
                const uint8_t *bg, Image *out);
/* The inverse warp: crop → frame, for compositing a crop back into its frame (of size
 * frame_w x frame_h) given the frame → crop affine a. */
void align_warp_inverse(const Image *crop, const Affine *a, int frame_w, int frame_h,
                        AlignBorder border, const uint8_t *bg, Image *out);
/* The same for float planar images (nplanes planes of w*h floats, CHW), e.g. masks: out has
 * nplanes * out_w * out_h floats. */
void align_warp_float(const float *src, int w, int h, int nplanes, const Affine *a, int out_w,
                      int out_h, AlignBorder border, float bg, float *out);

/* Aligns one face: computes the affine (frame → crop), warps the frame (replicate border) and
 * transforms the landmarks into the crop. Returns -1 with err for degenerate landmarks. */
int align_face(const Image *frame, const float lm[ALIGN_NLM][2], int size, float coverage,
               Image *crop, float lm_crop[ALIGN_NLM][2], Affine *affine, SlErr *err);

/* Masks from landmarks in crop coordinates, size*size floats each, row-major:
 *  - align_face_mask: 1 inside the convex hull of all 68 points plus a forehead extension (the
 *    brow points lifted by a third of the brow–chin distance), 0 outside, with a one-pixel
 *    anti-aliased edge. Values in [0,1].
 *  - align_weight_map: the loss weights of the classic "eye and mouth multiplier": 0 outside the
 *    face mask, 1 inside it, ALIGN_FEATURE_WEIGHT in the eye regions (hull of each eye with its
 *    brow, grown 10% about its centre) and the mouth region (hull of the outer lip, grown 20%);
 *    the mask's anti-aliased edge scales the weights there. */
#define ALIGN_FEATURE_WEIGHT 3.0f
void align_face_mask(const float lm[ALIGN_NLM][2], int size, float *mask);
void align_weight_map(const float lm[ALIGN_NLM][2], int size, float *weights);

#endif
