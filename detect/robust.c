/* robust.c — JPEG, resize, blur and noise degradations and Wang et al. 2020 augmentation (robust.h). */
#include "detect/robust.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void robust_jpeg(Image *img, int quality) {
    SL_ASSERT(quality >= 1 && quality <= 100);
    image_jpeg_roundtrip(img, quality);
}

void robust_resize(Image *img, double factor) {
    SL_ASSERT(factor > 0 && factor <= 1);
    if (factor == 1) return;
    int w = (int)lround(img->w * factor), h = (int)lround(img->h * factor);
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    Image small = image_resize(img, w, h);
    Image back = image_resize(&small, img->w, img->h);
    memcpy(img->px, back.px, (size_t)img->w * img->h * img->c);
    image_free(&small);
    image_free(&back);
}

/* One pass along one axis: n samples at stride `step`, count lines at line stride `lstride`. */
static void blur_pass(float *px, int n, long step, int count, long lstride, const float *k, int r, float *tmp) {
    for (int l = 0; l < count; l++) {
        float *line = px + l * lstride;
        for (int i = 0; i < n; i++) {
            float s = 0;
            for (int j = -r; j <= r; j++) {
                int t = i + j;
                t = t < 0 ? 0 : t >= n ? n - 1 : t;
                s += k[j + r] * line[t * step];
            }
            tmp[i] = s;
        }
        for (int i = 0; i < n; i++) line[i * step] = tmp[i];
    }
}

void robust_blur_float(float *px, int w, int h, int c, int hwc, double sigma) {
    if (sigma <= 0) return;
    int r = (int)ceil(3 * sigma);
    float *k = xmalloc((size_t)(2 * r + 1) * sizeof *k);
    double sum = 0;
    for (int j = -r; j <= r; j++) sum += k[j + r] = (float)exp(-0.5 * j * j / (sigma * sigma));
    for (int j = 0; j <= 2 * r; j++) k[j] = (float)(k[j] / sum);
    float *tmp = xmalloc((size_t)(w > h ? w : h) * sizeof *tmp);
    for (int ch = 0; ch < c; ch++) {
        if (hwc) {
            blur_pass(px + ch, w, c, h, (long)w * c, k, r, tmp);  /* rows */
            blur_pass(px + ch, h, (long)w * c, w, c, k, r, tmp);  /* columns */
        } else {
            float *plane = px + (size_t)ch * w * h;
            blur_pass(plane, w, 1, h, w, k, r, tmp);
            blur_pass(plane, h, w, w, 1, k, r, tmp);
        }
    }
    free(tmp);
    free(k);
}

