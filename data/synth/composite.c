/* composite.c — composites of consented volunteers and their rendering: piecewise-affine warps,
 * the weighted shape and texture average, the perfect swap's person, and frames with pose,
 * expression, light, background, camera noise and JPEG (data/synth/composite.h). */
#include "data/synth/composite.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/align.h"

static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }
static inline float sstep(float e0, float e1, float x) {
    float t = clampf((x - e0) / (e1 - e0), 0, 1);
    return t * t * (3 - 2 * t);
}
static inline uint32_t hash32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* The face outline of the template (face edges, jaw, hairline), in order around the face. */
static const int FACE_OUTLINE[] = {109, 110, 111, 125, 126, 127, 128, 129, 130, 131, 132, 133, 114, 113, 112,
                                   144, 143, 142, 141, 140, 139, 138, 137, 136, 135, 134};
#define FACE_OUTLINE_N ((int)(sizeof FACE_OUTLINE / sizeof FACE_OUTLINE[0]))

/* Multiplies mask (COMP_TEX^2) by the inside of the polygon (even-odd rule). */
static void mask_polygon(float *mask, const float (*poly)[2], int n) {
    const int S = COMP_TEX;
    for (int y = 0; y < S; y++) {
        float xs[64], py = y + 0.5f;
        int nx = 0;
        for (int i = 0, j = n - 1; i < n; j = i++)
            if ((poly[i][1] > py) != (poly[j][1] > py) && nx < 64)
                xs[nx++] = (poly[j][0] - poly[i][0]) * (py - poly[i][1]) / (poly[j][1] - poly[i][1]) + poly[i][0];
        for (int x = 0; x < S; x++) {
            int inside = 0;
            for (int i = 0; i < nx; i++) inside ^= (x + 0.5f) > xs[i];
            if (!inside) mask[(size_t)y * S + x] = 0;
        }
    }
}

/* Multiplies mask (COMP_TEX^2) by the inside of the face outline of mesh pts. */
static void mask_face_outline(const VolunteerLib *lib, const float (*pts)[2], float *mask) {
    float poly[FACE_OUTLINE_N][2];
    int np = 0;
    for (int q = 0; q < FACE_OUTLINE_N; q++)
        for (int i = 0; i < lib->nmesh; i++)
            if (lib->mesh_tem[i] == FACE_OUTLINE[q]) poly[np][0] = pts[i][0], poly[np][1] = pts[i][1], np++;
    mask_polygon(mask, (const float(*)[2])poly, np);
}

/* ---- piecewise-affine geometry ----------------------------------------------------------------- */
typedef struct {
    float x0, y0, e1x, e1y, e2x, e2y, inv; /* p0, p1 - p0, p2 - p0, 1 / cross */
} Bary;

static int bary_init(Bary *b, const float *p0, const float *p1, const float *p2) {
    b->x0 = p0[0], b->y0 = p0[1];
    b->e1x = p1[0] - p0[0], b->e1y = p1[1] - p0[1], b->e2x = p2[0] - p0[0], b->e2y = p2[1] - p0[1];
    float d = b->e1x * b->e2y - b->e2x * b->e1y;
    if (fabsf(d) < 1e-6f) return 0;
    b->inv = 1.0f / d;
    return 1;
}
static inline void bary_at(const Bary *b, float x, float y, float *l1, float *l2) {
    float vx = x - b->x0, vy = y - b->y0;
    *l1 = (vx * b->e2y - b->e2x * vy) * b->inv;
    *l2 = (b->e1x * vy - vx * b->e1y) * b->inv;
}

/* Maps point p from mesh src to mesh dst through the triangle that holds it (the nearest one,
 * extrapolated, when none does). */
static void map_point(const VolunteerLib *lib, const float (*src)[2], const float (*dst)[2], const float p[2], float out[2]) {
    int best = -1;
    float bscore = -1e30f, bl1 = 0, bl2 = 0;
    for (int t = 0; t < lib->ntri; t++) {
        const int *v = lib->tri[t];
        Bary b;
        if (!bary_init(&b, src[v[0]], src[v[1]], src[v[2]])) continue;
        float l1, l2;
        bary_at(&b, p[0], p[1], &l1, &l2);
        float l0 = 1 - l1 - l2, m = l0 < l1 ? l0 : l1;
        m = m < l2 ? m : l2;
        if (m > bscore) bscore = m, best = t, bl1 = l1, bl2 = l2;
    }
    SL_ASSERT(best >= 0);
    const int *v = lib->tri[best];
    float l0 = 1 - bl1 - bl2;
    out[0] = l0 * dst[v[0]][0] + bl1 * dst[v[1]][0] + bl2 * dst[v[2]][0];
    out[1] = l0 * dst[v[0]][1] + bl1 * dst[v[1]][1] + bl2 * dst[v[2]][1];
}

/* Bilinear sample of an 8-bit image with c channels at (x, y) (pixel centres at +0.5). */
static inline void sample(const Image *t, float x, float y, float *o) {
    x -= 0.5f, y -= 0.5f;
    int w = t->w, h = t->h, c = t->c;
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x > w - 1) x = (float)(w - 1);
    if (y > h - 1) y = (float)(h - 1);
    int x0 = (int)x, y0 = (int)y, x1 = x0 + (x0 < w - 1), y1 = y0 + (y0 < h - 1);
    float fx = x - x0, fy = y - y0;
    const uint8_t *a = t->px + ((size_t)y0 * w + x0) * c, *b = t->px + ((size_t)y0 * w + x1) * c;
    const uint8_t *d = t->px + ((size_t)y1 * w + x0) * c, *e = t->px + ((size_t)y1 * w + x1) * c;
    for (int k = 0; k < c; k++) {
        float top = a[k] + (b[k] - a[k]) * fx, bot = d[k] + (e[k] - d[k]) * fx;
        o[k] = top + (bot - top) * fy;
    }
}

/* The same for 4 channels, unrolled (the renderer's inner loop). */
static inline void sample4(const Image *t, float x, float y, float *o) {
    x -= 0.5f, y -= 0.5f;
    const int w = t->w, h = t->h;
    x = x < 0 ? 0 : x > w - 1 ? (float)(w - 1) : x;
    y = y < 0 ? 0 : y > h - 1 ? (float)(h - 1) : y;
    int x0 = (int)x, y0 = (int)y, dx = (x0 < w - 1) * 4, dy = (y0 < h - 1) * w * 4;
    float fx = x - x0, fy = y - y0;
    float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
    const uint8_t *a = t->px + ((size_t)y0 * w + x0) * 4;
    for (int k = 0; k < 4; k++) o[k] = w00 * a[k] + w01 * a[dx + k] + w10 * a[dy + k] + w11 * a[dy + dx + k];
}

/* Warps src (mesh sp) onto a COMP_TEX canvas (mesh dp), adding w * alpha * rgb and w * alpha into
 * acc (4 floats a pixel); alpha is a float mask of src (NULL: 1). Each pixel is taken once. */
static void warp_accum(const VolunteerLib *lib, const Image *src, const float *alpha, const float (*sp)[2],
                       const float (*dp)[2], float w, float *acc, uint8_t *seen) {
    const int S = COMP_TEX;
    memset(seen, 0, (size_t)S * S);
    for (int t = 0; t < lib->ntri; t++) {
        const int *v = lib->tri[t];
        Bary b;
        if (!bary_init(&b, dp[v[0]], dp[v[1]], dp[v[2]])) continue;
        float minx = fminf(dp[v[0]][0], fminf(dp[v[1]][0], dp[v[2]][0])), maxx = fmaxf(dp[v[0]][0], fmaxf(dp[v[1]][0], dp[v[2]][0]));
        float miny = fminf(dp[v[0]][1], fminf(dp[v[1]][1], dp[v[2]][1])), maxy = fmaxf(dp[v[0]][1], fmaxf(dp[v[1]][1], dp[v[2]][1]));
        int x0 = (int)floorf(minx), x1 = (int)ceilf(maxx), y0 = (int)floorf(miny), y1 = (int)ceilf(maxy);
        if (x0 < 0) x0 = 0;
        if (y0 < 0) y0 = 0;
        if (x1 > S - 1) x1 = S - 1;
        if (y1 > S - 1) y1 = S - 1;
        for (int y = y0; y <= y1; y++) {
            for (int x = x0; x <= x1; x++) {
                size_t i = (size_t)y * S + x;
                if (seen[i]) continue;
                float l1, l2;
                bary_at(&b, x + 0.5f, y + 0.5f, &l1, &l2);
                float l0 = 1 - l1 - l2;
                if (l0 < -1e-4f || l1 < -1e-4f || l2 < -1e-4f) continue;
                seen[i] = 1;
                float sx = l0 * sp[v[0]][0] + l1 * sp[v[1]][0] + l2 * sp[v[2]][0];
                float sy = l0 * sp[v[0]][1] + l1 * sp[v[1]][1] + l2 * sp[v[2]][1];
                float c[4];
                sample(src, sx, sy, c);
                float a = 1;
                if (alpha) {
                    int ix = (int)clampf(sx, 0, S - 1), iy = (int)clampf(sy, 0, S - 1);
                    a = alpha[(size_t)iy * S + ix];
                } else if (src->c == 4) {
                    a = c[3] / 255.0f;
                }
                float wa = w * a;
                acc[4 * i] += wa * c[0], acc[4 * i + 1] += wa * c[1], acc[4 * i + 2] += wa * c[2], acc[4 * i + 3] += wa;
            }
        }
    }
}

static void box_blur(float *m, int w, int h, int r, int passes) {
    float *tmp = xmalloc(sizeof(float) * (size_t)w * h), *col = xmalloc(sizeof(float) * (size_t)w);
    for (int p = 0; p < passes; p++) {
        for (int y = 0; y < h; y++) {
            float s = 0;
            int n = 0;
            for (int x = -r; x <= r; x++)
                if (x >= 0 && x < w) s += m[(size_t)y * w + x], n++;
            for (int x = 0; x < w; x++) {
                tmp[(size_t)y * w + x] = s / n;
                int a = x - r, b = x + r + 1;
                if (a >= 0) s -= m[(size_t)y * w + a], n--;
                if (b < w) s += m[(size_t)y * w + b], n++;
            }
        }
        /* the vertical pass a row at a time (running sums of every column) */
        memset(col, 0, sizeof(float) * (size_t)w);
        int n = 0;
        for (int y = 0; y <= r && y < h; y++, n++)
            for (int x = 0; x < w; x++) col[x] += tmp[(size_t)y * w + x];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) m[(size_t)y * w + x] = col[x] / n;
            int a = y - r, b = y + r + 1;
            if (a >= 0) {
                for (int x = 0; x < w; x++) col[x] -= tmp[(size_t)a * w + x];
                n--;
            }
            if (b < h) {
                for (int x = 0; x < w; x++) col[x] += tmp[(size_t)b * w + x];
                n++;
            }
        }
    }
    free(tmp), free(col);
}

