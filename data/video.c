/* video.c — decoding and encoding video with FFmpeg's libraries (data/video.h). Rotation follows
 * the ffmpeg program's autorotate (fftools' get_rotation of the display matrix); colours are
 * converted with the frame's own matrix (BT.601 or BT.709) and range. */
#include "data/video.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#define OUT_TB 90000 /* the writer's video time base: 1/90000 s, as MPEG */

static const char *averr(int e, char *buf, size_t n) {
    av_strerror(e, buf, n);
    return buf;
}

/* ---- reading -------------------------------------------------------------------------------- */
struct VideoReader {
    char path[SL_PATH_MAX];
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    int stream, rotation, eof_sent, done;
    double tb, t0, fps, last_t;
    long nread, bad_packets;
    int have_pending; /* the first frame, decoded by video_open */
    Image pending;
    double pending_t;
};

static int rotation_of(const AVStream *st) {
    const int32_t *m = NULL;
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 29, 100)
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
                                                         st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    if (sd && sd->size >= 9 * sizeof(int32_t)) m = (const int32_t *)sd->data;
#else
    size_t sz = 0;
    const uint8_t *d = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &sz);
    if (d && sz >= 9 * sizeof(int32_t)) m = (const int32_t *)d;
#endif
    if (!m) return 0;
    double theta = -round(av_display_rotation_get(m));
    if (isnan(theta)) return 0;
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    int r = (int)lrint(theta);
    return r == 90 || r == 180 || r == 270 ? r : 0;
}

static Image rotate_cw(const Image *s, int deg) {
    if (deg == 0) return image_clone(s);
    const int W = s->w, H = s->h;
    Image o = deg == 180 ? image_new(W, H, 3) : image_new(H, W, 3);
    for (int y = 0; y < o.h; y++)
        for (int x = 0; x < o.w; x++) {
            int sx, sy;
            if (deg == 90) sx = y, sy = H - 1 - x;
            else if (deg == 180) sx = W - 1 - x, sy = H - 1 - y;
            else sx = W - 1 - y, sy = x;
            memcpy(o.px + ((size_t)y * o.w + x) * 3, s->px + ((size_t)sy * W + sx) * 3, 3);
        }
    return o;
}

static int frame_to_image(VideoReader *r, const AVFrame *f, Image *out, SlErr *err) {
    if (f->width <= 0 || f->height <= 0 || f->width > SL_IMAGE_MAX_DIM || f->height > SL_IMAGE_MAX_DIM ||
        (uint64_t)f->width * f->height > SL_IMAGE_MAX_PIXELS)
        return sl_fail(err, "%s: a frame of %dx%d pixels is outside what swaplab reads (at most %d a side, %u pixels)",
                       r->path, f->width, f->height, SL_IMAGE_MAX_DIM, SL_IMAGE_MAX_PIXELS);
    r->sws = sws_getCachedContext(r->sws, f->width, f->height, (enum AVPixelFormat)f->format, f->width, f->height,
                                  AV_PIX_FMT_RGB24, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL,
                                  NULL);
    if (!r->sws) return sl_fail(err, "%s: cannot convert %s frames to RGB", r->path, av_get_pix_fmt_name(f->format));
    int cs = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
    int full = f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P ||
               f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
    int *inv, *tab, sr, dr, b, c, s;
    if (sws_getColorspaceDetails(r->sws, &inv, &sr, &tab, &dr, &b, &c, &s) >= 0)
        sws_setColorspaceDetails(r->sws, sws_getCoefficients(cs), full, tab, 1, b, c, s);
    Image img = image_new(f->width, f->height, 3);
    uint8_t *dst[4] = {img.px, NULL, NULL, NULL};
    int ls[4] = {3 * f->width, 0, 0, 0};
    sws_scale(r->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls);
    if (r->rotation) {
        *out = rotate_cw(&img, r->rotation);
        image_free(&img);
    } else {
        *out = img;
    }
    return 0;
}

