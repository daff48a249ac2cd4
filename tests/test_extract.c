/* test_extract.c — data/extract.h: the One-Euro filter (noise reduced, motion followed), the
 * plausibility check on the fixtures (the neck box of london_008 rejected, every real face kept),
 * and tracking through a slideshow clip of fixture photos (faces found in every frame, landmarks
 * steadier with smoothing than without, time stamps in the face set). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "data/extract.h"
#include "data/faceset.h"
#include "data/jpeg.h"
#include "data/slideshow.h"
#include "data/video.h"
#include "tests/test.h"
#include "util/fs.h"
#include "util/crypto.h"
#include "util/rng.h"
#include "util/util.h"

#define FIX "tests/fixtures/faces/"

static int have_models(void) {
    return sl_is_file(haar_default_path(HAAR_FRONTALFACE_DEFAULT)) && sl_is_file(haar_default_path(HAAR_EYE)) &&
           sl_is_file(getenv("SWAPLAB_LANDMARKS") ? getenv("SWAPLAB_LANDMARKS")
                                                  : "/usr/share/dlib/shape_predictor_68_face_landmarks.dat");
}

static void t_one_euro(void) {
    OneEuro f;
    one_euro_init(&f, 1, 1.0, 0.5);
    SlRng rng;
    sl_rng_seed(&rng, 7);
    double s_in = 0, s_out = 0;
    for (int k = 0; k < 200; k++) {
        double noise = sl_rng_normal(&rng), v = 100 + noise;
        one_euro_apply(&f, k / 25.0, 10, &v);
        if (k >= 50) s_in += noise * noise, s_out += (v - 100) * (v - 100);
    }
    CHECKF(s_out < 0.25 * s_in, "noise power %.3g of %.3g", s_out, s_in);
    /* a ramp of 250 px/s (25 scale units/s) is followed with the steady-state lag of a first-order
     * filter at the raised cut-off: v / (2 pi (1 + 0.5 * 25)) = 2.95 px; without beta (cut-off 1 Hz)
     * the lag would be v / (2 pi) = 39.8 px */
    one_euro_reset(&f);
    double last = 0;
    for (int k = 0; k < 100; k++) {
        double v = 10.0 * k;
        one_euro_apply(&f, k / 25.0, 10, &v);
        last = 10.0 * k - v;
    }
    CHECKF(last <= 2.95 && last >= 0, "lag %.3g px", last);
    /* min_cutoff 0: no smoothing at all */
    OneEuro g;
    one_euro_init(&g, 1, 0, 0);
    double v = 5;
    one_euro_apply(&g, 0, 1, &v);
    v = 9;
    one_euro_apply(&g, 0.04, 1, &v);
    CHECK(v == 9);
    one_euro_free(&f);
    one_euro_free(&g);
}

