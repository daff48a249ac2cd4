/* watermark.c — the keyed spread-spectrum luminance watermark of watermark.h (design, numbers and
 * limits: docs/WATERMARK.md). Spread spectrum after Cox et al. 1997 (doi:10.1109/83.650120); the
 * payload code is the K=7 rate-1/2 convolutional code (171, 133 octal) with soft Viterbi decoding
 * (Viterbi 1967, doi:10.1109/TIT.1967.1054010).
 *
 * Layout: the image is cut into WM_G x WM_G cells in image-relative coordinates (a pixel belongs to
 * cell floor((x + 0.5) * G / w)), so a rescaled copy keeps its cells. A keyed permutation gives
 * WM_PILOT cells to a pilot of keyed +-1 chips (the detector's z-score) and the rest, round robin,
 * to the 92 coded bits of (payload, CRC-8, tail). Every cell's luminance moves by +-A, weighted by
 * local texture (flat regions get less), with the cell edges softened by a quarter-cell blur. The detector averages luminance per cell, removes the
 * host's low frequencies with a cell-grid high-pass, weights cells by their local residual energy,
 * and correlates. */
#include "infer/watermark.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"
#include "util/rng.h"

#define WM_G 64
#define WM_CELLS (WM_G * WM_G)
#define WM_PILOT 1536
#define WM_INFO_BITS (WM_PAYLOAD_BITS + 8)    /* payload + CRC-8 */
#define WM_K 7                                /* constraint length */
#define WM_STEPS (WM_INFO_BITS + WM_K - 1)    /* with the zero tail */
#define WM_CODED (2 * WM_STEPS)               /* 92 coded bits */
#define WM_AMP_START 2.0    /* first base chip amplitude tried, grey levels (times the mask) */
#define WM_AMP_MAX 4.0      /* the search for the largest amplitude within budget stays below */
#define WM_SEARCH_STEPS 6
#define WM_MASK_MIN 0.5
#define WM_MASK_MAX 2.0
#define WM_SOFTEN 4         /* blur radius = cell size / this */
#define WM_PSNR_FLOOR 40.3  /* PSNR of the stored (clipped, rounded) result never falls below */

void wm_key_from_string(WmKey *key, const char *s) {
    const char *pre = "swaplab-watermark-v1:";
    if (!s || !*s) s = WM_DEFAULT_KEY;
    size_t lp = strlen(pre), ls = strlen(s);
    char *buf = xmalloc(lp + ls);
    memcpy(buf, pre, lp);
    memcpy(buf + lp, s, ls);
    sl_sha256(buf, lp + ls, key->k);
    free(buf);
}

/* The keyed layout: which cells are pilot, which coded bit each other cell carries, its chip. */
typedef struct {
    int16_t bit[WM_CELLS]; /* -1 = pilot, else coded-bit index */
    int8_t chip[WM_CELLS]; /* +-1 */
} WmLayout;

static void layout_make(const WmKey *key, WmLayout *L) {
    uint8_t d[32];
    uint8_t buf[40];
    memcpy(buf, key->k, 32);
    memcpy(buf + 32, "layout-1", 8);
    sl_sha256(buf, sizeof buf, d);
    SlRng r;
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int j = 0; j < 8; j++) v |= (uint64_t)d[8 * i + j] << (8 * j);
        r.s[i] = v;
    }
    if (!(r.s[0] | r.s[1] | r.s[2] | r.s[3])) r.s[0] = 1;
    int perm[WM_CELLS];
    for (int i = 0; i < WM_CELLS; i++) perm[i] = i;
    for (int i = WM_CELLS - 1; i > 0; i--) { /* Fisher–Yates */
        int j = sl_rng_int(&r, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < WM_CELLS; i++) L->bit[perm[i]] = (int16_t)(i < WM_PILOT ? -1 : (i - WM_PILOT) % WM_CODED);
    for (int i = 0; i < WM_CELLS; i++) L->chip[i] = (sl_rng_u64(&r) >> 63) ? 1 : -1;
}

/* ---- payload code: CRC-8 (poly 0x07) and the K=7 convolutional code ------------------------- */
static uint8_t crc8(uint32_t v) {
    uint8_t c = 0;
    for (int i = 3; i >= 0; i--) {
        c ^= (uint8_t)(v >> (8 * i));
        for (int b = 0; b < 8; b++) c = (uint8_t)(c & 0x80 ? (c << 1) ^ 0x07 : c << 1);
    }
    return c;
}