/* Gives pixels whose ok is 0 the mean colour of their ok 8-neighbours, growing the ok region by a
 * pixel a round (px: S x S, c channels, the first 3 are colour; ok is updated). */
static void grow_colour(uint8_t *px, int c, uint8_t *ok, int S, int rounds) {
    uint8_t *nok = xmalloc((size_t)S * S);
    for (int round = 0; round < rounds; round++) {
        memcpy(nok, ok, (size_t)S * S);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                size_t i = (size_t)y * S + x;
                if (ok[i]) continue;
                int sum[3] = {0, 0, 0}, n = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= S || yy >= S || !ok[(size_t)yy * S + xx]) continue;
                        const uint8_t *q = px + ((size_t)yy * S + xx) * c;
                        sum[0] += q[0], sum[1] += q[1], sum[2] += q[2], n++;
                    }
                if (!n) continue;
                for (int k = 0; k < 3; k++) px[i * c + k] = (uint8_t)((sum[k] + n / 2) / n);
                nok[i] = 1;
            }
        memcpy(ok, nok, (size_t)S * S);
    }
    free(nok);
}

/* Solves the n x n system A x = b (row-major, n <= 10) by Gaussian elimination with partial
 * pivoting, in place; 0 when A is singular. */
static int solve_small(double *A, double *b, int n) {
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        if (fabs(A[p * n + c]) < 1e-12) return 0;
        if (p != c) {
            for (int k = 0; k < n; k++) {
                double t = A[c * n + k];
                A[c * n + k] = A[p * n + k], A[p * n + k] = t;
            }
            double t = b[c];
            b[c] = b[p], b[p] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int k = c; k < n; k++) A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int k = c + 1; k < n; k++) b[c] -= A[c * n + k] * b[k];
        b[c] /= A[c * n + c];
    }
    return 1;
}

#define BD_TERMS 10 /* the backdrop: a cubic in x and y per channel */
static void bd_basis(int x, int y, int S, double *t) {
    double u = (x - S / 2.0) / (S / 2.0), v = (y - S / 2.0) / (S / 2.0);
    t[0] = 1, t[1] = u, t[2] = v, t[3] = u * u, t[4] = u * v, t[5] = v * v;
    t[6] = u * u * u, t[7] = u * u * v, t[8] = u * v * v, t[9] = v * v * v;
}
/* The fitted backdrop at every pixel of an S x S photo (3 floats a pixel): per row, the cubic is
 * a cubic in u alone. */
static void bd_plane(const double (*coef)[BD_TERMS], int S, float *G) {
    for (int y = 0; y < S; y++) {
        double v = (y - S / 2.0) / (S / 2.0), a[3][4];
        for (int c = 0; c < 3; c++) {
            const double *k = coef[c];
            a[c][0] = k[0] + v * (k[2] + v * (k[5] + v * k[9]));
            a[c][1] = k[1] + v * (k[4] + v * k[8]);
            a[c][2] = k[3] + v * k[7];
            a[c][3] = k[6];
        }
        for (int x = 0; x < S; x++) {
            double u = (x - S / 2.0) / (S / 2.0);
            for (int c = 0; c < 3; c++) G[((size_t)y * S + x) * 3 + c] = (float)(a[c][0] + u * (a[c][1] + u * (a[c][2] + u * a[c][3])));
        }
    }
}
static float bd_dist(const uint8_t *p, const float *g, float lw) {
    float e[3];
    for (int c = 0; c < 3; c++) e[c] = p[c] - g[c];
    /* colour distance with the brightness step counted at lw (< 1 about the head: light on the
     * backdrop varies more than the fit follows, a brighter patch behind the head, the person's
     * shadow between hair and neck, and changes brightness, not hue; hair is far darker or differs
     * in hue; 1 on the clothes, where a white shirt differs from the backdrop by brightness only) */
    float l = (e[0] + e[1] + e[2]) / 3, ch = 0;
    for (int c = 0; c < 3; c++) ch += (e[c] - l) * (e[c] - l);
    l *= lw;
    return sqrtf(ch + 3 * l * l);
}

/* The person in a studio photo, as a soft matte. The backdrop (grey, lit unevenly: brighter
 * behind the head) is fitted as a cubic in x and y per channel, first on the edges above the
 * shoulders, then refitted on every pixel of the upper four fifths it explains (three rounds), so a
 * lit patch next to the hair is backdrop, not person. A pixel's alpha rises with its colour
 * distance from the fit; backdrop-coloured holes not connected to the top or sides (a highlight on
 * a head) are person, and so is everything inside the face outline of the template (face edges,
 * jaw, hairline: eye whites can be as grey as the backdrop). Pixels on the matte's edge (wisps of
 * hair) have the backdrop taken out of their colour (im is changed), so that no light fringe
 * follows them onto another background. */
static float *person_mask(Image *im, const float (*tem)[2]) {
    const int S = COMP_TEX;
    double coef[3][BD_TERMS], t[BD_TERMS];
    memset(coef, 0, sizeof coef);
    uint8_t *use = xcalloc((size_t)S * S, 1);
    float *G = xmalloc(sizeof(float) * 3 * (size_t)S * S); /* the fitted backdrop */
    for (int y = 2; y < S * 2 / 3; y += 2)
        for (int x = 2; x < S - 2; x += 2) use[(size_t)y * S + x] = !(y > 12 && x > 10 && x < S - 10);
    for (int round = 0; round < 4; round++) {
        double A[BD_TERMS * BD_TERMS], b[3][BD_TERMS];
        memset(A, 0, sizeof A), memset(b, 0, sizeof b);
        for (int y = 2; y < S * 4 / 5; y += 2)
            for (int x = 2; x < S - 2; x += 2) {
                if (!use[(size_t)y * S + x]) continue;
                const uint8_t *p = im->px + ((size_t)y * S + x) * 3;
                bd_basis(x, y, S, t);
                for (int i = 0; i < BD_TERMS; i++) {
                    for (int j = 0; j < BD_TERMS; j++) A[i * BD_TERMS + j] += t[i] * t[j];
                    for (int c = 0; c < 3; c++) b[c][i] += t[i] * p[c];
                }
            }
        for (int c = 0; c < 3; c++) {
            double Ac[BD_TERMS * BD_TERMS];
            memcpy(Ac, A, sizeof Ac);
            if (!solve_small(Ac, b[c], BD_TERMS)) break;
            memcpy(coef[c], b[c], sizeof b[c]);
        }
        if (round == 3) break;
        bd_plane((const double(*)[BD_TERMS])coef, S, G);
        for (int y = 2; y < S * 4 / 5; y += 2)
            for (int x = 2; x < S - 2; x += 2) {
                size_t i = (size_t)y * S + x;
                use[i] = bd_dist(im->px + i * 3, G + i * 3, 1) < 14.0f;
            }
    }
    free(use);
    bd_plane((const double(*)[BD_TERMS])coef, S, G);
    float *m = xmalloc(sizeof(float) * (size_t)S * S);
    const float neck = fmaxf(tem[183][1], tem[184][1]); /* the clothes start below the neck's base */
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float lw = 0.4f + 0.6f * sstep(neck, neck + 0.04f * S, (float)y);
            size_t i = (size_t)y * S + x;
            m[i] = sstep(16.0f, 36.0f, bd_dist(im->px + i * 3, G + i * 3, lw));
        }
    /* the clothes, from the neck's base down: everything between the outermost person pixels
     * (a white shirt in shade is as grey as the backdrop, and only the shoulders meet it) */
    for (int y = (int)neck; y < S; y++) {
        if (y < 0) continue;
        int xl = -1, xr = -1;
        for (int x = 0; x < S; x++) {
            float *a = &m[(size_t)y * S + x];
            *a = *a >= 0.35f; /* and no translucent fringe where shirt and backdrop are alike */
            if (*a > 0) {
                if (xl < 0) xl = x;
                xr = x;
            }
        }
        for (int x = xl + 1; xl >= 0 && x < xr; x++) m[(size_t)y * S + x] = 1;
    }
    /* holes: backdrop-like pixels (alpha < 0.5) that no path of such pixels joins to the top row
     * or the side columns */
    uint8_t *reach = xcalloc((size_t)S * S, 1);
    int *stack = xmalloc(sizeof(int) * (size_t)S * S), ns = 0;
    for (int i = 0; i < S; i++) {
        int seeds[3] = {i, i * S, i * S + S - 1};
        for (int q = 0; q < 3; q++)
            if (m[seeds[q]] < 0.5f && !reach[seeds[q]]) reach[seeds[q]] = 1, stack[ns++] = seeds[q];
    }
    while (ns) {
        int i = stack[--ns], x = i % S, y = i / S;
        int nb[4] = {x > 0 ? i - 1 : -1, x < S - 1 ? i + 1 : -1, y > 0 ? i - S : -1, y < S - 1 ? i + S : -1};
        for (int q = 0; q < 4; q++)
            if (nb[q] >= 0 && !reach[nb[q]] && m[nb[q]] < 0.5f) reach[nb[q]] = 1, stack[ns++] = nb[q];
    }
    /* fill the small ones (up to 1/1600 of the photo), those above the eyes (up to 1/50: the
     * highlight on a bald head) and those on the clothes (centre in the bottom fifth: a white
     * shirt); a larger one lower down is backdrop seen between hanging hair and the neck */
    const float eyes = 0.5f * (tem[0][1] + tem[1][1]);
    for (int i0 = 0; i0 < S * S; i0++) {
        if (reach[i0] || m[i0] >= 0.5f) continue;
        int first = ns;
        reach[i0] = 2, stack[ns++] = i0;
        for (int h = first; h < ns; h++) {
            int i = stack[h], x = i % S, y = i / S;
            int nb[4] = {x > 0 ? i - 1 : -1, x < S - 1 ? i + 1 : -1, y > 0 ? i - S : -1, y < S - 1 ? i + S : -1};
            for (int q = 0; q < 4; q++)
                if (nb[q] >= 0 && !reach[nb[q]] && m[nb[q]] < 0.5f) reach[nb[q]] = 2, stack[ns++] = nb[q];
        }
        double cy = 0;
        for (int h = first; h < ns; h++) cy += stack[h] / S;
        cy /= ns - first;
        if (ns - first <= S * S / 1600 || cy > 0.8 * S || (cy < eyes && ns - first <= S * S / 50))
            for (int h = first; h < ns; h++) m[stack[h]] = 1;
        ns = first;
    }
    free(stack), free(reach);
    const int *outline = FACE_OUTLINE, no = FACE_OUTLINE_N;
    for (int y = 0; y < S; y++) {
        /* the face outline's crossings of this row (even-odd rule) */
        float xs[32], py = y + 0.5f;
        int nx = 0;
        for (int i = 0, j = no - 1; i < no; j = i++) {
            const float *pi = tem[outline[i]], *pj = tem[outline[j]];
            if ((pi[1] > py) != (pj[1] > py) && nx < 32) xs[nx++] = (pj[0] - pi[0]) * (py - pi[1]) / (pj[1] - pi[1]) + pi[0];
        }
        for (int x = 0; x < S; x++) {
            int inside = 0;
            for (int i = 0; i < nx; i++) inside ^= (x + 0.5f) > xs[i];
            if (inside) m[(size_t)y * S + x] = 1;
        }
    }
    /* the backdrop out of edge pixels' colour: p = a f + (1 - a) g -> f */
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float a = m[(size_t)y * S + x];
            if (a <= 0.0f || a >= 1.0f) continue;
            uint8_t *p = im->px + ((size_t)y * S + x) * 3;
            const float *g = G + ((size_t)y * S + x) * 3;
            float inv = 1.0f / fmaxf(a, 0.5f);
            for (int c = 0; c < 3; c++) p[c] = (uint8_t)clampf(g[c] + (p[c] - g[c]) * inv + 0.5f, 0, 255);
        }
    /* backdrop pixels take the colour of the person next to them, as far as the feather
     * below reaches, so that the feathered matte brings no backdrop along */
    uint8_t *ok = xmalloc((size_t)S * S);
    for (size_t i = 0; i < (size_t)S * S; i++) ok[i] = m[i] >= 0.5f;
    grow_colour(im->px, 3, ok, S, 5);
    free(ok);
    free(G);
    box_blur(m, S, S, 2, 2);
    return m;
}

