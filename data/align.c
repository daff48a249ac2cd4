/* align.c — Umeyama similarity alignment onto the mean-face template, bilinear affine warps and
 * landmark-hull masks. Umeyama, "Least-squares estimation of transformation parameters between two
 * point patterns", IEEE TPAMI 13(4), 1991. In 2-D the rotation+scale part is the complex number
 * minimising sum |d_i - z s_i|^2 over centred points, which is Umeyama's solution (det > 0 always,
 * so no reflection). */
#include "data/align.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The 2-D mean face of landmarks 17..67 (51 points), normalised to [0,1], as used by the classic
 * deepfakes / faceswap umeyama alignment (public numeric data). */
static const float k_mean_x[51] = {
    0.000213256f, 0.0752622f, 0.18113f,  0.29077f,  0.393397f, 0.586856f, 0.689483f, 0.799124f,
    0.904991f,    0.98004f,   0.490127f, 0.490127f, 0.490127f, 0.490127f, 0.36688f,  0.426036f,
    0.490127f,    0.554217f,  0.613373f, 0.121737f, 0.187122f, 0.265825f, 0.334606f, 0.260918f,
    0.182743f,    0.645647f,  0.714428f, 0.793132f, 0.858516f, 0.79751f,  0.719335f, 0.254149f,
    0.340985f,    0.428858f,  0.490127f, 0.551395f, 0.639268f, 0.726104f, 0.642159f, 0.556721f,
    0.490127f,    0.423532f,  0.338094f, 0.290379f, 0.428096f, 0.490127f, 0.552157f, 0.689874f,
    0.553364f,    0.490127f,  0.42689f};
static const float k_mean_y[51] = {
    0.106454f, 0.038915f, 0.0187482f, 0.0344891f, 0.0773906f, 0.0773906f, 0.0344891f, 0.0187482f,
    0.038915f, 0.106454f, 0.203352f,  0.307009f,  0.409805f,  0.515625f,  0.587326f,  0.609345f,
    0.628106f, 0.609345f, 0.587326f,  0.216423f,  0.178758f,  0.179852f,  0.231733f,  0.245099f,
    0.244077f, 0.231733f, 0.179852f,  0.178758f,  0.216423f,  0.244077f,  0.245099f,  0.780233f,
    0.745405f, 0.727388f, 0.742578f,  0.727388f,  0.745405f,  0.780233f,  0.864805f,  0.902192f,
    0.909281f, 0.902192f, 0.864805f,  0.784792f,  0.778746f,  0.785343f,  0.778746f,  0.784792f,
    0.824182f, 0.831803f, 0.824182f};

void align_template_point(int k, float *x, float *y) {
    SL_ASSERT(k >= ALIGN_FIRST_LM && k < ALIGN_NLM);
    *x = k_mean_x[k - ALIGN_FIRST_LM];
    *y = k_mean_y[k - ALIGN_FIRST_LM];
}

int align_umeyama(const float (*src)[2], const float (*dst)[2], int n, Affine *out) {
    if (n < 2) return -1;
    double msx = 0, msy = 0, mdx = 0, mdy = 0;
    for (int i = 0; i < n; i++) {
        msx += src[i][0], msy += src[i][1];
        mdx += dst[i][0], mdy += dst[i][1];
    }
    msx /= n, msy /= n, mdx /= n, mdy /= n;
    double var = 0, re = 0, im = 0;
    for (int i = 0; i < n; i++) {
        double sx = src[i][0] - msx, sy = src[i][1] - msy;
        double dx = dst[i][0] - mdx, dy = dst[i][1] - mdy;
        var += sx * sx + sy * sy;
        re += sx * dx + sy * dy; /* Re(conj(s) d) */
        im += sx * dy - sy * dx; /* Im(conj(s) d) */
    }
    if (!(var > 1e-12) || !isfinite(var) || !isfinite(re) || !isfinite(im)) return -1;
    double a = re / var, b = im / var; /* z = a + ib: scale*rotation */
    if (!(a * a + b * b > 1e-24)) return -1;
    out->m[0] = a, out->m[1] = -b, out->m[2] = mdx - (a * msx - b * msy);
    out->m[3] = b, out->m[4] = a, out->m[5] = mdy - (b * msx + a * msy);
    return 0;
}