/* Decodes the next frame into out/t: 1, 0 at the end, -1 on a read error. */
static int decode_next(VideoReader *r, Image *out, double *t, SlErr *err) {
    char eb[128];
    for (;;) {
        int e = avcodec_receive_frame(r->dec, r->frame);
        if (e == 0) {
            int64_t ts = r->frame->best_effort_timestamp;
            double tt = ts == AV_NOPTS_VALUE ? (r->nread ? r->last_t + (r->fps > 0 ? 1 / r->fps : 0.04) : 0)
                                             : ts * r->tb - r->t0;
            int rc = frame_to_image(r, r->frame, out, err);
            av_frame_unref(r->frame);
            if (rc) return -1;
            r->last_t = tt;
            r->nread++;
            *t = tt;
            return 1;
        }
        if (e == AVERROR_EOF) return 0;
        if (e != AVERROR(EAGAIN)) return sl_fail(err, "%s: the video cannot be decoded (%s)", r->path, averr(e, eb, sizeof eb));
        if (r->eof_sent) return 0;
        e = av_read_frame(r->fmt, r->pkt);
        if (e == AVERROR_EOF || e == AVERROR(EIO) || e == AVERROR_INVALIDDATA) {
            /* the end, or a file cut short: decode what was buffered */
            avcodec_send_packet(r->dec, NULL);
            r->eof_sent = 1;
            continue;
        }
        if (e < 0) return sl_fail(err, "%s: reading the file failed (%s)", r->path, averr(e, eb, sizeof eb));
        if (r->pkt->stream_index == r->stream) {
            e = avcodec_send_packet(r->dec, r->pkt);
            if (e == AVERROR_INVALIDDATA) r->bad_packets++; /* a damaged packet: skipped, as ffmpeg does */
            else if (e < 0 && e != AVERROR(EAGAIN)) {
                av_packet_unref(r->pkt);
                return sl_fail(err, "%s: the video cannot be decoded (%s)", r->path, averr(e, eb, sizeof eb));
            }
        }
        av_packet_unref(r->pkt);
    }
}

void video_close(VideoReader *r) {
    if (!r) return;
    if (r->have_pending) image_free(&r->pending);
    sws_freeContext(r->sws);
    av_packet_free(&r->pkt);
    av_frame_free(&r->frame);
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
    free(r);
}

