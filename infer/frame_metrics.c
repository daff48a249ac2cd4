/* frame_metrics.c — the composited-frame metrics (see frame_metrics.h). */
#include "infer/frame_metrics.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* ---- composited frames ------------------------------------------------------------------------ */
/* sRGB bytes -> CIE L*a*b* (D65), the one conversion of data/image.h. */
static void rgb8_to_lab(const uint8_t *p, double lab[3]) {
    float rgb[3] = {p[0] / 255.0f, p[1] / 255.0f, p[2] / 255.0f}, l[3];
    image_rgb_to_lab(rgb, l);
    lab[0] = l[0], lab[1] = l[1], lab[2] = l[2];
}

/* Chamfer distance (1, sqrt 2) within a w x h box from each pixel with in[i] to the nearest pixel
 * without; 0 where !in[i]. */
static void chamfer(const uint8_t *in, int w, int h, float *d) {
    const float a = 1.0f, b = 1.41421356f;
    for (size_t i = 0; i < (size_t)w * h; i++) d[i] = in[i] ? 1e9f : 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *p = &d[(size_t)y * w + x];
            if (*p == 0) continue;
            if (x > 0) *p = fminf(*p, p[-1] + a);
            if (y > 0) {
                *p = fminf(*p, p[-w] + a);
                if (x > 0) *p = fminf(*p, p[-w - 1] + b);
                if (x < w - 1) *p = fminf(*p, p[-w + 1] + b);
            }
        }
    for (int y = h - 1; y >= 0; y--)
        for (int x = w - 1; x >= 0; x--) {
            float *p = &d[(size_t)y * w + x];
            if (*p == 0) continue;
            if (x < w - 1) *p = fminf(*p, p[1] + a);
            if (y < h - 1) {
                *p = fminf(*p, p[w] + a);
                if (x < w - 1) *p = fminf(*p, p[w + 1] + b);
                if (x > 0) *p = fminf(*p, p[w - 1] + b);
            }
        }
}

typedef struct {
    int x0, y0, w, h; /* the box in the frame */
    const float *mask; int fw;
    uint8_t *inner, *border, *band_in, *band_out; /* per box pixel */
} Regions;

static float mk(const Regions *g, int x, int y) { return g->mask[(size_t)(g->y0 + y) * g->fw + g->x0 + x]; }

static double luma(const Image *im, int x, int y) {
    const uint8_t *p = im->px + ((size_t)y * im->w + x) * 3;
    return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
}

/* Laplacian variance of the luma over the inner region. */
static double lap_var(const Image *im, const Regions *g) {
    double s = 0, s2 = 0;
    long n = 0;
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w; x++) {
            int fx = g->x0 + x, fy = g->y0 + y;
            if (!g->inner[(size_t)y * g->w + x] || fx < 1 || fy < 1 || fx >= im->w - 1 || fy >= im->h - 1) continue;
            double l = luma(im, fx - 1, fy) + luma(im, fx + 1, fy) + luma(im, fx, fy - 1) + luma(im, fx, fy + 1) -
                       4 * luma(im, fx, fy);
            s += l, s2 += l * l, n++;
        }
    if (n == 0) return 0;
    double m = s / n;
    return s2 / n - m * m;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* 90th percentile of the luma gradient magnitude (central differences) on the border pixels. */
static double border_p90(const Image *im, const Regions *g) {
    double *v = xmalloc(sizeof(double) * (size_t)g->w * g->h);
    size_t n = 0;
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w; x++) {
            int fx = g->x0 + x, fy = g->y0 + y;
            if (!g->border[(size_t)y * g->w + x] || fx < 1 || fy < 1 || fx >= im->w - 1 || fy >= im->h - 1) continue;
            double gx = (luma(im, fx + 1, fy) - luma(im, fx - 1, fy)) / 2, gy = (luma(im, fx, fy + 1) - luma(im, fx, fy - 1)) / 2;
            v[n++] = sqrt(gx * gx + gy * gy);
        }
    double r = 0;
    if (n) {
        qsort(v, n, sizeof *v, cmp_dbl);
        r = v[(size_t)(0.9 * (double)(n - 1))];
    }
    free(v);
    return r;
}