int align_face_affine(const float lm[ALIGN_NLM][2], int size, float coverage, Affine *out) {
    SL_ASSERT(size > 0 && coverage > 0);
    float dst[ALIGN_NLM - ALIGN_FIRST_LM][2];
    for (int k = ALIGN_FIRST_LM; k < ALIGN_NLM; k++) {
        float tx, ty;
        align_template_point(k, &tx, &ty);
        dst[k - ALIGN_FIRST_LM][0] = size * (0.5f + coverage * (tx - 0.5f));
        dst[k - ALIGN_FIRST_LM][1] = size * (0.5f + coverage * (ty - 0.5f));
    }
    return align_umeyama((const float(*)[2])lm + ALIGN_FIRST_LM, (const float(*)[2])dst,
                         ALIGN_NLM - ALIGN_FIRST_LM, out);
}

void affine_apply(const Affine *a, float x, float y, float *ox, float *oy) {
    double fx = x, fy = y;
    *ox = (float)(a->m[0] * fx + a->m[1] * fy + a->m[2]);
    *oy = (float)(a->m[3] * fx + a->m[4] * fy + a->m[5]);
}

void affine_invert(const Affine *a, Affine *inv) {
    const double *m = a->m;
    double det = m[0] * m[4] - m[1] * m[3];
    SL_ASSERT(fabs(det) > 1e-300 && isfinite(det));
    Affine r;
    r.m[0] = m[4] / det, r.m[1] = -m[1] / det;
    r.m[3] = -m[3] / det, r.m[4] = m[0] / det;
    r.m[2] = -(r.m[0] * m[2] + r.m[1] * m[5]);
    r.m[5] = -(r.m[3] * m[2] + r.m[4] * m[5]);
    *inv = r;
}

void affine_compose(const Affine *s, const Affine *f, Affine *out) {
    Affine r;
    r.m[0] = s->m[0] * f->m[0] + s->m[1] * f->m[3];
    r.m[1] = s->m[0] * f->m[1] + s->m[1] * f->m[4];
    r.m[2] = s->m[0] * f->m[2] + s->m[1] * f->m[5] + s->m[2];
    r.m[3] = s->m[3] * f->m[0] + s->m[4] * f->m[3];
    r.m[4] = s->m[3] * f->m[1] + s->m[4] * f->m[4];
    r.m[5] = s->m[3] * f->m[2] + s->m[4] * f->m[5] + s->m[5];
    *out = r;
}

double affine_scale(const Affine *a) { return sqrt(fabs(a->m[0] * a->m[4] - a->m[1] * a->m[3])); }

void align_transform_landmarks(const Affine *a, const float in[ALIGN_NLM][2], float out[ALIGN_NLM][2]) {
    for (int k = 0; k < ALIGN_NLM; k++) affine_apply(a, in[k][0], in[k][1], &out[k][0], &out[k][1]);
}

/* ---- warps -------------------------------------------------------------------------------- */
/* out(p) = src(inv * p) at pixel centres; samples at continuous position (u - 0.5, v - 0.5) in
 * index space. */
