/* bench_video.c — video on the CPU, two measurements:
 *
 * 1. (default) end-to-end swap of a 640x360 clip through infer/swap_video.h: decode, track
 *    (detection every 5 frames, landmarks every frame), align, model, composite, label + watermark,
 *    H.264 encode (CRF 23, x264 veryfast) and the MP4 provenance boxes; each stage's CPU time per
 *    frame, one stage at a time, then the same clip pipelined as the CLI runs it: wall frames/s,
 *    CPU per frame of each thread and the frame rate 2 idle cores could at most reach. The clip:
 *    synthetic volunteers (data/synth) as a slideshow with a slow pan; random model weights (the
 *    speed does not depend on them).
 *
 *      build/bench/bench_video [--preset tiny] [--frames 100] [--threads N]
 *      RESULT video preset=P frames=N cpu_ms_per_frame=.. decode=.. track=.. ... (shares in %)
 *      RESULT video_pipelined ... wall_frames_s=.. cpu_ms_main=.. cpu_ms_worker=.. bound_2core_frames_s=..
 *
 * 2. --watermark: how the per-frame watermark survives H.264 at CRF 23 and 40 and a 0.5x
 *    downscale (then CRF 23), per frame and per clip (found in >= 10% of a clip's frames, as
 *    `swaplab verify` decides), and the false-positive rate on the same clips unmarked. Clips: the 8
 *    London fixture people (neutral then smiling, 12 frames each) and 4 synthetic volunteers, as
 *    640x360 slideshows. Prints a Markdown table (docs/WATERMARK.md).
 *
 *      build/bench/bench_video --watermark [--hold 12] */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/extract.h"
#include "data/slideshow.h"
#include "data/synth/synth.h"
#include "data/video.h"
#include "infer/label.h"
#include "infer/provenance.h"
#include "infer/swap_video.h"
#include "infer/watermark.h"
#include "nn/nn.h"
#include "model/swap_model.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/rng.h"

static char tmpdir[128];

/* n synthetic volunteers' frames rendered at size, written as PNGs; paths out (malloc'ed). */
static int synth_pngs(int n, int size, uint64_t seed, char ***paths) {
    SlRng rng;
    sl_rng_seed(&rng, seed);
    *paths = xcalloc((size_t)n, sizeof **paths);
    for (int i = 0; i < n; i++) {
        SynthIdentity id;
        SynthFrame fr;
        synth_identity_random(&id, &rng);
        synth_frame_random(&fr, &rng);
        fr.yaw *= 0.3f, fr.pitch *= 0.3f, fr.roll *= 0.3f; /* near-frontal, like a talking-head clip: the
                                                             frontal-face cascade misses strong yaw */
        Image img;
        float lm[68][2];
        synth_render(&id, &id, &fr, size, &img, lm);
        char p[256];
        snprintf(p, sizeof p, "%s/synth_%02d.png", tmpdir, i);
        SlErr err;
        if (image_save_png(p, &img, NULL, 0, &err)) {
            fprintf(stderr, "bench_video: %s\n", err.msg);
            return -1;
        }
        image_free(&img);
        (*paths)[i] = xstrdup(p);
    }
    return 0;
}