/* Mesh points of volunteer v's photo `which` (template points + border). */
static void photo_mesh(const VolunteerLib *lib, const Volunteer *v, int which, float (*pts)[2]) {
    for (int i = 0; i < lib->nmesh; i++) {
        int k = lib->mesh_tem[i];
        if (k >= 0) pts[i][0] = v->tem[which][k][0], pts[i][1] = v->tem[which][k][1];
        else pts[i][0] = lib->mean[i][0], pts[i][1] = lib->mean[i][1];
    }
}

/* The library's mean pupils (mesh vertices 0 and 1 are template points 0 and 1). */
static void align_to_mean(const VolunteerLib *lib, const float (*in)[2], float (*out)[2]) {
    SL_ASSERT(lib->mesh_tem[0] == 0 && lib->mesh_tem[1] == 1);
    float ax = in[1][0] - in[0][0], ay = in[1][1] - in[0][1];
    float bx = lib->mean[1][0] - lib->mean[0][0], by = lib->mean[1][1] - lib->mean[0][1];
    float d = ax * ax + ay * ay, c = (ax * bx + ay * by) / d, s = (ax * by - ay * bx) / d;
    for (int i = 0; i < lib->nmesh; i++) {
        if (lib->mesh_tem[i] < 0) {
            out[i][0] = in[i][0], out[i][1] = in[i][1];
            continue;
        }
        float x = in[i][0] - in[0][0], y = in[i][1] - in[0][1];
        out[i][0] = lib->mean[0][0] + c * x - s * y;
        out[i][1] = lib->mean[0][1] + s * x + c * y;
    }
}

/* The texture from accumulated colour and weight. Texels the person barely covers (alpha below a
 * half) take their colour from the covered texels next to them: bilinear sampling and the half-size
 * texture mix a texel's colour into its neighbours whatever its alpha, and a backdrop colour there
 * is a light line along hair and neck. */
static void finish_texture(const float *acc, Image *tex) {
    const int S = COMP_TEX;
    *tex = image_new(S, S, 4);
    uint8_t *ok = xmalloc((size_t)S * S);
    for (size_t i = 0; i < (size_t)S * S; i++) {
        float a = acc[4 * i + 3];
        for (int c = 0; c < 3; c++) tex->px[4 * i + c] = (uint8_t)clampf(a > 1e-4f ? acc[4 * i + c] / a + 0.5f : 0, 0, 255);
        tex->px[4 * i + 3] = (uint8_t)(sstep(0.3f, 0.7f, a) * 255 + 0.5f);
        ok[i] = tex->px[4 * i + 3] >= 128;
    }
    grow_colour(tex->px, 4, ok, S, 4);
    free(ok);
}

static void composite_geometry(Composite *c) {
    c->cx = 0.5f * (c->pts[0][0][0] + c->pts[0][1][0]);
    c->cy = 0.5f * (c->pts[0][0][1] + c->pts[0][1][1]);
    c->iod = hypotf(c->pts[0][1][0] - c->pts[0][0][0], c->pts[0][1][1] - c->pts[0][0][1]);
}

/* Multiplies a photo's matte above its brows by how much each pixel looks like the person's skin
 * (colour distance from the mean of the cheeks and the nose bridge): a fringe over the forehead
 * then stays out of the average, which takes that forehead from the others. */
static void skin_above_brows(const Image *im, const float (*lm)[2], float *mask) {
    const int S = COMP_TEX;
    float iod = hypotf(lm[45][0] - lm[36][0], lm[45][1] - lm[36][1]);
    const float at[3][2] = {{0.5f * (lm[2][0] + lm[31][0]), 0.5f * (lm[2][1] + lm[31][1])},
                            {0.5f * (lm[14][0] + lm[35][0]), 0.5f * (lm[14][1] + lm[35][1])},
                            {lm[28][0], lm[28][1]}};
    double sum[3] = {0, 0, 0}, sq = 0;
    int n = 0, rad = (int)(iod * 0.08f) + 1;
    for (int k = 0; k < 3; k++)
        for (int dy = -rad; dy <= rad; dy++)
            for (int dx = -rad; dx <= rad; dx++) {
                int x = (int)at[k][0] + dx, y = (int)at[k][1] + dy;
                if (x < 0 || y < 0 || x >= S || y >= S) continue;
                const uint8_t *p = im->px + ((size_t)y * S + x) * 3;
                for (int c = 0; c < 3; c++) sum[c] += p[c], sq += (double)p[c] * p[c];
                n++;
            }
    if (!n) return;
    float mean[3], var = 0;
    for (int c = 0; c < 3; c++) mean[c] = (float)(sum[c] / n), var += (float)(sq / (3.0 * n)) - mean[c] * mean[c] / 3;
    float sigma = fmaxf(28.0f, 2.5f * sqrtf(fmaxf(var, 0)));
    float top = lm[17][1];
    for (int k = 18; k < 27; k++) top = fminf(top, lm[k][1]);
    top -= 0.05f * iod;
    for (int y = 0; y < S && y < (int)top; y++)
        for (int x = 0; x < S; x++) {
            const uint8_t *p = im->px + ((size_t)y * S + x) * 3;
            float d2 = 0;
            for (int c = 0; c < 3; c++) d2 += (p[c] - mean[c]) * (p[c] - mean[c]);
            mask[(size_t)y * S + x] *= expf(-0.5f * d2 / (sigma * sigma));
        }
}

/* Where a composite's averaged face shows: the jaw and the brows (lifted by 4% of the chin ->
 * brow-centre vector) around the face, within the face outline (polygon of the composite's mesh),
 * feathered mostly inwards: 1 on the eyes, nose, mouth and cheeks, 0 beyond the jaw and above the
 * brows. A forehead averaged from several people shows the fringes of some as stripes. */
static void average_mask(const VolunteerLib *lib, const Composite *c, int w, float *mask) {
    const int S = COMP_TEX;
    float lm[68][2], bx = 0, by = 0;
    memcpy(lm, c->lm[w], sizeof lm);
    for (int k = 17; k < 27; k++) bx += lm[k][0] / 10, by += lm[k][1] / 10;
    float ux = (bx - lm[8][0]) * 0.04f, uy = (by - lm[8][1]) * 0.04f;
    /* the jaw (0..16) and the lifted brows (26..17), in order around the face */
    float poly[27][2];
    int np = 0;
    for (int k = 0; k <= 16; k++) poly[np][0] = lm[k][0], poly[np][1] = lm[k][1], np++;
    for (int k = 26; k >= 17; k--) poly[np][0] = lm[k][0] + ux, poly[np][1] = lm[k][1] + uy, np++;
    for (size_t i = 0; i < (size_t)S * S; i++) mask[i] = 1;
    mask_polygon(mask, (const float(*)[2])poly, np);
    mask_face_outline(lib, (const float(*)[2])c->pts[w], mask);
    int r = (int)(c->iod * 0.08f) + 1;
    box_blur(mask, S, S, r, 2);
    for (size_t i = 0; i < (size_t)S * S; i++) mask[i] = sstep(0.3f, 1.0f, mask[i]);
}

/* nw = 1: the neutral texture only (a frame without a smile needs no more), 2: both.
 * The shape and the inner face (brows to chin) are the weighted average of the contributors; hair,
 * forehead, ears, neck, clothes and the silhouette are the leading contributor's (the largest
 * weight), warped to the averaged shape: an average of several hairstyles and outlines is a ghost
 * (semi-transparent fringes, doubled collars, a grey halo) that no camera makes, and a detector
 * would learn it as a mark of "real". The averaged face takes the lead's light and skin colour at
 * low frequencies, so that no seam shows where the two meet. */
