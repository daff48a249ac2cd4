/* test_robust.c — the H.264 perturbation of detector evaluation (robust_h264 through data/video.*):
 * CRF 23 keeps a face photo close (PSNR > 30 dB), CRF 40 loses more, a clip of frames comes back in
 * order, odd, tiny, grey and RGBA frames keep their size and channels, a bad CRF is refused by the
 * parser, the temp file is removed and an unwritable temp directory is a clear error. */
#include "detect/robust.h"
#include "tests/test.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/fs.h"

#define FACE "tests/fixtures/faces/london_001_neutral.png"

static double psnr(const Image *a, const Image *b) {
    SL_ASSERT(a->w == b->w && a->h == b->h && a->c == b->c);
    double se = 0;
    size_t n = (size_t)a->w * a->h * a->c;
    for (size_t i = 0; i < n; i++) se += ((double)a->px[i] - b->px[i]) * ((double)a->px[i] - b->px[i]);
    return se == 0 ? INFINITY : 10 * log10(255.0 * 255.0 / (se / n));
}

/* The face, 160x160, shifted right by dx pixels (edge repeated): the frames of a panning clip. */
static Image face_frame(const Image *face, int dx) {
    Image f = image_new(face->w, face->h, 3);
    for (int y = 0; y < f.h; y++)
        for (int x = 0; x < f.w; x++) {
            int sx = x - dx < 0 ? 0 : x - dx;
            memcpy(f.px + ((size_t)y * f.w + x) * 3, face->px + ((size_t)y * face->w + sx) * 3, 3);
        }
    return f;
}

/* The fixture face resized to side x side; px NULL (a failed check) when it cannot be read. */
static Image load_face(int side) {
    SlErr err;
    Image big, none = {0};
    CHECKF(image_load(FACE, 3, &big, &err) == 0, "%s", err.msg);
    if (!big.px) return none;
    Image face = image_resize(&big, side, side);
    image_free(&big);
    return face;
}

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void t_h264_quality(void) {
    SlErr err;
    Image face = load_face(160);
    if (!face.px) return;
    enum { N = 5 };
    Image orig[N], f23[N], f40[N];
    for (int i = 0; i < N; i++) orig[i] = face_frame(&face, 2 * i), f23[i] = image_clone(&orig[i]), f40[i] = image_clone(&orig[i]);
    CHECKF(robust_h264(f23, N, 23, &err) == 0, "%s", err.msg);
    CHECKF(robust_h264(f40, N, 40, &err) == 0, "%s", err.msg);
    double lo23 = INFINITY, hi40 = 0;
    for (int i = 0; i < N; i++) {
        CHECK(f23[i].w == 160 && f23[i].h == 160 && f23[i].c == 3);
        double p23 = psnr(&orig[i], &f23[i]), p40 = psnr(&orig[i], &f40[i]);
        printf("  frame %d: PSNR %.2f dB at CRF 23, %.2f dB at CRF 40\n", i, p23, p40);
        CHECKF(p23 > 30 && isfinite(p23), "frame %d: %.2f dB at CRF 23", i, p23);
        CHECKF(p40 < p23 - 3, "frame %d: %.2f dB at CRF 40 vs %.2f at 23", i, p40, p23);
        CHECKF(p40 > 20, "frame %d: %.2f dB at CRF 40 (still the same picture)", i, p40);
        lo23 = fmin(lo23, p23), hi40 = fmax(hi40, p40);
        /* in order: each decoded frame is closest to its own original */
        for (int j = 0; j < N; j++)
            if (j != i) CHECKF(psnr(&orig[j], &f23[i]) < p23, "decoded frame %d is closer to original %d", i, j);
    }
    CHECK(hi40 < lo23);
    /* deterministic: the same clip again gives the same frames */
    Image again[N];
    for (int i = 0; i < N; i++) again[i] = image_clone(&orig[i]);
    CHECK(robust_h264(again, N, 40, &err) == 0);
    for (int i = 0; i < N; i++) {
        CHECK(!memcmp(again[i].px, f40[i].px, (size_t)160 * 160 * 3));
        image_free(&again[i]);
    }
    for (int i = 0; i < N; i++) image_free(&orig[i]), image_free(&f23[i]), image_free(&f40[i]);
    image_free(&face);
}

static void t_h264_shapes(void) {
    SlErr err;
    SlRng rng;
    sl_rng_seed(&rng, 5);
    /* a run of odd-sized RGB frames, then a tiny grey one, then RGBA: each keeps size and channels */
    Image fr[4] = {image_new(37, 21, 3), image_new(37, 21, 3), image_new(5, 3, 1), image_new(24, 18, 4)};
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < (size_t)fr[k].w * fr[k].h * fr[k].c; i++)
            fr[k].px[i] = (uint8_t)(fr[k].c == 4 && i % 4 == 3 ? 77 : 100 + (i % 7) * 10 + sl_rng_int(&rng, 5));
    Image orig[4];
    for (int k = 0; k < 4; k++) orig[k] = image_clone(&fr[k]);
    CHECKF(robust_h264(fr, 4, 23, &err) == 0, "%s", err.msg);
    for (int k = 0; k < 4; k++) {
        CHECK(fr[k].w == orig[k].w && fr[k].h == orig[k].h && fr[k].c == orig[k].c);
        CHECKF(psnr(&orig[k], &fr[k]) > 20, "frame %d: %.2f dB", k, psnr(&orig[k], &fr[k]));
    }
    int alpha_kept = 1;
    for (size_t i = 3; i < (size_t)24 * 18 * 4; i += 4) alpha_kept &= fr[3].px[i] == 77;
    CHECK(alpha_kept);
    CHECK(robust_h264(fr, 0, 23, &err) == 0);
    for (int k = 0; k < 4; k++) image_free(&fr[k]), image_free(&orig[k]);
}