static void t_plausibility_on_fixtures(void) {
    if (!have_models()) SKIP("OpenCV cascades or dlib model not installed (Debian opencv-data, libdlib-data)");
    ExtractOptions o;
    extract_options_default(&o);
    o.all = 1;
    Extractor *x;
    SlErr err;
    CHECKF(extractor_open(&x, &o, &err) == 0, "%s", err.msg);
    if (!x) return;
    const char *who[] = {"001", "002", "003", "004", "005", "006", "007", "008"};
    const char *ex[] = {"neutral", "smiling"};
    int kept = 0, rejected = 0;
    for (int i = 0; i < 8; i++)
        for (int e = 0; e < 2; e++) {
            char p[256];
            snprintf(p, sizeof p, FIX "london_%s_%s.png", who[i], ex[e]);
            Image img;
            CHECK(image_load(p, 3, &img, &err) == 0);
            ExtractFace *f;
            int nrej;
            char why[512];
            int n = extract_faces(x, &img, &f, &nrej, why, sizeof why);
            CHECKF(n == 1, "%s: %d faces", p, n);
            if (n == 1) CHECKF(f[0].eyes >= 1 && f[0].shape < 0.15, "%s: eyes %d shape %.3f", p, f[0].eyes, f[0].shape);
            kept += n;
            rejected += nrej;
            if (i == 7) CHECKF(nrej == 1 && strstr(why, "no eye"), "%s: %d rejected (%s)", p, nrej, why);
            free(f);
            image_free(&img);
        }
    CHECK(kept == 16 && rejected == 2);
    { /* no buffer for the reasons: the same result */
        Image im8;
        CHECK(image_load(FIX "london_008_smiling.png", 3, &im8, &err) == 0);
        ExtractFace *f8;
        int nr8;
        CHECK(extract_faces(x, &im8, &f8, &nr8, NULL, 0) == 1 && nr8 == 1);
        free(f8);
        image_free(&im8);
    }
    /* with the check off, --all keeps the neck box of london_008 */
    extractor_free(x);
    o.check = EXTRACT_CHECK_NONE;
    CHECK(extractor_open(&x, &o, &err) == 0);
    Image img;
    CHECK(image_load(FIX "london_008_neutral.png", 3, &img, &err) == 0);
    ExtractFace *f;
    int nrej;
    CHECK(extract_faces(x, &img, &f, &nrej, NULL, 0) == 2);
    free(f);
    image_free(&img);
    extractor_free(x);
}

/* Mean |second difference| of the landmark tracks (pixels per frame^2): the jitter. */
static double track_jitter(const char *clip, double min_cutoff, int *frames, int *found) {
    ExtractOptions o;
    extract_options_default(&o);
    o.euro_min_cutoff = min_cutoff;
    Extractor *x;
    SlErr err;
    if (extractor_open(&x, &o, &err)) return -1;
    FaceTracker *t = tracker_new(x);
    VideoReader *r;
    VideoInfo vi;
    if (video_open(clip, 1, &r, &vi, &err)) return -1;
    Image f;
    double tm, acc = 0;
    long nacc = 0;
    float prev[2][ALIGN_NLM][2];
    int nprev = 0;
    *frames = *found = 0;
    while (video_read(r, &f, &tm, &err) == 1) {
        float lm[ALIGN_NLM][2];
        int has = tracker_step(t, &f, tm, lm, NULL);
        (*frames)++;
        *found += has;
        if (has && nprev == 2) {
            for (int k = 0; k < ALIGN_NLM; k++)
                for (int c = 0; c < 2; c++) acc += fabs(lm[k][c] - 2 * prev[1][k][c] + prev[0][k][c]), nacc++;
        }
        if (has) {
            if (nprev == 2) memcpy(prev[0], prev[1], sizeof prev[0]);
            memcpy(prev[nprev == 2 ? 1 : nprev], lm, sizeof lm);
            if (nprev < 2) nprev++;
        } else {
            nprev = 0;
        }
        image_free(&f);
    }
    video_close(r);
    tracker_free(t);
    extractor_free(x);
    return nacc ? acc / nacc : -1;
}