void align_warp(const Image *src, const Affine *a, int out_w, int out_h, AlignBorder border,
                const uint8_t *bg, Image *out) {
    SL_ASSERT(src->px && src->w > 0 && src->h > 0 && src->c >= 1 && src->c <= 4);
    Affine inv;
    affine_invert(a, &inv);
    const int c = src->c, W = src->w, H = src->h;
    uint8_t zero[4] = {0, 0, 0, 0};
    const uint8_t *bgc = bg ? bg : zero;
    *out = image_new(out_w, out_h, c);
    for (int y = 0; y < out_h; y++) {
        for (int x = 0; x < out_w; x++) {
            double px = x + 0.5, py = y + 0.5;
            double u = inv.m[0] * px + inv.m[1] * py + inv.m[2] - 0.5;
            double v = inv.m[3] * px + inv.m[4] * py + inv.m[5] - 0.5;
            uint8_t *o = out->px + ((size_t)y * out_w + x) * c;
            if (!isfinite(u) || !isfinite(v)) u = v = -1e9;
            if (u < -1e6) u = -1e6;
            if (u > 1e6) u = 1e6;
            if (v < -1e6) v = -1e6;
            if (v > 1e6) v = 1e6;
            double fu = floor(u), fv = floor(v);
            int x0 = (int)fu, y0 = (int)fv;
            float wx = (float)(u - fu), wy = (float)(v - fv);
            const uint8_t *p[4];
            int xs[2] = {x0, x0 + 1}, ys[2] = {y0, y0 + 1};
            for (int j = 0; j < 2; j++) {
                for (int i = 0; i < 2; i++) {
                    int xi = xs[i], yj = ys[j];
                    if (xi < 0 || xi >= W || yj < 0 || yj >= H) {
                        if (border == ALIGN_BORDER_CONSTANT) {
                            p[j * 2 + i] = bgc;
                            continue;
                        }
                        xi = xi < 0 ? 0 : xi >= W ? W - 1 : xi;
                        yj = yj < 0 ? 0 : yj >= H ? H - 1 : yj;
                    }
                    p[j * 2 + i] = src->px + ((size_t)yj * W + xi) * c;
                }
            }
            for (int ch = 0; ch < c; ch++) {
                float top = p[0][ch] + wx * (p[1][ch] - p[0][ch]);
                float bot = p[2][ch] + wx * (p[3][ch] - p[2][ch]);
                float val = top + wy * (bot - top);
                int iv = (int)lrintf(val);
                o[ch] = (uint8_t)(iv < 0 ? 0 : iv > 255 ? 255 : iv);
            }
        }
    }
}

void align_warp_inverse(const Image *crop, const Affine *a, int frame_w, int frame_h,
                        AlignBorder border, const uint8_t *bg, Image *out) {
    Affine inv;
    affine_invert(a, &inv);
    align_warp(crop, &inv, frame_w, frame_h, border, bg, out);
}

void align_warp_float(const float *src, int w, int h, int nplanes, const Affine *a, int out_w,
                      int out_h, AlignBorder border, float bg, float *out) {
    SL_ASSERT(w > 0 && h > 0 && nplanes > 0);
    Affine inv;
    affine_invert(a, &inv);
    const size_t plane = (size_t)w * h, oplane = (size_t)out_w * out_h;
    for (int y = 0; y < out_h; y++) {
        for (int x = 0; x < out_w; x++) {
            double px = x + 0.5, py = y + 0.5;
            double u = inv.m[0] * px + inv.m[1] * py + inv.m[2] - 0.5;
            double v = inv.m[3] * px + inv.m[4] * py + inv.m[5] - 0.5;
            if (!isfinite(u) || !isfinite(v)) u = v = -1e9;
            u = u < -1e6 ? -1e6 : u > 1e6 ? 1e6 : u;
            v = v < -1e6 ? -1e6 : v > 1e6 ? 1e6 : v;
            double fu = floor(u), fv = floor(v);
            int x0 = (int)fu, y0 = (int)fv;
            float wx = (float)(u - fu), wy = (float)(v - fv);
            long idx[4];
            int xs[2] = {x0, x0 + 1}, ys[2] = {y0, y0 + 1};
            for (int j = 0; j < 2; j++) {
                for (int i = 0; i < 2; i++) {
                    int xi = xs[i], yj = ys[j];
                    if (xi < 0 || xi >= w || yj < 0 || yj >= h) {
                        if (border == ALIGN_BORDER_CONSTANT) {
                            idx[j * 2 + i] = -1;
                            continue;
                        }
                        xi = xi < 0 ? 0 : xi >= w ? w - 1 : xi;
                        yj = yj < 0 ? 0 : yj >= h ? h - 1 : yj;
                    }
                    idx[j * 2 + i] = (long)yj * w + xi;
                }
            }
            for (int c = 0; c < nplanes; c++) {
                const float *s = src + c * plane;
                float p0 = idx[0] < 0 ? bg : s[idx[0]], p1 = idx[1] < 0 ? bg : s[idx[1]];
                float p2 = idx[2] < 0 ? bg : s[idx[2]], p3 = idx[3] < 0 ? bg : s[idx[3]];
                float top = p0 + wx * (p1 - p0), bot = p2 + wx * (p3 - p2);
                out[c * oplane + (size_t)y * out_w + x] = top + wy * (bot - top);
            }
        }
    }
}

