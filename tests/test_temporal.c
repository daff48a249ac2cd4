/* test_temporal.c — detect/temporal.h on synthetic clips: landmark sequences with known blinks
 * (count, duration, rate), none, noise, a hovering eye (hysteresis); frame sequences with a border
 * that flickers or not, under sensor noise, a global change of light and camera motion; the
 * aggregation of frame scores; a tiny dataset on disk (time order, a one-frame clip, a missing
 * landmarks file, no landmarks folder). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "dataset/build.h"
#include "detect/dataset.h"
#include "detect/temporal.h"
#include "test.h"
#include "util/fs.h"
#include "util/rng.h"

#define FPS 25.0

/* A face of 68 points: 0-26 on a circle of radius r around (cx, cy) (the hull), both eyes with an
 * aspect ratio ear (width 8), the nose and mouth inside. */
static void make_face(float lm[68][2], double cx, double cy, double r, double ear) {
    for (int i = 0; i < 27; i++) {
        double a = 2 * M_PI * i / 27;
        lm[i][0] = (float)(cx + r * cos(a)), lm[i][1] = (float)(cy + r * sin(a));
    }
    for (int i = 27; i < 68; i++) lm[i][0] = (float)cx, lm[i][1] = (float)(cy + 0.3 * r + 0.01 * (i - 27));
    const double w = 8, h = ear * w / 2; /* EAR = 2h / w */
    for (int e = 0; e < 2; e++) {
        int o = 36 + 6 * e;
        double x0 = cx + (e ? 2 : -10), y = cy - 0.3 * r;
        float pts[6][2] = {{(float)x0, (float)y},           {(float)(x0 + w / 3), (float)(y - h)},
                           {(float)(x0 + 2 * w / 3), (float)(y - h)}, {(float)(x0 + w), (float)y},
                           {(float)(x0 + 2 * w / 3), (float)(y + h)}, {(float)(x0 + w / 3), (float)(y + h)}};
        memcpy(lm[o], pts, sizeof pts);
    }
}

/* ---- blinks ---------------------------------------------------------------------------------- */

/* 10 s at 25 fps, eyes open at EAR 0.3, closed (0.1) at frames [50, 55), [120, 123), [200, 208):
 * 3 blinks of 200, 120 and 320 ms. noise: Gaussian sigma added to the EAR of each frame's eyes. */
static int known_blinks(double *t, double *ear, double noise, uint64_t seed) {
    const int n = 250;
    SlRng r;
    sl_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        int closed = (i >= 50 && i < 55) || (i >= 120 && i < 123) || (i >= 200 && i < 208);
        float lm[68][2];
        make_face(lm, 32, 32, 20, (closed ? 0.1 : 0.3) + noise * sl_rng_normal(&r));
        t[i] = i / FPS;
        ear[i] = temporal_ear((const float (*)[2])lm);
    }
    return n;
}

static void t_ear(void) {
    float lm[68][2];
    make_face(lm, 40, 30, 20, 0.3);
    CHECK_NEAR(temporal_ear((const float (*)[2])lm), 0.3, 1e-6);
    make_face(lm, 40, 30, 20, 0.05);
    CHECK_NEAR(temporal_ear((const float (*)[2])lm), 0.05, 1e-6);
    lm[39][0] = lm[36][0], lm[39][1] = lm[36][1]; /* an eye of width 0 */
    CHECK(isnan(temporal_ear((const float (*)[2])lm)));
}

static void t_blinks_known(void) {
    double t[250], ear[250];
    int n = known_blinks(t, ear, 0, 1);
    TemporalBlinkCfg c;
    temporal_blink_default(&c);
    TemporalBlinks b;
    SlErr err;
    CHECK(temporal_blinks(t, ear, n, &c, &b, &err) == 0);
    CHECK(b.n_blinks == 3);
    CHECK_NEAR(b.dt, 0.04, 1e-12);
    CHECK_NEAR(b.duration_s, 10.0, 1e-9);
    CHECK_NEAR(b.rate_per_min, 18.0, 1e-9);
    CHECK_NEAR(b.mean_ms, (200.0 + 120.0 + 320.0) / 3, 1e-6);
    CHECK_NEAR(b.ear_open, 0.3, 1e-6);
    CHECK_NEAR(b.ear_min, 0.1, 1e-6);
    CHECK_NEAR(b.threshold, 0.225, 1e-6);
}

