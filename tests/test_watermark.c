/* test_watermark.c — the invisible watermark (infer/watermark.h): exact payload round trips, PSNR,
 * survival of JPEG q50, 0.5x downscale and noise, no flags on clean images, key separation, size
 * limits. The full measurement (10,000 clean images) is bench/bench_watermark.c. */
#include "infer/watermark.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/rng.h"

/* SHA-256 of t_embed_bytes_pinned's marked image, as written by the implementation before the
 * search was sped up (lrint per value) */
#define WM_PINNED_SHA256 "d33b33c4a5dcfc736ffac22a2d09fc6e8c62db8bffaecf379f3c31ee5fdb4b72"

/* A random image: two-colour gradient, smooth value noise, a few ellipses, sensor noise. */
static Image random_image(SlRng *r, int w, int h) {
    Image im = image_new(w, h, 3);
    float c0[3], c1[3], e[3][7];
    for (int k = 0; k < 3; k++) c0[k] = sl_rng_range(r, 20, 235), c1[k] = sl_rng_range(r, 20, 235);
    float fx = sl_rng_range(r, 0.01f, 0.1f), fy = sl_rng_range(r, 0.01f, 0.1f), ph = sl_rng_range(r, 0, 6.28f);
    float amp = sl_rng_range(r, 5, 40), sigma = sl_rng_range(r, 0, 4);
    for (int s = 0; s < 3; s++) {
        e[s][0] = sl_rng_range(r, 0, (float)w), e[s][1] = sl_rng_range(r, 0, (float)h);
        e[s][2] = sl_rng_range(r, 10, w / 3.0f), e[s][3] = sl_rng_range(r, 10, h / 3.0f);
        for (int k = 0; k < 3; k++) e[s][4 + k] = sl_rng_range(r, 30, 225);
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float t = (float)(x + y) / (float)(w + h), v = amp * sinf(fx * x + ph) * cosf(fy * y);
            for (int k = 0; k < 3; k++) {
                float p = c0[k] + (c1[k] - c0[k]) * t + v;
                for (int s = 0; s < 3; s++) {
                    float dx = (x - e[s][0]) / e[s][2], dy = (y - e[s][1]) / e[s][3];
                    if (dx * dx + dy * dy < 1) p = e[s][4 + k] + 0.5f * v;
                }
                p += sigma * sl_rng_normal(r);
                im.px[((size_t)y * w + x) * 3 + k] = (uint8_t)(p < 0 ? 0 : p > 255 ? 255 : p);
            }
        }
    return im;
}

static void t_roundtrip_exact_payload(void) {
    SlRng r;
    sl_rng_seed(&r, 11);
    WmKey key;
    wm_key_from_string(&key, NULL);
    uint32_t payloads[4] = {0, 0xffffffffu, (uint32_t)sl_rng_u64(&r), (uint32_t)sl_rng_u64(&r)};
    for (int i = 0; i < 4; i++) {
        Image im = random_image(&r, 256 + 64 * (i % 2), 256);
        SlErr err;
        CHECK(wm_embed(&im, &key, payloads[i], &err) == 0);
        WmResult res;
        CHECK(wm_detect(&im, &key, &res, &err) == 0);
        CHECKF(res.found && res.payload_ok, "z=%.2f", res.z);
        CHECKF(res.payload == payloads[i], "%08x vs %08x", res.payload, payloads[i]);
        CHECK(res.p_false < 1e-6);
        image_free(&im);
    }
}

static void t_psnr_at_least_40(void) {
    SlRng r;
    sl_rng_seed(&r, 12);
    WmKey key;
    wm_key_from_string(&key, "lab-key");
    for (int i = 0; i < 4; i++) {
        Image im = random_image(&r, 256, 256 + 128 * (i % 2)), m = image_clone(&im);
        SlErr err;
        CHECK(wm_embed(&m, &key, (uint32_t)sl_rng_u64(&r), &err) == 0);
        double p = wm_psnr(&im, &m);
        CHECKF(p >= 40.0 && p < 60.0, "PSNR %.2f", p);
        image_free(&im), image_free(&m);
    }
}