/* ΔE between the mean L*a*b* of the band inside and the band outside the mask edge. */
static double colour_step(const Image *im, const Regions *g) {
    double in[3] = {0}, out[3] = {0}, lab[3];
    long ni = 0, no = 0;
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w; x++) {
            size_t q = (size_t)y * g->w + x;
            if (!g->band_in[q] && !g->band_out[q]) continue;
            rgb8_to_lab(im->px + ((size_t)(g->y0 + y) * im->w + g->x0 + x) * 3, lab);
            double *acc = g->band_in[q] ? in : out;
            for (int c = 0; c < 3; c++) acc[c] += lab[c];
            if (g->band_in[q]) ni++;
            else no++;
        }
    if (!ni || !no) return 0;
    double d = 0;
    for (int c = 0; c < 3; c++) d += (in[c] / ni - out[c] / no) * (in[c] / ni - out[c] / no);
    return sqrt(d);
}

/* SSIM (as fidelity_ssim) of two planar RGB images of w x h, unmasked. */
static double ssim_rect(const float *x, const float *y, int w, int h) {
    enum { K = 11, R = 5 };
    double gk[K], gs = 0;
    for (int i = 0; i < K; i++) gs += gk[i] = exp(-(double)(i - R) * (i - R) / (2 * 1.5 * 1.5));
    for (int i = 0; i < K; i++) gk[i] /= gs;
    const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
    size_t np = (size_t)w * h;
    double acc = 0;
    long cnt = 0;
    for (int c = 0; c < 3; c++) {
        const float *a = x + c * np, *b = y + c * np;
        for (int cy = R; cy < h - R; cy++)
            for (int cx = R; cx < w - R; cx++) {
                double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
                for (int dy = 0; dy < K; dy++)
                    for (int dx = 0; dx < K; dx++) {
                        double wt = gk[dy] * gk[dx];
                        double va = a[(size_t)(cy - R + dy) * w + cx - R + dx], vb = b[(size_t)(cy - R + dy) * w + cx - R + dx];
                        ma += wt * va, mb += wt * vb, saa += wt * va * va, sbb += wt * vb * vb, sab += wt * va * vb;
                    }
                double va = saa - ma * ma, vb = sbb - mb * mb, cov = sab - ma * mb;
                acc += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
                cnt++;
            }
    }
    return cnt ? acc / cnt : 0;
}

static float *box_planes(const Image *im, const Regions *g) {
    size_t np = (size_t)g->w * g->h;
    float *p = xmalloc(sizeof(float) * 3 * np);
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w; x++)
            for (int c = 0; c < 3; c++)
                p[c * np + (size_t)y * g->w + x] = im->px[((size_t)(g->y0 + y) * im->w + g->x0 + x) * 3 + c] / 255.0f;
    return p;
}

