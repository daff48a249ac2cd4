/* composite_gt.c — the right answer of a swap between two composite face sets (data/groundtruth.h
 * for face sets made by `swaplab synth --style composite`): A's frame rendered with the person
 * whose outer head is A's and inner face B's (composite_build_swap), aligned with A's affine. */
#include "data/synth/composite_gt.h"

#include <stdlib.h>
#include <string.h>

static int record_recipe(const VolunteerLib *lib, const FaceSet *fs, int i, CompositeRecipe *r, SlErr *err) {
    const json_t *s = fs->faces[i].synth;
    if (!s) return sl_fail(err, "%s: face %d has no renderer parameters (not a synthetic face set)", fs->dir, i);
    if (composite_recipe_from_json(lib, json_object_get(s, "identity"), r, err))
        return sl_failctx(err, "%s/faces.jsonl:%d: \"synth\".\"identity\"", fs->dir, i + 1);
    return 0;
}

int composite_gt_set_person(const VolunteerLib *lib, const FaceSet *fs, Composite *person, SlErr *err) {
    CompositeRecipe r;
    if (fs->n < 1) return sl_fail(err, "%s: an empty face set has no ground truth", fs->dir);
    if (record_recipe(lib, fs, 0, &r, err)) return -1;
    return composite_build(lib, &r, person, err);
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

/* ---- the cache --------------------------------------------------------------------------------- */
typedef struct {
    CompositeRecipe r;
    Composite c;    /* both expressions */
    unsigned long used; /* the cache's clock at the last use */
} GtPerson;

struct CompositeGtCache {
    int lib_open;
    VolunteerLib lib;
    GtPerson *people;
    int npeople, max_people;
    unsigned long clock;
    int have_pair;
    CompositeRecipe pa, pb; /* the last pair's recipes and its swap person (both expressions) */
    Composite pair;
};

CompositeGtCache *composite_gt_cache_new(int max_people) {
    SL_ASSERT(max_people >= 2); /* a pair's two people */
    CompositeGtCache *c = xcalloc(1, sizeof *c);
    c->people = xcalloc((size_t)max_people, sizeof *c->people);
    c->max_people = max_people;
    return c;
}

void composite_gt_cache_free(CompositeGtCache *c) {
    if (!c) return;
    for (int k = 0; k < c->npeople; k++) composite_free(&c->people[k].c);
    if (c->have_pair) composite_free(&c->pair);
    if (c->lib_open) vol_lib_free(&c->lib);
    free(c->people);
    free(c);
}

static int recipe_eq(const CompositeRecipe *x, const CompositeRecipe *y) {
    return x->k == y->k && !memcmp(x->idx, y->idx, sizeof(int) * (size_t)x->k) &&
           !memcmp(x->w, y->w, sizeof(float) * (size_t)x->k);
}

/* The person of recipe r, built on first use (in the least recently used place when full; the
 * other people stay where they are). */
static const Composite *cache_person(CompositeGtCache *c, const CompositeRecipe *r, SlErr *err) {
    c->clock++;
    for (int k = 0; k < c->npeople; k++)
        if (recipe_eq(&c->people[k].r, r)) {
            c->people[k].used = c->clock;
            return &c->people[k].c;
        }
    Composite built;
    if (composite_build(&c->lib, r, &built, err)) return NULL;
    int slot = c->npeople;
    if (slot == c->max_people) {
        slot = 0;
        for (int k = 1; k < c->npeople; k++)
            if (c->people[k].used < c->people[slot].used) slot = k;
        composite_free(&c->people[slot].c);
    } else {
        c->npeople++;
    }
    GtPerson *p = &c->people[slot];
    p->r = *r, p->c = built, p->used = c->clock;
    return &p->c;
}

int composite_gt_swap_cached(CompositeGtCache *c, const FaceSet *a, int i, const FaceSet *b, Image *crop,
                             float lm_crop[68][2], Image *whole, SlErr *err) {
    /* the checks and their order are composite_gt_swap's */
    if (!c->lib_open) {
        char dir[4096];
        vol_default_dir(dir, sizeof dir);
        if (vol_lib_open(dir, &c->lib, err)) return -1;
        c->lib_open = 1;
    }
    CompFrame fr;
    CompositeRecipe ra, rb;
    if (i < 0 || i >= a->n || !a->faces[i].synth || b->n < 1)
        return sl_fail(err, "%s: face %d has no renderer parameters (not a synthetic face set)", a->dir, i);
    if (composite_frame_from_json(json_object_get(a->faces[i].synth, "frame"), &fr, err))
        return sl_failctx(err, "%s/faces.jsonl:%d: \"synth\".\"frame\"", a->dir, i + 1);
    if (record_recipe(&c->lib, a, 0, &ra, err) || record_recipe(&c->lib, b, 0, &rb, err)) return -1;
    if (!c->have_pair || !recipe_eq(&c->pa, &ra) || !recipe_eq(&c->pb, &rb)) {
        if (c->have_pair) composite_free(&c->pair);
        c->have_pair = 0;
        const Composite *pa = cache_person(c, &ra, err);
        if (!pa) return -1;
        const Composite *pb = cache_person(c, &rb, err); /* pa stays: it is the most recently used */
        if (!pb) return -1;
        /* both expressions: a frame without a smile renders the same pixels as with the neutral only */
        composite_swap_of(&c->lib, pa, pb, 2, &c->pair);
        c->pa = ra, c->pb = rb, c->have_pair = 1;
    }
    return gt_render(&c->lib, &c->pair, a, i, crop, lm_crop, whole, err);
}