static void t_survives_attacks(void) {
    SlRng r;
    sl_rng_seed(&r, 13);
    WmKey key;
    wm_key_from_string(&key, NULL);
    for (int i = 0; i < 3; i++) {
        Image im = random_image(&r, 256, 256);
        uint32_t pl = (uint32_t)sl_rng_u64(&r);
        SlErr err;
        CHECK(wm_embed(&im, &key, pl, &err) == 0);
        for (int a = 0; a < 3; a++) {
            Image t;
            if (a == 0) {
                t = image_clone(&im);
                image_jpeg_roundtrip(&t, 50);
            } else if (a == 1) {
                t = image_resize(&im, 128, 128);
            } else {
                t = image_clone(&im);
                for (size_t k = 0; k < (size_t)t.w * t.h * 3; k++) {
                    float v = t.px[k] + 2.0f * sl_rng_normal(&r);
                    t.px[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrintf(v));
                }
            }
            WmResult res;
            CHECK(wm_detect(&t, &key, &res, &err) == 0);
            CHECKF(res.found && res.payload_ok && res.payload == pl, "attack %d: z=%.2f payload %08x vs %08x", a, res.z,
                   res.payload, pl);
            image_free(&t);
        }
        image_free(&im);
    }
}

static void t_clean_not_flagged_and_key_separation(void) {
    SlRng r;
    sl_rng_seed(&r, 14);
    WmKey key, other;
    wm_key_from_string(&key, NULL);
    wm_key_from_string(&other, "another lab");
    CHECK(memcmp(key.k, other.k, 32) != 0);
    double zmax = -1e9;
    for (int i = 0; i < 60; i++) {
        Image im = random_image(&r, 96 + 32 * (i % 6), 128 + 16 * (i % 5));
        if (i % 3 == 0) image_jpeg_roundtrip(&im, 60);
        WmResult res;
        SlErr err;
        CHECK(wm_detect(&im, &key, &res, &err) == 0);
        CHECK(!res.found);
        if (res.z > zmax) zmax = res.z;
        image_free(&im);
    }
    CHECKF(zmax < 4.5, "largest clean z %.2f", zmax);
    /* a mark made with another key is not this key's mark */
    Image im = random_image(&r, 256, 256);
    SlErr err;
    CHECK(wm_embed(&im, &other, 0x01020304u, &err) == 0);
    WmResult res;
    CHECK(wm_detect(&im, &key, &res, &err) == 0);
    CHECKF(!res.found, "z=%.2f", res.z);
    CHECK(wm_detect(&im, &other, &res, &err) == 0);
    CHECK(res.found && res.payload == 0x01020304u);
    image_free(&im);
}

static void t_size_limits(void) {
    WmKey key;
    wm_key_from_string(&key, NULL);
    Image small = image_new(48, 200, 3);
    SlErr err;
    CHECK(wm_embed(&small, &key, 1, &err) == -1);
    CHECK(strstr(err.msg, "too small") != NULL);
    Image tiny = image_new(20, 20, 3);
    WmResult res;
    CHECK(wm_detect(&tiny, &key, &res, &err) == -1);
    CHECK(!res.found);
    image_free(&small), image_free(&tiny);
    /* grey images work too */
    SlRng r;
    sl_rng_seed(&r, 15);
    Image g = image_new(128, 128, 1);
    for (size_t i = 0; i < 128 * 128; i++) g.px[i] = (uint8_t)(100 + sl_rng_int(&r, 50));
    CHECK(wm_embed(&g, &key, 0xabcdef01u, &err) == 0);
    CHECK(wm_detect(&g, &key, &res, &err) == 0);
    CHECK(res.found && res.payload == 0xabcdef01u);
    image_free(&g);
}