static uint8_t clamp_u8(double v) {
    v = round(v);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

void robust_blur(Image *img, double sigma) {
    if (sigma <= 0) return;
    size_t n = (size_t)img->w * img->h * img->c;
    float *f = xmalloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = img->px[i];
    robust_blur_float(f, img->w, img->h, img->c, 1, sigma);
    for (size_t i = 0; i < n; i++) img->px[i] = clamp_u8(f[i]);
    free(f);
}

void robust_noise(Image *img, double sigma, SlRng *rng) {
    if (sigma <= 0) return;
    size_t n = (size_t)img->w * img->h * img->c;
    for (size_t i = 0; i < n; i++) img->px[i] = clamp_u8(img->px[i] + sigma * sl_rng_normal(rng));
}

void robust_apply(Image *img, const RobustSpec *spec, SlRng *rng) {
    switch (spec->kind) {
    case ROBUST_NONE: break;
    case ROBUST_JPEG: robust_jpeg(img, (int)spec->value); break;
    case ROBUST_RESIZE: robust_resize(img, spec->value); break;
    case ROBUST_BLUR: robust_blur(img, spec->value); break;
    case ROBUST_NOISE: robust_noise(img, spec->value, rng); break;
    }
}

/* The kind's name (its letters) and its value: "jpeg:75" and "jpeg75" alike; -1 when either is missing. */
static int split_spec(const char *s, size_t *klen, const char **val) {
    const char *colon = strchr(s, ':');
    size_t k = colon ? (size_t)(colon - s) : strcspn(s, "0123456789.");
    const char *v = colon ? colon + 1 : s + k;
    if (!k || !*v) return -1;
    *klen = k, *val = v;
    return 0;
}

int robust_parse(const char *s, RobustSpec *out, SlErr *err) {
    if (!strcmp(s, "none")) {
        *out = (RobustSpec){ROBUST_NONE, 0};
        return 0;
    }
    size_t k;
    const char *val;
    if (split_spec(s, &k, &val))
        return sl_fail(err, "perturbation '%s': expected none, jpeg:Q, resize:F, blur:SIGMA or noise:SIGMA (or jpeg75, "
                            "resize0.5, ...)", s);
    char *end;
    double v = strtod(val, &end);
    if (*end || !isfinite(v)) return sl_fail(err, "perturbation '%s': '%s' is not a number", s, val);
    if (k == 4 && !strncmp(s, "jpeg", 4)) {
        if (v < 1 || v > 100 || v != floor(v)) return sl_fail(err, "perturbation '%s': JPEG quality must be an integer 1..100", s);
        *out = (RobustSpec){ROBUST_JPEG, v};
    } else if (k == 6 && !strncmp(s, "resize", 6)) {
        if (!(v > 0 && v <= 1)) return sl_fail(err, "perturbation '%s': resize factor must be in (0, 1]", s);
        *out = (RobustSpec){ROBUST_RESIZE, v};
    } else if (k == 4 && !strncmp(s, "blur", 4)) {
        if (v < 0 || v > 50) return sl_fail(err, "perturbation '%s': blur sigma must be in [0, 50] pixels", s);
        *out = (RobustSpec){ROBUST_BLUR, v};
    } else if (k == 5 && !strncmp(s, "noise", 5)) {
        if (v < 0 || v > 255) return sl_fail(err, "perturbation '%s': noise sigma must be in [0, 255] levels", s);
        *out = (RobustSpec){ROBUST_NOISE, v};
    } else if ((k == 4 && !strncmp(s, "h264", 4)) || (k == 3 && !strncmp(s, "crf", 3))) {
        if (v < 0 || v > 51 || v != floor(v)) return sl_fail(err, "perturbation '%s': H.264 CRF must be an integer 0..51", s);
        return sl_fail(err, "perturbation '%s': H.264 at a CRF is a per-clip perturbation (encode the clip, decode it, "
                            "score its frames) and needs video clips (data/video.*); detect eval offers %s for now", s,
                       ROBUST_IMAGE_KINDS);
    } else {
        return sl_fail(err, "perturbation '%s': unknown kind; use %s", s, ROBUST_IMAGE_KINDS);
    }
    return 0;
}

int robust_parse_list(const char *s, RobustSpec *out, int max, int *n, SlErr *err) {
    const char *p = s;
    for (;;) {
        size_t len = strcspn(p, ",");
        char one[64];
        if (!len || len >= sizeof one) return sl_fail(err, "perturbation list '%s': an empty or overlong item", s);
        memcpy(one, p, len), one[len] = 0;
        if (!strcmp(one, "standard")) {
            static const RobustSpec STD[] = ROBUST_STANDARD;
            for (size_t i = 0; i < sizeof STD / sizeof STD[0]; i++) {
                if (*n >= max) return sl_fail(err, "perturbation list '%s': more than %d perturbations", s, max);
                out[(*n)++] = STD[i];
            }
        } else {
            if (*n >= max) return sl_fail(err, "perturbation list '%s': more than %d perturbations", s, max);
            if (robust_parse(one, &out[*n], err)) return -1;
            ++*n;
        }
        if (!p[len]) return 0;
        p += len + 1;
    }
}

const char *robust_list_text(void) {
    return "perturbations of `detect eval --perturb` (applied to each test image before scoring; several, or a\n"
           "comma-separated list; each reported with its own metrics):\n"
           "  jpeg:Q    jpeg75, jpeg50     JPEG re-encode at quality Q, 1..100 (libjpeg-turbo)\n"
           "  resize:F  resize0.5          down by F, in (0, 1], and back up (stb Mitchell filter)\n"
           "  blur:S    blur1              Gaussian blur, sigma 0..50 pixels\n"
           "  noise:S   noise5             Gaussian noise, sigma 0..255 levels (drawn from --seed)\n"
           "  standard                     jpeg:75, jpeg:50 and resize:0.5 (the FaceForensics++-style set)\n"
           "  h264:CRF  (not yet)          H.264 at CRF 23 / 40 per clip: needs the video module (data/video.*)\n";
}

void robust_name(const RobustSpec *spec, char *buf, int n) {
    switch (spec->kind) {
    case ROBUST_NONE: snprintf(buf, (size_t)n, "none"); break;
    case ROBUST_JPEG: snprintf(buf, (size_t)n, "jpeg:%d", (int)spec->value); break;
    case ROBUST_RESIZE: snprintf(buf, (size_t)n, "resize:%g", spec->value); break;
    case ROBUST_BLUR: snprintf(buf, (size_t)n, "blur:%g", spec->value); break;
    case ROBUST_NOISE: snprintf(buf, (size_t)n, "noise:%g", spec->value); break;
    }
}

void robust_augment_wang(Image *img, SlRng *rng) {
    if (sl_rng_uniform(rng) < 0.5f) robust_blur(img, 3.0 * sl_rng_uniform(rng));
    if (sl_rng_uniform(rng) < 0.5f) robust_jpeg(img, 30 + sl_rng_int(rng, 71));
}