static int build_ex(const VolunteerLib *lib, const CompositeRecipe *r, int nw, Composite *c, SlErr *err) {
    memset(c, 0, sizeof *c);
    if (r->k < COMP_MIN_CONTRIB)
        return sl_fail(err, "a composite needs at least %d contributors, this one has %d", COMP_MIN_CONTRIB, r->k);
    const int S = COMP_TEX, nm = lib->nmesh;
    int lead = 0;
    for (int j = 1; j < r->k; j++)
        if (r->w[j] > r->w[lead]) lead = j;
    float (*own)[2] = xmalloc(sizeof(float[2]) * (size_t)nm), (*al)[2] = xmalloc(sizeof(float[2]) * (size_t)nm);
    for (int w = 0; w < 2; w++) {
        for (int j = 0; j < r->k; j++) {
            photo_mesh(lib, &lib->v[r->idx[j]], w, own);
            align_to_mean(lib, (const float(*)[2])own, al);
            for (int i = 0; i < nm; i++)
                for (int q = 0; q < 2; q++) c->pts[w][i][q] += r->w[j] * al[i][q];
        }
        for (int i = 0; i < nm; i++)
            for (int q = 0; q < 2; q++) c->pts[w][i][q] = lib->avg[w][i][q] + COMP_CARICATURE * (c->pts[w][i][q] - lib->avg[w][i][q]);
    }
    composite_geometry(c); /* iod for the mask's feather */
    float *acc = xcalloc((size_t)S * S * 4, sizeof(float)), *accl = xcalloc((size_t)S * S * 4, sizeof(float));
    float *fm = xmalloc(sizeof(float) * (size_t)S * S);
    uint8_t *seen = xmalloc((size_t)S * S);
    int rc = 0;
    for (int w = 0; w < nw && !rc; w++) {
        memset(acc, 0, sizeof(float) * (size_t)S * S * 4);
        memset(accl, 0, sizeof(float) * (size_t)S * S * 4);
        for (int j = 0; j < r->k && !rc; j++) {
            const Volunteer *v = &lib->v[r->idx[j]];
            Image photo;
            if ((rc = vol_load_photo(lib, r->idx[j], w, &photo, err))) break;
            photo_mesh(lib, v, w, own);
            float *mask = person_mask(&photo, (const float(*)[2])v->tem[w]);
            if (j == lead)
                warp_accum(lib, &photo, mask, (const float(*)[2])own, (const float(*)[2])c->pts[w], 1, accl, seen);
            skin_above_brows(&photo, (const float(*)[2])v->lm[w], mask);
            warp_accum(lib, &photo, mask, (const float(*)[2])own, (const float(*)[2])c->pts[w], r->w[j], acc, seen);
            for (int k = 0; k < 68; k++) {
                float o[2];
                map_point(lib, (const float(*)[2])own, (const float(*)[2])c->pts[w], v->lm[w][k], o);
                c->lm[w][k][0] += r->w[j] * o[0], c->lm[w][k][1] += r->w[j] * o[1];
            }
            free(mask);
            image_free(&photo);
        }
        if (rc) break;
        average_mask(lib, c, w, fm);
        /* the lead's light and skin colour, locally: the averaged face takes the difference of
         * the lead's and its own low frequencies (alpha-weighted blurs over about a fifth of the
         * eye distance's width and more), so that the two meet without a seam of colour or light
         * while the average keeps its features */
        float *lo = xcalloc((size_t)S * S * 8, sizeof(float));
        for (size_t i = 0; i < (size_t)S * S; i++) {
            float aa = acc[4 * i + 3], al1 = accl[4 * i + 3];
            for (int q = 0; q < 3; q++) lo[q * (size_t)S * S + i] = accl[4 * i + q], lo[(3 + q) * (size_t)S * S + i] = acc[4 * i + q];
            lo[6 * (size_t)S * S + i] = al1, lo[7 * (size_t)S * S + i] = aa;
        }
        int rb = (int)(c->iod * 0.2f) + 1;
        for (int k = 0; k < 8; k++) box_blur(lo + k * (size_t)S * S, S, S, rb, 3);
        /* the average's colour (corrected) and the lead's, as planes; then the finest detail
         * (skin texture, the photo's grain, the sharpness of an edge: what is left after a blur of
         * about two texels) of the inner face is the lead's too, so that one photo's texture runs
         * across the whole head. An average of several photos is smoother than any of them, and a
         * smooth face inside a textured head is the mark of a blend a detector learns as "fake"
         * (the enhancement face labs apply to composites, Tiddeman et al. 2001, for the same
         * reason: averages look unreal) */
        const size_t P = (size_t)S * S;
        float *pl = xmalloc(sizeof(float) * P * 12), *pa = pl + 3 * P, *bl = pl + 6 * P, *ba = pl + 9 * P;
        for (size_t i = 0; i < P; i++) {
            float aa = acc[4 * i + 3], al1 = accl[4 * i + 3];
            float wl = lo[6 * P + i], wa = lo[7 * P + i];
            for (int q = 0; q < 3; q++) {
                float cl = al1 > 1e-4f ? accl[4 * i + q] / al1 : 0, ca = aa > 1e-4f ? acc[4 * i + q] / aa : cl;
                if (al1 <= 1e-4f) cl = ca;
                if (wl > 0.05f && wa > 0.05f) ca += clampf(lo[q * P + i] / wl - lo[(3 + q) * P + i] / wa, -80, 80);
                pl[q * P + i] = cl, pa[q * P + i] = ca;
            }
        }
        memcpy(bl, pl, sizeof(float) * P * 6);
        for (int k = 0; k < 6; k++) box_blur(bl + k * P, S, S, 1, 2);
        for (size_t i = 0; i < P; i++) {
            /* inside the hull everyone is opaque; where few contributors show skin above the brows
             * (fringes), the lead's forehead shows */
            float aa = acc[4 * i + 3], al1 = accl[4 * i + 3], t = fm[i] * sstep(0.1f, 0.4f, aa);
            float a = t + (1 - t) * al1, keep = sstep(0.5f, 0.9f, al1);
            for (int q = 0; q < 3; q++) {
                float cl = pl[q * P + i], ca = pa[q * P + i];
                ca += keep * ((cl - bl[q * P + i]) - (ca - ba[q * P + i]));
                acc[4 * i + q] = (t * clampf(ca, 0, 255) + (1 - t) * cl) * a;
            }
            acc[4 * i + 3] = a;
        }
        free(pl);
        free(lo);
        finish_texture(acc, &c->tex[w]);
        c->half[w] = image_resize(&c->tex[w], COMP_TEX / 2, COMP_TEX / 2);
    }
    free(acc), free(accl), free(fm), free(seen), free(own), free(al);
    if (rc) {
        composite_free(c);
        return -1;
    }
    composite_geometry(c);
    return 0;
}

/* Template points of the inner face (taken from B in a swap): eyes, brows, nose, mouth, cheeks. */
static int inner_point(int k) {
    return k >= 0 && (k <= 108 || (k >= 158 && k <= 173) || (k >= 179 && k <= 182));
}

/* Least-squares similarity a -> b over n point pairs: out = [c -s tx; s c ty]. */
static void fit_similarity(const float (*a)[2], const float (*b)[2], const int *idx, int n, float m[6]) {
    double ax = 0, ay = 0, bx = 0, by = 0;
    for (int i = 0; i < n; i++) ax += a[idx[i]][0], ay += a[idx[i]][1], bx += b[idx[i]][0], by += b[idx[i]][1];
    ax /= n, ay /= n, bx /= n, by /= n;
    double sc = 0, ss = 0, sn = 0;
    for (int i = 0; i < n; i++) {
        double px = a[idx[i]][0] - ax, py = a[idx[i]][1] - ay, qx = b[idx[i]][0] - bx, qy = b[idx[i]][1] - by;
        sc += px * qx + py * qy, ss += px * qy - py * qx, sn += px * px + py * py;
    }
    double c = sc / sn, s = ss / sn;
    m[0] = (float)c, m[1] = (float)-s, m[3] = (float)s, m[4] = (float)c;
    m[2] = (float)(bx - (c * ax - s * ay)), m[5] = (float)(by - (s * ax + c * ay));
}

int composite_build(const VolunteerLib *lib, const CompositeRecipe *r, Composite *c, SlErr *err) {
    return build_ex(lib, r, 2, c, err);
}

int composite_build_swap(const VolunteerLib *lib, const CompositeRecipe *outer, const CompositeRecipe *inner,
                         Composite *c, SlErr *err) {
    return composite_build_swap_n(lib, outer, inner, 2, c, err);
}

int composite_build_swap_n(const VolunteerLib *lib, const CompositeRecipe *outer, const CompositeRecipe *inner,
                           int expressions, Composite *c, SlErr *err) {
    SL_ASSERT(expressions == 1 || expressions == 2);
    Composite A, B;
    if (build_ex(lib, outer, expressions, &A, err)) return -1;
    if (build_ex(lib, inner, expressions, &B, err)) {
        composite_free(&A);
        return -1;
    }
    composite_swap_of(lib, &A, &B, expressions, c);
    composite_free(&A);
    composite_free(&B);
    return 0;
}

void composite_swap_of(const VolunteerLib *lib, const Composite *outer, const Composite *inner, int expressions,
                       Composite *c) {
    SL_ASSERT(expressions == 1 || expressions == 2);
    for (int w = 0; w < expressions; w++) SL_ASSERT(outer->tex[w].px && inner->tex[w].px);
    memset(c, 0, sizeof *c);
    const int S = COMP_TEX, nm = lib->nmesh;
    static const int stable[] = {27, 28, 29, 30, 31, 35, 36, 39, 42, 45};
    float *acc = xcalloc((size_t)S * S * 4, sizeof(float)), *accb = xcalloc((size_t)S * S * 4, sizeof(float));
    float *mask = xmalloc(sizeof(float) * (size_t)S * S);
    uint8_t *seen = xmalloc((size_t)S * S);
    for (int w = 0; w < expressions; w++) {
        float m[6];
        fit_similarity((const float(*)[2])inner->lm[w], (const float(*)[2])outer->lm[w], stable, 10, m);
        for (int i = 0; i < nm; i++) {
            const float *p = inner->pts[w][i];
            if (inner_point(lib->mesh_tem[i])) {
                c->pts[w][i][0] = m[0] * p[0] + m[1] * p[1] + m[2];
                c->pts[w][i][1] = m[3] * p[0] + m[4] * p[1] + m[5];
            } else {
                c->pts[w][i][0] = outer->pts[w][i][0], c->pts[w][i][1] = outer->pts[w][i][1];
            }
        }
        for (int k = 0; k < 68; k++)
            map_point(lib, (const float(*)[2])(k < 17 ? outer->pts[w] : inner->pts[w]), (const float(*)[2])c->pts[w],
                      k < 17 ? outer->lm[w][k] : inner->lm[w][k], c->lm[w][k]);
        memset(acc, 0, sizeof(float) * (size_t)S * S * 4);
        memset(accb, 0, sizeof(float) * (size_t)S * S * 4);
        warp_accum(lib, &outer->tex[w], NULL, (const float(*)[2])outer->pts[w], (const float(*)[2])c->pts[w], 1, acc, seen);
        warp_accum(lib, &inner->tex[w], NULL, (const float(*)[2])inner->pts[w], (const float(*)[2])c->pts[w], 1, accb, seen);
        /* B's face inside the swap's mask (align_face_mask), within A's face outline (B's hair stays out) */
        align_face_mask((const float(*)[2])c->lm[w], S, mask);
        mask_face_outline(lib, (const float(*)[2])c->pts[w], mask);
        int r = (int)(outer->iod * 0.06f) + 1;
        box_blur(mask, S, S, r, 2);
        for (size_t i = 0; i < (size_t)S * S; i++) {
            float t = mask[i], aa = acc[4 * i + 3], ab = accb[4 * i + 3];
            for (int q = 0; q < 3; q++) {
                float ca = aa > 1e-4f ? acc[4 * i + q] / aa : 0, cb = ab > 1e-4f ? accb[4 * i + q] / ab : ca;
                acc[4 * i + q] = ((1 - t) * ca + t * cb) * aa;
            }
        }
        c->tex[w] = image_new(S, S, 4);
        for (size_t i = 0; i < (size_t)S * S; i++) {
            float a = acc[4 * i + 3];
            for (int q = 0; q < 3; q++) c->tex[w].px[4 * i + q] = (uint8_t)clampf(a > 1e-4f ? acc[4 * i + q] / a + 0.5f : 0, 0, 255);
            c->tex[w].px[4 * i + 3] = (uint8_t)clampf(a * 255 + 0.5f, 0, 255);
        }
        c->half[w] = image_resize(&c->tex[w], COMP_TEX / 2, COMP_TEX / 2);
    }
    free(acc), free(accb), free(mask), free(seen);
    c->iod = outer->iod, c->cx = outer->cx, c->cy = outer->cy; /* the head, its pose and framing are A's */
}