static void t_blinks_noise(void) {
    TemporalBlinkCfg c;
    temporal_blink_default(&c);
    TemporalBlinks b;
    SlErr err;
    double t[250], ear[250];
    /* the same blinks with noise of sigma 0.012 on the EAR: still 3, durations within a frame each */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        int n = known_blinks(t, ear, 0.012, seed);
        CHECK(temporal_blinks(t, ear, n, &c, &b, &err) == 0);
        CHECKF(b.n_blinks == 3, "seed %d: %d blinks", (int)seed, b.n_blinks);
        CHECKF(fabs(b.mean_ms - 640.0 / 3) <= 40, "seed %d: %.1f ms", (int)seed, b.mean_ms);
    }
    /* no blinks: open eyes with noise, and a half-closed squint (0.25 > 0.75 x 0.3) are none */
    SlRng r;
    sl_rng_seed(&r, 7);
    for (int i = 0; i < 250; i++) t[i] = i / FPS, ear[i] = 0.3 + 0.01 * sl_rng_normal(&r);
    for (int i = 100; i < 110; i++) ear[i] = 0.25;
    CHECK(temporal_blinks(t, ear, 250, &c, &b, &err) == 0);
    CHECK(b.n_blinks == 0 && b.rate_per_min == 0 && isnan(b.mean_ms));
}

static void t_blinks_hysteresis(void) {
    /* an eye that closes, half opens (0.24: above 0.225, below 0.255) and closes again is one blink
     * of 3 frames; without hysteresis (reopen at the closing threshold) it would be two */
    double ear[20], t[20];
    for (int i = 0; i < 20; i++) t[i] = i / FPS, ear[i] = 0.3;
    ear[8] = 0.2, ear[9] = 0.24, ear[10] = 0.2;
    TemporalBlinkCfg c;
    temporal_blink_default(&c);
    TemporalBlinks b;
    SlErr err;
    CHECK(temporal_blinks(t, ear, 20, &c, &b, &err) == 0);
    CHECK(b.n_blinks == 1);
    CHECK_NEAR(b.mean_ms, 120, 1e-6);
    c.open_ratio = c.close_ratio;
    CHECK(temporal_blinks(t, ear, 20, &c, &b, &err) == 0);
    CHECK(b.n_blinks == 2);
    /* a blink still closed at the clip's end counts with what was seen */
    temporal_blink_default(&c);
    ear[18] = ear[19] = 0.1;
    CHECK(temporal_blinks(t, ear, 20, &c, &b, &err) == 0);
    CHECK(b.n_blinks == 2);
    CHECK_NEAR(b.mean_ms, (120 + 80) / 2.0, 1e-6);
}

static void t_blinks_bad(void) {
    double t[3] = {0, 0.04, 0.04}, ear[3] = {0.3, 0.3, 0.3};
    TemporalBlinkCfg c;
    temporal_blink_default(&c);
    TemporalBlinks b;
    SlErr err;
    CHECK(temporal_blinks(t, ear, 1, &c, &b, &err) == -1);
    CHECK(strstr(err.msg, "1 frame") != NULL);
    CHECK(temporal_blinks(t, ear, 3, &c, &b, &err) == -1);
    CHECK(strstr(err.msg, "increasing") != NULL);
    t[2] = 0.08, ear[1] = NAN;
    CHECK(temporal_blinks(t, ear, 3, &c, &b, &err) == -1);
    CHECK(strstr(err.msg, "frame 1") != NULL);
}

