/* test_video.c — data/video.h: H.264 round trips of generated clips (pixels, time stamps, variable
 * frame rate, rotation, audio copied byte for byte), bad input refused with the file named, and
 * nothing left at the output path after a failed write. Clips are generated here, never downloaded. */
#include <libavformat/avformat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/video.h"
#include "tests/test.h"
#include "util/crypto.h"
#include "util/fs.h"

static char dir[256];

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* A moving gradient with a bright square whose position encodes the frame index. */
static Image pattern(int w, int h, int k) {
    Image im = image_new(w, h, 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = im.px + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / w), p[1] = (uint8_t)(y * 255 / h), p[2] = (uint8_t)(80 + 10 * k);
        }
    int sx = 4 + (k * 6) % (w - 20), sy = 4;
    for (int y = sy; y < sy + 12; y++)
        for (int x = sx; x < sx + 12; x++) memset(im.px + ((size_t)y * w + x) * 3, 250, 3);
    return im;
}

static double mean_abs(const Image *a, const Image *b) {
    double s = 0;
    size_t n = (size_t)a->w * a->h * 3;
    for (size_t i = 0; i < n; i++) s += abs((int)a->px[i] - (int)b->px[i]);
    return s / n;
}

static int write_clip(const char *path, int w, int h, int n, const double *times, const VideoWriterOptions *o) {
    VideoWriter *vw;
    SlErr err;
    if (video_writer_open(&vw, path, w, h, o, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        Image f = pattern(w, h, k);
        int rc = video_writer_add(vw, &f, times ? times[k] : k / 25.0, &err);
        image_free(&f);
        if (rc) {
            video_writer_free(vw);
            return -1;
        }
    }
    int rc = video_writer_finish(vw, NULL, NULL, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    video_writer_free(vw);
    return rc;
}

static void t_roundtrip_pixels_and_times(void) {
    char p[512];
    path_in(p, sizeof p, "a.mp4");
    VideoWriterOptions o;
    video_writer_options_default(&o);
    o.crf = 10;
    CHECK(write_clip(p, 96, 64, 12, NULL, &o) == 0);
    VideoReader *r;
    VideoInfo vi;
    SlErr err;
    CHECKF(video_open(p, 1, &r, &vi, &err) == 0, "%s", err.msg);
    if (!r) return;
    CHECK(vi.w == 96 && vi.h == 64 && vi.rotation == 0);
    CHECK(strcmp(vi.codec, "h264") == 0);
    CHECK_NEAR(vi.fps, 25, 0.5);
    int k = 0, rc;
    Image f;
    double t;
    double worst = 0;
    while ((rc = video_read(r, &f, &t, &err)) == 1) {
        Image ref = pattern(96, 64, k);
        double d = mean_abs(&f, &ref);
        if (d > worst) worst = d;
        CHECK_NEAR(t, k / 25.0, 1e-3);
        image_free(&ref);
        image_free(&f);
        k++;
    }
    CHECK(rc == 0);
    CHECK(k == 12);
    CHECKF(worst < 4.0, "mean abs error %.2f at CRF 10", worst);
    video_close(r);
}

static void t_variable_frame_rate(void) {
    char p[512];
    path_in(p, sizeof p, "vfr.mkv");
    double times[8] = {0, 0.04, 0.1, 0.13, 0.3, 0.31, 0.5, 1.0};
    VideoWriterOptions o;
    video_writer_options_default(&o);
    CHECK(write_clip(p, 64, 48, 8, times, &o) == 0);
    VideoReader *r;
    VideoInfo vi;
    SlErr err;
    CHECKF(video_open(p, 1, &r, &vi, &err) == 0, "%s", err.msg);
    if (!r) return;
    Image f;
    double t;
    int k = 0;
    while (video_read(r, &f, &t, &err) == 1) {
        if (k < 8) CHECK_NEAR(t, times[k], 2e-3);
        image_free(&f);
        k++;
    }
    CHECK(k == 8);
    video_close(r);
}

static void t_rotation_honoured(void) {
    char p[512];
    path_in(p, sizeof p, "rot.mp4");
    VideoWriterOptions o;
    video_writer_options_default(&o);
    o.crf = 5;
    o.rotation_tag = 90;
    CHECK(write_clip(p, 96, 64, 2, NULL, &o) == 0);
    VideoReader *r;
    VideoInfo vi;
    SlErr err;
    CHECKF(video_open(p, 1, &r, &vi, &err) == 0, "%s", err.msg);
    if (!r) return;
    CHECK(vi.rotation == 90);
    CHECK(vi.w == 64 && vi.h == 96);
    Image f;
    double t;
    CHECK(video_read(r, &f, &t, &err) == 1);
    /* rotated 90 degrees clockwise: the top-left corner of the coded frame is now top-right */
    Image ref = pattern(96, 64, 0);
    double d = 0;
    for (int y = 0; y < 96; y++)
        for (int x = 0; x < 64; x++)
            for (int c = 0; c < 3; c++)
                d += abs((int)f.px[((size_t)y * 64 + x) * 3 + c] - (int)ref.px[((size_t)(63 - x) * 96 + y) * 3 + c]);
    d /= 64.0 * 96 * 3;
    CHECKF(d < 4, "mean abs error %.2f against the rotated pattern", d);
    image_free(&ref);
    image_free(&f);
    video_close(r);
}

/* The audio packets of a file's first audio stream, hashed in order. */
static int audio_digest(const char *path, char hex[65], int *npk) {
    AVFormatContext *fc = NULL;
    if (avformat_open_input(&fc, path, NULL, NULL) < 0) return -1;
    avformat_find_stream_info(fc, NULL);
    int a = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (a < 0) {
        avformat_close_input(&fc);
        return -1;
    }
    AVPacket *pk = av_packet_alloc();
    uint8_t *all = NULL;
    size_t len = 0;
    *npk = 0;
    while (av_read_frame(fc, pk) >= 0) {
        if (pk->stream_index == a) {
            all = xrealloc(all, len + pk->size + 1);
            memcpy(all + len, pk->data, pk->size);
            len += pk->size;
            (*npk)++;
        }
        av_packet_unref(pk);
    }
    sl_sha256_hex(all ? all : (uint8_t *)"", len, hex);
    free(all);
    av_packet_free(&pk);
    avformat_close_input(&fc);
    return 0;
}

static void t_audio_copied_unchanged(void) {
    char src[512], dst[512];
    path_in(src, sizeof src, "tone.mp4");
    path_in(dst, sizeof dst, "copy.mp4");
    VideoWriterOptions o;
    video_writer_options_default(&o);
    o.tone_hz = 440;
    CHECK(write_clip(src, 64, 48, 25, NULL, &o) == 0);
    VideoReader *r;
    VideoInfo vi;
    SlErr err;
    CHECKF(video_open(src, 1, &r, &vi, &err) == 0, "%s", err.msg);
    if (!r) return;
    CHECK(vi.has_audio);
    VideoWriterOptions o2;
    video_writer_options_default(&o2);
    o2.audio_from = src;
    VideoWriter *w;
    CHECKF(video_writer_open(&w, dst, vi.w, vi.h, &o2, &err) == 0, "%s", err.msg);
    Image f;
    double t;
    while (video_read(r, &f, &t, &err) == 1) {
        CHECK(video_writer_add(w, &f, t, &err) == 0);
        image_free(&f);
    }
    CHECKF(video_writer_finish(w, NULL, NULL, &err) == 0, "%s", err.msg);
    video_writer_free(w);
    video_close(r);
    char h1[65], h2[65];
    int n1 = 0, n2 = 0;
    CHECK(audio_digest(src, h1, &n1) == 0);
    CHECK(audio_digest(dst, h2, &n2) == 0);
    CHECKF(n1 > 20 && n1 == n2, "%d vs %d audio packets", n1, n2);
    CHECK(strcmp(h1, h2) == 0);
}

static int refused_naming(const char *p, const char *what) {
    VideoReader *r = NULL;
    VideoInfo vi;
    SlErr err;
    int rc = video_open(p, 1, &r, &vi, &err);
    if (rc == 0) {
        video_close(r);
        fprintf(stderr, "  %s: accepted\n", p);
        return 0;
    }
    int ok = strstr(err.msg, p) != NULL && (!what || strstr(err.msg, what));
    if (!ok) fprintf(stderr, "  message: %s\n", err.msg);
    return ok && r == NULL;
}

static void t_bad_input_refused(void) {
    char p[512], q[512];
    /* not a video at all */
    path_in(p, sizeof p, "junk.mp4");
    CHECK(sl_write_atomic(p, "this is not a video file at all, just text", 42, NULL) == 0);
    CHECK(refused_naming(p, NULL));
    /* missing file */
    path_in(p, sizeof p, "missing.mp4");
    CHECK(refused_naming(p, NULL));
    /* empty file */
    path_in(p, sizeof p, "empty.mp4");
    CHECK(sl_write_atomic(p, "", 0, NULL) == 0);
    CHECK(refused_naming(p, NULL));
    /* truncated: the first 30% of a real clip (an MP4 whose index is at the end) */
    path_in(q, sizeof q, "a.mp4");
    char *data;
    size_t len;
    SlErr err;
    CHECK(sl_read_file(q, 1 << 26, &data, &len, &err) == 0);
    path_in(p, sizeof p, "trunc.mp4");
    CHECK(sl_write_atomic(p, data, len * 3 / 10, NULL) == 0);
    CHECK(refused_naming(p, NULL));
    /* corrupt: the frames' bytes overwritten (header intact) */
    for (size_t i = len / 4; i < len - 2000 && i < len; i++) data[i] = (char)(i * 7);
    path_in(p, sizeof p, "corrupt.mkv");
    free(data);
    /* an MKV whose payload is garbage after the header */
    path_in(q, sizeof q, "vfr.mkv");
    CHECK(sl_read_file(q, 1 << 26, &data, &len, &err) == 0);
    for (size_t i = 300; i < len; i++) data[i] = (char)(i * 131 + 7);
    CHECK(sl_write_atomic(p, data, len, NULL) == 0);
    free(data);
    CHECK(refused_naming(p, NULL));
    /* no video stream: audio only */
    path_in(q, sizeof q, "tone.mp4");
    path_in(p, sizeof p, "audio_only.m4a");
    {
        AVFormatContext *ic = NULL, *oc = NULL;
        CHECK(avformat_open_input(&ic, q, NULL, NULL) == 0);
        avformat_find_stream_info(ic, NULL);
        int a = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
        avformat_alloc_output_context2(&oc, NULL, "mp4", p);
        AVStream *os = avformat_new_stream(oc, NULL);
        avcodec_parameters_copy(os->codecpar, ic->streams[a]->codecpar);
        os->codecpar->codec_tag = 0;
        os->time_base = ic->streams[a]->time_base;
        avio_open(&oc->pb, p, AVIO_FLAG_WRITE);
        CHECK(avformat_write_header(oc, NULL) >= 0);
        AVPacket *pk = av_packet_alloc();
        while (av_read_frame(ic, pk) >= 0) {
            if (pk->stream_index == a) {
                av_packet_rescale_ts(pk, ic->streams[a]->time_base, os->time_base);
                pk->stream_index = 0;
                av_interleaved_write_frame(oc, pk);
            }
            av_packet_unref(pk);
        }
        av_write_trailer(oc);
        avio_closep(&oc->pb);
        avformat_free_context(oc);
        avformat_close_input(&ic);
        av_packet_free(&pk);
    }
    CHECK(refused_naming(p, "no video stream"));
    /* absurd dimensions: a raw YUV4MPEG2 stream of 20000x16 frames (within FFmpeg's limits, beyond ours) */
    path_in(p, sizeof p, "wide.y4m");
    {
        const char *hdr = "YUV4MPEG2 W20000 H16 F25:1 Ip A1:1 C420jpeg\nFRAME\n";
        size_t hl = strlen(hdr), fl = 20000 * 16 * 3 / 2;
        char *y4m = xcalloc(1, hl + fl);
        memcpy(y4m, hdr, hl);
        CHECK(sl_write_atomic(p, y4m, hl + fl, NULL) == 0);
        free(y4m);
    }
    CHECK(refused_naming(p, "20000x16"));
    /* a header that claims 100000x100000 */
    path_in(p, sizeof p, "huge.y4m");
    const char *huge = "YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\nabc";
    CHECK(sl_write_atomic(p, huge, strlen(huge), NULL) == 0);
    CHECK(refused_naming(p, NULL));
}

static void t_failed_write_leaves_nothing(void) {
    char p[512];
    path_in(p, sizeof p, "never.mp4");
    VideoWriterOptions o;
    video_writer_options_default(&o);
    VideoWriter *w;
    SlErr err;
    CHECK(video_writer_open(&w, p, 64, 48, &o, &err) == 0);
    Image f = pattern(64, 48, 0);
    CHECK(video_writer_add(w, &f, 0, &err) == 0);
    image_free(&f);
    video_writer_free(w); /* abandoned: no finish */
    CHECK(!sl_is_file(p));
    /* no temp file left beside it either */
    char **names;
    int n = sl_list_dir(dir, NULL, &names, &err);
    int left = 0;
    for (int i = 0; i < n; i++) left += strncmp(names[i], "never.mp4", 9) == 0;
    sl_free_list(names, n);
    CHECK(left == 0);
    /* zero frames: finish refuses, nothing written */
    CHECK(video_writer_open(&w, p, 64, 48, &o, &err) == 0);
    CHECK(video_writer_finish(w, NULL, NULL, &err) == -1);
    CHECK(strstr(err.msg, p) != NULL);
    video_writer_free(w);
    CHECK(!sl_is_file(p));
    /* absurd sizes refused with the name */
    CHECK(video_writer_open(&w, p, 100000, 48, &o, &err) == -1 && strstr(err.msg, p));
    o.crf = 99;
    CHECK(video_writer_open(&w, p, 64, 48, &o, &err) == -1);
    /* odd sizes: one column and row dropped */
    o.crf = 18;
    CHECK(write_clip(p, 65, 49, 2, NULL, &o) == 0);
    VideoReader *r;
    VideoInfo vi;
    CHECK(video_open(p, 1, &r, &vi, &err) == 0);
    if (r) {
        CHECK(vi.w == 64 && vi.h == 48);
        video_close(r);
    }
}

static void t_is_video_path(void) {
    CHECK(video_is_video_path("a/b.MP4"));
    CHECK(video_is_video_path("x.mkv"));
    CHECK(!video_is_video_path("x.png"));
    CHECK(!video_is_video_path("dir.mp4/x"));
    CHECK(!video_is_video_path("noext"));
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/test_video.%ld", (long)getpid());
    mkdir(dir, 0755);
    RUN(t_roundtrip_pixels_and_times);
    RUN(t_variable_frame_rate);
    RUN(t_rotation_honoured);
    RUN(t_audio_copied_unchanged);
    RUN(t_bad_input_refused);
    RUN(t_failed_write_leaves_nothing);
    RUN(t_is_video_path);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("test_video");
}
