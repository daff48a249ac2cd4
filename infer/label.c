/* label.c — the visible "SYNTHETIC" label (label.h): DejaVu Sans Bold through stb_truetype
 * (https://github.com/nothings/stb/blob/master/stb_truetype.h), or a built-in 5x7 bitmap font when
 * the font file is missing; white text on a dark translucent box in the bottom-right corner. */
#include "infer/label.h"

#include <math.h>
#include <stb_truetype.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

#define BOX_ALPHA 0.62f    /* how much the box darkens what is under it */
#define BOX_REL 0.08       /* box height relative to the shorter image side */
#define BOX_MIN_H 11
#define TTF_MIN_TEXT 10    /* below this text height the crisp 5x7 bitmap font reads better */
#define TEXT_REL 0.62      /* font pixel height relative to the box height */

/* 5x7 glyphs of the letters of LABEL_TEXT, one byte per row, bit 4 = leftmost column. */
static const struct {
    char ch;
    uint8_t rows[7];
} GLYPHS[] = {
    {'S', {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}}, {'Y', {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04}},
    {'N', {0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11}}, {'T', {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'H', {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}}, {'E', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}},
    {'I', {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}}, {'C', {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}},
};

static const uint8_t *glyph(char ch) {
    for (size_t i = 0; i < sizeof GLYPHS / sizeof GLYPHS[0]; i++)
        if (GLYPHS[i].ch == ch) return GLYPHS[i].rows;
    return NULL;
}

typedef struct {
    char *ttf; /* font file contents, NULL = bitmap font */
    stbtt_fontinfo info;
} Font;

static void font_open(Font *f) {
    memset(f, 0, sizeof *f);
    size_t len;
    if (sl_read_file(LABEL_FONT_PATH, 16u << 20, &f->ttf, &len, NULL)) {
        f->ttf = NULL;
        return;
    }
    if (!stbtt_InitFont(&f->info, (const unsigned char *)f->ttf, stbtt_GetFontOffsetForIndex((const unsigned char *)f->ttf, 0))) {
        free(f->ttf);
        f->ttf = NULL;
    }
}

static void font_close(Font *f) { free(f->ttf); }

/* Width in pixels of LABEL_TEXT at text height th. */
static int text_width(const Font *f, int th) {
    const char *s = LABEL_TEXT;
    if (!f->ttf || th < TTF_MIN_TEXT) {
        int sc = th / 7 < 1 ? 1 : th / 7;
        return (int)strlen(s) * 6 * sc - sc;
    }
    float scale = stbtt_ScaleForPixelHeight(&f->info, (float)th);
    float x = 0;
    for (const char *p = s; *p; p++) {
        int adv, lsb;
        stbtt_GetCodepointHMetrics(&f->info, *p, &adv, &lsb);
        x += adv * scale;
        if (p[1]) x += scale * stbtt_GetCodepointKernAdvance(&f->info, p[0], p[1]);
    }
    return (int)ceilf(x);
}

static int text_height(int box_h) { return (int)lround(box_h * TEXT_REL); }

static LabelBox box_with(const Font *f, int w, int h) {
    int side = w < h ? w : h;
    int bh = (int)lround(side * BOX_REL);
    if (bh < BOX_MIN_H) bh = BOX_MIN_H;
    LabelBox b;
    for (;;) {
        int pad = bh / 3 > 1 ? bh / 3 : 1, margin = bh / 4 > 1 ? bh / 4 : 1;
        b.h = bh;
        b.w = text_width(f, text_height(bh)) + 2 * pad;
        b.x = w - b.w - margin;
        b.y = h - b.h - margin;
        if ((b.x >= 0 && b.y >= 0) || bh <= 4) break;
        bh--;
    }
    if (b.x < 0) b.x = 0, b.w = b.w > w ? w : b.w;
    if (b.y < 0) b.y = 0, b.h = b.h > h ? h : b.h;
    return b;
}

LabelBox label_box(int w, int h) {
    Font f;
    font_open(&f);
    LabelBox b = box_with(&f, w, h);
    font_close(&f);
    return b;
}

