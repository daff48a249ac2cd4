/* sbi.h — self-blended images (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images",
 * CVPR 2022, https://arxiv.org/abs/2204.08376): a pseudo-fake made from one real face alone, by
 * blending a colour- and geometry-jittered copy of the face into itself along a face mask. Nothing
 * but the blending boundary and the small statistical mismatch it leaves tells it from the real
 * face, which is what every face swap also leaves: a detector trained on them is known to
 * generalise across swap methods. Steps (with the paper's ranges):
 *
 *  1. source/target: two copies of the face; the source is jittered in colour (per-channel shift
 *     +-20/255, brightness and contrast +-10%, saturation x[0.7, 1.3]) and in frequency (p = 0.5:
 *     down-scaled by [0.25, 0.5] and back, else sharpened), then scaled by [0.95, 1.05] and shifted
 *     by +-3% (x) and +-1.5% (y) of the side about the face centre. The paper jitters either copy
 *     (p = 0.5) and pairs the fake with that target; here the target is always the untouched face,
 *     so that outside the mask the fake equals its real sample pixel for pixel and nothing but the
 *     blend separates the pair.
 *  2. mask: the hull of the 68 landmarks with the forehead (align_face_mask), randomly eroded or
 *     dilated (up to 4% of the side), elastically deformed (a Gaussian-smoothed random displacement
 *     field, amplitude 2% of the side), moved with the source, blurred (sigma in [1/64, 1/16] of the
 *     side), cut to its inside (values < 1 set to 0), blurred again and normalised to a maximum of
 *     1, then scaled by a blend ratio drawn from {0.25, 0.5, 0.75, 1, 1, 1}.
 *  3. blend: fake = source * mask + target * (1 - mask).
 *
 * Deterministic in the rng. Used by `swaplab dataset --method sbi` (dataset/build.c). */
#ifndef SL_DATASET_SBI_H
#define SL_DATASET_SBI_H

#include "data/align.h"
#include "data/image.h"
#include "util/rng.h"

typedef struct {
    float ratio;       /* the blend ratio drawn */
    int jittered_source; /* always 1 (see step 1) */
    float scale, dx, dy; /* the source's geometry */
} SbiInfo;

/* A self-blended fake of face (RGB, size w x h; lm: its 68 landmarks in its pixel coordinates) into
 * out (a new RGB image of the same size) and, when mask is not NULL, the blend mask used (w*h floats
 * in [0, 1]). info may be NULL. */
void sbi_make(const Image *face, const float lm[ALIGN_NLM][2], SlRng *rng, Image *out, float *mask, SbiInfo *info);

/* The mask of step 2 (before the source's geometry) for a w x w face; exposed for tests. */
void sbi_mask(const float lm[ALIGN_NLM][2], int w, SlRng *rng, float *mask);

#endif