static int bench_swap(const char *preset, int frames, int threads) {
    SlErr err;
    char **pngs;
    int nimg = (frames + 24) / 25;
    if (synth_pngs(nimg, 360, 11, &pngs)) return 1;
    char clip[256], out[256], kp[256];
    snprintf(clip, sizeof clip, "%s/in.mp4", tmpdir);
    snprintf(out, sizeof out, "%s/out.mp4", tmpdir);
    snprintf(kp, sizeof kp, "%s/key", tmpdir);
    SlideshowOptions so;
    slideshow_options_default(&so);
    so.w = 640, so.h = 360, so.hold = 25, so.tone_hz = 440;
    if (slideshow_write((const char *const *)pngs, nimg, clip, &so, &err) < 0) {
        fprintf(stderr, "bench_video: %s\n", err.msg);
        return 1;
    }
    SwapModel *m = swap_model_new(preset, 2, &err);
    if (!m) {
        fprintf(stderr, "bench_video: %s\n", err.msg);
        return 2;
    }
    SlRng rng;
    sl_rng_seed(&rng, 7);
    nn_model_init_weights(&m->model, &rng);
    NnCtx ctx;
    nn_ctx_init(&ctx, threads, 1);
    SlKeypair key;
    if (sl_key_generate(kp, &key, &err)) {
        fprintf(stderr, "bench_video: %s\n", err.msg);
        return 1;
    }
    ProvenanceInfo pi;
    provenance_info_init(&pi);
    pi.model_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    pi.source_subject = "synth-0002", pi.target_subject = "synth-0001", pi.preset = m->arch.preset, pi.label = 1;
    SwapOptions o;
    swap_options_default(&o);
    SwapVideoOptions vo;
    swap_video_options_default(&vo);
    vo.crop = m->arch.size;
    vo.limit = frames;
    vo.cpu_clock = 1; /* the machine may be shared: CPU seconds, not wall */
    ExtractOptions ex;
    extract_options_default(&ex);
    SwapVideoStats st;
    double w0 = sl_now();
    int rc = swap_video_run(m, &ctx, 1, clip, out, &o, &vo, &ex, &pi, &key, &st, &err);
    double wall = sl_now() - w0;
    if (rc) {
        fprintf(stderr, "bench_video: %s\n", err.msg);
        return 1;
    }
    double T = st.total;
    printf("swap of a 640x360 clip, preset %s, %ld frames (%ld with a face swapped), %d threads, one stage at a time: %.1f ms "
           "of CPU per frame (all threads), so %.1f frames/s per fully used core; wall %.1f frames/s on this machine as loaded\n",
           preset, st.frames, st.swapped, ctx.nthreads, 1e3 * T / st.frames, st.frames / T, st.frames / wall);
    printf("| stage | CPU ms/frame | share |\n| --- | ---: | ---: |\n");
    struct {
        const char *name;
        double s;
    } rows[] = {{"decode (libavcodec, RGB)", st.decode},
                {"track (detection every 5 frames, landmarks every frame, One-Euro)", st.track},
                {"align", st.align},
                {"model (encoder + decoder)", st.model},
                {"composite (mask, colour, warp, blend)", st.composite},
                {"label + watermark", st.mark},
                {"encode (x264 veryfast CRF 23, audio copy, boxes)", st.encode}};
    double other = T;
    for (int i = 0; i < 7; i++) {
        printf("| %s | %.2f | %.0f%% |\n", rows[i].name, 1e3 * rows[i].s / st.frames, 100 * rows[i].s / T);
        other -= rows[i].s;
    }
    printf("| other (open, model load of the cascades/predictor, finish) | %.2f | %.0f%% |\n", 1e3 * other / st.frames,
           100 * other / T);
    printf("RESULT video preset=%s frames=%ld cpu_ms_per_frame=%.1f wall_frames_s=%.2f decode=%.0f track=%.0f align=%.0f model=%.0f composite=%.0f "
           "mark=%.0f encode=%.0f other=%.0f\n",
           preset, st.frames, 1e3 * T / st.frames, st.frames / wall, 100 * st.decode / T, 100 * st.track / T, 100 * st.align / T,
           100 * st.model / T, 100 * st.composite / T, 100 * st.mark / T, 100 * st.encode / T, 100 * other / T);
    /* the same clip as the CLI runs it: label, watermark and encoding on a second thread */
    vo.cpu_clock = 0;
    vo.pipeline = 1;
    SwapVideoStats st2;
    w0 = sl_now();
    if (swap_video_run(m, &ctx, 1, clip, out, &o, &vo, &ex, &pi, &key, &st2, &err)) {
        fprintf(stderr, "bench_video: %s\n", err.msg);
        return 1;
    }
    double wall2 = sl_now() - w0;
    double F = (double)st2.frames, a = 1e3 * st2.cpu_main / F, b = 1e3 * st2.cpu_worker / F, tot = 1e3 * st2.cpu_total / F;
    double crit = a > b ? a : b, bound = 1e3 / (crit > tot / 2 ? crit : tot / 2);
    printf("pipelined (label, watermark and encoding on a second thread, as swaplab swap runs it): %.1f frames/s wall on "
           "this machine as loaded; CPU ms/frame: %.1f in the reading thread (decode, track, align, model, composite), "
           "%.1f in the label/watermark/encode thread, %.1f in all threads (with OpenMP, decoder and x264 threads); on 2 "
           "idle cores at most %.1f frames/s (1000 / max(reading, worker, all / 2))\n",
           st2.frames / wall2, a, b, tot, bound);
    printf("RESULT video_pipelined preset=%s frames=%ld wall_frames_s=%.2f cpu_ms_main=%.1f cpu_ms_worker=%.1f cpu_ms_all=%.1f "
           "bound_2core_frames_s=%.1f\n",
           preset, st2.frames, st2.frames / wall2, a, b, tot, bound);
    for (int i = 0; i < nimg; i++) free(pngs[i]);
    free(pngs);
    swap_model_free(m);
    return 0;
}