static void t_fixture_faces(void) {
    const char *dir = "tests/fixtures/faces";
    static const char *const png[] = {".png", NULL};
    char **names = NULL;
    SlErr err;
    int n = sl_is_dir(dir) ? sl_list_dir(dir, png, &names, &err) : -1;
    if (n <= 0) SKIP("tests/fixtures/faces has no PNG files");
    SlRng r;
    sl_rng_seed(&r, 16);
    WmKey key;
    wm_key_from_string(&key, NULL);
    int done = 0;
    for (int i = 0; i < n && done < 3; i++) {
        if (strncmp(names[i], "london", 6)) continue;
        char p[4096];
        sl_path_join(p, sizeof p, dir, names[i]);
        Image im;
        if (image_load(p, 3, &im, &err)) continue;
        Image m = image_clone(&im);
        uint32_t pl = (uint32_t)sl_rng_u64(&r);
        CHECK(wm_embed(&m, &key, pl, &err) == 0);
        CHECK(wm_psnr(&im, &m) >= 40.0);
        image_jpeg_roundtrip(&m, 50);
        WmResult res;
        CHECK(wm_detect(&m, &key, &res, &err) == 0);
        CHECKF(res.found && res.payload == pl, "%s: z=%.2f", names[i], res.z);
        CHECK(wm_detect(&im, &key, &res, &err) == 0);
        CHECKF(!res.found, "clean %s flagged, z=%.2f", names[i], res.z);
        image_free(&im), image_free(&m);
        done++;
    }
    sl_free_list(names, n);
    CHECK(done > 0);
}

/* The embedder (a clip's frames) gives wm_embed's bytes exactly, reused across sizes and channel
 * counts, and refuses small images the same way. */
static void t_embedder_matches_embed(void) {
    SlRng r;
    sl_rng_seed(&r, 31);
    WmKey key;
    wm_key_from_string(&key, "embedder");
    WmEmbedder *e = wm_embedder_new(&key, 0x5eed1234u);
    const int sizes[][3] = {{320, 180, 3}, {320, 180, 3}, {200, 150, 3}, {130, 97, 1}, {128, 96, 4}, {320, 180, 3}};
    for (int i = 0; i < 6; i++) {
        Image base = random_image(&r, sizes[i][0], sizes[i][1]), im = image_new(base.w, base.h, sizes[i][2]);
        for (size_t q = 0; q < (size_t)im.w * im.h; q++)
            for (int k = 0; k < im.c; k++) im.px[q * im.c + k] = k < 3 ? base.px[q * 3 + k] : (uint8_t)(q * 7);
        Image a = image_clone(&im), b = image_clone(&im);
        SlErr err;
        CHECK(wm_embed(&a, &key, 0x5eed1234u, &err) == 0);
        CHECK(wm_embedder_apply(e, &b, &err) == 0);
        CHECKF(memcmp(a.px, b.px, (size_t)a.w * a.h * a.c) == 0, "image %d (%dx%dx%d) differs", i, a.w, a.h, a.c);
        CHECK(memcmp(a.px, im.px, (size_t)a.w * a.h * a.c) != 0);
        image_free(&base), image_free(&im), image_free(&a), image_free(&b);
    }
    Image small = image_new(63, 80, 3);
    SlErr err;
    CHECK(wm_embedder_apply(e, &small, &err) == -1);
    CHECK(strstr(err.msg, "too small") != NULL);
    image_free(&small);
    wm_embedder_free(e);
}

/* The embedded bytes of one image, pinned: the search's rounding (half to even, as lrint) and
 * clipping may be made faster but must not change what is stored. */
static void t_embed_bytes_pinned(void) {
    SlRng r;
    sl_rng_seed(&r, 21);
    Image im = random_image(&r, 320, 256);
    WmKey key;
    wm_key_from_string(&key, NULL);
    SlErr err;
    CHECK(wm_embed(&im, &key, 0x3fa2c1d0u, &err) == 0);
    char hex[65];
    sl_sha256_hex(im.px, (size_t)im.w * im.h * 3, hex);
    CHECKF(strcmp(hex, WM_PINNED_SHA256) == 0, "SHA-256 %s", hex);
    image_free(&im);
}

int main(void) {
    (void)test_tmpdir; /* this program writes no files */
    RUN(t_roundtrip_exact_payload);
    RUN(t_psnr_at_least_40);
    RUN(t_survives_attacks);
    RUN(t_clean_not_flagged_and_key_separation);
    RUN(t_size_limits);
    RUN(t_fixture_faces);
    RUN(t_embedder_matches_embed);
    RUN(t_embed_bytes_pinned);
    return test_summary("test_watermark");
}
