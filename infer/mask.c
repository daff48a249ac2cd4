/* mask.c — face masks of a swap from landmarks (mask.h): the brows-to-chin hull, the training hull
 * with forehead, or the decoder's learned mask with the hull where it is unsure, eroded and
 * feathered in proportion to the face size. */
#include "infer/mask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/align.h"
#include "infer/blend.h"

static int parse_num(const char *s, const char **end, double lo, double hi, double *v) {
    char *e;
    *v = strtod(s, &e);
    *end = e;
    return e != s && *v >= lo && *v <= hi ? 0 : -1;
}

int mask_spec_parse(const char *s, MaskSpec *m, SlErr *err) {
    memset(m, 0, sizeof *m);
    const char *p;
    double a, b;
    if (strcmp(s, "face") == 0) return mask_spec_parse(MASK_DEFAULT, m, err);
    if (strcmp(s, "hull") == 0 || strcmp(s, "learned") == 0) {
        m->shape = s[0] == 'h' ? MASK_SHAPE_HULL : MASK_SHAPE_LEARNED;
        snprintf(m->str, sizeof m->str, "%s", s);
        return 0;
    }
    static const struct {
        const char *name;
        MaskShape shape;
    } rel[] = {{"face", MASK_SHAPE_FACE}, {"hull", MASK_SHAPE_HULL}, {"learned", MASK_SHAPE_LEARNED}};
    for (size_t k = 0; k < sizeof rel / sizeof *rel; k++) {
        size_t len = strlen(rel[k].name);
        if (strncmp(s, rel[k].name, len) != 0 || s[len] != ':') continue;
        m->shape = rel[k].shape;
        m->relative = 1;
        if (parse_num(s + len + 1, &p, 0, 50, &a) || *p != ',' || parse_num(p + 1, &p, 0, 50, &b) || *p)
            return sl_fail(err, "mask '%s': expected %s:E,F with E (erosion) and F (feather) per cent of the face "
                                "size, each 0 to 50 (e.g. %s:0,20)", s, rel[k].name, rel[k].name);
        m->erode = (float)a, m->feather = (float)b;
        snprintf(m->str, sizeof m->str, "%s:%g,%g", rel[k].name, a, b);
        return 0;
    }
    int er = strncmp(s, "erode:", 6) == 0, bl = strncmp(s, "blur:", 5) == 0;
    if (!er && !bl)
        return sl_fail(err, "unknown mask '%s': use face, face:E,F, hull, hull:E,F, learned, learned:E,F (E, F per cent "
                            "of the face size; learned needs a model trained with --learn-mask) or erode:N, blur:N (N "
                            "pixels at crop scale)", s);
    const char *num = s + (er ? 6 : 5);
    if (!*num || parse_num(num, &p, 0, 256, &a) || *p)
        return sl_fail(err, "mask '%s': N must be a number of pixels from 0 to 256", s);
    m->shape = MASK_SHAPE_HULL;
    if (er) m->erode = (float)a;
    else m->feather = (float)a;
    snprintf(m->str, sizeof m->str, "%s:%g", er ? "erode" : "blur", a);
    return 0;
}

/* Fills the convex polygon through pts (any order) into mask, anti-aliased, by the pixel centres'
 * signed distance to the hull's edges. */
static int cmp_pt(const void *pa, const void *pb) {
    const float *a = pa, *b = pb;
    if (a[0] != b[0]) return a[0] < b[0] ? -1 : 1;
    return (a[1] > b[1]) - (a[1] < b[1]);
}
static float cross(const float *o, const float *a, const float *b) {
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}
static int hull_of(float (*pts)[2], int n, float (*h)[2]) {
    qsort(pts, (size_t)n, sizeof pts[0], cmp_pt);
    int k = 0;
    for (int i = 0; i < n; i++) {
        while (k >= 2 && cross(h[k - 2], h[k - 1], pts[i]) <= 0) k--;
        h[k][0] = pts[i][0], h[k][1] = pts[i][1], k++;
    }
    for (int i = n - 2, t = k + 1; i >= 0; i--) {
        while (k >= t && cross(h[k - 2], h[k - 1], pts[i]) <= 0) k--;
        h[k][0] = pts[i][0], h[k][1] = pts[i][1], k++;
    }
    return k > 1 ? k - 1 : k;
}

static int finite_lm(const float lm[68][2]) {
    for (int k = 0; k < 68; k++)
        if (!isfinite(lm[k][0]) || !isfinite(lm[k][1]) || fabsf(lm[k][0]) > 1e6f || fabsf(lm[k][1]) > 1e6f) return 0;
    return 1;
}