/* ---- watermark robustness ------------------------------------------------------------------- */
typedef struct {
    long frames, found, payload_ok;
    int clips, clips_found;
} Tally;

/* Decodes src, marks each frame (or not), optionally halves it, encodes at crf, decodes again and
 * tallies the detections. */
static int run_condition(const char *src, int mark, int half, int crf, const WmKey *key, uint32_t payload, Tally *t) {
    SlErr err;
    VideoReader *r;
    VideoInfo vi;
    if (video_open(src, 1, &r, &vi, &err)) goto fail;
    char out[256];
    snprintf(out, sizeof out, "%s/cond.mp4", tmpdir);
    VideoWriterOptions o;
    video_writer_options_default(&o);
    o.crf = crf;
    VideoWriter *w;
    int W = half ? vi.w / 2 : vi.w, H = half ? vi.h / 2 : vi.h;
    if (video_writer_open(&w, out, W, H, &o, &err)) goto fail;
    Image f;
    double tm;
    while (video_read(r, &f, &tm, &err) == 1) {
        if (mark) {
            label_draw(&f);
            if (wm_embed(&f, key, payload, &err)) goto fail;
        }
        if (half) {
            Image g = image_resize(&f, W, H);
            image_free(&f);
            f = g;
        }
        if (video_writer_add(w, &f, tm, &err)) goto fail;
        image_free(&f);
    }
    video_close(r);
    if (video_writer_finish(w, NULL, NULL, &err)) goto fail;
    video_writer_free(w);
    if (video_open(out, 1, &r, &vi, &err)) goto fail;
    long n = 0, found = 0;
    while (video_read(r, &f, &tm, &err) == 1) {
        WmResult wr;
        if (wm_detect(&f, key, &wr, &err)) goto fail;
        n++;
        found += wr.found;
        t->payload_ok += wr.found && wr.payload_ok && wr.payload == payload;
        image_free(&f);
    }
    video_close(r);
    t->frames += n;
    t->found += found;
    t->clips++;
    long need = (n + 9) / 10;
    t->clips_found += n > 0 && found >= (need > 1 ? need : 1);
    return 0;
fail:
    fprintf(stderr, "bench_video: %s\n", err.msg);
    return -1;
}

