/* test_swap_video.c — infer/swap_video.h and infer/provenance/mp4_carrier.h without a model: the colour
 * statistics smoothed in time (flicker reduced, a lasting change followed), and the MP4 carrier on
 * a generated, watermarked and labelled clip (record, XMP, signature and every frame's marks read
 * back; appended or changed bytes break the signature; an unmarked clip is not called marked). */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/slideshow.h"
#include "data/video.h"
#include "nn/nn.h"
#include "model/swap_model.h"
#include "infer/label.h"
#include "infer/provenance/mp4_carrier.h"
#include "infer/swap_video.h"
#include "infer/watermark.h"
#include "tests/test.h"
#include "util/fs.h"
#include "util/rng.h"

static char dir[128];

/* Mean of channel 0 inside the mask after the smoother, for a face whose reference brightness
 * flickers by +-0.05 around 0.5 from frame to frame. */
static void run_flicker(double tau, double *spread, double *final_offset) {
    const size_t n = 256;
    float img[3 * 256], ref[3 * 256], mask[256];
    for (size_t i = 0; i < n; i++) mask[i] = 1;
    ColourSmoother cs;
    colour_smoother_init(&cs, COLOUR_AVG, tau);
    SlRng rng;
    sl_rng_seed(&rng, 3);
    double s = 0, s2 = 0;
    int cnt = 0;
    for (int k = 0; k < 100; k++) {
        double level = 0.5 + (sl_rng_uniform(&rng) < 0.5 ? -0.05 : 0.05) + (k >= 50 ? 0.1 : 0); /* a step at k = 50 */
        for (size_t i = 0; i < 3 * n; i++) img[i] = 0.4f, ref[i] = (float)level;
        colour_smoother_apply(&cs, k / 25.0, img, ref, mask, n);
        if (k >= 10 && k < 50) s += img[0], s2 += img[0] * img[0], cnt++;
        *final_offset = img[0];
    }
    *spread = sqrt(fmax(0, s2 / cnt - (s / cnt) * (s / cnt)));
}

static void t_colour_smoothing(void) {
    double raw, sm, f_raw, f_sm;
    run_flicker(0, &raw, &f_raw);
    run_flicker(0.5, &sm, &f_sm);
    CHECKF(raw > 0.04, "per-frame flicker %.4f", raw);
    CHECKF(sm < 0.25 * raw, "flicker %.4f smoothed vs %.4f per frame", sm, raw);
    /* the step of +0.1 at frame 50 is followed: 2 s later (50 frames, 4 time constants) the mean is
     * within 0.05 + 0.1 * e^-4 of the new level 0.6 */
    CHECKF(fabs(f_sm - 0.6) < 0.05 + 0.1 * exp(-4) + 1e-3, "final %.4f", f_sm);
    /* reinhard: a constant scene gives the per-frame transfer */
    const size_t n = 64;
    float a[3 * 64], b[3 * 64], c[3 * 64], m[64];
    for (size_t i = 0; i < n; i++) {
        m[i] = 1;
        for (int ch = 0; ch < 3; ch++) a[ch * n + i] = 0.2f + 0.005f * i + 0.1f * ch, b[ch * n + i] = 0.5f + 0.002f * i;
    }
    memcpy(c, a, sizeof a);
    ColourSmoother cs;
    colour_smoother_init(&cs, COLOUR_REINHARD, 0.5);
    colour_smoother_apply(&cs, 0, a, b, m, n);
    colour_transfer(COLOUR_REINHARD, c, b, m, n);
    double d = 0;
    for (size_t i = 0; i < 3 * n; i++) d = fmax(d, fabs(a[i] - c[i]));
    CHECKF(d < 2e-3, "max difference %.4g from colour_transfer_reinhard", d);
}

static Image pattern(int w, int h, int k) {
    Image im = image_new(w, h, 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = im.px + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(60 + x * 120 / w + k), p[1] = (uint8_t)(80 + y * 100 / h), p[2] = (uint8_t)(100 + ((x / 16 + y / 16) % 2) * 40);
        }
    return im;
}