void composite_free(Composite *c) {
    for (int w = 0; w < 2; w++) image_free(&c->tex[w]), image_free(&c->half[w]);
}

/* ---- recipes --------------------------------------------------------------------------------- */
void composite_recipe_draw(const VolunteerLib *lib, SlRng *rng, CompositeRecipe *r) {
    SL_ASSERT(lib->n >= COMP_MIN_CONTRIB);
    memset(r, 0, sizeof *r);
    int kmax = lib->n < COMP_MAX_CONTRIB ? lib->n : COMP_MAX_CONTRIB;
    r->k = COMP_MIN_CONTRIB + sl_rng_int(rng, kmax - COMP_MIN_CONTRIB + 1);
    for (int j = 0; j < r->k; j++) {
        int i, dup;
        do {
            i = sl_rng_int(rng, lib->n);
            dup = 0;
            for (int q = 0; q < j; q++) dup |= r->idx[q] == i;
        } while (dup);
        r->idx[j] = i;
    }
    /* weights: skewed draws (one or two contributors lead), then capped at COMP_MAX_WEIGHT (the
     * excess spread over the rest) */
    float s = 0;
    for (int j = 0; j < r->k; j++) {
        float u = sl_rng_uniform(rng);
        s += r->w[j] = 0.15f + u * u;
    }
    for (int j = 0; j < r->k; j++) r->w[j] /= s;
    for (int it = 0; it < 8; it++) {
        float excess = 0, room = 0;
        for (int j = 0; j < r->k; j++) {
            if (r->w[j] > COMP_MAX_WEIGHT) excess += r->w[j] - COMP_MAX_WEIGHT, r->w[j] = COMP_MAX_WEIGHT;
            else room += COMP_MAX_WEIGHT - r->w[j];
        }
        if (excess <= 0) break;
        for (int j = 0; j < r->k; j++)
            if (r->w[j] < COMP_MAX_WEIGHT) r->w[j] += excess * (COMP_MAX_WEIGHT - r->w[j]) / room;
    }
}

/* One contributor's likeness in the descriptor: its photo `which` described with its 68 points. */
static int photo_descriptor(const VolunteerLib *lib, int i, int which, float *desc, SlErr *err) {
    Image ph;
    if (vol_load_photo(lib, i, which, &ph, err)) return -1;
    int rc = composite_descriptor(&ph, (const float(*)[2])lib->v[i].lm[which], desc, err);
    image_free(&ph);
    return rc;
}

int composite_recipe_ratios(const VolunteerLib *lib, const CompositeRecipe *r, float ratio[COMP_MAX_CONTRIB], SlErr *err) {
    float *dc = xmalloc(sizeof(float) * COMP_DESC_LEN * 3), *dn = dc + COMP_DESC_LEN, *ds = dn + COMP_DESC_LEN;
    Composite c;
    int rc = build_ex(lib, r, 1, &c, err); /* the neutral frame needs the neutral texture only */
    if (!rc) {
        CompFrame f;
        composite_frame_neutral(&f);
        Image im;
        float lm[68][2];
        composite_render(lib, &c, &f, 256, &im, lm);
        composite_free(&c);
        rc = composite_descriptor(&im, lm, dc, err);
        image_free(&im);
    }
    for (int j = 0; j < r->k && !rc; j++) {
        if ((rc = photo_descriptor(lib, r->idx[j], 0, dn, err)) || (rc = photo_descriptor(lib, r->idx[j], 1, ds, err))) break;
        float own = composite_desc_dist(dn, ds);
        ratio[j] = composite_desc_dist(dc, dn) / (own > 1e-6f ? own : 1e-6f);
    }
    free(dc);
    return rc ? -1 : 0;
}

int composite_recipe_draw_distinct(const VolunteerLib *lib, SlRng *rng, CompositeRecipe *r, SlErr *err) {
    float worst = 0;
    for (int t = 0; t < COMP_DISTINCT_TRIES; t++) {
        composite_recipe_draw(lib, rng, r);
        float ratio[COMP_MAX_CONTRIB];
        if (composite_recipe_ratios(lib, r, ratio, err)) return -1;
        float lo = ratio[0];
        for (int j = 1; j < r->k; j++) lo = fminf(lo, ratio[j]);
        if (lo > COMP_DISTINCT_MARGIN) return 0;
        worst = fmaxf(worst, lo);
    }
    return sl_fail(err, "%s: none of %d composites drawn is farther from each contributor than %.2f times that "
                        "contributor's own neutral-to-smiling distance (best %.2f): too few or too alike volunteers",
                   lib->dir, COMP_DISTINCT_TRIES, (double)COMP_DISTINCT_MARGIN, (double)worst);
}

int composite_json_is(const json_t *identity) {
    const json_t *s = json_object_get(identity, "style");
    return json_is_string(s) && !strcmp(json_string_value(s), "composite");
}

json_t *composite_recipe_to_json(const VolunteerLib *lib, const CompositeRecipe *r) {
    json_t *arr = json_array();
    for (int j = 0; j < r->k; j++) {
        const Volunteer *v = &lib->v[r->idx[j]];
        json_array_append_new(arr, json_pack("{s:s,s:f,s:s,s:s,s:s}", "id", v->id, "weight", (double)r->w[j],
                                             "neutral_sha256", v->sha_neutral, "smiling_sha256", v->sha_smiling,
                                             "template_sha256", v->sha_tem));
    }
    return json_pack("{s:s,s:o}", "style", "composite", "contributors", arr);
}

int composite_recipe_from_json(const VolunteerLib *lib, const json_t *j, CompositeRecipe *r, SlErr *err) {
    memset(r, 0, sizeof *r);
    if (!composite_json_is(j)) return sl_fail(err, "not a composite identity (\"style\" is not \"composite\")");
    const json_t *arr = json_object_get(j, "contributors");
    if (!json_is_array(arr)) return sl_fail(err, "\"contributors\" must be an array");
    size_t n = json_array_size(arr);
    if (n < COMP_MIN_CONTRIB || n > COMP_MAX_CONTRIB)
        return sl_fail(err, "a composite has %d..%d contributors, this one %zu", COMP_MIN_CONTRIB, COMP_MAX_CONTRIB, n);
    static const char *const dig[3] = {"neutral_sha256", "smiling_sha256", "template_sha256"};
    for (size_t q = 0; q < n; q++) {
        const json_t *e = json_array_get(arr, q);
        const json_t *id = json_object_get(e, "id"), *w = json_object_get(e, "weight");
        if (!json_is_string(id) || !json_is_number(w))
            return sl_fail(err, "contributor %zu needs an \"id\" string and a \"weight\" number", q + 1);
        int i = vol_lib_find(lib, json_string_value(id));
        if (i < 0) return sl_fail(err, "contributor '%s' is not in the volunteer library %s", json_string_value(id), lib->dir);
        const char *have[3] = {lib->v[i].sha_neutral, lib->v[i].sha_smiling, lib->v[i].sha_tem};
        for (int d = 0; d < 3; d++) {
            const json_t *s = json_object_get(e, dig[d]);
            if (!json_is_string(s) || strcmp(json_string_value(s), have[d]))
                return sl_fail(err, "contributor '%s': %s differs from the library's file in %s (the volunteer's photos changed)",
                               lib->v[i].id, dig[d], lib->dir);
        }
        r->idx[q] = i;
        r->w[q] = (float)json_number_value(w);
        r->k++;
    }
    return 0;
}

json_t *composite_contributors_json(const VolunteerLib *lib, const CompositeRecipe *r) {
    json_t *arr = json_array();
    for (int j = 0; j < r->k; j++) {
        const Volunteer *v = &lib->v[r->idx[j]];
        char pn[64], ps[64], pt[64];
        snprintf(pn, sizeof pn, "%s_neutral.jpg", v->id);
        snprintf(ps, sizeof ps, "%s_smiling.jpg", v->id);
        snprintf(pt, sizeof pt, "%s_neutral.tem189", v->id);
        json_t *imgs = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "path", pn, "sha256", v->sha_neutral, "path", ps,
                                 "sha256", v->sha_smiling, "path", pt, "sha256", v->sha_tem);
        json_array_append_new(arr, json_pack("{s:s,s:f,s:o,s:s,s:s}", "subject", v->id, "weight", (double)r->w[j],
                                             "images", imgs, "licence", VOL_LICENCE, "consent", VOL_CONSENT_STATEMENT));
    }
    return arr;
}

/* ---- frames ---------------------------------------------------------------------------------- */
void composite_frame_random(CompFrame *fr, SlRng *rng) {
    synth_frame_random(&fr->f, rng);
    /* a frontal photo on a 2.5-D head: beyond about 20 degrees of yaw or 10 of pitch the turn
     * shears nose and mouth into shapes no camera sees (and a detector learns them as "fake") */
    fr->f.yaw *= 22.0f / 35.0f;
    fr->f.pitch *= 10.0f / 20.0f;
    fr->f.roll *= 15.0f / 20.0f;
    fr->jpeg_quality = sl_rng_uniform(rng) < 0.2f ? 0 : 55 + sl_rng_int(rng, 41);
}

void composite_frame_neutral(CompFrame *fr) {
    synth_frame_neutral(&fr->f);
    fr->jpeg_quality = 0;
}

json_t *composite_frame_to_json(const CompFrame *fr) {
    json_t *j = synth_frame_to_json(&fr->f);
    json_object_set_new(j, "jpeg_quality", json_integer(fr->jpeg_quality));
    return j;
}

