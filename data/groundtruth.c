/* groundtruth.c — re-renders a synthetic frame with another identity's inner face and aligns it
 * with the original frame's affine (data/groundtruth.h). */
#include "data/groundtruth.h"

#include <stdlib.h>
#include <string.h>

#include "data/synth/composite_gt.h"
#include "data/synth/synth.h"

int groundtruth_available(const FaceSet *fs) {
    for (int i = 0; i < fs->n; i++)
        if (!fs->faces[i].synth) return 0;
    return fs->n > 0;
}

static int parse_identity(const FaceSet *fs, int i, SynthIdentity *id, SlErr *err) {
    const json_t *s = fs->faces[i].synth;
    if (!s) return sl_fail(err, "%s: face %d has no renderer parameters (not a synthetic face set)", fs->dir, i);
    if (synth_identity_from_json(json_object_get(s, "identity"), id, err))
        return sl_failctx(err, "%s/faces.jsonl:%d: \"synth\".\"identity\"", fs->dir, i + 1);
    return 0;
}

struct GroundTruthCache {
    CompositeGtCache *composite; /* the cartoon renderer needs no cache (about 0.02 CPU-s a call) */
};

GroundTruthCache *gt_cache_new(void) {
    GroundTruthCache *c = xcalloc(1, sizeof *c);
    c->composite = composite_gt_cache_new(COMP_GT_CACHE_PEOPLE);
    return c;
}

void gt_cache_free(GroundTruthCache *c) {
    if (!c) return;
    composite_gt_cache_free(c->composite);
    free(c);
}

static int gt_render(GroundTruthCache *cache, const FaceSet *a, int i, const FaceSet *b, Image *crop,
                     float lm_crop[68][2], Image *whole, SlErr *err) {
    SL_ASSERT(i >= 0 && i < a->n && b->n > 0);
    const FaceRecord *r = &a->faces[i];
    if (r->synth && composite_json_is(json_object_get(r->synth, "identity"))) { /* `synth --style composite` */
        if (cache) return composite_gt_swap_cached(cache->composite, a, i, b, crop, lm_crop, whole, err);
        return composite_gt_swap(a, i, b, crop, lm_crop, whole, err);
    }
    SynthIdentity outer, inner;
    SynthFrame fr;
    if (parse_identity(a, i, &outer, err) || parse_identity(b, 0, &inner, err)) return -1;
    const json_t *size = json_object_get(r->synth, "render_size");
    if (!json_is_integer(size) || json_integer_value(size) < 16 || json_integer_value(size) > 4096)
        return sl_fail(err, "%s/faces.jsonl:%d: \"synth\".\"render_size\" must be an integer in 16..4096", a->dir, i + 1);
    if (synth_frame_from_json(json_object_get(r->synth, "frame"), &fr, err))
        return sl_failctx(err, "%s/faces.jsonl:%d: \"synth\".\"frame\"", a->dir, i + 1);
    Image frame;
    float lm[68][2];
    synth_render(&outer, &inner, &fr, (int)json_integer_value(size), &frame, lm);
    if (whole) {
        *whole = frame;
        return 0;
    }
    align_warp(&frame, &r->affine, r->crop, r->crop, ALIGN_BORDER_REPLICATE, NULL, crop);
    image_free(&frame);
    if (lm_crop) align_transform_landmarks(&r->affine, (const float(*)[2])lm, lm_crop);
    return 0;
}

int groundtruth_swap_cached(GroundTruthCache *c, const FaceSet *a, int i, const FaceSet *b, Image *crop, SlErr *err) {
    return gt_render(c, a, i, b, crop, NULL, NULL, err);
}

int groundtruth_swap_frame_cached(GroundTruthCache *c, const FaceSet *a, int i, const FaceSet *b, Image *frame,
                                  SlErr *err) {
    return gt_render(c, a, i, b, NULL, NULL, frame, err);
}

int groundtruth_swap_chw_lm_cached(GroundTruthCache *c, const FaceSet *a, int i, const FaceSet *b, float *chw,
                                   float lm[68][2], SlErr *err) {
    Image im;
    if (gt_render(c, a, i, b, &im, lm, NULL, err)) return -1;
    image_to_chw(&im, chw);
    image_free(&im);
    return 0;
}

int groundtruth_swap(const FaceSet *a, int i, const FaceSet *b, Image *crop, SlErr *err) {
    return groundtruth_swap_cached(NULL, a, i, b, crop, err);
}

int groundtruth_swap_frame(const FaceSet *a, int i, const FaceSet *b, Image *frame, SlErr *err) {
    return groundtruth_swap_frame_cached(NULL, a, i, b, frame, err);
}

int groundtruth_swap_chw(const FaceSet *a, int i, const FaceSet *b, float *chw, SlErr *err) {
    return groundtruth_swap_chw_lm_cached(NULL, a, i, b, chw, NULL, err);
}

int groundtruth_swap_chw_lm(const FaceSet *a, int i, const FaceSet *b, float *chw, float lm[68][2],
                            SlErr *err) {
    return groundtruth_swap_chw_lm_cached(NULL, a, i, b, chw, lm, err);
}
