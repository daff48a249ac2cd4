/* composite_gt.h — ground truth of swaps between composite face sets (see composite_gt.c). */
#ifndef SL_SYNTH_COMPOSITE_GT_H
#define SL_SYNTH_COMPOSITE_GT_H

#include "data/faceset.h"
#include "data/synth/composite.h"

/* The person of set fs (composite_build of its recipe: both expressions). */
int composite_gt_set_person(const VolunteerLib *lib, const FaceSet *fs, Composite *person, SlErr *err);
/* The person of a perfect a -> b swap (a's outer head, b's inner face), from the sets' recipes (the
 * same as composite_swap_of(lib, a's person, b's person, 2, person)). */
int composite_gt_person(const VolunteerLib *lib, const FaceSet *a, const FaceSet *b, Composite *person, SlErr *err);
/* Face i of a rendered with that person, aligned with face i's affine (crop: a->crop square, RGB,
 * allocated; lm_crop may be NULL). */
int composite_gt_render(const VolunteerLib *lib, const Composite *person, const FaceSet *a, int i, Image *crop,
                        float lm_crop[68][2], SlErr *err);
/* Both in one call, with the volunteer library at vol_default_dir (about 0.2-0.4 CPU-s a call: batch
 * callers use composite_gt_swap_cached below, or keep the person of a pair and call
 * composite_gt_render). whole non-NULL: the whole
 * frame (a's render size, allocated) instead of the crop (crop and lm_crop then unused). */
int composite_gt_swap(const FaceSet *a, int i, const FaceSet *b, Image *crop, float lm_crop[68][2], Image *whole,
                      SlErr *err);

/* What composite_gt_swap rebuilds every call, kept for the next: the volunteer library (opened at
 * vol_default_dir on first use), each set's person (composite_build, found by its recipe: at most
 * max_people >= 2 of them, about 2.5 MB each; the least recently used goes) and the last pair's swap
 * person. Not shared between threads: one cache per thread. */
#define COMP_GT_CACHE_PEOPLE 16 /* what gt_cache_new keeps (SWAP_MAX_IDS: a model's identities) */
typedef struct CompositeGtCache CompositeGtCache;
CompositeGtCache *composite_gt_cache_new(int max_people);
void composite_gt_cache_free(CompositeGtCache *c); /* NULL is fine */
/* composite_gt_swap through the cache: the same pixels and landmarks (measured, docs/PERFORMANCE.md
 * "Ground-truth cache": about 0.004 CPU-s a frame once the pair's person is built, 0.16 a new pair,
 * 0.13 a new set, against 0.37 a frame uncached). */
int composite_gt_swap_cached(CompositeGtCache *c, const FaceSet *a, int i, const FaceSet *b, Image *crop,
                             float lm_crop[68][2], Image *whole, SlErr *err);

#endif
