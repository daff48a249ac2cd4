/* video.h — video files in and out with FFmpeg's libraries (libavformat, libavcodec, libswscale,
 * libavutil; no ffmpeg program): decode any container and codec FFmpeg reads into RGB Images with
 * their time stamps (rotation metadata applied, variable frame rate kept), and encode H.264
 * (libx264) at a CRF into MP4/MKV/MOV, copying the audio stream of another file unchanged, written
 * atomically (temp file, then rename). https://ffmpeg.org/doxygen/5.1/
 *
 *   VideoReader *r; VideoInfo vi; SlErr err;
 *   if (video_open("clip.mp4", &r, &vi, &err)) { puts(err.msg); ... }   // corrupt, empty: refused
 *   Image f; double t;
 *   while ((k = video_read(r, &f, &t, &err)) == 1) { ...; image_free(&f); }   // k < 0: error
 *   video_close(r);
 *
 *   VideoWriterOptions o; video_writer_options_default(&o); o.audio_from = "clip.mp4";
 *   VideoWriter *w; video_writer_open(&w, "out.mp4", vi.w, vi.h, &o, &err);
 *   video_writer_add(w, &f, t, &err); ...; video_writer_finish(w, NULL, NULL, &err); video_writer_free(w);
 *
 * Every failure names the file. Nothing appears at the output path unless video_writer_finish
 * succeeds. */
#ifndef SL_VIDEO_H
#define SL_VIDEO_H

#include "data/image.h"
#include "util/util.h"

#define VIDEO_MAX_FRAMES 10000000L

typedef struct VideoReader VideoReader;

typedef struct {
    int w, h;         /* frame size as displayed (after rotation) */
    int rotation;     /* clockwise degrees applied to the coded frames: 0, 90, 180 or 270 */
    double fps;       /* average frame rate from the container (0 when unknown) */
    double duration;  /* seconds (0 when unknown) */
    long frames_hint; /* frame count the container states (0 when unknown) */
    char codec[32];   /* the video codec's name */
    int has_audio;    /* the file has an audio stream */
} VideoInfo;

/* Opens path and decodes its first frame (so a file without a decodable frame is refused here).
 * Refuses: unreadable or corrupt files, no video stream, a codec FFmpeg cannot decode, zero
 * frames, frames larger than SL_IMAGE_MAX_DIM / SL_IMAGE_MAX_PIXELS. threads: decoder threads
 * (0 = FFmpeg's choice). */
int video_open(const char *path, int threads, VideoReader **out, VideoInfo *info, SlErr *err);
/* The next frame as RGB (c = 3, rotation applied) and its presentation time in seconds from the
 * start of the stream. Returns 1 (a frame; free it), 0 (end of stream) or -1 with err (a corrupt
 * packet in the middle of a file that decoded so far: the frames read stay valid). */
int video_read(VideoReader *r, Image *rgb, double *t, SlErr *err);
void video_close(VideoReader *r);

/* 1 when path names a file a video container extension (mp4, mov, mkv, webm, avi, m4v, mpg, mpeg,
 * ts, flv, wmv, y4m, gif), case-insensitive. */
int video_is_video_path(const char *path);

typedef struct VideoWriter VideoWriter;

typedef struct {
    int crf;                /* x264 constant rate factor 0..51 (default 23) */
    const char *preset;     /* x264 preset (default "veryfast") */
    double fps;             /* nominal frame rate for rate control (default 25) */
    int threads;            /* encoder threads (0 = x264's choice; default 0) */
    const char *audio_from; /* copy this file's first audio stream unchanged (NULL: no audio) */
    int rotation_tag;       /* store a display rotation (0/90/180/270 clockwise); frames are not
                               rotated: for tests of readers' rotation handling (default 0) */
    double tone_hz;         /* > 0: add an AAC sine tone of this pitch as the audio (test clips;
                               ignored when audio_from is set) */
} VideoWriterOptions;

void video_writer_options_default(VideoWriterOptions *o);

/* Starts writing path (the container from its extension; .mp4 if unknown) through a temp file
 * beside it. w and h odd: the last column/row is dropped (yuv420p needs even sizes). Returns -1
 * with err when no H.264 encoder is available or audio_from cannot be read. */
int video_writer_open(VideoWriter **out, const char *path, int w, int h, const VideoWriterOptions *o,
                      SlErr *err);
/* Encodes one RGB frame (c = 3, the size given at open) at time t seconds; times must increase. */
int video_writer_add(VideoWriter *w, const Image *rgb, double t, SlErr *err);
/* Flushes the encoder, copies the rest of the audio, writes the trailer, then calls hook (may be
 * NULL) with the finished temp file's path (e.g. to append a metadata box), then renames the temp
 * file over the path. On failure nothing is left at path and the temp file is removed. */
typedef int (*VideoFinishHook)(const char *tmp_path, void *ctx, SlErr *err);
int video_writer_finish(VideoWriter *w, VideoFinishHook hook, void *ctx, SlErr *err);
/* Frees w; an unfinished writer's temp file is removed. */
void video_writer_free(VideoWriter *w);
/* Frames written so far. */
long video_writer_frames(const VideoWriter *w);

#endif