/* ---- flicker --------------------------------------------------------------------------------- */

#define SIDE 64
#define NF 10

/* NF frames of a textured 64 x 64 grey image (values 40..160) with a face of radius 20; per frame t:
 * gain g^t and offset o t (a global change of light), the texture shifted by shift x t pixels
 * (camera motion, with the landmarks), border: +-amp alternating in a ring of 2 pixels around the
 * hull's circle, noise: uniform +-noise per pixel and frame. */
static void make_clip(Image *f, float lm[NF][68][2], double gain, double off, int shift, double amp, double noise,
                      uint64_t seed) {
    SlRng r;
    sl_rng_seed(&r, seed);
    float tex[SIDE * 2][SIDE * 2];
    for (int y = 0; y < 2 * SIDE; y++)
        for (int x = 0; x < 2 * SIDE; x++) tex[y][x] = sl_rng_range(&r, 40, 160);
    for (int t = 0; t < NF; t++) {
        f[t] = image_new(SIDE, SIDE, 3);
        double cx = 32 + shift * t, cy = 32;
        make_face(lm[t], cx, cy, 20, 0.3);
        double g = pow(gain, t);
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                double v = tex[y][(x - shift * t + SIDE) % (2 * SIDE)] * g + off * t;
                double d = hypot(x + 0.5 - cx, y + 0.5 - cy) - 20;
                if (fabs(d) <= 1) v += (t % 2 ? -amp : amp);
                v += noise * sl_rng_range(&r, -1, 1);
                v = v < 0 ? 0 : v > 255 ? 255 : v;
                for (int c = 0; c < 3; c++) f[t].px[(y * SIDE + x) * 3 + c] = (uint8_t)lrint(v);
            }
    }
}

static void flick(double gain, double off, int shift, double amp, double noise, TemporalFlicker *fl) {
    Image f[NF];
    float lm[NF][68][2];
    make_clip(f, lm, gain, off, shift, amp, noise, 3);
    SlErr err;
    CHECK(temporal_flicker(f, (const float (*)[68][2])lm, NF, fl, &err) == 0);
    for (int t = 0; t < NF; t++) image_free(&f[t]);
}

static void t_flicker(void) {
    TemporalFlicker s, n, b, g, gb, m;
    flick(1, 0, 0, 0, 0, &s);     /* steady */
    CHECK(s.n_pairs == NF - 1);
    CHECK(s.band == 0 && s.interior == 0 && s.background == 0);
    CHECK_NEAR(s.ratio, 1, 1e-12);
    CHECK_NEAR(s.band_px, 0.06 * sqrt(27 * 0.5 * 400 * sin(2 * M_PI / 27)), 1e-3); /* 6% of the sqrt of the 27-gon's area */
    flick(1, 0, 0, 0, 4, &n);     /* sensor noise, the same everywhere */
    CHECKF(n.band > 1 && n.ratio > 0.85 && n.ratio < 1.15, "noise: band %.3f ratio %.3f", n.band, n.ratio);
    flick(1, 0, 0, 12, 4, &b);    /* a border that flickers by +-12 under the same noise */
    CHECKF(b.ratio > 2.5 && b.band > 3 * b.interior && b.band > 3 * b.background, "flicker: ratio %.3f band %.3f",
           b.ratio, b.band);
    flick(1.03, 2, 0, 0, 0, &g);  /* light: 3% gain and +2 levels per frame, no flicker */
    CHECKF(g.band < 0.6 && g.interior < 0.6 && g.background < 0.6 && fabs(g.ratio - 1) < 0.15,
           "global change: band %.3f interior %.3f background %.3f ratio %.3f", g.band, g.interior, g.background, g.ratio);
    flick(1.03, 2, 0, 12, 0, &gb); /* the same light change with the flickering border: still flicker */
    CHECKF(gb.ratio > 3, "flicker under a light change: ratio %.3f", gb.ratio);
    flick(1, 0, 1, 0, 0, &m);     /* the camera (and the face) moves a pixel a frame: no flicker */
    CHECKF(m.background > 10 && m.ratio > 0.75 && m.ratio < 1.33, "motion: band %.3f interior %.3f background %.3f ratio %.3f",
           m.band, m.interior, m.background, m.ratio);
}