int align_face(const Image *frame, const float lm[ALIGN_NLM][2], int size, float coverage,
               Image *crop, float lm_crop[ALIGN_NLM][2], Affine *affine, SlErr *err) {
    for (int k = 0; k < ALIGN_NLM; k++)
        if (!isfinite(lm[k][0]) || !isfinite(lm[k][1]))
            return sl_fail(err, "landmark %d is not a finite number", k);
    if (align_face_affine(lm, size, coverage, affine))
        return sl_fail(err, "landmarks 17-67 are degenerate (all at one point): cannot align");
    align_warp(frame, affine, size, size, ALIGN_BORDER_REPLICATE, NULL, crop);
    align_transform_landmarks(affine, lm, lm_crop);
    return 0;
}

/* ---- masks -------------------------------------------------------------------------------- */
static float cross(const float *o, const float *a, const float *b) {
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}
static int cmp_pt(const void *pa, const void *pb) {
    const float *a = pa, *b = pb;
    if (a[0] != b[0]) return a[0] < b[0] ? -1 : 1;
    if (a[1] != b[1]) return a[1] < b[1] ? -1 : 1;
    return 0;
}

/* Convex hull (Andrew's monotone chain) of n points into hull (room for 2n entries while it is
 * built); returns the count. */
static int convex_hull(float (*pts)[2], int n, float (*hull)[2]) {
    qsort(pts, (size_t)n, sizeof pts[0], cmp_pt);
    int k = 0;
    for (int i = 0; i < n; i++) {
        while (k >= 2 && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0) k--;
        hull[k][0] = pts[i][0], hull[k][1] = pts[i][1], k++;
    }
    for (int i = n - 2, t = k + 1; i >= 0; i--) {
        while (k >= t && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0) k--;
        hull[k][0] = pts[i][0], hull[k][1] = pts[i][1], k++;
    }
    return k > 1 ? k - 1 : k;
}

/* Rasterises the convex polygon (hull order) into dst with value val, keeping the maximum, with a
 * one-pixel linear edge. */
static void fill_convex(float (*hull)[2], int nh, int size, float val, float *dst) {
    if (nh < 3) return;
    float minx = hull[0][0], maxx = minx, miny = hull[0][1], maxy = miny;
    for (int i = 1; i < nh; i++) {
        minx = fminf(minx, hull[i][0]), maxx = fmaxf(maxx, hull[i][0]);
        miny = fminf(miny, hull[i][1]), maxy = fmaxf(maxy, hull[i][1]);
    }
    int x0 = (int)floorf(minx - 1), x1 = (int)ceilf(maxx + 1);
    int y0 = (int)floorf(miny - 1), y1 = (int)ceilf(maxy + 1);
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > size ? size : x1, y1 = y1 > size ? size : y1;
    /* orientation: the hull's signed area decides which side is inside */
    float area = 0;
    for (int i = 0; i < nh; i++) {
        const float *a = hull[i], *b = hull[(i + 1) % nh];
        area += a[0] * b[1] - a[1] * b[0];
    }
    float sgn = area > 0 ? 1.0f : -1.0f;
    for (int y = y0; y < y1; y++) {
        for (int x = x0; x < x1; x++) {
            float px = x + 0.5f, py = y + 0.5f, d = 1e30f;
            for (int i = 0; i < nh; i++) {
                const float *a = hull[i], *b = hull[(i + 1) % nh];
                float ex = b[0] - a[0], ey = b[1] - a[1], len = sqrtf(ex * ex + ey * ey);
                if (len < 1e-6f) continue;
                float sd = sgn * (ex * (py - a[1]) - ey * (px - a[0])) / len;
                if (sd < d) d = sd;
            }
            float cov = d + 0.5f;
            cov = cov < 0 ? 0 : cov > 1 ? 1 : cov;
            float v = cov * val;
            float *o = dst + (size_t)y * size + x;
            if (v > *o) *o = v;
        }
    }
}