/* Text coverage (0..1) over the box, bw x bh, the text centred. */
static float *text_mask(const Font *f, LabelBox b) {
    float *m = xcalloc((size_t)b.w * b.h, sizeof *m);
    int th = text_height(b.h), tw = text_width(f, th);
    int x0 = (b.w - tw) / 2;
    if (!f->ttf || th < TTF_MIN_TEXT) {
        int sc = th / 7 < 1 ? 1 : th / 7, y0 = (b.h - 7 * sc) / 2, x = x0;
        for (const char *p = LABEL_TEXT; *p; p++, x += 6 * sc) {
            const uint8_t *g = glyph(*p);
            for (int r = 0; g && r < 7 * sc; r++)
                for (int c = 0; c < 5 * sc; c++) {
                    int xx = x + c, yy = y0 + r;
                    if (xx >= 0 && yy >= 0 && xx < b.w && yy < b.h && (g[r / sc] >> (4 - c / sc) & 1))
                        m[(size_t)yy * b.w + xx] = 1;
                }
        }
        return m;
    }
    float scale = stbtt_ScaleForPixelHeight(&f->info, (float)th);
    int asc, desc, gap;
    stbtt_GetFontVMetrics(&f->info, &asc, &desc, &gap);
    /* centre the capitals: cap height from the 'H' box */
    int cx0, cy0, cx1, cy1;
    stbtt_GetCodepointBitmapBox(&f->info, 'H', scale, scale, &cx0, &cy0, &cx1, &cy1);
    int baseline = (b.h - (cy1 - cy0)) / 2 - cy0;
    float x = (float)x0;
    for (const char *p = LABEL_TEXT; *p; p++) {
        int adv, lsb, gx0, gy0, gx1, gy1;
        stbtt_GetCodepointHMetrics(&f->info, *p, &adv, &lsb);
        stbtt_GetCodepointBitmapBox(&f->info, *p, scale, scale, &gx0, &gy0, &gx1, &gy1);
        int gw = gx1 - gx0, gh = gy1 - gy0;
        if (gw > 0 && gh > 0) {
            unsigned char *bm = xcalloc((size_t)gw * gh, 1);
            stbtt_MakeCodepointBitmap(&f->info, bm, gw, gh, gw, scale, scale, *p);
            int ox = (int)lroundf(x) + gx0, oy = baseline + gy0;
            for (int r = 0; r < gh; r++)
                for (int c = 0; c < gw; c++) {
                    int xx = ox + c, yy = oy + r;
                    if (xx >= 0 && yy >= 0 && xx < b.w && yy < b.h) {
                        float v = bm[(size_t)r * gw + c] / 255.0f;
                        float *d = &m[(size_t)yy * b.w + xx];
                        if (v > *d) *d = v;
                    }
                }
            free(bm);
        }
        x += adv * scale;
        if (p[1]) x += scale * stbtt_GetCodepointKernAdvance(&f->info, p[0], p[1]);
    }
    return m;
}

void label_stamp_init(LabelStamp *s, int w, int h) {
    Font f;
    font_open(&f);
    s->w = w, s->h = h;
    s->box = box_with(&f, w, h);
    s->cover = text_mask(&f, s->box);
    font_close(&f);
}

void label_stamp_draw(const LabelStamp *s, Image *rgb) {
    SL_ASSERT(rgb->c == 1 || rgb->c == 3 || rgb->c == 4);
    SL_ASSERT(rgb->w == s->w && rgb->h == s->h);
    const LabelBox b = s->box;
    const float *m = s->cover;
    int nc = rgb->c == 4 ? 3 : rgb->c;
    for (int y = 0; y < b.h; y++)
        for (int x = 0; x < b.w; x++) {
            uint8_t *p = rgb->px + ((size_t)(b.y + y) * rgb->w + b.x + x) * (size_t)rgb->c;
            float a = m[(size_t)y * b.w + x];
            for (int k = 0; k < nc; k++) {
                float v = p[k] * (1 - BOX_ALPHA);
                v = v * (1 - a) + 255.0f * a;
                p[k] = (uint8_t)lrintf(v > 255 ? 255 : v);
            }
        }
}