int frame_metrics_measure(const Image *src, const Image *swap, const Image *gt, const float *mask, const int *box,
                           FrameMetrics *fm) {
    SL_ASSERT(src->c == 3 && swap->c == 3 && swap->w == src->w && swap->h == src->h);
    SL_ASSERT(!gt || (gt->c == 3 && gt->w == src->w && gt->h == src->h));
    const int W = src->w, H = src->h;
    double area = 0;
    int bx0 = W, by0 = H, bx1 = -1, by1 = -1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float m = mask[(size_t)y * W + x];
            area += m;
            if (m > 0.02f) bx0 = x < bx0 ? x : bx0, bx1 = x > bx1 ? x : bx1, by0 = y < by0 ? y : by0, by1 = y > by1 ? y : by1;
        }
    if (bx1 < 0 || area < 4) return -1;
    const double face = sqrt(area);
    const int grow = (int)ceil(0.15 * face) + 2;
    Regions g = {0};
    g.mask = mask, g.fw = W;
    g.x0 = bx0 - grow < 0 ? 0 : bx0 - grow, g.y0 = by0 - grow < 0 ? 0 : by0 - grow;
    int x1 = bx1 + grow + 1 > W ? W : bx1 + grow + 1, y1 = by1 + grow + 1 > H ? H : by1 + grow + 1;
    g.w = x1 - g.x0, g.h = y1 - g.y0;
    const size_t np = (size_t)g.w * g.h;
    g.inner = xcalloc(np, 1), g.border = xcalloc(np, 1), g.band_in = xcalloc(np, 1), g.band_out = xcalloc(np, 1);
    uint8_t *full = xmalloc(np), *empty = xmalloc(np);
    for (int y = 0; y < g.h; y++)
        for (int x = 0; x < g.w; x++) {
            size_t q = (size_t)y * g.w + x;
            float m = mk(&g, x, y), lo = m, hi = m;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int u = x + dx, v = y + dy;
                    if (u < 0 || v < 0 || u >= g.w || v >= g.h) continue;
                    float n = mk(&g, u, v);
                    lo = n < lo ? n : lo, hi = n > hi ? n : hi;
                }
            g.inner[q] = m >= 0.98f;
            g.border[q] = hi > 0.02f && lo < 0.98f;
            full[q] = m >= 0.98f, empty[q] = m <= 0.02f;
        }
    /* bands: full pixels within Wb of a non-full one; empty pixels within Wb of a non-empty one */
    const float Wb = (float)fmax(2.0, 0.06 * face);
    float *d = xmalloc(sizeof(float) * np);
    chamfer(full, g.w, g.h, d);
    for (size_t q = 0; q < np; q++) g.band_in[q] = full[q] && d[q] <= Wb;
    chamfer(empty, g.w, g.h, d);
    for (size_t q = 0; q < np; q++) g.band_out[q] = empty[q] && d[q] <= Wb;
    free(d), free(full), free(empty);

    memset(fm, 0, sizeof *fm);
    fm->n = 1;
    double lv_src = lap_var(src, &g), bd_src = border_p90(src, &g), cs_src = colour_step(src, &g);
    fm->sharpness = lv_src > 0 ? lap_var(swap, &g) / lv_src : 0;
    fm->border = bd_src > 0 ? border_p90(swap, &g) / bd_src : 0;
    fm->colour_step = colour_step(swap, &g) - cs_src;
    if (gt) {
        fm->sharpness_gt = lv_src > 0 ? lap_var(gt, &g) / lv_src : 0;
        fm->border_gt = bd_src > 0 ? border_p90(gt, &g) / bd_src : 0;
        fm->colour_step_gt = colour_step(gt, &g) - cs_src;
        Regions b = g;
        if (box) {
            b.x0 = box[0] < 0 ? 0 : box[0], b.y0 = box[1] < 0 ? 0 : box[1];
            b.w = (box[2] > W ? W : box[2]) - b.x0, b.h = (box[3] > H ? H : box[3]) - b.y0;
            SL_ASSERT(b.w > 0 && b.h > 0);
        }
        const size_t bn = (size_t)b.w * b.h;
        float *ps = box_planes(src, &b), *pw = box_planes(swap, &b), *pg = box_planes(gt, &b);
        double se = 0, se0 = 0;
        for (size_t i = 0; i < 3 * bn; i++) {
            double e = (double)pw[i] - pg[i], e0 = (double)ps[i] - pg[i];
            se += e * e, se0 += e0 * e0;
        }
        se /= 3.0 * bn, se0 /= 3.0 * bn;
        fm->psnr = se <= 1e-10 ? 100.0 : 10 * log10(1 / se);
        fm->psnr_src = se0 <= 1e-10 ? 100.0 : 10 * log10(1 / se0);
        fm->ssim = ssim_rect(pw, pg, b.w, b.h);
        fm->ssim_src = ssim_rect(ps, pg, b.w, b.h);
        free(ps), free(pw), free(pg);
    } else {
        fm->sharpness_gt = fm->border_gt = fm->colour_step_gt = -1;
        fm->psnr = fm->ssim = fm->psnr_src = fm->ssim_src = -1;
    }
    free(g.inner), free(g.border), free(g.band_in), free(g.band_out);
    return 0;
}

void frame_metrics_add(FrameMetrics *acc, const FrameMetrics *o) {
    acc->n += o->n;
    acc->sharpness += o->sharpness * o->n, acc->sharpness_gt += o->sharpness_gt * o->n;
    acc->border += o->border * o->n, acc->border_gt += o->border_gt * o->n;
    acc->colour_step += o->colour_step * o->n, acc->colour_step_gt += o->colour_step_gt * o->n;
    acc->psnr += o->psnr * o->n, acc->ssim += o->ssim * o->n;
    acc->psnr_src += o->psnr_src * o->n, acc->ssim_src += o->ssim_src * o->n;
}

void frame_metrics_mean(FrameMetrics *a) {
    if (a->n <= 0) return;
    double n = a->n;
    a->sharpness /= n, a->sharpness_gt /= n, a->border /= n, a->border_gt /= n;
    a->colour_step /= n, a->colour_step_gt /= n, a->psnr /= n, a->ssim /= n, a->psnr_src /= n, a->ssim_src /= n;
}

static json_t *num_or_null(double v, int ok) { return ok ? json_real(v) : json_null(); }