static const unsigned POLY[2] = {0171, 0133};

static int parity(unsigned x) { return __builtin_parity(x); }

/* info bits (MSB first: 32 payload, 8 CRC) -> WM_CODED bits in {0,1}. */
static void conv_encode(uint32_t payload, uint8_t coded[WM_CODED]) {
    uint64_t info = ((uint64_t)payload << 8) | crc8(payload);
    unsigned sr = 0;
    for (int t = 0; t < WM_STEPS; t++) {
        int b = t < WM_INFO_BITS ? (int)((info >> (WM_INFO_BITS - 1 - t)) & 1) : 0;
        sr = ((sr << 1) | (unsigned)b) & 0x7f;
        coded[2 * t] = (uint8_t)parity(sr & POLY[0]);
        coded[2 * t + 1] = (uint8_t)parity(sr & POLY[1]);
    }
}

/* Soft Viterbi: soft[i] > 0 favours coded bit 1. Returns the 40 info bits. */
static uint64_t conv_decode(const double soft[WM_CODED]) {
    enum { NS = 64 };
    double metric[NS], next[NS];
    static const double NEG = -1e300;
    uint8_t prev_bit[WM_STEPS][NS];
    uint8_t prev_state[WM_STEPS][NS];
    for (int s = 0; s < NS; s++) metric[s] = s == 0 ? 0 : NEG;
    for (int t = 0; t < WM_STEPS; t++) {
        for (int s = 0; s < NS; s++) next[s] = NEG;
        for (int s = 0; s < NS; s++) {
            if (metric[s] <= NEG) continue;
            for (int b = 0; b < 2; b++) {
                if (t >= WM_INFO_BITS && b) continue; /* the tail is zeros */
                unsigned sr = ((unsigned)s << 1) | (unsigned)b;
                double m = metric[s];
                m += (parity(sr & POLY[0]) ? 1 : -1) * soft[2 * t];
                m += (parity(sr & POLY[1]) ? 1 : -1) * soft[2 * t + 1];
                int ns = (int)(sr & 0x3f);
                if (m > next[ns]) {
                    next[ns] = m;
                    prev_bit[t][ns] = (uint8_t)b;
                    prev_state[t][ns] = (uint8_t)s;
                }
            }
        }
        memcpy(metric, next, sizeof metric);
    }
    uint64_t info = 0;
    int s = 0;
    for (int t = WM_STEPS - 1; t >= 0; t--) {
        int b = prev_bit[t][s];
        if (t < WM_INFO_BITS) info |= (uint64_t)b << (WM_INFO_BITS - 1 - t);
        s = prev_state[t][s];
    }
    return info;
}

/* ---- image helpers -------------------------------------------------------------------------- */
static void luminance_into(const Image *img, float *L) {
    size_t n = (size_t)img->w * (size_t)img->h;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->px + i * (size_t)img->c;
        L[i] = img->c >= 3 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : p[0];
    }
}

static float *luminance(const Image *img) {
    float *L = xmalloc((size_t)img->w * (size_t)img->h * sizeof *L);
    luminance_into(img, L);
    return L;
}

static int *cell_map(int n) {
    int *m = xmalloc((size_t)n * sizeof *m);
    for (int i = 0; i < n; i++) m[i] = (int)(((2LL * i + 1) * WM_G) / (2LL * n));
    return m;
}

/* Box mean of src (w x h) over a (2r+1)^2 window, clamped at the borders, via an integral image;
 * I is scratch of (w + 1) x (h + 1) doubles. */
static void box_mean(const float *src, float *dst, int w, int h, int r, double *I) {
    const size_t W = (size_t)w + 1;
    memset(I, 0, W * sizeof *I);
    for (int y = 0; y < h; y++) {
        double *row = I + (size_t)(y + 1) * W;
        const double *up = I + (size_t)y * W;
        const float *s = src + (size_t)y * w;
        row[0] = 0;
        for (int x = 0; x < w; x++) row[x + 1] = s[x] + up[x + 1] + row[x] - up[x];
    }
    for (int y = 0; y < h; y++) {
        int y0 = y - r < 0 ? 0 : y - r, y1 = y + r + 1 > h ? h : y + r + 1;
        const double *I0 = I + (size_t)y0 * W, *I1 = I + (size_t)y1 * W;
        float *d = dst + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int x0 = x - r < 0 ? 0 : x - r, x1 = x + r + 1 > w ? w : x + r + 1;
            double s = I1[x1] - I0[x1] - I1[x0] + I0[x0];
            d[x] = (float)(s / ((double)(x1 - x0) * (y1 - y0)));
        }
    }
}

