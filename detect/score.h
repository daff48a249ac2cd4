/* score.h — scoring a detector dataset clean and under perturbations, for `detect eval`: each image
 * is read once and scored under every perturbation; per-image kinds (JPEG, resize, blur, noise) act
 * on each image alone, H.264 (robust_h264) on the frames of each labels.csv `clip` encoded in order
 * as one video (in pieces of at most DET_SCORE_CLIP_FRAMES, x264's default keyframe interval), or on
 * each image alone as a one-frame clip when the dataset names no clips. */
#ifndef SL_DETECT_SCORE_H
#define SL_DETECT_SCORE_H

#include "detect/dataset.h"
#include "detect/detector.h"
#include "detect/robust.h"

#define DET_SCORE_CLIP_FRAMES 250

/* scores[k * ds->n + i] = the logit of sample i under ps[k] (k < n_pert). Noise of sample i under
 * ps[k] draws from sl_rng_fork(seed's rng, i << 6 | k), so a score does not depend on the order of
 * samples or clips. progress: show a progress line. -1 with err (naming the image or the clip) when
 * an image cannot be read or a clip cannot be encoded. */
int det_score_dataset(DetModel *dm, const DetDataset *ds, const RobustSpec *ps, int n_pert, uint64_t seed,
                      int progress, float *scores, SlErr *err);

#endif