static int finite_lm(const float lm[ALIGN_NLM][2]) {
    for (int k = 0; k < ALIGN_NLM; k++)
        if (!isfinite(lm[k][0]) || !isfinite(lm[k][1]) || fabsf(lm[k][0]) > 1e6f || fabsf(lm[k][1]) > 1e6f)
            return 0;
    return 1;
}

void align_face_mask(const float lm[ALIGN_NLM][2], int size, float *mask) {
    memset(mask, 0, (size_t)size * size * sizeof *mask);
    if (!finite_lm(lm)) return;
    float pts[ALIGN_NLM + 10][2], hull[2 * (ALIGN_NLM + 10)][2];
    int n = 0;
    for (int k = 0; k < ALIGN_NLM; k++) pts[n][0] = lm[k][0], pts[n][1] = lm[k][1], n++;
    /* forehead: the brows lifted by a third of the chin → brow-centre vector */
    float bx = 0, by = 0;
    for (int k = 17; k < 27; k++) bx += lm[k][0] / 10, by += lm[k][1] / 10;
    float ux = (bx - lm[8][0]) / 3, uy = (by - lm[8][1]) / 3;
    for (int k = 17; k < 27; k++) pts[n][0] = lm[k][0] + ux, pts[n][1] = lm[k][1] + uy, n++;
    int nh = convex_hull(pts, n, hull);
    fill_convex(hull, nh, size, 1.0f, mask);
}

/* A region's hull scaled by f about its centroid. */
static void fill_region(const float lm[ALIGN_NLM][2], const int *idx, int n, float f, int size,
                        float val, float *dst) {
    float pts[32][2], hull[64][2], cx = 0, cy = 0;
    SL_ASSERT(n <= 32);
    for (int i = 0; i < n; i++) cx += lm[idx[i]][0] / n, cy += lm[idx[i]][1] / n;
    for (int i = 0; i < n; i++) {
        pts[i][0] = cx + f * (lm[idx[i]][0] - cx);
        pts[i][1] = cy + f * (lm[idx[i]][1] - cy);
    }
    int nh = convex_hull(pts, n, hull);
    fill_convex(hull, nh, size, val, dst);
}

void align_weight_map(const float lm[ALIGN_NLM][2], int size, float *weights) {
    size_t np = (size_t)size * size;
    float *mask = xmalloc(np * sizeof *mask);
    align_face_mask(lm, size, mask);
    memset(weights, 0, np * sizeof *weights);
    if (finite_lm(lm)) {
        static const int eye_r[] = {17, 18, 19, 20, 21, 36, 37, 38, 39, 40, 41};
        static const int eye_l[] = {22, 23, 24, 25, 26, 42, 43, 44, 45, 46, 47};
        static const int mouth[] = {48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59};
        fill_region(lm, eye_r, 11, 1.1f, size, ALIGN_FEATURE_WEIGHT, weights);
        fill_region(lm, eye_l, 11, 1.1f, size, ALIGN_FEATURE_WEIGHT, weights);
        fill_region(lm, mouth, 12, 1.2f, size, ALIGN_FEATURE_WEIGHT, weights);
    }
    for (size_t i = 0; i < np; i++) {
        float w = weights[i] > mask[i] ? weights[i] : mask[i];
        weights[i] = mask[i] > 0 ? w * (mask[i] < 1 ? mask[i] : 1) : 0;
    }
    free(mask);
}