/* Per-cell luminance means of a w x h luminance plane (NAN for cells no pixel centre falls in). */
static void cell_means(const float *Y, int w, int h, double M[WM_CELLS]) {
    int *cx = cell_map(w), *cy = cell_map(h);
    double *sum = xcalloc(WM_CELLS, sizeof *sum);
    int *cnt = xcalloc(WM_CELLS, sizeof *cnt);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int c = cy[y] * WM_G + cx[x];
            sum[c] += Y[(size_t)y * w + x];
            cnt[c]++;
        }
    for (int i = 0; i < WM_CELLS; i++) M[i] = cnt[i] ? sum[i] / cnt[i] : NAN;
    free(sum), free(cnt), free(cx), free(cy);
}

/* What the detector sees in the cell means M: the pilot z-score, one soft value per coded bit
 * (each ~N(0,1) on unmarked images), and the weighted residual v and weight wt of every cell. */
typedef struct {
    double z;
    double soft[WM_CODED];
    double pn, bn[WM_CODED]; /* sums of v^2 per group */
    double v[WM_CELLS], wt[WM_CELLS];
} WmAnalysis;

static void analyze(const double M[WM_CELLS], const WmLayout *L, WmAnalysis *A) {
    static const int R = 2; /* weight window radius, cells */
    double *r = xmalloc(WM_CELLS * sizeof *r);
    /* high-pass on the cell grid: cell minus the mean of its (present) 8 neighbours */
    for (int y = 0; y < WM_G; y++)
        for (int x = 0; x < WM_G; x++) {
            int i = y * WM_G + x;
            r[i] = 0;
            if (isnan(M[i])) continue;
            double s = 0;
            int m = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy, xx = x + dx;
                    if ((!dx && !dy) || yy < 0 || xx < 0 || yy >= WM_G || xx >= WM_G || isnan(M[yy * WM_G + xx]))
                        continue;
                    s += M[yy * WM_G + xx];
                    m++;
                }
            if (m) r[i] = M[i] - s / m;
        }
    /* weights: inverse local residual energy, so textured cells count less */
    for (int y = 0; y < WM_G; y++)
        for (int x = 0; x < WM_G; x++) {
            double e = 0;
            int m = 0;
            for (int dy = -R; dy <= R; dy++)
                for (int dx = -R; dx <= R; dx++) {
                    int yy = y + dy, xx = x + dx;
                    if (yy < 0 || xx < 0 || yy >= WM_G || xx >= WM_G) continue;
                    e += r[yy * WM_G + xx] * r[yy * WM_G + xx];
                    m++;
                }
            int i = y * WM_G + x;
            A->wt[i] = 1.0 / (1.0 + e / m);
            A->v[i] = A->wt[i] * r[i];
        }
    free(r);
    double pc = 0, bc[WM_CODED] = {0};
    A->pn = 0;
    memset(A->bn, 0, sizeof A->bn);
    for (int i = 0; i < WM_CELLS; i++) {
        double v = A->v[i];
        if (L->bit[i] < 0) {
            pc += L->chip[i] * v;
            A->pn += v * v;
        } else {
            bc[L->bit[i]] += L->chip[i] * v;
            A->bn[L->bit[i]] += v * v;
        }
    }
    A->z = A->pn > 0 ? pc / sqrt(A->pn) : 0;
    for (int k = 0; k < WM_CODED; k++) A->soft[k] = A->bn[k] > 0 ? bc[k] / sqrt(A->bn[k]) : 0;
}

/* Everything embedding needs, kept from frame to frame: the wanted sign of every cell's change
 * (the key's layout and the coded payload) and the per-pixel planes of the last image size. */
struct WmEmbedder {
    float sign[WM_CELLS];
    int w, h;        /* the size of the planes below (0: none yet) */
    float *Y, *mask; /* luminance, then the local activity; the perceptual weight, mean square 1 */
    float *pat, *tmp; /* the per-pixel pattern sign(cell) * mask, softened; scratch */
    double *I;       /* integral image, (w + 1) x (h + 1) */
    int *cx, *cy;    /* pixel column/row -> cell column/row */
};