static void t_h264_tempfiles(void) {
    SlErr err;
    char dir[] = "/tmp/test_robust_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *old = getenv("TMPDIR");
    char *saved = old ? xstrdup(old) : NULL;
    setenv("TMPDIR", dir, 1);
    Image f = image_new(32, 32, 3), g;
    for (size_t i = 0; i < (size_t)32 * 32 * 3; i++) f.px[i] = (uint8_t)(i * 37 % 251);
    g = image_clone(&f);
    CHECKF(robust_h264(&f, 1, 30, &err) == 0, "%s", err.msg);
    CHECK(dir_entries(dir) == 0); /* its temp directory and clip are gone */
    CHECK(memcmp(f.px, g.px, (size_t)32 * 32 * 3) != 0);
    /* a temp directory that does not exist: a sentence, the frame untouched */
    char missing[SL_PATH_MAX];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    setenv("TMPDIR", missing, 1);
    memcpy(g.px, f.px, (size_t)32 * 32 * 3);
    CHECK(robust_h264(&f, 1, 30, &err) == -1 && strstr(err.msg, "temp directory") && strstr(err.msg, "nope"));
    CHECK(!memcmp(f.px, g.px, (size_t)32 * 32 * 3));
    if (saved) setenv("TMPDIR", saved, 1);
    else unsetenv("TMPDIR");
    free(saved);
    rmdir(dir);
    image_free(&f), image_free(&g);
}

static void t_h264_parse(void) {
    SlErr err;
    RobustSpec s;
    char name[32];
    CHECK(robust_parse("h264:23", &s, &err) == 0 && s.kind == ROBUST_H264 && s.value == 23 && robust_is_per_clip(&s));
    robust_name(&s, name, sizeof name);
    CHECK(!strcmp(name, "h264:23"));
    CHECK(robust_parse("crf40", &s, &err) == 0 && s.kind == ROBUST_H264 && s.value == 40);
    CHECK(robust_parse("h264:0", &s, &err) == 0 && robust_parse("h264:51", &s, &err) == 0);
    CHECK(robust_parse("h264:52", &s, &err) == -1 && strstr(err.msg, "0..51"));
    CHECK(robust_parse("crf:-1", &s, &err) == -1 && strstr(err.msg, "0..51"));
    CHECK(robust_parse("h264:23.5", &s, &err) == -1 && strstr(err.msg, "integer"));
    CHECK(robust_parse("h264:", &s, &err) == -1 && robust_parse("crf", &s, &err) == -1);
    CHECK(robust_parse("jpeg:75", &s, &err) == 0 && !robust_is_per_clip(&s));
    RobustSpec list[8];
    int n = 0;
    CHECK(robust_parse_list("standard", list, 8, &n, &err) == 0 && n == 5);
    CHECK(list[3].kind == ROBUST_H264 && list[3].value == 23 && list[4].kind == ROBUST_H264 && list[4].value == 40);
    CHECK(strstr(robust_list_text(), "h264:CRF") && !strstr(robust_list_text(), "not yet"));
}

/* The H.264 training augmentation: p = 0 leaves the image and p = 1 compresses it (each image a
 * one-frame clip at a CRF in 20..45), the same rng stream gives the same bytes, and the stream
 * advances by the same draws whatever p is. */
static void t_augment_h264(void) {
    SlErr err;
    Image face = load_face(64);
    if (!face.px) return;
    SlRng r0, r1, r2;
    sl_rng_seed(&r0, 5), sl_rng_seed(&r1, 5), sl_rng_seed(&r2, 5);
    Image a = image_clone(&face), b = image_clone(&face), c = image_clone(&face);
    CHECK(robust_augment_h264(&a, 0.0, &r0, &err) == 0 && !memcmp(a.px, face.px, (size_t)64 * 64 * 3));
    CHECKF(robust_augment_h264(&b, 1.0, &r1, &err) == 0, "%s", err.msg);
    CHECKF(robust_augment_h264(&c, 1.0, &r2, &err) == 0, "%s", err.msg);
    double p = psnr(&face, &b);
    printf("  64x64 face after the augmentation: PSNR %.2f dB\n", p);
    CHECKF(isfinite(p) && p > 18 && p < 50, "PSNR %.2f dB", p);
    CHECK(!memcmp(b.px, c.px, (size_t)64 * 64 * 3));
    CHECK(sl_rng_u64(&r0) == sl_rng_u64(&r1)); /* the same draws with p = 0 and p = 1 */
    /* over many draws the CRF covers the range: compressed images differ from each other */
    int differ = 0;
    Image prev = image_clone(&b);
    for (int k = 0; k < 6; k++) {
        Image d = image_clone(&face);
        CHECK(robust_augment_h264(&d, 1.0, &r1, &err) == 0);
        differ += memcmp(d.px, prev.px, (size_t)64 * 64 * 3) != 0;
        image_free(&prev);
        prev = d;
    }
    CHECKF(differ >= 3, "%d of 6 draws differ from the one before", differ);
    image_free(&prev), image_free(&a), image_free(&b), image_free(&c), image_free(&face);
}

int main(void) {
    RUN(t_h264_parse);
    RUN(t_h264_quality);
    RUN(t_h264_shapes);
    RUN(t_h264_tempfiles);
    RUN(t_augment_h264);
    return test_summary("test_robust");
}