/* The face hull's points: all 68, the brows lifted by MASK_BROW_LIFT of the chin -> brow vector. */
static int face_hull(const float lm[68][2], float (*h)[2]) {
    float pts[68][2], bx = 0, by = 0;
    for (int k = 17; k < 27; k++) bx += lm[k][0] / 10, by += lm[k][1] / 10;
    float ux = (bx - lm[8][0]) * MASK_BROW_LIFT, uy = (by - lm[8][1]) * MASK_BROW_LIFT;
    for (int k = 0; k < 68; k++) {
        int brow = k >= 17 && k < 27;
        pts[k][0] = lm[k][0] + (brow ? ux : 0), pts[k][1] = lm[k][1] + (brow ? uy : 0);
    }
    return hull_of(pts, 68, h);
}

float mask_face_size(const float lm[68][2]) {
    if (!finite_lm(lm)) return 0;
    float h[136][2];
    int n = face_hull(lm, h);
    double a = 0;
    for (int i = 0; i < n; i++) a += (double)h[i][0] * h[(i + 1) % n][1] - (double)h[i][1] * h[(i + 1) % n][0];
    return (float)sqrt(fabs(a) / 2);
}

void mask_shape(MaskShape shape, const float lm[68][2], int size, float *mask) {
    SL_ASSERT(shape != MASK_SHAPE_LEARNED); /* the decoder's: mask_make_learned */
    if (shape == MASK_SHAPE_HULL) {
        align_face_mask(lm, size, mask);
        return;
    }
    memset(mask, 0, sizeof(float) * (size_t)size * size);
    if (!finite_lm(lm)) return;
    float h[136][2];
    int n = face_hull(lm, h);
    if (n < 3) return;
    float minx = h[0][0], maxx = minx, miny = h[0][1], maxy = miny;
    for (int i = 1; i < n; i++)
        minx = fminf(minx, h[i][0]), maxx = fmaxf(maxx, h[i][0]), miny = fminf(miny, h[i][1]), maxy = fmaxf(maxy, h[i][1]);
    int x0 = (int)fmaxf(0, floorf(minx - 1)), x1 = (int)fminf((float)size, ceilf(maxx + 1));
    int y0 = (int)fmaxf(0, floorf(miny - 1)), y1 = (int)fminf((float)size, ceilf(maxy + 1));
    /* hull_of returns counter-clockwise order in x-right/y-down coordinates: inside is cross > 0 */
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            float px = x + 0.5f, py = y + 0.5f, d = 1e30f;
            for (int i = 0; i < n; i++) {
                const float *a = h[i], *b = h[(i + 1) % n];
                float ex = b[0] - a[0], ey = b[1] - a[1], len = sqrtf(ex * ex + ey * ey);
                if (len < 1e-6f) continue;
                float sd = (ex * (py - a[1]) - ey * (px - a[0])) / len;
                if (sd < d) d = sd;
            }
            float v = d + 0.5f;
            mask[(size_t)y * size + x] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
}

void mask_shape_edge(const MaskSpec *m, float face_size, int size, float *mask) {
    float k = m->relative ? face_size / 100.0f : 1.0f;
    if (m->erode > 0) blend_mask_erode(mask, size, size, m->erode * k);
    if (m->feather > 0) blend_mask_feather(mask, size, size, m->feather * k);
}

void mask_learned_blend(const float *learned, const float *hull, size_t n, float *mask) {
    for (size_t i = 0; i < n; i++) {
        float l = learned[i], h = hull[i];
        l = isnan(l) ? 0.5f : l > 0 ? (l < 1 ? l : 1) : 0; /* a NaN is unsure: the hull */
        float c = fabsf(2 * l - 1) / MASK_LEARNED_SURE;
        if (c > 1) c = 1;
        mask[i] = c * l + (1 - c) * h;
    }
}

void mask_make_learned(const MaskSpec *m, const float lm[68][2], const float *learned, int size, float *mask) {
    if (m->shape == MASK_SHAPE_LEARNED) {
        SL_ASSERT(learned);
        mask_shape(MASK_SHAPE_HULL, lm, size, mask);
        mask_learned_blend(learned, mask, (size_t)size * size, mask);
    } else {
        mask_shape(m->shape, lm, size, mask);
    }
    mask_shape_edge(m, mask_face_size(lm), size, mask);
}

void mask_make(const MaskSpec *m, const float lm[68][2], int size, float *mask) {
    mask_make_learned(m, lm, NULL, size, mask);
}