static json_t *frames_json(const FrameMetrics *m) {
    int gt = m->psnr >= 0;
    json_t *o = json_pack("{s:i, s:f, s:f, s:f}", "frames", m->n, "sharpness_ratio", m->sharpness, "border_ratio",
                          m->border, "colour_step", m->colour_step);
    json_object_set_new(o, "sharpness_ratio_ground_truth", num_or_null(m->sharpness_gt, gt));
    json_object_set_new(o, "border_ratio_ground_truth", num_or_null(m->border_gt, gt));
    json_object_set_new(o, "colour_step_ground_truth", num_or_null(m->colour_step_gt, gt));
    json_object_set_new(o, "frame_psnr", num_or_null(m->psnr, gt));
    json_object_set_new(o, "frame_ssim", num_or_null(m->ssim, gt));
    json_object_set_new(o, "frame_psnr_source_baseline", num_or_null(m->psnr_src, gt));
    json_object_set_new(o, "frame_ssim_source_baseline", num_or_null(m->ssim_src, gt));
    return o;
}

json_t *frame_report_to_json(const FrameReport *r, const FaceSet *sets) {
    json_t *pairs = json_array();
    for (int i = 0; i < r->npairs; i++) {
        json_t *o = frames_json(&r->pair[i].m);
        json_object_set_new(o, "source", json_string(sets[r->pair[i].a].subject));
        json_object_set_new(o, "target", json_string(sets[r->pair[i].b].subject));
        json_array_append_new(pairs, o);
    }
    return json_pack("{s:s, s:s, s:s, s:f, s:b, s:o, s:o}", "mask", r->mask, "colour", r->colour, "blend", r->blend,
                     "detail", r->detail, "held_out", r->heldout, "overall", frames_json(&r->all), "pairs", pairs);
}

void frame_report_print(FILE *out, const FrameReport *r, const FaceSet *sets) {
    fprintf(out, "composited frames (mask %s, colour %s, blend %s, detail %g; %s frames)\n", r->mask, r->colour,
            r->blend, r->detail, r->heldout ? "held-out" : "training");
    fprintf(out, "  %-30s %6s %9s %8s %8s %10s %10s\n", "pair", "frames", "sharpness", "border", "colour",
            "frame PSNR", "frame SSIM");
    for (int i = 0; i <= r->npairs; i++) {
        const FrameMetrics *m = i < r->npairs ? &r->pair[i].m : &r->all;
        char name[300];
        if (i < r->npairs) snprintf(name, sizeof name, "%s → %s", sets[r->pair[i].a].subject, sets[r->pair[i].b].subject);
        else snprintf(name, sizeof name, "all pairs");
        fprintf(out, "  %-30s %6d %9.3f %8.3f %+8.2f", name, m->n, m->sharpness, m->border, m->colour_step);
        if (m->psnr >= 0) fprintf(out, " %7.2f dB %10.4f\n", m->psnr, m->ssim);
        else fprintf(out, " %10s %10s\n", "-", "-");
        if (m->psnr >= 0)
            fprintf(out, "  %-30s %6s %9.3f %8.3f %+8.2f %7.2f dB %10.4f   (ground truth; source)\n", "", "",
                    m->sharpness_gt, m->border_gt, m->colour_step_gt, m->psnr_src, m->ssim_src);
    }
    fprintf(out, "  sharpness = Laplacian variance of the swapped region, swap / source frame (target >= 0.5);\n"
                 "  border = 90th percentile gradient on the mask border, swap / source (<= 1.15); colour = ΔE\n"
                 "  step across the mask edge, swap − source (within ±2); frame PSNR/SSIM against the ground\n"
                 "  truth in the face's box (the second line: the ground truth's own ratios and the unswapped\n"
                 "  source's PSNR/SSIM).\n");
    int far = 0;
    for (int i = 0; i < r->npairs; i++) far += fabs(r->pair[i].m.colour_step) > FRAME_COLOUR_STEP_MAX;
    /* colour none, or a part of a transfer ("rct:0.25") */
    if (far && (!strcmp(r->colour, "none") || strchr(r->colour, ':')))
        fprintf(out, "  note: %d of %d pairs step by more than ±%g ΔE across the mask's edge (their skin tones\n"
                     "  differ); --color rct moves the face all the way to the frame's tone: a seamless edge, at\n"
                     "  the cost of the swapped person's own tone (docs/PERFORMANCE.md, issue 17's targets).\n",
                far, r->npairs, FRAME_COLOUR_STEP_MAX);
}