int composite_frame_from_json(const json_t *j, CompFrame *fr, SlErr *err) {
    if (synth_frame_from_json(j, &fr->f, err)) return -1;
    const json_t *q = json_object_get(j, "jpeg_quality");
    if (!json_is_integer(q) || json_integer_value(q) < 0 || json_integer_value(q) > 100)
        return sl_fail(err, "\"jpeg_quality\" must be an integer 0..100");
    fr->jpeg_quality = (int)json_integer_value(q);
    return 0;
}

/* ---- rendering -------------------------------------------------------------------------------- */
/* The 2.5-D head, in units of the inter-ocular distance from the pupils' midpoint (v down): an
 * ellipsoid with a nose ridge, eye sockets and lips. Returns the depth toward the camera. */
/* 1 - the head ellipsoid's squared radius at (u, v): 1 at its centre, 0 on its rim. */
static float head_core(float u, float v) {
    const float a = 1.45f, vc = 0.1f, b = v > vc ? 2.3f : 1.85f; /* the lower face is longer */
    return 1 - (u / a) * (u / a) - ((v - vc) / b) * ((v - vc) / b);
}

static float head_depth(float u, float v) {
    const float c = 1.5f;
    float q = head_core(u, v);
    float z = c * sqrtf(q > 0 ? q : 0);
    float ramp = sstep(-0.1f, 0.8f, v) * (1 - sstep(0.85f, 1.05f, v));
    z += 0.3f * ramp * expf(-u * u / (2 * 0.15f * 0.15f));
    float eu = fabsf(u) - 0.5f;
    z -= 0.15f * expf(-(eu * eu + v * v) / (2 * 0.2f * 0.2f));
    z += 0.1f * expf(-u * u / (2 * 0.35f * 0.35f) - (v - 1.3f) * (v - 1.3f) / (2 * 0.2f * 0.2f));
    return z;
}

static void head_normal(float u, float v, float n[3]) {
    const float h = 0.02f;
    float dzu = (head_depth(u + h, v) - head_depth(u - h, v)) / (2 * h);
    float dzv = (head_depth(u, v + h) - head_depth(u, v - h)) / (2 * h);
    /* camera axes: x right, y up, z toward the camera; v grows downward */
    float nx = -dzu, ny = dzv, nz = 1;
    float l = sqrtf(nx * nx + ny * ny + nz * nz);
    n[0] = nx / l, n[1] = ny / l, n[2] = nz / l;
}

static void rot_matrix(float yaw, float pitch, float roll, float m[9]) {
    float y = yaw * (float)M_PI / 180, p = pitch * (float)M_PI / 180, r = roll * (float)M_PI / 180;
    float cy = cosf(y), sy = sinf(y), cp = cosf(p), sp = sinf(p), cr = cosf(r), sr = sinf(r);
    /* R = Rz(roll) * Rx(pitch) * Ry(yaw), camera axes (x right, y up, z toward the camera) */
    float ry[9] = {cy, 0, sy, 0, 1, 0, -sy, 0, cy};
    float rx[9] = {1, 0, 0, 0, cp, -sp, 0, sp, cp};
    float rz[9] = {cr, -sr, 0, sr, cr, 0, 0, 0, 1};
    float t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            t[3 * i + j] = 0;
            for (int k = 0; k < 3; k++) t[3 * i + j] += rx[3 * i + k] * ry[3 * k + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            m[3 * i + j] = 0;
            for (int k = 0; k < 3; k++) m[3 * i + j] += rz[3 * i + k] * t[3 * k + j];
        }
}

static float bg_value(const SynthFrame *f, const float (*blobs)[4], float u, float v) {
    switch (f->bg_kind) {
    case 0: return v;
    case 1: return 0.5f * (u + v);
    case 2: return clampf(1.4f * hypotf(u - 0.5f, v - 0.45f), 0, 1);
    default: {
        float t = 0;
        for (int i = 0; i < 8; i++) {
            float dx = u - blobs[i][0], dy = v - blobs[i][1], r = 0.08f + 0.25f * blobs[i][2];
            float g = expf(-(dx * dx + dy * dy) / (2 * r * r));
            t += (f->bg_kind == 3 ? 0.6f : 1.0f) * (blobs[i][3] - 0.4f) * (f->bg_kind == 4 ? sstep(0.5f, 0.7f, g) : g);
        }
        return clampf(0.5f + t, 0, 1);
    }
    }
}

/* Gradients, blotches or bokeh from the frame's two colours, evaluated on a 65 x 65 grid and
 * interpolated (they are smooth). */
static void background(const SynthFrame *f, Image *out) {
    enum { G = 64 };
    int S = out->w;
    float blobs[8][4], grid[G + 1][G + 1];
    for (int i = 0; i < 8; i++)
        for (int q = 0; q < 4; q++) blobs[i][q] = (hash32(f->bg_seed * 31u + (uint32_t)(i * 4 + q)) & 0xffff) / 65535.0f;
    for (int j = 0; j <= G; j++)
        for (int i = 0; i <= G; i++) grid[j][i] = bg_value(f, (const float(*)[4])blobs, (float)i / G, (float)j / G);
    for (int y = 0; y < S; y++) {
        float gy = (y + 0.5f) / S * G;
        int j = (int)gy;
        if (j > G - 1) j = G - 1;
        float fy = gy - j;
        for (int x = 0; x < S; x++) {
            float gx = (x + 0.5f) / S * G;
            int i = (int)gx;
            if (i > G - 1) i = G - 1;
            float fx = gx - i;
            float t = (1 - fy) * ((1 - fx) * grid[j][i] + fx * grid[j][i + 1]) + fy * ((1 - fx) * grid[j + 1][i] + fx * grid[j + 1][i + 1]);
            uint8_t *p = out->px + ((size_t)y * S + x) * 3;
            for (int c = 0; c < 3; c++) p[c] = (uint8_t)clampf(255 * (f->bg_rgb1[c] + (f->bg_rgb2[c] - f->bg_rgb1[c]) * t) + 0.5f, 0, 255);
        }
    }
}

static void gauss_blur_rgb(Image *im, float sigma) {
    if (sigma < 0.2f) return;
    int r = (int)ceilf(2.5f * sigma), n = 2 * r + 1, W = im->w, H = im->h;
    float *k = xmalloc(sizeof(float) * (size_t)n), s = 0;
    for (int i = 0; i < n; i++) s += k[i] = expf(-(float)((i - r) * (i - r)) / (2 * sigma * sigma));
    for (int i = 0; i < n; i++) k[i] /= s;
    float *tmp = xmalloc(sizeof(float) * (size_t)W * H * 3), *pad = xmalloc(sizeof(float) * (size_t)(W + 2 * r) * 3);
    for (int y = 0; y < H; y++) { /* rows: a padded copy (edges replicated), then a plain convolution */
        const uint8_t *row = im->px + (size_t)y * W * 3;
        for (int x = -r; x < W + r; x++) {
            int xx = x < 0 ? 0 : x >= W ? W - 1 : x;
            for (int c = 0; c < 3; c++) pad[(x + r) * 3 + c] = row[xx * 3 + c];
        }
        float *restrict o = tmp + (size_t)y * W * 3;
        for (int i = 0; i < 3 * W; i++) o[i] = 0;
        for (int t = 0; t < n; t++) {
            const float *restrict src = pad + t * 3;
            const float kt = k[t];
            for (int i = 0; i < 3 * W; i++) o[i] += kt * src[i];
        }
    }
    float *acc = xmalloc(sizeof(float) * (size_t)W * 3);
    for (int y = 0; y < H; y++) { /* columns: whole rows at a time */
        float *restrict ac = acc;
        for (int i = 0; i < 3 * W; i++) ac[i] = 0;
        for (int t = -r; t <= r; t++) {
            int yy = y + t < 0 ? 0 : y + t >= H ? H - 1 : y + t;
            const float *restrict src = tmp + (size_t)yy * W * 3;
            const float kt = k[t + r];
            for (int i = 0; i < 3 * W; i++) ac[i] += kt * src[i];
        }
        uint8_t *o = im->px + (size_t)y * W * 3;
        for (int i = 0; i < 3 * W; i++) o[i] = (uint8_t)(acc[i] + 0.5f);
    }
    free(k), free(tmp), free(pad), free(acc);
}

/* The x range [*xa, *xb] of row centre py inside triangle b (all barycentric >= -1e-4). */
static int tri_span(const Bary *b, float py, float *xa, float *xb) {
    /* l1 = (vx e2y - e2x vy) inv, l2 = (e1x vy - vx e1y) inv with vx = x - x0, vy = py - y0 */
    float vy = py - b->y0;
    float a1 = (-b->x0 * b->e2y - b->e2x * vy) * b->inv, c1 = b->e2y * b->inv;
    float a2 = (b->e1x * vy + b->x0 * b->e1y) * b->inv, c2 = -b->e1y * b->inv;
    float a0 = 1 - a1 - a2, c0 = -c1 - c2;
    const float eps = 1e-4f;
    float lo = -1e30f, hi = 1e30f, as[3] = {a0, a1, a2}, cs[3] = {c0, c1, c2};
    for (int i = 0; i < 3; i++) {
        if (cs[i] > 1e-12f) lo = fmaxf(lo, (-eps - as[i]) / cs[i]);
        else if (cs[i] < -1e-12f) hi = fminf(hi, (-eps - as[i]) / cs[i]);
        else if (as[i] < -eps) return 0;
    }
    *xa = lo, *xb = hi;
    return lo <= hi;
}

typedef struct {
    float z;
    int t;
} TriZ;
static int cmp_triz(const void *a, const void *b) {
    const TriZ *x = a, *y = b;
    if (x->z != y->z) return x->z < y->z ? -1 : 1;
    return x->t - y->t;
}