WmEmbedder *wm_embedder_new(const WmKey *key, uint32_t payload) {
    WmEmbedder *e = xcalloc(1, sizeof *e);
    WmLayout *L = xmalloc(sizeof *L);
    layout_make(key, L);
    uint8_t coded[WM_CODED];
    conv_encode(payload, coded);
    for (int i = 0; i < WM_CELLS; i++)
        e->sign[i] = (float)L->chip[i] * (L->bit[i] < 0 ? 1.0f : coded[L->bit[i]] ? 1.0f : -1.0f);
    free(L);
    return e;
}

static void embedder_planes_free(WmEmbedder *e) {
    free(e->Y), free(e->mask), free(e->pat), free(e->tmp), free(e->I), free(e->cx), free(e->cy);
    e->Y = e->mask = e->pat = e->tmp = NULL;
    e->I = NULL;
    e->cx = e->cy = NULL;
    e->w = e->h = 0;
}

void wm_embedder_free(WmEmbedder *e) {
    if (!e) return;
    embedder_planes_free(e);
    free(e);
}

/* One stored channel value: src value p moved by d, clipped to 0..255 and rounded half to even as
 * lrint does (v + 2^52 - 2^52 rounds a double in [0, 2^52) to the nearest integer in the default
 * rounding mode, without a libm call per value). */
static inline int stored(int p, double d) {
    double v = p + d;
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    return (int)((v + 0x1p52) - 0x1p52);
}

/* Renders src + amp * pat, clipped and rounded as it will be stored, into out (NULL: nothing
 * written, the search only needs the error; out may be src) and returns its PSNR against src. */
static double render(const Image *src, const float *pat, double amp, Image *out) {
    const int c = src->c, nc = c == 4 ? 3 : c;
    const size_t n = (size_t)src->w * src->h;
    int64_t se = 0; /* squared integer differences: exact in any order */
    if (c == 3 && !out) { /* the search on RGB frames: the channels unrolled, nothing written */
        const uint8_t *p = src->px;
        for (size_t i = 0; i < n; i++, p += 3) {
            const double d = amp * pat[i];
            int e0 = stored(p[0], d) - p[0], e1 = stored(p[1], d) - p[1], e2 = stored(p[2], d) - p[2];
            se += e0 * e0 + e1 * e1 + e2 * e2;
        }
        return se > 0 ? 10.0 * log10(255.0 * 255.0 / ((double)se / ((double)n * c))) : INFINITY;
    }
    for (size_t i = 0; i < n; i++) {
        const double d = amp * pat[i];
        const uint8_t *p = src->px + i * (size_t)c;
        for (int k = 0; k < nc; k++) {
            int q = stored(p[k], d), diff = q - p[k];
            se += diff * diff;
            if (out) out->px[i * (size_t)c + k] = (uint8_t)q;
        }
    }
    return se > 0 ? 10.0 * log10(255.0 * 255.0 / ((double)se / ((double)n * c))) : INFINITY;
}

