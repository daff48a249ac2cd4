/* robust.c — JPEG, resize, blur, noise and H.264 degradations and Wang et al. 2020 augmentation (robust.h). */
#include "detect/robust.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/video.h"

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

/* One run of equal-size frames through one clip at path: pw x ph is the padded, encodable size. */
static int h264_run(Image *fr, int n, int crf, const char *path, SlErr *err) {
    const int w = fr[0].w, h = fr[0].h, c = fr[0].c;
    const int pw = w < 16 ? 16 : (w + 1) & ~1, ph = h < 16 ? 16 : (h + 1) & ~1;
    VideoWriterOptions o;
    video_writer_options_default(&o);
    o.crf = crf, o.preset = ROBUST_H264_PRESET, o.threads = 1, o.fps = 25;
    VideoWriter *vw;
    if (video_writer_open(&vw, path, pw, ph, &o, err)) return -1;
    Image pad = image_new(pw, ph, 3);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                const uint8_t *s = fr[i].px + ((size_t)(y < h ? y : h - 1) * w + (x < w ? x : w - 1)) * c;
                uint8_t *d = pad.px + ((size_t)y * pw + x) * 3;
                d[0] = s[0], d[1] = s[c >= 3 ? 1 : 0], d[2] = s[c >= 3 ? 2 : 0];
            }
        rc = video_writer_add(vw, &pad, i / o.fps, err);
    }
    image_free(&pad);
    if (!rc) rc = video_writer_finish(vw, NULL, NULL, err);
    video_writer_free(vw);
    if (rc) return -1;
    VideoReader *r;
    VideoInfo vi;
    if (video_open(path, 1, &r, &vi, err)) {
        unlink(path);
        return -1;
    }
    Image *out = xcalloc((size_t)n, sizeof *out);
    int got = 0;
    while (got < n && !rc) {
        double t;
        int k = video_read(r, &out[got], &t, err);
        if (k < 0) break;
        if (k == 0) {
            rc = sl_fail(err, "%s: decoded %d of the %d frames encoded", path, got, n);
            break;
        }
        got++;
        if (out[got - 1].w != pw || out[got - 1].h != ph || out[got - 1].c != 3)
            rc = sl_fail(err, "%s: decoded a %dx%d frame, encoded %dx%d", path, out[got - 1].w, out[got - 1].h, pw, ph);
    }
    if (got < n && !rc) rc = -1; /* video_read failed and filled err */
    video_close(r);
    unlink(path);
    for (int i = 0; i < n && !rc; i++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const uint8_t *s = out[i].px + ((size_t)y * pw + x) * 3;
                uint8_t *d = fr[i].px + ((size_t)y * w + x) * c;
                if (c >= 3) d[0] = s[0], d[1] = s[1], d[2] = s[2];
                else d[0] = (uint8_t)((s[0] + s[1] + s[2] + 1) / 3);
            }
    for (int i = 0; i < got; i++) image_free(&out[i]);
    free(out);
    return rc;
}

int robust_h264(Image *frames, int n, int crf, SlErr *err) {
    SL_ASSERT(n >= 0 && crf >= 0 && crf <= 51);
    if (!n) return 0;
    const char *td = getenv("TMPDIR");
    char dir[SL_PATH_MAX - 16], path[SL_PATH_MAX];
    if (!td || !*td) td = "/tmp";
    if (snprintf(dir, sizeof dir, "%s/swaplab-h264-XXXXXX", td) >= (int)sizeof dir)
        return sl_fail(err, "H.264 perturbation: the temp directory name '%s' is too long", td);
    if (!mkdtemp(dir)) return sl_fail(err, "H.264 perturbation: cannot create a temp directory in %s (%s)", td, strerror(errno));
    sl_snprintf(path, sizeof path, "%s/clip.mp4", dir);
    int rc = 0;
    for (int a = 0; a < n && !rc;) {
        int b = a + 1;
        while (b < n && frames[b].w == frames[a].w && frames[b].h == frames[a].h && frames[b].c == frames[a].c) b++;
        rc = h264_run(frames + a, b - a, crf, path, err);
        a = b;
    }
    rmdir(dir);
    return rc;
}

int robust_is_per_clip(const RobustSpec *spec) { return spec->kind == ROBUST_H264; }

void robust_apply(Image *img, const RobustSpec *spec, SlRng *rng) {
    switch (spec->kind) {
    case ROBUST_NONE: break;
    case ROBUST_JPEG: robust_jpeg(img, (int)spec->value); break;
    case ROBUST_RESIZE: robust_resize(img, spec->value); break;
    case ROBUST_BLUR: robust_blur(img, spec->value); break;
    case ROBUST_NOISE: robust_noise(img, spec->value, rng); break;
    case ROBUST_H264: SL_DIE("robust_apply: H.264 is per clip; use robust_h264"); break;
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
        return sl_fail(err, "perturbation '%s': expected none, jpeg:Q, resize:F, blur:SIGMA, noise:SIGMA or "
                            "h264:CRF (or jpeg75, resize0.5, crf23, ...)", s);
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
        *out = (RobustSpec){ROBUST_H264, v};
    } else {
        return sl_fail(err, "perturbation '%s': unknown kind; use %s", s, ROBUST_KINDS);
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
           "  h264:CRF  h264:23, crf40     H.264 (libx264, preset medium) at CRF 0..51, per clip: the frames of\n"
           "                               each labels.csv clip encoded in order as one video, else each image\n"
           "                               alone; decoded and scored (FaceForensics++ c23 / c40)\n"
           "  standard                     jpeg:75, jpeg:50, resize:0.5, h264:23 and h264:40 (the\n"
           "                               FaceForensics++-style set)\n";
}

void robust_name(const RobustSpec *spec, char *buf, int n) {
    switch (spec->kind) {
    case ROBUST_NONE: snprintf(buf, (size_t)n, "none"); break;
    case ROBUST_JPEG: snprintf(buf, (size_t)n, "jpeg:%d", (int)spec->value); break;
    case ROBUST_RESIZE: snprintf(buf, (size_t)n, "resize:%g", spec->value); break;
    case ROBUST_BLUR: snprintf(buf, (size_t)n, "blur:%g", spec->value); break;
    case ROBUST_NOISE: snprintf(buf, (size_t)n, "noise:%g", spec->value); break;
    case ROBUST_H264: snprintf(buf, (size_t)n, "h264:%d", (int)spec->value); break;
    }
}

void robust_augment_wang(Image *img, SlRng *rng) {
    if (sl_rng_uniform(rng) < 0.5f) robust_blur(img, 3.0 * sl_rng_uniform(rng));
    if (sl_rng_uniform(rng) < 0.5f) robust_jpeg(img, 30 + sl_rng_int(rng, 71));
}