void composite_render(const VolunteerLib *lib, const Composite *c, const CompFrame *cf, int size, Image *out,
                      float lm[68][2]) {
    SL_ASSERT(size >= 16 && size <= 4096);
    const SynthFrame *f = &cf->f;
    const int nm = lib->nmesh;
    const float iod = c->iod, s = clampf(f->smile, 0, 1);
    float P[VOL_MESH_MAX][2], D[VOL_MESH_MAX][2], Z[VOL_MESH_MAX], shade[VOL_MESH_MAX];

    /* expression: the smile morph (the two textures' shapes), landmarks through its triangles */
    for (int i = 0; i < nm; i++)
        for (int q = 0; q < 2; q++) P[i][q] = (1 - s) * c->pts[0][i][q] + s * c->pts[1][i][q];
    float lmP[68][2];
    for (int k = 0; k < 68; k++) {
        float a[2], b[2];
        map_point(lib, (const float(*)[2])c->pts[0], (const float(*)[2])P, c->lm[0][k], a);
        if (s > 0) map_point(lib, (const float(*)[2])c->pts[1], (const float(*)[2])P, c->lm[1][k], b);
        else b[0] = a[0], b[1] = a[1];
        lmP[k][0] = (1 - s) * a[0] + s * b[0], lmP[k][1] = (1 - s) * a[1] + s * b[1];
    }
    /* then eyelids, brows, jaw and gaze as point motions, the same for template points and the
     * landmarks they carry */
    float lowy[2] = {0, 0};
    for (int i = 0; i < nm; i++) {
        int k = lib->mesh_tem[i];
        if (k >= 28 && k <= 30) lowy[0] += P[i][1] / 3;
        if (k >= 31 && k <= 33) lowy[1] += P[i][1] / 3;
    }
    const float blink = clampf(f->blink, 0, 1), open = clampf(f->mouth_open, 0, 1), brow = clampf(f->brow_raise, 0, 1);
    const float drop = open * 0.3f * iod;
    for (int i = 0; i < nm; i++) {
        int k = lib->mesh_tem[i];
        if (k < 0) continue;
        int right = (k >= 10 && k <= 17) || (k >= 23 && k <= 27) || (k >= 39 && k <= 43) || k == 1;
        float ly = lowy[right];
        /* a blink pulls the upper lid, and the iris above the lower lid, onto the lower lid, the
         * crease half as far: y -> y + b (ly - y) keeps their order, so no triangle folds */
        if (((k >= 19 && k <= 21) || (k >= 24 && k <= 26) || k <= 17) && P[i][1] < ly) P[i][1] += 0.95f * blink * (ly - P[i][1]);
        else if (k >= 34 && k <= 43 && P[i][1] < ly) P[i][1] += 0.5f * blink * (ly - P[i][1]);
        if (k <= 17) {
            P[i][0] += f->gaze_x * 0.06f * iod * (1 - blink);
            P[i][1] -= f->gaze_y * 0.04f * iod * (1 - blink);
        }
        if (k >= 71 && k <= 86) P[i][1] -= brow * 0.16f * iod;
        else if (k >= 34 && k <= 43) P[i][1] -= brow * 0.06f * iod;
        else if (k >= 134 && k <= 144) P[i][1] -= brow * 0.05f * iod;
        if (k >= 99 && k <= 108) P[i][1] += drop;
        else if (k >= 174 && k <= 178) P[i][1] += 0.9f * drop;
        else if (k >= 125 && k <= 133) P[i][1] += drop * sstep(0.6f * iod, 1.6f * iod, P[i][1] - c->cy);
        else if (k == 145 || k == 157) P[i][1] += 0.5f * drop;
    }
    for (int k = 0; k < 68; k++) {
        if ((k == 37 || k == 38) && lmP[k][1] < lowy[0]) lmP[k][1] += 0.95f * blink * (lowy[0] - lmP[k][1]);
        if ((k == 43 || k == 44) && lmP[k][1] < lowy[1]) lmP[k][1] += 0.95f * blink * (lowy[1] - lmP[k][1]);
        if (k >= 17 && k <= 26) lmP[k][1] -= brow * 0.16f * iod;
        if ((k >= 56 && k <= 58) || (k >= 65 && k <= 67)) lmP[k][1] += drop;
        else if (k == 55 || k == 59) lmP[k][1] += 0.6f * drop;
        else if (k <= 16) lmP[k][1] += drop * sstep(0.6f * iod, 1.6f * iod, lmP[k][1] - c->cy);
    }
    /* pose about the head's centre; light through the head's normals */
    float R[9];
    rot_matrix(f->yaw, f->pitch, f->roll, R);
    float L[3] = {f->light_dir[0], f->light_dir[1], f->light_dir[2]};
    float ll = sqrtf(L[0] * L[0] + L[1] * L[1] + L[2] * L[2]);
    if (ll < 1e-6f) L[2] = 1, ll = 1;
    for (int q = 0; q < 3; q++) L[q] /= ll;
    const float L0[3] = {0, 0.2f, 0.98f}, amb = 0.5f, dif = 0.5f;
    float pc_x = c->cx, pc_y = c->cy + 0.1f * iod;
    float ncentre[3] = {R[2], R[5], R[8]};
    float ec = amb + dif * f->light_intensity * fmaxf(0, ncentre[0] * L[0] + ncentre[1] * L[1] + ncentre[2] * L[2]);
    float expo = powf((amb + dif * L0[2]) / ec, 0.7f);
    const float sh_centre = ec / (amb + dif * L0[2]) * expo;
    float scale = (float)size * 0.2f * f->cam_scale / iod;
    float ox = size * (0.5f + f->cam_dx), oy = size * (0.42f + f->cam_dy);
    for (int i = 0; i < nm; i++) {
        int k = lib->mesh_tem[i];
        float wgt = k < 0 ? 0 : (k == 145 || k == 183 || k == 184) ? 0.5f : 1;
        float u = (P[i][0] - c->cx) / iod, v = (P[i][1] - c->cy) / iod;
        float z = k < 0 ? 0 : head_depth(u, v);
        float X = (P[i][0] - pc_x) / iod, Y = -(P[i][1] - pc_y) / iod;
        float rx = R[0] * X + R[1] * Y + R[2] * z, ry = R[3] * X + R[4] * Y + R[5] * z, rz = R[6] * X + R[7] * Y + R[8] * z;
        float px = X + wgt * (rx - X), py = Y + wgt * (ry - Y);
        Z[i] = z + wgt * (rz - z);
        D[i][0] = ox + scale * iod * px;
        D[i][1] = oy - scale * iod * py + scale * (pc_y - c->cy);
        float n[3], nr[3];
        head_normal(u, v, n);
        for (int q = 0; q < 3; q++) nr[q] = n[q] + wgt * ((R[3 * q] * n[0] + R[3 * q + 1] * n[1] + R[3 * q + 2] * n[2]) - n[q]);
        float lit = amb + dif * f->light_intensity * fmaxf(0, nr[0] * L[0] + nr[1] * L[1] + nr[2] * L[2]);
        float ref = amb + dif * fmaxf(0, n[0] * L0[0] + n[1] * L0[1] + n[2] * L0[2]);
        /* the light ratio holds on the head's ellipsoid; towards its rim the normal turns
         * sideways (the ratio would reach 2 there, a white line along the hair and neck), so it
         * fades into the head centre's ratio, which the border (body, clothes) takes too */
        float sh = k < 0 ? sh_centre : sh_centre + sstep(0.02f, 0.35f, head_core(u, v)) * (lit / ref * expo - sh_centre);
        shade[i] = clampf(sh, 0.35f, 1.8f);
    }
    for (int k = 0; k < 68; k++) map_point(lib, (const float(*)[2])P, (const float(*)[2])D, lmP[k], lm[k]);
    /* paint: background, then triangles far to near into a premultiplied layer, then composite */
    *out = image_new(size, size, 3);
    background(f, out);
    const Image *t0 = &c->tex[0], *t1 = &c->tex[1];
    float tex_scale = 1;
    if (scale < 0.75f) { /* the half-size textures: no aliasing at small sizes */
        t0 = &c->half[0], t1 = &c->half[1];
        tex_scale = 0.5f;
    }
    float *layer = xcalloc((size_t)size * size * 4, sizeof(float));
    TriZ *order = xmalloc(sizeof(TriZ) * (size_t)lib->ntri);
    for (int t = 0; t < lib->ntri; t++) {
        const int *v = lib->tri[t];
        order[t].z = Z[v[0]] + Z[v[1]] + Z[v[2]];
        order[t].t = t;
    }
    qsort(order, (size_t)lib->ntri, sizeof *order, cmp_triz);
    float temp = clampf(f->light_temp, -1, 1), tint[3] = {1 + 0.1f * temp, 1, 1 - 0.12f * temp};
    float mouth_dark = clampf(open * 1.6f, 0, 1) * 0.85f;
    for (int oi = 0; oi < lib->ntri; oi++) {
        int t = order[oi].t;
        const int *v = lib->tri[t];
        Bary b;
        if (!bary_init(&b, D[v[0]], D[v[1]], D[v[2]])) continue;
        float minx = fminf(D[v[0]][0], fminf(D[v[1]][0], D[v[2]][0])), maxx = fmaxf(D[v[0]][0], fmaxf(D[v[1]][0], D[v[2]][0]));
        float miny = fminf(D[v[0]][1], fminf(D[v[1]][1], D[v[2]][1])), maxy = fmaxf(D[v[0]][1], fmaxf(D[v[1]][1], D[v[2]][1]));
        int x0 = (int)floorf(minx), x1 = (int)ceilf(maxx), y0 = (int)floorf(miny), y1 = (int)ceilf(maxy);
        if (x0 < 0) x0 = 0;
        if (y0 < 0) y0 = 0;
        if (x1 > size - 1) x1 = size - 1;
        if (y1 > size - 1) y1 = size - 1;
        int mouth = lib->tri_mouth[t];
        /* the smile's texture shows on the inner face only, fading to none over the triangles
         * between its points and the rest: the neutral and smiling photos frame hair, ears, neck
         * and clothes differently, and a cross-fade of two outlines is a double exposure (a
         * translucent second silhouette beside the first) that no camera makes */
        const float sv[3] = {s * inner_point(lib->mesh_tem[v[0]]), s * inner_point(lib->mesh_tem[v[1]]),
                             s * inner_point(lib->mesh_tem[v[2]])};
        const int morph = sv[0] > 0 || sv[1] > 0 || sv[2] > 0;
        for (int y = y0; y <= y1; y++) {
            float fa, fb;
            if (!tri_span(&b, y + 0.5f, &fa, &fb)) continue;
            int xa = (int)ceilf(fa - 0.5f), xb = (int)floorf(fb - 0.5f);
            if (xa < x0) xa = x0;
            if (xb > x1) xb = x1;
            for (int x = xa; x <= xb; x++) {
                float l1, l2;
                bary_at(&b, x + 0.5f, y + 0.5f, &l1, &l2);
                float l0 = 1 - l1 - l2;
                if (l0 < -2e-4f || l1 < -2e-4f || l2 < -2e-4f) continue;
                float col[4], col1[4];
                float sx = (l0 * c->pts[0][v[0]][0] + l1 * c->pts[0][v[1]][0] + l2 * c->pts[0][v[2]][0]) * tex_scale;
                float sy = (l0 * c->pts[0][v[0]][1] + l1 * c->pts[0][v[1]][1] + l2 * c->pts[0][v[2]][1]) * tex_scale;
                { /* transparent texels (the backdrop) cost nothing more */
                    int ix = (int)clampf(sx, 0, t0->w - 1), iy = (int)clampf(sy, 0, t0->h - 1);
                    if (!morph && !t0->px[((size_t)iy * t0->w + ix) * 4 + 3] && !mouth) {
                        int jx = (int)clampf(sx + 1, 0, t0->w - 1), jy = (int)clampf(sy + 1, 0, t0->h - 1);
                        if (!t0->px[((size_t)jy * t0->w + jx) * 4 + 3]) continue;
                    }
                }
                sample4(t0, sx, sy, col);
                if (morph) {
                    sx = (l0 * c->pts[1][v[0]][0] + l1 * c->pts[1][v[1]][0] + l2 * c->pts[1][v[2]][0]) * tex_scale;
                    sy = (l0 * c->pts[1][v[0]][1] + l1 * c->pts[1][v[1]][1] + l2 * c->pts[1][v[2]][1]) * tex_scale;
                    sample4(t1, sx, sy, col1);
                    float st = l0 * sv[0] + l1 * sv[1] + l2 * sv[2];
                    for (int q = 0; q < 4; q++) col[q] += st * (col1[q] - col[q]);
                }
                if (mouth) { /* the open mouth: darkest half-way between the lips, fading into them */
                    static const float dark[3] = {48, 20, 22};
                    float u = l0 * (lib->mesh_tem[v[0]] >= 99) + l1 * (lib->mesh_tem[v[1]] >= 99) + l2 * (lib->mesh_tem[v[2]] >= 99);
                    float md = mouth_dark * sqrtf(clampf(4 * u * (1 - u), 0, 1));
                    for (int q = 0; q < 3; q++) col[q] += md * (dark[q] - col[q]);
                    col[3] += md * (255 - col[3]);
                }
                float sh = l0 * shade[v[0]] + l1 * shade[v[1]] + l2 * shade[v[2]];
                float a = col[3] / 255.0f;
                float *o = layer + 4 * ((size_t)y * size + x);
                for (int q = 0; q < 3; q++) o[q] = a * col[q] * sh * tint[q];
                o[3] = a;
            }
        }
    }
    for (size_t i = 0; i < (size_t)size * size; i++) {
        const float *o = layer + 4 * i;
        uint8_t *p = out->px + 3 * i;
        for (int q = 0; q < 3; q++) p[q] = (uint8_t)clampf(o[q] + (1 - o[3]) * p[q] * tint[q] + 0.5f, 0, 255);
    }
    free(layer), free(order);
    gauss_blur_rgb(out, f->blur * size / 256.0f);
    if (f->noise_sigma > 0) {
        /* sensor noise: a sum of four uniforms (Irwin-Hall) per value, scaled to unit variance */
        SlRng nr;
        sl_rng_seed(&nr, f->noise_seed);
        const float k = f->noise_sigma * 1.7320508f / 65536.0f;
        for (size_t i = 0; i < (size_t)size * size * 3; i++) {
            uint64_t u = sl_rng_u64(&nr);
            float sum = (float)(u & 0xffff) + (float)((u >> 16) & 0xffff) + (float)((u >> 32) & 0xffff) + (float)(u >> 48);
            out->px[i] = (uint8_t)clampf(out->px[i] + k * (sum - 131070.0f) + 0.5f, 0, 255);
        }
    }
    if (cf->jpeg_quality > 0) image_jpeg_roundtrip(out, cf->jpeg_quality);
}