static int bench_watermark(int hold) {
    SlErr err;
    const char *fix = "tests/fixtures/faces";
    char **clips = xcalloc(12, sizeof *clips);
    int nclips = 0;
    SlideshowOptions so;
    slideshow_options_default(&so);
    so.w = 640, so.h = 360, so.hold = hold;
    for (int i = 1; i <= 8; i++) {
        char a[256], b[256], c[256];
        snprintf(a, sizeof a, "%s/london_%03d_neutral.png", fix, i);
        snprintf(b, sizeof b, "%s/london_%03d_smiling.png", fix, i);
        snprintf(c, sizeof c, "%s/london_%d.mp4", tmpdir, i);
        const char *imgs[2] = {a, b};
        if (slideshow_write(imgs, 2, c, &so, &err) < 0) {
            fprintf(stderr, "bench_video: %s (run from the repository root)\n", err.msg);
            return 1;
        }
        clips[nclips++] = xstrdup(c);
    }
    char **pngs;
    if (synth_pngs(8, 360, 21, &pngs)) return 1;
    for (int i = 0; i < 4; i++) {
        char c[256];
        snprintf(c, sizeof c, "%s/synth_%d.mp4", tmpdir, i);
        const char *imgs[2] = {pngs[2 * i], pngs[2 * i + 1]};
        if (slideshow_write(imgs, 2, c, &so, &err) < 0) {
            fprintf(stderr, "bench_video: %s\n", err.msg);
            return 1;
        }
        clips[nclips++] = xstrdup(c);
    }
    WmKey key;
    wm_key_from_string(&key, NULL);
    const uint32_t payload = 0x3fa2c1d0u;
    struct {
        const char *name;
        int mark, half, crf;
    } cond[] = {{"marked, H.264 CRF 23", 1, 0, 23},
                {"marked, H.264 CRF 40", 1, 0, 40},
                {"marked, 0.5x downscale (320x180) then CRF 23", 1, 1, 23},
                {"unmarked, H.264 CRF 23 (false positives)", 0, 0, 23},
                {"unmarked, 0.5x then CRF 23 (false positives)", 0, 1, 23}};
    printf("| clips (%d: 8 London fixture people, 4 synthetic; 640x360, %d frames each) | frames found | payload read | clips found (>= 10%% of frames) |\n",
           nclips, 2 * hold);
    printf("| --- | ---: | ---: | ---: |\n");
    for (int c = 0; c < 5; c++) {
        Tally t = {0};
        for (int i = 0; i < nclips; i++)
            if (run_condition(clips[i], cond[c].mark, cond[c].half, cond[c].crf, &key, payload, &t)) return 1;
        printf("| %s | %ld / %ld (%.1f%%) | %ld / %ld (%.1f%%) | %d / %d |\n", cond[c].name, t.found, t.frames,
               100.0 * t.found / t.frames, t.payload_ok, t.frames, 100.0 * t.payload_ok / t.frames, t.clips_found, t.clips);
        fflush(stdout);
    }
    for (int i = 0; i < nclips; i++) free(clips[i]);
    free(clips);
    for (int i = 0; i < 8; i++) free(pngs[i]);
    free(pngs);
    return 0;
}

int main(int argc, char **argv) {
    const char *preset = "tiny";
    int frames = 100, threads = 0, watermark = 0, hold = 12;
    SlArg spec[] = {
        {"--preset", SL_ARG_STR, &preset, "P", "model preset (tiny)"},
        {"--frames", SL_ARG_INT, &frames, "N", "frames of the clip (100)"},
        {"--threads", SL_ARG_INT, &threads, "N", "compute threads (default: all cores)"},
        {"--watermark", SL_ARG_FLAG, &watermark, NULL, "measure the watermark after H.264 and downscaling instead"},
        {"--hold", SL_ARG_INT, &hold, "N", "--watermark: frames per photo (12)"},
        {0},
    };
    int r = sl_args_parse("bench_video", NULL, "End-to-end video swap throughput, or watermark robustness in video.", spec,
                          argc - 1, argv + 1, NULL);
    if (r) return r == 1 ? 0 : 2;
    if (frames < 10 || frames > 100000 || hold < 1 || hold > 1000) {
        fprintf(stderr, "bench_video: need --frames 10..100000 and --hold 1..1000\n");
        return 2;
    }
    if (sodium_init() < 0) return 1;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bench_video.%ld", (long)getpid());
    mkdir(tmpdir, 0700);
    int rc = watermark ? bench_watermark(hold) : bench_swap(preset, frames, threads);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "bench_video: could not remove %s\n", tmpdir);
    return rc;
}
