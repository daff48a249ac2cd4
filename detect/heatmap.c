/* heatmap.c — occlusion sensitivity and its colour overlay (heatmap.h). */
#include "detect/heatmap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Positions 0, s, 2s, ... plus the last one (n - p), so the far edge is covered; count into *k. */
static int *positions(int n, int p, int s, int *k) {
    int cap = (n - p) / s + 2, m = 0;
    int *v = xmalloc((size_t)cap * sizeof *v);
    for (int x = 0; x <= n - p; x += s) v[m++] = x;
    if (v[m - 1] != n - p) v[m++] = n - p;
    *k = m;
    return v;
}

float heatmap_occlusion(const float *chw, int c, int h, int w, HeatmapScoreFn score, void *ctx,
                        const HeatmapOpts *opts, float *out) {
    HeatmapOpts o = opts ? *opts : (HeatmapOpts){8, 4, 0.5f};
    if (o.patch <= 0) o.patch = 8;
    if (o.stride <= 0) o.stride = o.patch / 2 > 0 ? o.patch / 2 : 1;
    SL_ASSERT(c >= 1 && h >= 1 && w >= 1);
    int ph = o.patch < h ? o.patch : h, pw = o.patch < w ? o.patch : w;
    size_t n = (size_t)c * h * w;
    float *work = xmalloc(n * sizeof *work);
    memcpy(work, chw, n * sizeof *work);
    float base = score(work, ctx);
    float *cnt = xcalloc((size_t)h * w, sizeof *cnt);
    memset(out, 0, (size_t)h * w * sizeof *out);
    int ny, nx;
    int *ys = positions(h, ph, o.stride, &ny), *xs = positions(w, pw, o.stride, &nx);
    for (int a = 0; a < ny; a++)
        for (int b = 0; b < nx; b++) {
            int y0 = ys[a], x0 = xs[b];
            for (int ch = 0; ch < c; ch++)
                for (int y = y0; y < y0 + ph; y++)
                    for (int x = x0; x < x0 + pw; x++) work[((size_t)ch * h + y) * w + x] = o.fill;
            float drop = base - score(work, ctx);
            for (int ch = 0; ch < c; ch++)
                for (int y = y0; y < y0 + ph; y++)
                    memcpy(work + ((size_t)ch * h + y) * w + x0, chw + ((size_t)ch * h + y) * w + x0, (size_t)pw * sizeof *work);
            for (int y = y0; y < y0 + ph; y++)
                for (int x = x0; x < x0 + pw; x++) out[(size_t)y * w + x] += drop, cnt[(size_t)y * w + x] += 1;
        }
    for (size_t i = 0; i < (size_t)h * w; i++) out[i] = cnt[i] > 0 ? out[i] / cnt[i] : 0;
    free(ys), free(xs), free(cnt), free(work);
    return base;
}

void heatmap_color(float t, uint8_t rgb[3]) {
    /* five stops sampled from matplotlib's viridis (CC0), https://bids.github.io/colormap/ */
    static const float stops[5][3] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    float u = t * 4;
    int i = (int)u;
    if (i > 3) i = 3;
    float f = u - i;
    for (int k = 0; k < 3; k++) rgb[k] = (uint8_t)lroundf(stops[i][k] + f * (stops[i + 1][k] - stops[i][k]));
}

static float sample_bilinear(const float *m, int h, int w, float y, float x) {
    y = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
    x = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
    int y0 = (int)y, x0 = (int)x, y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
    float fy = y - y0, fx = x - x0;
    float a = m[y0 * w + x0] + fx * (m[y0 * w + x1] - m[y0 * w + x0]);
    float b = m[y1 * w + x0] + fx * (m[y1 * w + x1] - m[y1 * w + x0]);
    return a + fy * (b - a);
}

Image heatmap_overlay(const Image *img, const float *heat, int hh, int hw, float alpha) {
    SL_ASSERT(hh >= 1 && hw >= 1 && alpha >= 0 && alpha <= 1);
    float mx = 0;
    for (size_t i = 0; i < (size_t)hh * hw; i++)
        if (isfinite(heat[i])) mx = fmaxf(mx, heat[i]);
    Image o = image_new(img->w, img->h, 3);
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++) {
            /* pixel centres mapped between the two grids */
            float sy = (y + 0.5f) * hh / img->h - 0.5f, sx = (x + 0.5f) * hw / img->w - 0.5f;
            float v = sample_bilinear(heat, hh, hw, sy, sx);
            float t = mx > 0 && isfinite(v) && v > 0 ? v / mx : 0;
            uint8_t col[3];
            heatmap_color(t, col);
            const uint8_t *p = img->px + ((size_t)y * img->w + x) * img->c;
            uint8_t *q = o.px + ((size_t)y * img->w + x) * 3;
            float a = alpha * t;
            for (int k = 0; k < 3; k++) {
                float src = img->c >= 3 ? p[k] : p[0];
                q[k] = (uint8_t)lroundf((1 - a) * src + a * col[k]);
            }
        }
    return o;
}

int heatmap_save_png(const char *path, const Image *img, const float *heat, int hh, int hw, float alpha,
                     const PngText *texts, int ntexts, SlErr *err) {
    Image o = heatmap_overlay(img, heat, hh, hw, alpha);
    int rc = image_save_png(path, &o, texts, ntexts, err);
    image_free(&o);
    return rc;
}

float *heatmap_image_to_chw(const Image *img) {
    size_t hw = (size_t)img->w * img->h;
    float *f = xmalloc(hw * (size_t)img->c * sizeof *f);
    for (int k = 0; k < img->c; k++)
        for (size_t i = 0; i < hw; i++) f[k * hw + i] = img->px[i * img->c + k] / 255.0f;
    return f;
}