/* ---- measurement ------------------------------------------------------------------------------ */
/* Uniform local binary patterns (Ojala et al. 2002) histogrammed over a grid of cells, as in
 * Ahonen, Hadid & Pietikainen, "Face description with local binary patterns" (TPAMI 2006). */
int composite_descriptor(const Image *frame, const float lm[68][2], float *desc, SlErr *err) {
    enum { SIDE = 96, CELL = SIDE / COMP_DESC_GRID, BINS = 59 };
    Image crop;
    float lmc[68][2];
    Affine a;
    if (align_face(frame, lm, SIDE, 0.8f, &crop, lmc, &a, err)) return -1;
    /* illumination normalisation (Tan & Triggs 2010): gamma 0.2, difference of box blurs */
    float gf[SIDE * SIDE], lo[SIDE * SIDE];
    for (int i = 0; i < SIDE * SIDE; i++) {
        const uint8_t *p = crop.px + (size_t)i * crop.c;
        gf[i] = powf((crop.c == 3 ? (p[0] + p[1] + p[2]) / 3.0f : p[0]) + 1.0f, 0.2f);
    }
    image_free(&crop);
    memcpy(lo, gf, sizeof lo);
    box_blur(gf, SIDE, SIDE, 1, 1);
    box_blur(lo, SIDE, SIDE, 4, 2);
    float g[SIDE * SIDE];
    for (int i = 0; i < SIDE * SIDE; i++) g[i] = gf[i] - lo[i];
    int map[256], next = 0;
    for (int v = 0; v < 256; v++) {
        int tr = 0;
        for (int b = 0; b < 8; b++) tr += ((v >> b) & 1) != ((v >> ((b + 1) & 7)) & 1);
        map[v] = tr <= 2 ? next++ : -1;
    }
    for (int v = 0; v < 256; v++)
        if (map[v] < 0) map[v] = BINS - 1;
    memset(desc, 0, sizeof(float) * COMP_DESC_LEN);
    static const int nx[8] = {-1, 0, 1, 1, 1, 0, -1, -1}, ny[8] = {-1, -1, -1, 0, 1, 1, 1, 0};
    for (int y = 1; y < SIDE - 1; y++)
        for (int x = 1; x < SIDE - 1; x++) {
            float c = g[y * SIDE + x];
            int code = 0;
            for (int b = 0; b < 8; b++) code |= (g[(y + ny[b]) * SIDE + x + nx[b]] >= c) << b;
            if (y / CELL >= COMP_DESC_ROWS) continue;
            int cell = (y / CELL) * COMP_DESC_GRID + x / CELL;
            desc[cell * BINS + map[code]] += 1;
        }
    /* Hellinger: square roots of the normalised histograms, so L2 compares them well */
    for (int cell = 0; cell < COMP_DESC_GRID * COMP_DESC_ROWS; cell++) {
        float n = 0;
        for (int b = 0; b < BINS; b++) n += desc[cell * BINS + b];
        for (int b = 0; b < BINS; b++) desc[cell * BINS + b] = n > 0 ? sqrtf(desc[cell * BINS + b] / n) : 0;
    }
    return 0;
}

float composite_desc_dist(const float *a, const float *b) {
    double s = 0;
    for (int i = 0; i < COMP_DESC_LEN; i++) s += (double)(a[i] - b[i]) * (a[i] - b[i]);
    return (float)sqrt(s);
}

/* ---- clips ------------------------------------------------------------------------------------ */
void composite_clip_plan(ClipPlan *p, int nframes, SlRng *rng) {
    memset(p, 0, sizeof *p);
    composite_frame_random(&p->base, rng);
    p->base.f.blink = 0;
    p->nframes = nframes;
    float dur = (float)nframes / CLIP_FPS;
    /* blinks: a Poisson process of 17.5 a minute (gaps at least 1 s), each 100-400 ms */
    float t = sl_rng_range(rng, 0.3f, 3.0f);
    while (t < dur && p->nblinks < 64) {
        p->blink_t[p->nblinks] = t;
        p->blink_len[p->nblinks] = sl_rng_range(rng, 0.1f, 0.4f);
        p->nblinks++;
        float gap = -logf(1 - sl_rng_uniform(rng) * 0.999f) * (60.0f / 17.5f - 1.0f) + 1.0f;
        t += gap;
    }
    for (int i = 0; i < 12; i++) p->ph[i] = sl_rng_uniform(rng);
    /* talking: phrases of 1.5-4 s with pauses of 0.3-1.2 s */
    t = sl_rng_range(rng, 0, 0.8f);
    while (t < dur && p->ntalk < 16) {
        p->talk_on[p->ntalk] = t;
        t += sl_rng_range(rng, 1.5f, 4.0f);
        p->talk_off[p->ntalk] = t;
        p->ntalk++;
        t += sl_rng_range(rng, 0.3f, 1.2f);
    }
    p->seed = sl_rng_u64(rng);
}

void composite_clip_frame(const ClipPlan *p, int t, CompFrame *fr) {
    SL_ASSERT(t >= 0);
    *fr = p->base;
    const float sec = (float)t / CLIP_FPS, tau = 2 * (float)M_PI;
    const float *ph = p->ph;
    /* smooth head motion: sums of slow sines (0.05-0.4 Hz), within yaw +-25, pitch and roll +-10 */
    fr->f.yaw = clampf(p->base.f.yaw * 0.5f + 14 * sinf(tau * (0.07f + 0.05f * ph[0]) * sec + tau * ph[1]) +
                           5 * sinf(tau * (0.23f + 0.1f * ph[2]) * sec + tau * ph[3]), -30, 30);
    fr->f.pitch = clampf(p->base.f.pitch * 0.4f + 6 * sinf(tau * (0.09f + 0.05f * ph[4]) * sec + tau * ph[5]), -15, 15);
    fr->f.roll = clampf(p->base.f.roll * 0.4f + 4 * sinf(tau * (0.06f + 0.04f * ph[6]) * sec + tau * ph[7]), -15, 15);
    /* slow light drift */
    fr->f.light_dir[0] = p->base.f.light_dir[0] + 0.3f * sinf(tau * 0.03f * sec + tau * ph[8]);
    fr->f.light_dir[1] = p->base.f.light_dir[1] + 0.15f * sinf(tau * 0.02f * sec + tau * ph[9]);
    fr->f.light_intensity = p->base.f.light_intensity * (1 + 0.05f * sinf(tau * 0.05f * sec + tau * ph[10]));
    /* blinks: close in the first 40% of the blink, open in the rest */
    fr->f.blink = 0;
    for (int i = 0; i < p->nblinks; i++) {
        float u = (sec - p->blink_t[i]) / p->blink_len[i];
        if (u < 0 || u > 1) continue;
        fr->f.blink = u < 0.4f ? u / 0.4f : 1 - (u - 0.4f) / 0.6f;
    }
    /* talking: syllables at about 4-5 Hz while a phrase lasts */
    fr->f.mouth_open = 0;
    for (int i = 0; i < p->ntalk; i++) {
        if (sec < p->talk_on[i] || sec > p->talk_off[i]) continue;
        float x = sinf(tau * 4.3f * sec + tau * ph[11]) * 0.5f + 0.5f;
        float y = sinf(tau * 1.7f * sec) * 0.5f + 0.5f;
        fr->f.mouth_open = clampf(0.55f * x * (0.5f + 0.5f * y), 0, 1);
    }
    fr->f.noise_seed = (uint32_t)(p->seed >> 32) + (uint32_t)t * 2654435761u;
}