static void t_tracking_clip(void) {
    if (!have_models()) SKIP("OpenCV cascades or dlib model not installed (Debian opencv-data, libdlib-data)");
    char dir[128], clip[256], set[256];
    snprintf(dir, sizeof dir, "/tmp/test_extract.%ld", (long)getpid());
    mkdir(dir, 0755);
    snprintf(clip, sizeof clip, "%s/still.mp4", dir);
    /* one photo held for 40 frames with a slow pan: the face moves smoothly, so frame-to-frame
     * acceleration of the landmarks is predictor noise */
    const char *imgs[] = {FIX "london_005_neutral.png"};
    SlideshowOptions so;
    slideshow_options_default(&so);
    so.hold = 40;
    so.pan = 0.05;
    so.w = so.h = 256;
    SlErr err;
    CHECKF(slideshow_write(imgs, 1, clip, &so, &err) == 40, "%s", err.msg);
    int frames, found;
    double raw = track_jitter(clip, 0, &frames, &found);
    CHECK(frames == 40 && found == 40);
    double smooth = track_jitter(clip, 1.0, &frames, &found);
    CHECK(found == 40);
    CHECKF(raw > 0 && smooth < 0.6 * raw, "jitter %.4f px/frame^2 smoothed vs %.4f raw", smooth, raw);
    fprintf(stderr, "  landmark jitter: %.4f raw, %.4f smoothed (px/frame^2)\n", raw, smooth);
    /* the face set records the clip, its digest and each face's time */
    ExtractOptions o;
    extract_options_default(&o);
    o.every = 10;
    o.size = 64;
    snprintf(set, sizeof set, "%s/set", dir);
    const char *in[] = {clip};
    ExtractSummary s;
    CHECKF(extract_run(&o, in, 1, set, "vol-test", &s, &err) == 0, "%s", err.msg);
    CHECK(s.clips == 1 && s.frames == 40 && s.faces == 4);
    FaceSet fs;
    CHECKF(faceset_load(set, &fs, &err) == 0, "%s", err.msg);
    if (fs.n == 4) {
        char digest[65];
        CHECK(sl_sha256_file(clip, digest, &err) == 0);
        for (int i = 0; i < 4; i++) {
            CHECK(strcmp(fs.faces[i].clip, clip) == 0);
            CHECK(strcmp(fs.faces[i].clip_sha256, digest) == 0);
            CHECK(fs.faces[i].clip_frame == 10 * i);
            CHECK_NEAR(fs.faces[i].clip_time, 10 * i / 25.0, 1e-3);
        }
    }
    faceset_free(&fs);
    /* --fps 5 of a 25 fps clip: every 5th frame */
    o.every = 1;
    o.fps = 5;
    snprintf(set, sizeof set, "%s/set5", dir);
    CHECK(extract_run(&o, in, 1, set, "vol-test", &s, &err) == 0);
    CHECK(s.faces == 8);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
}

/* JPEG through libjpeg-turbo: a fixture saved as JPEG decodes to its size and close to its pixels;
 * a grey JPEG stays grey; a cut header or garbage after the markers is refused naming the file. */
static void t_jpeg_decode(void) {
    SlErr err;
    Image png, jpg, grey;
    CHECK(image_load(FIX "london_002_neutral.png", 3, &png, &err) == 0);
    char p[256], q[256], g[256];
    snprintf(p, sizeof p, "/tmp/test_extract_jpeg.%ld.jpg", (long)getpid());
    snprintf(q, sizeof q, "/tmp/test_extract_jpeg.%ld.cut.jpg", (long)getpid());
    snprintf(g, sizeof g, "/tmp/test_extract_jpeg.%ld.grey.jpg", (long)getpid());
    CHECK(image_save_jpeg(p, &png, 95, &err) == 0);
    char *data;
    size_t len;
    CHECK(sl_read_file(p, 1 << 24, &data, &len, &err) == 0);
    CHECK(jpeg_is_jpeg((const uint8_t *)data, len));
    CHECKF(image_load(p, 0, &jpg, &err) == 0, "%s", err.msg);
    CHECK(jpg.w == 400 && jpg.h == 400 && jpg.c == 3);
    double d = 0;
    for (size_t i = 0; i < (size_t)400 * 400 * 3; i++) d += abs((int)jpg.px[i] - (int)png.px[i]);
    d /= 400.0 * 400 * 3;
    CHECKF(d < 3, "mean abs difference %.2f from the PNG at quality 95", d);
    /* a cut header */
    CHECK(sl_write_atomic(q, data, 100, &err) == 0);
    Image bad;
    CHECK(image_load(q, 3, &bad, &err) == -1 && strstr(err.msg, q) && strstr(err.msg, "JPEG"));
    /* garbage after the start of the image */
    for (size_t i = 200; i < len; i++) data[i] = (char)(i * 37);
    CHECK(sl_write_atomic(q, data, len, &err) == 0);
    int rc = image_load(q, 3, &bad, &err);
    if (rc == 0) image_free(&bad);
    CHECKF(rc == -1 && strstr(err.msg, q), "garbage JPEG: rc %d", rc);
    free(data);
    /* grey stays one channel */
    Image g1 = image_new(64, 48, 1);
    for (int i = 0; i < 64 * 48; i++) g1.px[i] = (uint8_t)(i % 64 * 4);
    { /* a one-component JPEG, written with libjpeg (stb_image_write always writes YCbCr) */
        struct jpeg_compress_struct c;
        struct jpeg_error_mgr je;
        c.err = jpeg_std_error(&je);
        jpeg_create_compress(&c);
        unsigned char *mem = NULL;
        unsigned long mlen = 0;
        jpeg_mem_dest(&c, &mem, &mlen);
        c.image_width = 64, c.image_height = 48, c.input_components = 1, c.in_color_space = JCS_GRAYSCALE;
        jpeg_set_defaults(&c);
        jpeg_start_compress(&c, TRUE);
        while (c.next_scanline < 48) {
            JSAMPROW row = g1.px + c.next_scanline * 64;
            jpeg_write_scanlines(&c, &row, 1);
        }
        jpeg_finish_compress(&c);
        jpeg_destroy_compress(&c);
        CHECK(sl_write_atomic(g, mem, mlen, &err) == 0);
        free(mem);
    }
    CHECK(image_load(g, 0, &grey, &err) == 0 && grey.c == 1 && grey.w == 64 && grey.h == 48);
    image_free(&grey), image_free(&g1), image_free(&jpg), image_free(&png);
    unlink(p), unlink(q), unlink(g);
}