void label_stamp_free(LabelStamp *s) {
    free(s->cover);
    s->cover = NULL;
}

void label_draw(Image *rgb) {
    LabelStamp s;
    label_stamp_init(&s, rgb->w, rgb->h);
    label_stamp_draw(&s, rgb);
    label_stamp_free(&s);
}

/* Pearson correlation of the luminance under box b (shifted by dx, dy) with the text coverage m;
 * *dark says the box background is darkened, *bright that the text stands out white from it. */
static double box_corr(const Image *rgb, LabelBox b, const float *m, int dx, int dy, int *dark, int *bright) {
    double sm = 0, sl = 0, smm = 0, sll = 0, sml = 0, bg = 0, fg = 0;
    int nbg = 0, nfg = 0;
    size_t n = 0;
    float amax = 0;
    for (size_t i = 0; i < (size_t)b.w * b.h; i++) amax = m[i] > amax ? m[i] : amax;
    for (int y = 0; y < b.h; y++)
        for (int x = 0; x < b.w; x++) {
            int xx = b.x + x + dx, yy = b.y + y + dy;
            if (xx < 0 || yy < 0 || xx >= rgb->w || yy >= rgb->h) continue;
            const uint8_t *p = rgb->px + ((size_t)yy * rgb->w + xx) * (size_t)rgb->c;
            double l = rgb->c >= 3 ? 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] : p[0];
            double a = m[(size_t)y * b.w + x];
            sm += a, sl += l, smm += a * a, sll += l * l, sml += a * l;
            n++;
            if (a < 0.05) bg += l, nbg++;
            if (a >= 0.75 * amax && amax > 0.3f) fg += l, nfg++;
        }
    *dark = *bright = 0;
    if (!n || !nbg || !nfg) return 0;
    double cov = sml / n - (sm / n) * (sl / n), vm = smm / n - (sm / n) * (sm / n), vl = sll / n - (sl / n) * (sl / n);
    bg /= nbg, fg /= nfg;
    *dark = bg < 255.0 * (1 - BOX_ALPHA) + 12;
    *bright = fg > bg + 60 * amax;
    return vm > 0 && vl > 0 ? cov / sqrt(vm * vl) : 0;
}

/* The box and text coverage label_draw gives a (w*k) x (h*k) image, shrunk by k (box averaging):
 * what a k-times-downscaled labelled image should show. */
static float *shrunk_mask(const Font *f, int w, int h, int k, LabelBox *out) {
    LabelBox b = box_with(f, w * k, h * k);
    float *m = text_mask(f, b);
    LabelBox s = {b.x / k, b.y / k, b.w / k, b.h / k};
    float *o = xcalloc((size_t)(s.w > 0 ? s.w : 1) * (s.h > 0 ? s.h : 1), sizeof *o);
    for (int y = 0; y < s.h; y++)
        for (int x = 0; x < s.w; x++) {
            float a = 0;
            for (int dy = 0; dy < k; dy++)
                for (int dx = 0; dx < k; dx++) a += m[(size_t)(y * k + dy) * b.w + x * k + dx];
            o[(size_t)y * s.w + x] = a / (float)(k * k);
        }
    free(m);
    *out = s;
    return o;
}

int label_detect(const Image *rgb, double *score) {
    if (score) *score = 0;
    if (rgb->w < 16 || rgb->h < 16) return 0;
    Font f;
    font_open(&f);
    /* the box is where label_draw puts it for this size (k = 1) or, for a copy downscaled by half,
     * where it put it on the original (k = 2), give or take the rounding of a rescale */
    double best = -1;
    int found = 0;
    for (int k = 1; k <= 2; k++) {
        LabelBox b;
        float *m = shrunk_mask(&f, rgb->w, rgb->h, k, &b);
        for (int dy = -3; b.w > 0 && b.h > 0 && dy <= 3; dy++)
            for (int dx = -3; dx <= 3; dx++) {
                int dark = 0, bright = 0;
                double c = box_corr(rgb, b, m, dx, dy, &dark, &bright);
                if (c > best) best = c, found = c > 0.6 && dark && bright;
            }
        free(m);
    }
    font_close(&f);
    if (score) *score = best;
    return found;
}