static void t_flicker_bad(void) {
    Image f[NF];
    float lm[NF][68][2];
    make_clip(f, lm, 1, 0, 0, 0, 0, 3);
    TemporalFlicker fl;
    SlErr err;
    CHECK(temporal_flicker(f, (const float (*)[68][2])lm, 1, &fl, &err) == -1);
    CHECK(strstr(err.msg, "1 frame") != NULL);
    CHECK(temporal_flicker(f, NULL, NF, &fl, &err) == -1);
    CHECK(strstr(err.msg, "no landmarks") != NULL);
    Image small = image_new(32, 32, 3);
    Image keep = f[4];
    f[4] = small;
    CHECK(temporal_flicker(f, (const float (*)[68][2])lm, NF, &fl, &err) == -1);
    CHECK(strstr(err.msg, "frame 4") != NULL);
    f[4] = keep;
    image_free(&small);
    for (int k = 0; k < 68; k++) lm[2][k][0] = 5, lm[2][k][1] = 5; /* a face of one point */
    CHECK(temporal_flicker(f, (const float (*)[68][2])lm, NF, &fl, &err) == -1);
    CHECK(strstr(err.msg, "frame 2") != NULL);
    for (int t = 0; t < NF; t++) image_free(&f[t]);
}

static void t_aggregate(void) {
    float z[8] = {3, 7, 0, 5, 1, 6, 2, 4};
    TemporalAgg a;
    temporal_aggregate(z, 8, 0, &a);
    CHECK(a.k == 2);
    CHECK_NEAR(a.mean, 3.5, 1e-9);
    CHECK_NEAR(a.topk, 6.5, 1e-9);
    CHECK_NEAR(a.max, 7, 0);
    temporal_aggregate(z, 8, 3, &a);
    CHECK_NEAR(a.topk, 6, 1e-9);
    temporal_aggregate(z, 1, 0, &a);
    CHECK(a.k == 1 && a.mean == 3 && a.topk == 3);
    temporal_aggregate(z, 8, 100, &a);
    CHECK(a.k == 8 && a.topk == a.mean);
}

/* ---- a dataset on disk ----------------------------------------------------------------------- */

