/* test_robust.c — the H.264 perturbation of detector evaluation (robust_h264 through data/video.*):
 * CRF 23 keeps a face photo close (PSNR > 30 dB), CRF 40 loses more, a clip of frames comes back in
 * order, odd, tiny, grey and RGBA frames keep their size and channels, a bad CRF is refused by the
 * parser, the temp file is removed and an unwritable temp directory is a clear error; and the H.264
 * training copies of a detector dataset's clips. */
#include "detect/robust.h"
#include "detect/train.h"
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

/* The H.264 training copies (det_h264_copies, `detect train --augment-h264`): every sample gets a
 * copy of its size, compressed (PSNR 18..50 dB); a clip's copies are its frames encoded together as
 * one video at one CRF of 20..45 (byte for byte what robust_h264 gives for the clip at that CRF);
 * the same seed gives the same bytes; freeing removes the directory. */
static void t_h264_copies(void) {
    SlErr err;
    Image face = load_face(64);
    if (!face.px) return;
    char tmp[] = "/tmp/swaplab-test-copies-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    const char *old = getenv("TMPDIR");
    char *saved = old ? xstrdup(old) : NULL;
    setenv("TMPDIR", tmp, 1);
    enum { N = 7 }; /* clip "a": 0, 2, 4 (interleaved with clip "b": 1, 3, 5); 6 has no clip */
    DetSample smp[N];
    Image orig[N];
    char paths[N][SL_PATH_MAX];
    for (int i = 0; i < N; i++) {
        orig[i] = face_frame(&face, 2 * i);
        sl_snprintf(paths[i], sizeof paths[i], "%s/in%d.png", tmp, i);
        CHECKF(image_save_png(paths[i], &orig[i], NULL, 0, &err) == 0, "%s", err.msg);
        memset(&smp[i], 0, sizeof smp[i]);
        smp[i].path = paths[i], smp[i].label = i % 2, smp[i].clip = i == 6 ? NULL : (i % 2 ? "b" : "a");
    }
    DetDataset ds = {0};
    ds.s = smp, ds.n = N;
    DetH264Copies h1, h2;
    CHECKF(det_h264_copies(&ds, 9, 0, &h1, &err) == 0, "%s", err.msg);
    CHECKF(det_h264_copies(&ds, 9, 0, &h2, &err) == 0, "%s", err.msg);
    CHECK(h1.n == N && h2.n == N && strcmp(h1.dir, h2.dir));
    CHECK(dir_entries(tmp) == N + 2); /* the inputs and the two copy directories */
    Image cp[N];
    for (int i = 0; i < N; i++) {
        Image again;
        CHECKF(h1.path[i] && image_load(h1.path[i], 3, &cp[i], &err) == 0, "sample %d: %s", i, err.msg);
        CHECK(image_load(h2.path[i], 3, &again, &err) == 0);
        CHECK(cp[i].w == 64 && cp[i].h == 64 && again.w == 64);
        CHECKF(!memcmp(cp[i].px, again.px, (size_t)64 * 64 * 3), "sample %d: seed 9 twice differs", i);
        double p = psnr(&orig[i], &cp[i]);
        printf("  sample %d (clip %s): PSNR %.2f dB\n", i, smp[i].clip ? smp[i].clip : "-", p);
        CHECKF(isfinite(p) && p > 18 && p < 50, "sample %d: PSNR %.2f dB", i, p);
        image_free(&again);
    }
    /* each clip's copies are the clip encoded as one video at one CRF in range */
    const int members[3][3] = {{0, 2, 4}, {1, 3, 5}, {6, -1, -1}};
    for (int k = 0; k < 3; k++) {
        int m = k == 2 ? 1 : 3, found = -1;
        for (int crf = ROBUST_AUG_CRF_LO; crf <= ROBUST_AUG_CRF_HI && found < 0; crf++) {
            Image fr[3];
            for (int j = 0; j < m; j++) fr[j] = image_clone(&orig[members[k][j]]);
            int same = robust_h264(fr, m, crf, &err) == 0;
            for (int j = 0; j < m; j++) {
                same = same && !memcmp(fr[j].px, cp[members[k][j]].px, (size_t)64 * 64 * 3);
                image_free(&fr[j]);
            }
            if (same) found = crf;
        }
        printf("  clip %d: CRF %d\n", k, found);
        CHECKF(found >= 0, "clip %d's copies are not its frames encoded together at a CRF of %d..%d", k,
               ROBUST_AUG_CRF_LO, ROBUST_AUG_CRF_HI);
    }
    det_h264_copies_free(&h1), det_h264_copies_free(&h2);
    CHECK(h1.path == NULL && h1.n == 0);
    CHECK(dir_entries(tmp) == N);
    /* an unreadable sample: an error naming it, nothing left behind */
    smp[3].path = "/nonexistent/x.png";
    CHECK(det_h264_copies(&ds, 9, 0, &h1, &err) == -1 && strstr(err.msg, "/nonexistent/x.png"));
    CHECK(dir_entries(tmp) == N);
    for (int i = 0; i < N; i++) unlink(paths[i]), image_free(&orig[i]), image_free(&cp[i]);
    rmdir(tmp);
    if (saved) setenv("TMPDIR", saved, 1);
    else unsetenv("TMPDIR");
    free(saved);
    image_free(&face);
}

int main(void) {
    RUN(t_h264_parse);
    RUN(t_h264_quality);
    RUN(t_h264_shapes);
    RUN(t_h264_tempfiles);
    RUN(t_h264_copies);
    return test_summary("test_robust");
}
