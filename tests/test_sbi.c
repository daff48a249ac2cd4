/* test_sbi.c — dataset/sbi (self-blended images) and the landmarks .npy writer: the same seed gives
 * the same bytes and another seed another blend; outside the mask the fake equals the face pixel
 * for pixel (the target is never jittered); inside it differs; the mask lies in [0, 1], peaks at one
 * of the paper's blend ratios and sits on the face hull; and the .npy header is NumPy's format 1.0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/build.h"
#include "dataset/sbi.h"
#include "tests/test.h"
#include "util/fs.h"
#include "util/rng.h"

/* A face-like test image: smooth colour gradients and a bright ellipse, with landmarks on a ring. */
static void make_face(int w, Image *im, float lm[ALIGN_NLM][2]) {
    *im = image_new(w, w, 3);
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++) {
            float dx = (x - w / 2.0f) / (w * 0.3f), dy = (y - w / 2.0f) / (w * 0.38f);
            int in = dx * dx + dy * dy < 1;
            uint8_t *p = im->px + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(in ? 200 - x / 4 : 40 + x / 2), p[1] = (uint8_t)(in ? 150 + y / 8 : 90), p[2] = (uint8_t)(in ? 120 : 160 - y / 2);
        }
    for (int k = 0; k < ALIGN_NLM; k++) {
        float a = 6.2831853f * k / ALIGN_NLM, r = k < 17 ? 0.9f : 0.5f;
        lm[k][0] = w / 2.0f + r * 0.3f * w * cosf(a), lm[k][1] = w / 2.0f + r * 0.38f * w * sinf(a) + 0.05f * w;
    }
}

static void t_sbi(void) {
    enum { W = 96 };
    Image face;
    float lm[ALIGN_NLM][2];
    make_face(W, &face, lm);
    float *m1 = xmalloc(W * W * sizeof *m1), *m2 = xmalloc(W * W * sizeof *m2), *hull = xmalloc(W * W * sizeof *hull);
    align_face_mask(lm, W, hull);
    int ratios_seen[4] = {0};
    for (uint64_t seed = 1; seed <= 12; seed++) {
        SlRng a, b;
        sl_rng_seed(&a, seed), sl_rng_seed(&b, seed);
        Image f1, f2;
        SbiInfo info;
        sbi_make(&face, lm, &a, &f1, m1, &info);
        sbi_make(&face, lm, &b, &f2, m2, NULL);
        CHECK(!memcmp(f1.px, f2.px, (size_t)W * W * 3) && !memcmp(m1, m2, W * W * sizeof *m1));
        float mx = 0;
        double in_diff = 0, in_w = 0, on_hull = 0, tot = 0;
        int outside_same = 1;
        for (int i = 0; i < W * W; i++) {
            CHECK(m1[i] >= 0 && m1[i] <= 1.0001f);
            mx = fmaxf(mx, m1[i]);
            for (int k = 0; k < 3; k++) {
                int d = abs((int)f1.px[i * 3 + k] - (int)face.px[i * 3 + k]);
                if (m1[i] == 0 && d) outside_same = 0;
                in_diff += m1[i] * d, in_w += m1[i];
            }
            on_hull += m1[i] * (hull[i] > 0.5f), tot += m1[i];
        }
        CHECKF(outside_same, "seed %llu: a pixel outside the mask changed", (unsigned long long)seed);
        CHECKF(fabsf(mx - info.ratio) < 1e-4 && (info.ratio == 0.25f || info.ratio == 0.5f || info.ratio == 0.75f ||
                                                 info.ratio == 1.0f), "seed %llu: peak %.4f ratio %.4f",
               (unsigned long long)seed, mx, info.ratio);
        ratios_seen[(int)lroundf(info.ratio * 4) - 1] = 1;
        CHECKF(in_diff / in_w > 1.0, "seed %llu: the blend changes nothing (%.3f)", (unsigned long long)seed, in_diff / in_w);
        CHECKF(on_hull / tot > 0.7, "seed %llu: only %.2f of the mask on the face hull", (unsigned long long)seed, on_hull / tot);
        CHECK(info.jittered_source == 1 && info.scale >= 0.95f && info.scale <= 1.05f && fabsf(info.dx) <= 0.03f * W);
        /* another seed, another blend */
        SlRng c;
        sl_rng_seed(&c, seed + 100);
        Image f3;
        sbi_make(&face, lm, &c, &f3, NULL, NULL);
        CHECK(memcmp(f1.px, f3.px, (size_t)W * W * 3) != 0);
        image_free(&f1), image_free(&f2), image_free(&f3);
    }
    CHECK(ratios_seen[3]); /* 1 is drawn with p = 1/2: 12 seeds miss it with p 2^-12 */
    free(m1), free(m2), free(hull);
    image_free(&face);
}

static void t_npy(void) {
    float lm[ALIGN_NLM][2];
    for (int k = 0; k < ALIGN_NLM; k++) lm[k][0] = k, lm[k][1] = -0.5f * k;
    char path[700];
    SlErr err;
    sl_path_join(path, sizeof path, test_tmpdir(), "lm.npy");
    CHECK(ds_write_landmarks_npy(path, lm, ALIGN_NLM, &err) == 0);
    char *b;
    size_t len;
    CHECK(sl_read_file(path, 1 << 16, &b, &len, &err) == 0);
    CHECK(!memcmp(b, "\x93NUMPY\x01\x00", 8));
    size_t hl = (unsigned char)b[8] | (size_t)(unsigned char)b[9] << 8;
    CHECK((10 + hl) % 64 == 0 && b[10 + hl - 1] == '\n');
    CHECK(strstr(b + 10, "'descr': '<f4'") && strstr(b + 10, "'shape': (68, 2)") && strstr(b + 10, "False"));
    CHECK(len == 10 + hl + sizeof lm && !memcmp(b + 10 + hl, lm, sizeof lm));
    free(b);
    if (access("/usr/bin/python3", X_OK) == 0 && system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0) {
        char cmd[900];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import numpy as n,sys; a=n.load(sys.argv[1]); assert a.shape==(68,2) and a.dtype==n.float32 and a[67,1]==-33.5\" %s",
                 path);
        CHECK(system(cmd) == 0);
    }
}

int main(void) {
    RUN(t_sbi);
    RUN(t_npy);
    return test_summary("test_sbi");
}