int video_open(const char *path, int threads, VideoReader **out, VideoInfo *info, SlErr *err) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    av_log_set_level(AV_LOG_FATAL);
    VideoReader *r = xcalloc(1, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    char eb[128];
    int e = avformat_open_input(&r->fmt, path, NULL, NULL);
    if (e < 0) {
        sl_fail(err, "%s: not a readable video file (%s)", path, averr(e, eb, sizeof eb));
        goto fail;
    }
    e = avformat_find_stream_info(r->fmt, NULL);
    if (e < 0) {
        sl_fail(err, "%s: not a readable video file (%s)", path, averr(e, eb, sizeof eb));
        goto fail;
    }
    const AVCodec *codec = NULL;
    r->stream = av_find_best_stream(r->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (r->stream == AVERROR_STREAM_NOT_FOUND) {
        sl_fail(err, "%s: the file has no video stream", path);
        goto fail;
    }
    if (r->stream < 0 || !codec) {
        AVStream *vs = NULL;
        for (unsigned i = 0; i < r->fmt->nb_streams; i++)
            if (r->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) vs = r->fmt->streams[i];
        sl_fail(err, "%s: the video codec %s is not supported by this FFmpeg", path,
                vs ? avcodec_get_name(vs->codecpar->codec_id) : "(unknown)");
        goto fail;
    }
    AVStream *st = r->fmt->streams[r->stream];
    if (st->codecpar->width > SL_IMAGE_MAX_DIM || st->codecpar->height > SL_IMAGE_MAX_DIM ||
        (uint64_t)st->codecpar->width * st->codecpar->height > SL_IMAGE_MAX_PIXELS) {
        sl_fail(err, "%s: the video is %dx%d pixels, outside what swaplab reads (at most %d a side, %u pixels)", path,
                st->codecpar->width, st->codecpar->height, SL_IMAGE_MAX_DIM, SL_IMAGE_MAX_PIXELS);
        goto fail;
    }
    r->dec = avcodec_alloc_context3(codec);
    if (!r->dec || avcodec_parameters_to_context(r->dec, st->codecpar) < 0) {
        sl_fail(err, "%s: cannot set up the %s decoder", path, codec->name);
        goto fail;
    }
    r->dec->thread_count = threads;
    r->dec->pkt_timebase = st->time_base;
    e = avcodec_open2(r->dec, codec, NULL);
    if (e < 0) {
        sl_fail(err, "%s: cannot open the %s decoder (%s)", path, codec->name, averr(e, eb, sizeof eb));
        goto fail;
    }
    r->frame = av_frame_alloc();
    r->pkt = av_packet_alloc();
    r->tb = av_q2d(st->time_base);
    r->t0 = st->start_time != AV_NOPTS_VALUE ? st->start_time * r->tb : 0;
    AVRational fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    r->fps = fr.num && fr.den ? av_q2d(fr) : 0;
    r->rotation = rotation_of(st);
    e = decode_next(r, &r->pending, &r->pending_t, err);
    if (e < 0) goto fail;
    if (e == 0) {
        sl_fail(err, "%s: the video stream has no frame that decodes (empty, truncated or corrupt)", path);
        goto fail;
    }
    r->have_pending = 1;
    info->w = r->pending.w;
    info->h = r->pending.h;
    info->rotation = r->rotation;
    info->fps = r->fps;
    info->duration = r->fmt->duration != AV_NOPTS_VALUE ? r->fmt->duration / (double)AV_TIME_BASE : 0;
    info->frames_hint = st->nb_frames > 0 ? (long)st->nb_frames : 0;
    snprintf(info->codec, sizeof info->codec, "%s", codec->name);
    for (unsigned i = 0; i < r->fmt->nb_streams; i++)
        if (r->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) info->has_audio = 1;
    *out = r;
    return 0;
fail:
    video_close(r);
    return -1;
}

int video_read(VideoReader *r, Image *rgb, double *t, SlErr *err) {
    if (r->have_pending) {
        *rgb = r->pending;
        *t = r->pending_t;
        r->have_pending = 0;
        memset(&r->pending, 0, sizeof r->pending);
        return 1;
    }
    if (r->done) return 0;
    if (r->nread >= VIDEO_MAX_FRAMES) return sl_fail(err, "%s: more than %ld frames", r->path, VIDEO_MAX_FRAMES);
    int e = decode_next(r, rgb, t, err);
    if (e == 0) r->done = 1;
    return e;
}

int video_is_video_path(const char *path) {
    static const char *const ext[] = {"mp4", "mov", "mkv", "webm", "avi", "m4v", "mpg",
                                      "mpeg", "ts", "flv", "wmv", "y4m", "gif", NULL};
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return 0;
    for (int i = 0; ext[i]; i++)
        if (strcasecmp(dot + 1, ext[i]) == 0) return 1;
    return 0;
}

/* ---- writing -------------------------------------------------------------------------------- */
struct VideoWriter {
    char path[SL_PATH_MAX], tmp[SL_PATH_MAX];
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *vst;
    struct SwsContext *sws;
    AVFrame *yuv;
    AVPacket *pkt;
    int w, h, ew, eh; /* given size; encoded (even) size */
    int64_t last_pts, frame_dur;
    long nframes;
    int header_written, finished;
    /* audio copied from another file */
    AVFormatContext *ain;
    int ain_stream;
    AVStream *ast;
    int64_t ain_offset; /* the source's video start, in the audio stream's time base */
    int ain_done;
    /* generated tone */
    AVCodecContext *aenc;
    AVFrame *aframe;
    double tone_hz;
    int64_t tone_samples;
};

void video_writer_options_default(VideoWriterOptions *o) {
    memset(o, 0, sizeof *o);
    o->crf = 23;
    o->preset = "veryfast";
    o->fps = 25;
}

long video_writer_frames(const VideoWriter *w) { return w->nframes; }

static int write_packets(VideoWriter *w, AVCodecContext *enc, AVStream *st, SlErr *err) {
    char eb[128];
    for (;;) {
        int e = avcodec_receive_packet(enc, w->pkt);
        if (e == AVERROR(EAGAIN) || e == AVERROR_EOF) return 0;
        if (e < 0) return sl_fail(err, "%s: encoding failed (%s)", w->path, averr(e, eb, sizeof eb));
        if (enc == w->enc && w->pkt->duration <= 0) /* x264 leaves it 0; MP4 would drop the last frame */
            w->pkt->duration = w->frame_dur;
        av_packet_rescale_ts(w->pkt, enc->time_base, st->time_base);
        w->pkt->stream_index = st->index;
        e = av_interleaved_write_frame(w->oc, w->pkt);
        if (e < 0) return sl_fail(err, "%s: writing failed (%s)", w->path, averr(e, eb, sizeof eb));
    }
}

/* Copies audio packets of the source up to time t seconds (all of them when t < 0). */
static int pump_audio(VideoWriter *w, double t, SlErr *err) {
    char eb[128];
    if (w->ain && !w->ain_done) {
        AVStream *is = w->ain->streams[w->ain_stream];
        for (;;) {
            int e = av_read_frame(w->ain, w->pkt);
            if (e < 0) {
                w->ain_done = 1;
                break;
            }
            if (w->pkt->stream_index != w->ain_stream) {
                av_packet_unref(w->pkt);
                continue;
            }
            if (w->pkt->pts != AV_NOPTS_VALUE) w->pkt->pts -= w->ain_offset;
            if (w->pkt->dts != AV_NOPTS_VALUE) w->pkt->dts -= w->ain_offset;
            double pt = w->pkt->pts != AV_NOPTS_VALUE ? w->pkt->pts * av_q2d(is->time_base) : 0;
            av_packet_rescale_ts(w->pkt, is->time_base, w->ast->time_base);
            w->pkt->stream_index = w->ast->index;
            w->pkt->pos = -1;
            e = av_interleaved_write_frame(w->oc, w->pkt);
            if (e < 0) return sl_fail(err, "%s: copying the audio failed (%s)", w->path, averr(e, eb, sizeof eb));
            if (t >= 0 && pt > t + 0.5) break;
        }
    }
    if (w->aenc) {
        const int sr = w->aenc->sample_rate, n = w->aenc->frame_size;
        int64_t upto = t < 0 ? (int64_t)ceil((w->last_pts + OUT_TB / 25.0) / OUT_TB * sr) : (int64_t)ceil((t + 0.5) * sr);
        while (w->tone_samples < upto) {
            if (av_frame_make_writable(w->aframe) < 0) return sl_fail(err, "%s: out of memory", w->path);
            float *s = (float *)w->aframe->data[0];
            for (int i = 0; i < n; i++)
                s[i] = 0.2f * (float)sin(2 * M_PI * w->tone_hz * (double)(w->tone_samples + i) / sr);
            w->aframe->pts = w->tone_samples;
            w->tone_samples += n;
            int e = avcodec_send_frame(w->aenc, w->aframe);
            if (e < 0) return sl_fail(err, "%s: encoding the tone failed (%s)", w->path, averr(e, eb, sizeof eb));
            if (write_packets(w, w->aenc, w->ast, err)) return -1;
        }
        if (t < 0) {
            avcodec_send_frame(w->aenc, NULL);
            if (write_packets(w, w->aenc, w->ast, err)) return -1;
        }
    }
    return 0;
}

static int open_audio_source(VideoWriter *w, const char *src, SlErr *err) {
    char eb[128];
    int e = avformat_open_input(&w->ain, src, NULL, NULL);
    if (e >= 0) e = avformat_find_stream_info(w->ain, NULL);
    if (e < 0) return sl_fail(err, "%s: cannot read it to copy its audio (%s)", src, averr(e, eb, sizeof eb));
    int a = av_find_best_stream(w->ain, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (a < 0) {
        avformat_close_input(&w->ain);
        return 0; /* no audio: nothing to copy */
    }
    AVStream *is = w->ain->streams[a];
    if (avformat_query_codec(w->oc->oformat, is->codecpar->codec_id, FF_COMPLIANCE_NORMAL) != 1) {
        sl_warn("%s: its %s audio cannot be stored unchanged in %s; the output has no audio", src,
                avcodec_get_name(is->codecpar->codec_id), w->path);
        avformat_close_input(&w->ain);
        return 0;
    }
    w->ain_stream = a;
    w->ast = avformat_new_stream(w->oc, NULL);
    if (!w->ast || avcodec_parameters_copy(w->ast->codecpar, is->codecpar) < 0)
        return sl_fail(err, "%s: cannot add an audio stream", w->path);
    w->ast->codecpar->codec_tag = 0;
    w->ast->time_base = is->time_base;
    int v = av_find_best_stream(w->ain, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int64_t vstart = v >= 0 && w->ain->streams[v]->start_time != AV_NOPTS_VALUE
                         ? av_rescale_q(w->ain->streams[v]->start_time, w->ain->streams[v]->time_base, is->time_base)
                         : 0;
    w->ain_offset = vstart;
    return 0;
}

static int open_tone(VideoWriter *w, double hz, SlErr *err) {
    const AVCodec *ac = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!ac) return sl_fail(err, "%s: this FFmpeg has no AAC encoder for the tone", w->path);
    w->aenc = avcodec_alloc_context3(ac);
    w->aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    w->aenc->sample_rate = 44100;
    w->aenc->bit_rate = 64000;
    av_channel_layout_default(&w->aenc->ch_layout, 1);
    w->aenc->time_base = (AVRational){1, 44100};
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER) w->aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (avcodec_open2(w->aenc, ac, NULL) < 0) return sl_fail(err, "%s: cannot open the AAC encoder", w->path);
    w->ast = avformat_new_stream(w->oc, NULL);
    avcodec_parameters_from_context(w->ast->codecpar, w->aenc);
    w->ast->time_base = w->aenc->time_base;
    w->aframe = av_frame_alloc();
    w->aframe->format = AV_SAMPLE_FMT_FLTP;
    w->aframe->sample_rate = 44100;
    w->aframe->nb_samples = w->aenc->frame_size;
    av_channel_layout_copy(&w->aframe->ch_layout, &w->aenc->ch_layout);
    if (av_frame_get_buffer(w->aframe, 0) < 0) return sl_fail(err, "%s: out of memory", w->path);
    w->tone_hz = hz;
    return 0;
}

int video_writer_open(VideoWriter **out, const char *path, int w_, int h_, const VideoWriterOptions *o, SlErr *err) {
    *out = NULL;
    av_log_set_level(AV_LOG_FATAL);
    char eb[128];
    if (w_ < 16 || h_ < 16 || w_ > SL_IMAGE_MAX_DIM || h_ > SL_IMAGE_MAX_DIM)
        return sl_fail(err, "%s: cannot write %dx%d video (16 to %d pixels a side)", path, w_, h_, SL_IMAGE_MAX_DIM);
    if (o->crf < 0 || o->crf > 51) return sl_fail(err, "%s: CRF %d is outside 0..51", path, o->crf);
    VideoWriter *w = xcalloc(1, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", path, (long)getpid());
    w->w = w_, w->h = h_, w->ew = w_ & ~1, w->eh = h_ & ~1;
    w->last_pts = -1;
    const AVOutputFormat *of = av_guess_format(NULL, path, NULL);
    if (!of || !video_is_video_path(path)) of = av_guess_format("mp4", NULL, NULL);
    int e = avformat_alloc_output_context2(&w->oc, of, NULL, w->tmp);
    if (e < 0 || !w->oc) {
        sl_fail(err, "%s: cannot set up the container (%s)", path, averr(e, eb, sizeof eb));
        goto fail;
    }
    const AVCodec *vc = avcodec_find_encoder_by_name("libx264");
    if (!vc) {
        sl_fail(err, "%s: this FFmpeg has no libx264 H.264 encoder", path);
        goto fail;
    }
    w->enc = avcodec_alloc_context3(vc);
    w->enc->width = w->ew;
    w->enc->height = w->eh;
    w->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    w->enc->time_base = (AVRational){1, OUT_TB};
    double fps = o->fps > 0 ? o->fps : 25;
    w->enc->framerate = av_d2q(fps, 100000);
    w->frame_dur = llrint(OUT_TB / fps);
    w->enc->thread_count = o->threads;
    w->enc->colorspace = AVCOL_SPC_SMPTE170M;
    w->enc->color_primaries = AVCOL_PRI_SMPTE170M;
    w->enc->color_trc = AVCOL_TRC_SMPTE170M;
    w->enc->color_range = AVCOL_RANGE_MPEG;
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER) w->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    char crf[16];
    snprintf(crf, sizeof crf, "%d", o->crf);
    av_opt_set(w->enc->priv_data, "crf", crf, 0);
    av_opt_set(w->enc->priv_data, "preset", o->preset ? o->preset : "veryfast", 0);
    /* x264's macroblock-tree rate control read memory it had not written (Debian's libx264 164): the
     * same frames encoded to different bytes depending on what the allocator handed it (a clip of
     * 30 synthetic frames: 4 different files for MALLOC_PERTURB_=0, 85 and 170; with mbtree off,
     * one). Off, so that a clip is a function of its frames (and MPI ranks write what one process
     * writes); CRF keeps its meaning, the bit allocation across frames is x264's plain one. */
    av_opt_set(w->enc->priv_data, "x264-params", "mbtree=0", 0);
    e = avcodec_open2(w->enc, vc, NULL);
    if (e < 0) {
        sl_fail(err, "%s: cannot open the H.264 encoder (%s)", path, averr(e, eb, sizeof eb));
        goto fail;
    }
    w->vst = avformat_new_stream(w->oc, NULL);
    avcodec_parameters_from_context(w->vst->codecpar, w->enc);
    w->vst->time_base = w->enc->time_base;
    if (o->rotation_tag) {
        uint8_t *m = av_stream_new_side_data(w->vst, AV_PKT_DATA_DISPLAYMATRIX, 9 * sizeof(int32_t));
        if (m) av_display_rotation_set((int32_t *)m, (double)o->rotation_tag); /* read back as -angle: see rotation_of */
    }
    if (o->audio_from && open_audio_source(w, o->audio_from, err)) goto fail;
    if (!o->audio_from && o->tone_hz > 0 && open_tone(w, o->tone_hz, err)) goto fail;
    w->yuv = av_frame_alloc();
    w->yuv->format = AV_PIX_FMT_YUV420P;
    w->yuv->width = w->ew;
    w->yuv->height = w->eh;
    if (av_frame_get_buffer(w->yuv, 0) < 0) {
        sl_fail(err, "%s: out of memory", path);
        goto fail;
    }
    w->sws = sws_getContext(w->ew, w->eh, AV_PIX_FMT_RGB24, w->ew, w->eh, AV_PIX_FMT_YUV420P,
                            SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    w->pkt = av_packet_alloc();
    e = avio_open(&w->oc->pb, w->tmp, AVIO_FLAG_WRITE);
    if (e < 0) {
        sl_fail(err, "%s: cannot create %s (%s)", path, w->tmp, averr(e, eb, sizeof eb));
        goto fail;
    }
    e = avformat_write_header(w->oc, NULL);
    if (e < 0) {
        sl_fail(err, "%s: cannot write the container header (%s)", path, averr(e, eb, sizeof eb));
        goto fail;
    }
    w->header_written = 1;
    *out = w;
    return 0;
fail:
    video_writer_free(w);
    return -1;
}

int video_writer_add(VideoWriter *w, const Image *rgb, double t, SlErr *err) {
    SL_ASSERT(!w->finished && rgb->c == 3 && rgb->w == w->w && rgb->h == w->h);
    char eb[128];
    if (av_frame_make_writable(w->yuv) < 0) return sl_fail(err, "%s: out of memory", w->path);
    const uint8_t *src[4] = {rgb->px, NULL, NULL, NULL};
    int ls[4] = {3 * rgb->w, 0, 0, 0};
    sws_scale(w->sws, src, ls, 0, w->eh, w->yuv->data, w->yuv->linesize);
    int64_t pts = llrint(t * OUT_TB);
    if (pts <= w->last_pts) pts = w->last_pts + 1;
    w->yuv->pts = w->last_pts = pts;
    int e = avcodec_send_frame(w->enc, w->yuv);
    if (e < 0) return sl_fail(err, "%s: encoding failed (%s)", w->path, averr(e, eb, sizeof eb));
    if (write_packets(w, w->enc, w->vst, err)) return -1;
    w->nframes++;
    return pump_audio(w, t, err);
}

int video_writer_finish(VideoWriter *w, VideoFinishHook hook, void *ctx, SlErr *err) {
    SL_ASSERT(!w->finished);
    char eb[128];
    if (w->nframes == 0) return sl_fail(err, "%s: no frames to write", w->path);
    avcodec_send_frame(w->enc, NULL);
    if (write_packets(w, w->enc, w->vst, err)) return -1;
    if (pump_audio(w, -1, err)) return -1;
    int e = av_write_trailer(w->oc);
    if (e < 0) return sl_fail(err, "%s: writing the container failed (%s)", w->path, averr(e, eb, sizeof eb));
    e = avio_closep(&w->oc->pb);
    if (e < 0) return sl_fail(err, "%s: writing failed (%s)", w->path, averr(e, eb, sizeof eb));
    if (hook && hook(w->tmp, ctx, err)) return -1;
    int fd = open(w->tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        if (fd >= 0) close(fd);
        return sl_fail(err, "%s: cannot flush %s (%s)", w->path, w->tmp, strerror(errno));
    }
    close(fd);
    if (rename(w->tmp, w->path) != 0) return sl_fail(err, "%s: cannot rename %s to it (%s)", w->path, w->tmp, strerror(errno));
    w->finished = 1;
    return 0;
}

void video_writer_free(VideoWriter *w) {
    if (!w) return;
    if (w->oc && w->oc->pb) avio_closep(&w->oc->pb);
    if (!w->finished) unlink(w->tmp);
    sws_freeContext(w->sws);
    av_frame_free(&w->yuv);
    av_frame_free(&w->aframe);
    av_packet_free(&w->pkt);
    avcodec_free_context(&w->enc);
    avcodec_free_context(&w->aenc);
    avformat_close_input(&w->ain);
    avformat_free_context(w->oc);
    free(w);
}