/* faces.jsonl's "clip" member: written and read back; malformed ones refused naming the line. */
static void t_clip_record_json(void) {
    FaceRecord r;
    memset(&r, 0, sizeof r);
    snprintf(r.file, sizeof r.file, "aligned/000000.png");
    r.crop = 64, r.coverage = 0.625f;
    r.affine.m[0] = r.affine.m[4] = 1;
    snprintf(r.clip, sizeof r.clip, "clips/a b.mp4");
    memset(r.clip_sha256, 'a', 64);
    memset(r.sha256, 'b', 64);
    r.clip_time = 1.48, r.clip_frame = 37;
    json_t *j = faceset_record_to_json(&r);
    FaceRecord back;
    memset(&back, 0, sizeof back);
    SlErr err;
    CHECKF(faceset_record_from_json(j, &back, "faces.jsonl:1", &err) == 0, "%s", err.msg);
    CHECK(!strcmp(back.clip, r.clip) && !strcmp(back.clip_sha256, r.clip_sha256) && back.clip_frame == 37);
    CHECK_NEAR(back.clip_time, 1.48, 1e-9);
    if (back.synth) json_decref(back.synth);
    const char *bad[] = {"{\"path\":\"a.mp4\",\"sha256\":\"" "Zaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"time\":0,\"frame\":0}",
                         "{\"path\":\"\",\"sha256\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"time\":0,\"frame\":0}",
                         "{\"path\":\"a.mp4\",\"sha256\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"time\":\"x\",\"frame\":0}",
                         "{\"path\":\"a.mp4\",\"sha256\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"time\":0,\"frame\":-1}",
                         "[1,2]"};
    for (int k = 0; k < 5; k++) {
        json_error_t je;
        json_t *c = json_loads(bad[k], 0, &je);
        CHECK(c != NULL);
        json_object_set_new(j, "clip", c);
        memset(&back, 0, sizeof back);
        int rc = faceset_record_from_json(j, &back, "faces.jsonl:7", &err);
        CHECKF(rc == -1 && strstr(err.msg, "faces.jsonl:7") && strstr(err.msg, "clip"), "case %d: rc %d", k, rc);
        if (rc == 0 && back.synth) json_decref(back.synth);
    }
    json_decref(j);
}

int main(void) {
    RUN(t_one_euro);
    RUN(t_jpeg_decode);
    RUN(t_clip_record_json);
    RUN(t_plausibility_on_fixtures);
    RUN(t_tracking_clip);
    return test_summary("test_extract");
}
