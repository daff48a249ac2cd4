/* swap_video.h — swapping a face through a whole clip (`swaplab swap --in clip.mp4`): each frame is
 * decoded (data/video.h), the face tracked with smoothed landmarks (data/extract.h), aligned, run
 * through the model and composited (infer/swap.h) with colour-transfer statistics smoothed in time
 * (so the face does not flicker), labelled and watermarked (infer/label.h, infer/watermark.h) and
 * encoded as H.264 at a CRF with the audio copied unchanged; the file carries the signed record and
 * XMP (infer/provenance/mp4_carrier.h) and is written atomically. Frames without a face pass through (still
 * labelled and watermarked: the clip as a whole is synthetic). */
#ifndef SL_SWAP_VIDEO_H
#define SL_SWAP_VIDEO_H

#include "data/extract.h"
#include "infer/swap.h"

typedef struct {
    int crf;                 /* H.264 CRF (23) */
    const char *x264_preset; /* "veryfast" */
    int crop;                /* aligned crop side (the face set's) */
    float coverage;          /* (the face set's) */
    double colour_smooth;    /* time constant in seconds of the colour statistics (0.5); 0 = per frame */
    int threads;             /* decoder/encoder threads (0 = FFmpeg's choice) */
    long limit;              /* stop after this many frames (0 = all) */
    int pipeline;            /* label, watermark and encode on a second thread, overlapping the
                                next frame's decode, tracking and swap (1) */
    int cpu_clock;           /* stats in CPU seconds of the process (all threads) instead of wall
                                seconds (benchmarks on shared machines); runs one stage at a time */
} SwapVideoOptions;

void swap_video_options_default(SwapVideoOptions *o);

/* Seconds spent per stage (wall, or process CPU with cpu_clock; the bench reports their shares),
 * and CPU seconds per thread: the calling thread (decode, track, align, model, composite), the
 * label/watermark/encode worker when pipelined (0 otherwise), and the whole process (these two and
 * the OpenMP, decoder and x264 threads); on an idle machine with P cores the frame rate is at most
 * frames / max(cpu_main, cpu_worker, cpu_total / P). */
typedef struct {
    double decode, track, align, model, composite, mark, encode, total;
    double cpu_main, cpu_worker, cpu_total;
    long frames, swapped, lost;
} SwapVideoStats;

/* Swaps decoder `target`'s face into every frame of in_clip with a face and writes out_clip.
 * pi: the provenance (swap_provenance); ex: detection and tracking (extract options); so: mask,
 * colour, blend. Refuses (-1, nothing written) a clip that does not decode or has no face at all.
 * stats may be NULL. */
int swap_video_run(SwapModel *m, NnCtx *ctx, int target, const char *in_clip, const char *out_clip,
                   const SwapOptions *so, const SwapVideoOptions *vo, const ExtractOptions *ex,
                   const ProvenanceInfo *pi, const SlKeypair *key, SwapVideoStats *stats, SlErr *err);

/* Binds a clip to a consented face set: refuses (-1 with err) unless a face of fs records the clip's
 * SHA-256 (faces.jsonl "clip") and the clip's frame at that face's index, aligned with the
 * recorded landmarks, reproduces that face's aligned crop (mean absolute difference at most 1 of
 * 255) — the crop's digest is what the consent manifest covers, so an edited faces.jsonl cannot
 * bind another clip. */
int swap_video_check_clip(const FaceSet *fs, const char *clip, SlErr *err);

/* The colour statistics smoothed over time (exposed for tests): for avg, rct and lct every field of
 * the ColourStats (infer/colour.h) of the decoded face and of the face it replaces gets an
 * exponential moving average of time constant tau seconds, and colour_apply moves the face by the
 * smoothed ones; hist and none are per frame. */
typedef struct {
    ColourMode mode;
    double tau, t_prev;
    int init;
    ColourStats from, to; /* the decoded face's and the replaced face's, smoothed */
} ColourSmoother;
void colour_smoother_init(ColourSmoother *c, ColourMode mode, double tau);
void colour_smoother_reset(ColourSmoother *c);
/* Like colour_transfer(mode, img, ref, mask, n) but with the smoothed statistics at time t. */
void colour_smoother_apply(ColourSmoother *c, double t, float *img, const float *ref, const float *mask, size_t n);

#endif
