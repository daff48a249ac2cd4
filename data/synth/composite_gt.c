/* composite_gt.c — the right answer of a swap between two composite face sets (data/groundtruth.h
 * for face sets made by `swaplab synth --style composite`): A's frame rendered with the person
 * whose outer head is A's and inner face B's (composite_build_swap), aligned with A's affine. */
#include "data/synth/composite_gt.h"

#include <string.h>

static int record_recipe(const VolunteerLib *lib, const FaceSet *fs, int i, CompositeRecipe *r, SlErr *err) {
    const json_t *s = fs->faces[i].synth;
    if (!s) return sl_fail(err, "%s: face %d has no renderer parameters (not a synthetic face set)", fs->dir, i);
    if (composite_recipe_from_json(lib, json_object_get(s, "identity"), r, err))
        return sl_failctx(err, "%s/faces.jsonl:%d: \"synth\".\"identity\"", fs->dir, i + 1);
    return 0;
}

int composite_gt_person(const VolunteerLib *lib, const FaceSet *a, const FaceSet *b, Composite *person, SlErr *err) {
    CompositeRecipe ra, rb;
    if (a->n < 1 || b->n < 1) return sl_fail(err, "%s: an empty face set has no ground truth", a->n < 1 ? a->dir : b->dir);
    if (record_recipe(lib, a, 0, &ra, err) || record_recipe(lib, b, 0, &rb, err)) return -1;
    return composite_build_swap(lib, &ra, &rb, person, err);
}

/* whole non-NULL: the whole frame goes there (crop and lm_crop unused) */
static int gt_render(const VolunteerLib *lib, const Composite *person, const FaceSet *a, int i, Image *crop,
                     float lm_crop[68][2], Image *whole, SlErr *err) {
    SL_ASSERT(i >= 0 && i < a->n);
    const FaceRecord *r = &a->faces[i];
    if (!r->synth) return sl_fail(err, "%s: face %d has no renderer parameters (not a synthetic face set)", a->dir, i);
    const json_t *size = json_object_get(r->synth, "render_size");
    if (!json_is_integer(size) || json_integer_value(size) < 16 || json_integer_value(size) > 4096)
        return sl_fail(err, "%s/faces.jsonl:%d: \"synth\".\"render_size\" must be an integer in 16..4096", a->dir, i + 1);
    CompFrame fr;
    if (composite_frame_from_json(json_object_get(r->synth, "frame"), &fr, err))
        return sl_failctx(err, "%s/faces.jsonl:%d: \"synth\".\"frame\"", a->dir, i + 1);
    Image frame;
    float lm[68][2];
    composite_render(lib, person, &fr, (int)json_integer_value(size), &frame, lm);
    if (whole) {
        *whole = frame;
        return 0;
    }
    align_warp(&frame, &r->affine, r->crop, r->crop, ALIGN_BORDER_REPLICATE, NULL, crop);
    image_free(&frame);
    if (lm_crop) align_transform_landmarks(&r->affine, (const float(*)[2])lm, lm_crop);
    return 0;
}

int composite_gt_render(const VolunteerLib *lib, const Composite *person, const FaceSet *a, int i, Image *crop,
                        float lm_crop[68][2], SlErr *err) {
    return gt_render(lib, person, a, i, crop, lm_crop, NULL, err);
}

int composite_gt_swap(const FaceSet *a, int i, const FaceSet *b, Image *crop, float lm_crop[68][2], Image *whole,
                      SlErr *err) {
    char dir[4096];
    vol_default_dir(dir, sizeof dir);
    VolunteerLib lib;
    if (vol_lib_open(dir, &lib, err)) return -1;
    /* one frame: a frame without a smile needs only the neutral textures */
    CompFrame fr;
    CompositeRecipe ra, rb;
    Composite person;
    int rc = 0;
    if (i < 0 || i >= a->n || !a->faces[i].synth || b->n < 1)
        rc = sl_fail(err, "%s: face %d has no renderer parameters (not a synthetic face set)", a->dir, i);
    if (!rc && composite_frame_from_json(json_object_get(a->faces[i].synth, "frame"), &fr, err))
        rc = sl_failctx(err, "%s/faces.jsonl:%d: \"synth\".\"frame\"", a->dir, i + 1);
    if (!rc) rc = record_recipe(&lib, a, 0, &ra, err) || record_recipe(&lib, b, 0, &rb, err);
    if (!rc) rc = composite_build_swap_n(&lib, &ra, &rb, fr.f.smile > 0 ? 2 : 1, &person, err);
    if (!rc) {
        rc = gt_render(&lib, &person, a, i, crop, lm_crop, whole, err);
        composite_free(&person);
    }
    vol_lib_free(&lib);
    return rc;
}