int wm_embedder_apply(WmEmbedder *e, Image *rgb, SlErr *err) {
    SL_ASSERT(rgb->c == 1 || rgb->c == 3 || rgb->c == 4);
    if (rgb->w < WM_MIN_DIM || rgb->h < WM_MIN_DIM)
        return sl_fail(err, "image %dx%d is too small to watermark (at least %dx%d)", rgb->w, rgb->h,
                       WM_MIN_DIM, WM_MIN_DIM);
    const int w = rgb->w, h = rgb->h;
    const size_t n = (size_t)w * h;
    if (e->w != w || e->h != h) {
        embedder_planes_free(e);
        e->Y = xmalloc(n * sizeof *e->Y), e->mask = xmalloc(n * sizeof *e->mask);
        e->pat = xmalloc(n * sizeof *e->pat), e->tmp = xmalloc(n * sizeof *e->tmp);
        e->I = xmalloc((size_t)(w + 1) * (size_t)(h + 1) * sizeof *e->I);
        e->cx = cell_map(w), e->cy = cell_map(h);
        e->w = w, e->h = h;
    }
    /* perceptual mask: local mean absolute deviation from a 5x5 mean, smoothed over 7x7, mapped to
     * [WM_MASK_MIN, WM_MASK_MAX] relative to the image's mean activity, then mean square 1 */
    float *Y = e->Y, *mu = e->tmp, *mask = e->mask;
    luminance_into(rgb, Y);
    box_mean(Y, mu, w, h, 2, e->I);
    for (size_t i = 0; i < n; i++) mu[i] = fabsf(Y[i] - mu[i]);
    box_mean(mu, mask, w, h, 3, e->I);
    double mean_act = 0;
    for (size_t i = 0; i < n; i++) mean_act += mask[i];
    mean_act /= (double)n;
    double k = 2.0 + 0.5 * mean_act, ss = 0;
    for (size_t i = 0; i < n; i++) {
        double m = (mask[i] + k) / (mean_act + k);
        m = m < WM_MASK_MIN ? WM_MASK_MIN : m > WM_MASK_MAX ? WM_MASK_MAX : m;
        mask[i] = (float)m;
        ss += m * m;
    }
    double norm = 1.0 / sqrt(ss / (double)n);
    for (size_t i = 0; i < n; i++) mask[i] = (float)(mask[i] * norm);
    float *pat = e->pat;
    for (int y = 0; y < h; y++) {
        const float *sg = e->sign + e->cy[y] * WM_G;
        for (int x = 0; x < w; x++) pat[(size_t)y * w + x] = sg[e->cx[x]] * mask[(size_t)y * w + x];
    }
    /* soften the cell edges (a box blur of a quarter cell): less visible blockiness in flat regions,
     * and the energy moves from edges that JPEG and downscaling remove into the cell means */
    int rad = (w < h ? w : h) / WM_G / WM_SOFTEN;
    if (rad > 0) {
        box_mean(pat, e->tmp, w, h, rad, e->I);
        pat = e->tmp;
    }

    /* the largest amplitude whose stored result keeps PSNR >= WM_PSNR_FLOOR (bisection; clipping
     * at 0 and 255 makes the PSNR depend on the image) */
    double lo = 0, hi = WM_AMP_MAX;
    for (int step = 0; step < WM_SEARCH_STEPS; step++) {
        double amp = step == 0 ? WM_AMP_START : 0.5 * (lo + hi);
        if (render(rgb, pat, amp, NULL) >= WM_PSNR_FLOOR) lo = amp;
        else hi = amp;
    }
    if (lo == 0) { /* never within budget in the search (cannot happen for PSNR floors near 40) */
        lo = WM_AMP_START;
        while (render(rgb, pat, lo, NULL) < WM_PSNR_FLOOR && lo > 0.01) lo *= 0.8;
    }
    render(rgb, pat, lo, rgb); /* in place: each value is read before it is written */
    return 0;
}

int wm_embed(Image *rgb, const WmKey *key, uint32_t payload, SlErr *err) {
    WmEmbedder *e = wm_embedder_new(key, payload);
    int rc = wm_embedder_apply(e, rgb, err);
    wm_embedder_free(e);
    return rc;
}

int wm_detect(const Image *rgb, const WmKey *key, WmResult *res, SlErr *err) {
    memset(res, 0, sizeof *res);
    res->p_false = 1;
    if (rgb->w < 32 || rgb->h < 32)
        return sl_fail(err, "image %dx%d is too small to read a watermark from (at least 32x32)", rgb->w, rgb->h);
    float *Y = luminance(rgb);
    double *M = xmalloc(WM_CELLS * sizeof *M);
    cell_means(Y, rgb->w, rgb->h, M);
    free(Y);
    WmLayout *L = xmalloc(sizeof *L);
    layout_make(key, L);
    WmAnalysis *A = xmalloc(sizeof *A);
    analyze(M, L, A);
    free(L), free(M);
    res->z = A->z;
    res->p_false = res->z > 0 ? exp(-0.5 * res->z * res->z) : 1.0;
    double sa = 0, sa2 = 0;
    for (int k = 0; k < WM_CODED; k++) {
        sa += fabs(A->soft[k]);
        sa2 += A->soft[k] * A->soft[k];
    }
    double mean = sa / WM_CODED, var = sa2 / WM_CODED - mean * mean;
    res->bit_confidence = var > 0 ? mean / sqrt(var) : 0;
    uint64_t info = conv_decode(A->soft);
    free(A);
    res->payload = (uint32_t)(info >> 8);
    res->found = res->p_false < WM_P_THRESHOLD;
    res->payload_ok = res->found && crc8(res->payload) == (uint8_t)(info & 0xff);
    return 0;
}

double wm_psnr(const Image *a, const Image *b) {
    SL_ASSERT(a->w == b->w && a->h == b->h && a->c == b->c);
    size_t n = (size_t)a->w * a->h * a->c;
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a->px[i] - b->px[i];
        se += d * d;
    }
    if (se == 0) return INFINITY;
    return 10.0 * log10(255.0 * 255.0 / (se / (double)n));
}