static void t_dataset(void) {
    char dir[600], p[900];
    snprintf(dir, sizeof dir, "%s/ds", test_tmpdir());
    SlErr err;
    char sub[700];
    snprintf(sub, sizeof sub, "%s/test/real", dir);
    CHECK(sl_mkdirs(sub, &err) == 0);
    snprintf(sub, sizeof sub, "%s/landmarks/test/real", dir);
    CHECK(sl_mkdirs(sub, &err) == 0);
    Image f[NF];
    float lm[NF][68][2];
    make_clip(f, lm, 1, 0, 0, 12, 0, 5);
    /* clip A: frames 0..9 listed in reverse time order, frames 3 and 4 with closed eyes; clip B: one frame;
     * clip C: two frames, the second without its landmarks file */
    FILE *csv = NULL;
    snprintf(p, sizeof p, "%s/labels.csv", dir);
    csv = fopen(p, "w");
    CHECK(csv != NULL);
    if (!csv) return;
    fprintf(csv, "path,label,source,split,clip,time\n");
    for (int t = NF - 1; t >= 0; t--) {
        snprintf(p, sizeof p, "%s/test/real/a_%02d.png", dir, t);
        CHECK(image_save_png(p, &f[t], NULL, 0, &err) == 0);
        make_face(lm[t], 32, 32, 20, t == 3 || t == 4 ? 0.1 : 0.3);
        snprintf(p, sizeof p, "%s/landmarks/test/real/a_%02d.npy", dir, t);
        CHECK(ds_write_landmarks_npy(p, (const float (*)[2])lm[t], 68, &err) == 0);
        fprintf(csv, "test/real/a_%02d.png,real,a,test,A,%g\n", t, t / FPS);
    }
    const char *one[3] = {"b_00", "c_00", "c_01"};
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/test/real/%s.png", dir, one[k]);
        CHECK(image_save_png(p, &f[k], NULL, 0, &err) == 0);
        snprintf(p, sizeof p, "%s/landmarks/test/real/%s.npy", dir, one[k]);
        if (k < 2) CHECK(ds_write_landmarks_npy(p, (const float (*)[2])lm[0], 68, &err) == 0);
        fprintf(csv, "test/real/%s.png,real,%c,test,%c,%g\n", one[k], one[k][0], one[k][0] - 32, k == 2 ? 0.04 : 0.0);
    }
    fclose(csv);
    DetDataset ds;
    CHECK(detds_load(dir, "test", &ds, &err) == 0);
    CHECK(ds.n == NF + 3);
    CHECK_NEAR(ds.s[0].time, 0.36, 1e-9);
    int clip_of[NF + 3];
    int nc = detds_clips(&ds, clip_of);
    CHECK(nc == 3);
    TemporalOpts o = {.lm_source = TEMPORAL_LM_DATASET};
    temporal_blink_default(&o.blink);
    TemporalClip tc[3];
    CHECK(temporal_dataset(&ds, clip_of, nc, &o, 0, tc, &err) == 0);
    /* A: in time order, one blink of 2 frames, a flickering border */
    CHECK(tc[0].ok && tc[0].n_frames == NF);
    for (int j = 0; j < NF; j++) CHECK_NEAR(ds.s[tc[0].idx[j]].time, j / FPS, 1e-9);
    CHECK(tc[0].blinks.n_blinks == 1);
    CHECK_NEAR(tc[0].blinks.mean_ms, 80, 1e-6);
    CHECK_NEAR(tc[0].ear[3], 0.1, 1e-6);
    CHECK(tc[0].flicker.ratio > 3);
    /* B: one frame, said so; C: names the missing file */
    CHECK(!tc[1].ok && strstr(tc[1].why, "clip B has 1 frame") != NULL);
    CHECKF(!tc[2].ok && strstr(tc[2].why, "landmarks/test/real/c_01.npy") != NULL, "%s", tc[2].why);
    temporal_clips_free(tc, nc);
    /* a dataset without landmarks/ is refused, naming it */
    snprintf(p, sizeof p, "%s/landmarks", dir);
    snprintf(sub, sizeof sub, "%s/landmarks-away", dir);
    CHECK(rename(p, sub) == 0);
    CHECK(temporal_dataset(&ds, clip_of, nc, &o, 0, tc, &err) == -1);
    CHECK(strstr(err.msg, "no landmarks/ folder") != NULL);
    /* a malformed landmarks file */
    CHECK(rename(sub, p) == 0);
    snprintf(p, sizeof p, "%s/landmarks/test/real/a_05.npy", dir);
    CHECK(sl_write_atomic(p, "\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'}", 26, &err) == 0);
    CHECK(temporal_dataset(&ds, clip_of, nc, &o, 0, tc, &err) == 0);
    CHECKF(!tc[0].ok && strstr(tc[0].why, "a_05.npy") != NULL, "%s", tc[0].why);
    temporal_clips_free(tc, nc);
    detds_free(&ds);
    for (int t = 0; t < NF; t++) image_free(&f[t]);
}

int main(void) {
    RUN(t_ear);
    RUN(t_blinks_known);
    RUN(t_blinks_noise);
    RUN(t_blinks_hysteresis);
    RUN(t_blinks_bad);
    RUN(t_flicker);
    RUN(t_flicker_bad);
    RUN(t_aggregate);
    RUN(t_dataset);
    return test_summary("test_temporal");
}
