/* groundtruth.h — the right answer of a swap, for synthetic face sets: A's frame (pose,
 * expression, light, background, camera) and outer head rendered with B's inner face
 * (data/synth/synth.h), aligned with A's affine. A perfect A→B swap of face i of A looks exactly
 * like this, so swap fidelity can be measured (train/eval). Parameters come from faces.jsonl. */
#ifndef SL_GROUNDTRUTH_H
#define SL_GROUNDTRUTH_H

#include "data/faceset.h"

/* 1 when every face of fs carries renderer parameters (a set made by `swaplab synth`). */
int groundtruth_available(const FaceSet *fs);

/* The perfect A→B swap of face i of set a, as an a->crop x a->crop RGB crop in *crop (allocated;
 * image_free). b may be a itself (then it is a re-render of face i). Returns -1 with err when a
 * or b is not synthetic or its parameters do not parse. */
int groundtruth_swap(const FaceSet *a, int i, const FaceSet *b, Image *crop, SlErr *err);
/* The same as float CHW RGB in [0,1] (3*crop*crop floats), like faceset_load_face. */
int groundtruth_swap_chw(const FaceSet *a, int i, const FaceSet *b, float *chw, SlErr *err);
/* The same, also giving the renderer's exact 68 landmarks of the perfect swap in crop pixels
 * (lm may be NULL): B's inner face moves the eyes, nose and mouth, so they differ from A's. */
/* The whole frame of the perfect A->B swap of face i of set a (the size of a's frame; allocated). */
int groundtruth_swap_frame(const FaceSet *a, int i, const FaceSet *b, Image *frame, SlErr *err);
int groundtruth_swap_chw_lm(const FaceSet *a, int i, const FaceSet *b, float *chw, float lm[68][2],
                            SlErr *err);

/* A cache for callers that ask for many faces and pairs (train/fidelity.c, infer's eval): what a
 * composite ground truth rebuilds every call (the volunteer library, each set's person, the pair's
 * swap person: about 0.3 CPU-s a call) is kept for the next call (data/synth/composite_gt.h). The
 * _cached calls give exactly the pixels and landmarks of the plain ones; cache NULL = the plain
 * call. A cache belongs to one thread at a time; gt_cache_free(NULL) is fine. */
typedef struct GroundTruthCache GroundTruthCache;
GroundTruthCache *gt_cache_new(void);
void gt_cache_free(GroundTruthCache *c);
int groundtruth_swap_cached(GroundTruthCache *c, const FaceSet *a, int i, const FaceSet *b, Image *crop, SlErr *err);
int groundtruth_swap_frame_cached(GroundTruthCache *c, const FaceSet *a, int i, const FaceSet *b, Image *frame,
                                  SlErr *err);
int groundtruth_swap_chw_lm_cached(GroundTruthCache *c, const FaceSet *a, int i, const FaceSet *b, float *chw,
                                   float lm[68][2], SlErr *err);

#endif