/* What verify trusts: one public key (may be NULL) and a watermark key string (NULL: default). */
static ProvTrust trust_of(const uint8_t **pk, const char *wm_key) {
    ProvTrust t = {.pubkeys = pk, .n_pubkeys = *pk ? 1 : 0, .wm_key = wm_key};
    return t;
}

/* marked: label + watermark in the pixels; boxes: the provenance boxes appended. */
static int write_clip_boxes(const char *path, int marked, int boxes, const ProvenanceInfo *pi, const SlKeypair *key,
                            SlErr *err) {
    VideoWriterOptions o;
    video_writer_options_default(&o);
    o.tone_hz = 330;
    VideoWriter *w;
    if (video_writer_open(&w, path, 320, 192, &o, err)) return -1;
    WmKey wk;
    wm_key_from_string(&wk, NULL);
    for (int k = 0; k < 20; k++) {
        Image f = pattern(320, 192, k);
        if (marked) {
            label_draw(&f);
            if (wm_embed(&f, &wk, provenance_payload(pi), err)) return -1;
        }
        int rc = video_writer_add(w, &f, k / 25.0, err);
        image_free(&f);
        if (rc) return -1;
    }
    Mp4Provenance mp = {.info = pi, .key = key, .w = 320, .h = 192, .frames = 20, .swapped = 20, .fps = 25, .crf = 23,
                        .input_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"};
    int rc = video_writer_finish(w, boxes ? mp4_carrier_append : NULL, &mp, err);
    video_writer_free(w);
    return rc;
}

static int write_clip(const char *path, int marked, const ProvenanceInfo *pi, const SlKeypair *key, SlErr *err) {
    return write_clip_boxes(path, marked, marked, pi, key, err);
}

static void t_mp4_carrier(void) {
    char path[256], plain[256], kp[256];
    snprintf(path, sizeof path, "%s/marked.mp4", dir);
    snprintf(plain, sizeof plain, "%s/plain.mp4", dir);
    snprintf(kp, sizeof kp, "%s/k", dir);
    SlKeypair key;
    SlErr err;
    CHECK(sl_key_generate(kp, &key, &err) == 0);
    ProvenanceInfo pi;
    provenance_info_init(&pi);
    pi.model_sha256 = "3fa2c1d0aaaabbbbccccddddeeeeffff00001111222233334444555566667777";
    pi.source_subject = "synth-0002";
    pi.target_subject = "synth-0001";
    pi.target_kind = "synthetic";
    pi.label = 1;
    CHECKF(write_clip(path, 1, &pi, &key, &err) == 0, "%s", err.msg);
    CHECKF(write_clip(plain, 0, &pi, &key, &err) == 0, "%s", err.msg);
    const uint8_t *pk = key.pk, *none = NULL;
    ProvTrust tr = trust_of(&pk, NULL), untrusted = trust_of(&none, NULL), other_wm = trust_of(&none, "another lab");
    Mp4VerifyResult r;
    CHECKF(mp4_verify(path, &tr, 1, &r, &err) == 0, "%s", err.msg);
    CHECK(r.box && r.xmp && r.bytes_match && !r.trailing);
    CHECKF(r.sig == PROV_SIG_VALID && r.sig_trusted, "signature %d: %s", r.sig, r.sig_reason);
    CHECK(strstr(r.source_type, "trainedAlgorithmicMedia") != NULL);
    CHECK(r.frames == 20 && r.label_frames == 20 && r.label_record == 1);
    CHECKF(r.wm_frames >= 18 && r.wm_clip, "watermark in %ld of 20 frames", r.wm_frames);
    CHECKF(r.wm_payload_frames >= 10 && r.payload == 0x3fa2c1d0u, "payload %08x in %ld frames", r.payload, r.wm_payload_frames);
    CHECK(r.record && strstr(r.record, "\"media\":\"video/mp4\""));
    CHECK(r.marked && r.verdict == PROV_MARKED);
    mp4_verify_result_free(&r);
    /* the carrier boxes do not disturb decoding, and the audio is still there */
    VideoReader *vr;
    VideoInfo vi;
    CHECK(video_open(path, 1, &vr, &vi, &err) == 0);
    if (vr) {
        CHECK(vi.has_audio);
        video_close(vr);
    }
    /* tampering */
    char *data;
    size_t len;
    CHECK(sl_read_file(path, 1 << 26, &data, &len, &err) == 0);
    char t1[256], t2[256];
    snprintf(t1, sizeof t1, "%s/appended.mp4", dir);
    snprintf(t2, sizeof t2, "%s/changed.mp4", dir);
    data = xrealloc(data, len + 8);
    memcpy(data + len, "\0\0\0\x08" "free", 8); /* a valid empty box after ours */
    CHECK(sl_write_atomic(t1, data, len + 8, &err) == 0);
    data[len / 2] ^= 1;
    CHECK(sl_write_atomic(t2, data, len, &err) == 0);
    free(data);
    CHECK(mp4_verify(t1, &tr, 1, &r, &err) == 0);
    CHECKF(r.sig == PROV_SIG_INVALID && r.trailing && strstr(r.sig_reason, "added"), "%d %s", r.sig, r.sig_reason);
    CHECKF(r.verdict == PROV_ALTERED && !r.marked, "verdict %d", r.verdict); /* the watermark establishes, the signature fails */
    mp4_verify_result_free(&r);
    CHECK(mp4_verify(t2, &tr, 1, &r, &err) == 0);
    CHECKF(r.sig == PROV_SIG_INVALID && strstr(r.sig_reason, "bytes were changed"), "%d %s", r.sig, r.sig_reason);
    CHECK(!r.marked && r.verdict != PROV_NOT_MARKED);
    mp4_verify_result_free(&r);
    /* an unmarked clip */
    CHECK(mp4_verify(plain, &untrusted, 1, &r, &err) == 0);
    CHECK(!r.box && !r.xmp && r.sig == PROV_SIG_ABSENT && r.wm_frames == 0 && r.label_frames == 0 && !r.marked);
    CHECK(r.verdict == PROV_NOT_MARKED);
    mp4_verify_result_free(&r);
    /* swaplab boxes, validly signed, on a clip without any mark in its pixels, by a key nobody
     * trusts: nothing establishes it (FORGED); trusted, the signature alone establishes it */
    char forged[256];
    snprintf(forged, sizeof forged, "%s/forged.mp4", dir);
    CHECKF(write_clip_boxes(forged, 0, 1, &pi, &key, &err) == 0, "%s", err.msg);
    CHECK(mp4_verify(forged, &untrusted, 1, &r, &err) == 0);
    CHECKF(r.sig == PROV_SIG_VALID && !r.sig_trusted && r.wm_frames == 0 && r.verdict == PROV_FORGED && !r.marked,
           "sig %d trusted %d wm %ld verdict %d", r.sig, r.sig_trusted, r.wm_frames, r.verdict);
    mp4_verify_result_free(&r);
    CHECK(mp4_verify(forged, &tr, 1, &r, &err) == 0);
    CHECK(r.sig_trusted && r.verdict == PROV_MARKED);
    mp4_verify_result_free(&r);
    /* another watermark key finds nothing */
    other_wm.pubkeys = &pk, other_wm.n_pubkeys = 1;
    CHECK(mp4_verify(path, &other_wm, 1, &r, &err) == 0);
    CHECK(r.wm_frames == 0 && !r.wm_clip && r.marked /* still marked by the trusted signature */);
    mp4_verify_result_free(&r);
}

static int have_models(void) {
    return sl_is_file(haar_default_path(HAAR_FRONTALFACE_DEFAULT)) && sl_is_file(haar_default_path(HAAR_EYE)) &&
           sl_is_file(getenv("SWAPLAB_LANDMARKS") ? getenv("SWAPLAB_LANDMARKS")
                                                  : "/usr/share/dlib/shape_predictor_68_face_landmarks.dat");
}

/* The whole pipeline with random tiny weights (what the face looks like does not matter here): a
 * London slideshow is swapped in every frame, marked, and keeps its audio; a face-free clip is
 * refused with nothing written. */
static void t_swap_video_run(void) {
    if (!have_models()) SKIP("OpenCV cascades or dlib model not installed (Debian opencv-data, libdlib-data)");
    SlErr err;
    char clip[256], noface[256], out[256], out2[256], kp[256];
    snprintf(clip, sizeof clip, "%s/london.mp4", dir);
    snprintf(noface, sizeof noface, "%s/noface.mp4", dir);
    snprintf(out, sizeof out, "%s/swapped.mp4", dir);
    snprintf(out2, sizeof out2, "%s/never.mp4", dir);
    snprintf(kp, sizeof kp, "%s/k2", dir);
    SlideshowOptions so;
    slideshow_options_default(&so);
    so.hold = 6, so.w = 320, so.h = 240, so.tone_hz = 440;
    const char *imgs[] = {"tests/fixtures/faces/london_001_neutral.png", "tests/fixtures/faces/london_006_smiling.png"};
    CHECKF(slideshow_write(imgs, 2, clip, &so, &err) == 12, "%s", err.msg);
    const char *neg[] = {"tests/fixtures/faces/neg_gradient.png"};
    CHECK(slideshow_write(neg, 1, noface, &so, &err) == 6);
    SwapModel *m = swap_model_new("tiny", 2, &err);
    CHECK(m != NULL);
    if (!m) return;
    SlRng rng;
    sl_rng_seed(&rng, 5);
    nn_model_init_weights(&m->model, &rng);
    NnCtx ctx;
    nn_ctx_init(&ctx, 1, 1);
    SlKeypair key;
    CHECK(sl_key_generate(kp, &key, &err) == 0);
    ProvenanceInfo pi;
    provenance_info_init(&pi);
    pi.model_sha256 = "aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44";
    pi.label = 1;
    SwapOptions o;
    swap_options_default(&o);
    SwapVideoOptions vo;
    swap_video_options_default(&vo);
    vo.crop = m->arch.size;
    ExtractOptions ex;
    extract_options_default(&ex);
    SwapVideoStats st;
    CHECKF(swap_video_run(m, &ctx, 1, clip, out, &o, &vo, &ex, &pi, &key, &st, &err) == 0, "%s", err.msg);
    CHECKF(st.frames == 12 && st.swapped == 12, "%ld frames, %ld swapped", st.frames, st.swapped);
    Mp4VerifyResult r;
    const uint8_t *pk = key.pk;
    ProvTrust tr = trust_of(&pk, NULL);
    CHECKF(mp4_verify(out, &tr, 1, &r, &err) == 0, "%s", err.msg);
    CHECK(r.sig == PROV_SIG_VALID && r.sig_trusted && r.frames == 12 && r.label_frames == 12 && r.marked);
    CHECKF(r.wm_frames >= 10, "watermark in %ld of 12 frames", r.wm_frames);
    CHECK(r.record && strstr(r.record, "\"frames_swapped\":12"));
    mp4_verify_result_free(&r);
    VideoReader *vr;
    VideoInfo vi;
    CHECK(video_open(out, 1, &vr, &vi, &err) == 0);
    if (vr) {
        CHECK(vi.has_audio && vi.w == 320 && vi.h == 240);
        video_close(vr);
    }
    /* no face in any frame: refused, nothing written */
    CHECK(swap_video_run(m, &ctx, 1, noface, out2, &o, &vo, &ex, &pi, &key, &st, &err) == -1);
    CHECKF(strstr(err.msg, noface) && strstr(err.msg, "no face"), "%s", err.msg);
    char **names;
    int n = sl_list_dir(dir, NULL, &names, &err), left = 0;
    for (int i = 0; i < n; i++) left += strncmp(names[i], "never.mp4", 9) == 0;
    sl_free_list(names, n);
    CHECK(left == 0);
    /* a corrupt clip: refused naming it */
    char bad[256];
    snprintf(bad, sizeof bad, "%s/bad.mp4", dir);
    CHECK(sl_write_atomic(bad, "not a video", 11, &err) == 0);
    CHECK(swap_video_run(m, &ctx, 1, bad, out2, &o, &vo, &ex, &pi, &key, &st, &err) == -1 && strstr(err.msg, bad));
    CHECK(!sl_is_file(out2));
    swap_model_free(m);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    snprintf(dir, sizeof dir, "/tmp/test_swap_video.%ld", (long)getpid());
    mkdir(dir, 0755);
    RUN(t_colour_smoothing);
    RUN(t_mp4_carrier);
    RUN(t_swap_video_run);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("test_swap_video");
}
