/* temporal.h — what a detector can see in time, clip by clip: blinks from the 68 landmarks of each
 * frame, flicker of the swap mask's border from frame to frame, and the frame scores of a clip
 * aggregated into one. Pure functions (temporal_ear, temporal_blinks, temporal_flicker,
 * temporal_aggregate) are tested on synthetic sequences in tests/test_temporal.c; temporal_dataset
 * runs them over the clips of a detector dataset for `swaplab detect eval --temporal`.
 *
 * Blinks (Soukupová & Čech 2016, "Real-Time Eye Blink Detection using Facial Landmarks"; the "too
 * few blinks" cue of Li, Chang & Lyu 2018, "In Ictu Oculi"): the eye aspect ratio of a frame is
 *   EAR = (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)
 * over the six points p1..p6 of an eye (iBUG 68: 36-41 the right eye, 42-47 the left), the mean of
 * both eyes. The clip's open-eye level is the open_pct-th percentile of its EARs (most frames have
 * open eyes); a blink starts at a frame whose EAR is below close_ratio x open and lasts until the
 * first frame at or above open_ratio x open (hysteresis: noise around the threshold does not make
 * two blinks of one). A blink's duration is (t_last - t_first) + dt, dt the clip's median frame
 * interval (each frame stands for one interval); a blink cut by the clip's end counts with what
 * was seen. Rate = blinks / duration x 60, the clip's duration being t[n-1] - t[0] + dt.
 *
 * Border flicker: per pair of consecutive frames, the luminance difference d = Y(t+1) - Y(t)
 * (BT.601, 0..255), less its least-squares fit a + b (Y(t) + Y(t+1)) / 2 over the whole frame (a
 * global change of exposure or light, gain and offset, is no flicker), in absolute value, averaged in three regions
 * of frame t: the band within w of the border of the convex hull of the 68 landmarks (w = 6% of the
 * square root of the hull's area, at least 1.5 pixels), the interior (inside, farther than 2w from
 * the border) and the background (outside, farther than 2w). Over the pairs, each region's mean;
 * ratio = (band + 0.5) / (reference + 0.5), reference = the mean of interior and background (the
 * interior alone when the frame has no background), 0.5 a level of noise floor: a steady clip is
 * 1, a border that flickers more than the rest of the frame moves above 1, motion of the whole
 * frame counts in the reference as in the band. */
#ifndef SL_DETECT_TEMPORAL_H
#define SL_DETECT_TEMPORAL_H

#include <jansson.h>

#include "data/image.h"
#include "detect/calib.h"
#include "detect/dataset.h"
#include "util/util.h"

#define TEMPORAL_NLM 68

typedef struct {
    double open_pct;    /* percentile of the clip's EARs taken as the open-eye level (75) */
    double close_ratio; /* a blink starts below close_ratio x open (0.75) */
    double open_ratio;  /* ... and ends at or above open_ratio x open (0.85) */
} TemporalBlinkCfg;
void temporal_blink_default(TemporalBlinkCfg *c);

/* The eye aspect ratio of one face (the mean of both eyes); NaN when an eye's width is 0. */
double temporal_ear(const float lm[TEMPORAL_NLM][2]);

typedef struct {
    int n_frames;
    double dt;           /* median frame interval, seconds */
    double duration_s;   /* t[n-1] - t[0] + dt */
    double ear_open;     /* the open-eye level */
    double ear_min;
    double threshold;    /* close_ratio x ear_open */
    int n_blinks;
    double rate_per_min;
    double mean_ms;      /* NaN without blinks */
} TemporalBlinks;

/* Blinks of a clip from its frame times t[0..n) (seconds, strictly increasing) and EARs. -1 with err
 * (a sentence, no file name: the caller adds the clip) when n < 2, a time is not finite or not
 * increasing, an EAR is not finite, or the configuration is out of range. */
int temporal_blinks(const double *t, const double *ear, int n, const TemporalBlinkCfg *c, TemporalBlinks *out,
                    SlErr *err);

typedef struct {
    int n_pairs;
    double band, interior, background; /* mean |residual temporal difference| of luminance, 0..255 */
    double ratio;                      /* see above */
    double band_px;                    /* w of the first frame */
} TemporalFlicker;

/* Border flicker of n frames (same size, 1 or 3 channels) with the landmarks lm[i] of frame i (in
 * its pixels). -1 with err when n < 2, lm is NULL, the sizes differ, or a frame's hull leaves no
 * interior. */
int temporal_flicker(const Image *frames, const float (*lm)[TEMPORAL_NLM][2], int n, TemporalFlicker *out, SlErr *err);

/* A clip's frame scores (logits) aggregated: the mean, the mean of the k highest (k <= 0: ceil(n/4))
 * and the maximum. n >= 1. */
typedef struct {
    double mean, topk, max;
    int k;
} TemporalAgg;
void temporal_aggregate(const float *logits, int n, int k, TemporalAgg *a);

/* ---- a detector dataset, clip by clip (detect eval --temporal) ------------------------------- */

typedef enum { TEMPORAL_LM_DETECT, TEMPORAL_LM_DATASET } TemporalLmSource;

typedef struct {
    TemporalLmSource lm_source; /* DETECT: dlib's 68-point predictor on each frame's pixels, from the box
                                   fitted to the dataset's landmarks (the face detector's part); DATASET:
                                   the stored landmarks (a fake's are its target frame's: its blinks are
                                   the real clip's) */
    const char *lm_model;       /* the dlib model for DETECT (NULL: lm_default_path()) */
    TemporalBlinkCfg blink;
} TemporalOpts;

typedef struct {
    int ok;             /* 0: no features; why says so */
    char why[1536];
    int n_frames;
    int *idx;           /* the clip's samples in time order (n_frames; owned) */
    double *ear;        /* per frame, in that order (owned) */
    TemporalBlinks blinks;
    TemporalFlicker flicker;
} TemporalClip;

/* Features of every clip of ds (clip_of[i] in 0..n_clips-1, as detds_clips), frames ordered by their
 * labels.csv time (dataset order where times tie or are missing): out[n_clips] (free with
 * temporal_clips_free). A clip that cannot have them (one frame, no times, a landmarks file
 * missing or malformed) gets ok = 0 and a why naming the clip and the file. -1 with err only when
 * the dataset has no landmarks/ folder, or the dlib model cannot be loaded. progress: a progress line. */
int temporal_dataset(const DetDataset *ds, const int *clip_of, int n_clips, const TemporalOpts *o, int progress,
                     TemporalClip *out, SlErr *err);
void temporal_clips_free(TemporalClip *c, int n);

/* The report of detect eval --temporal, as JSON (new reference):
 *   {"landmarks": how they were found, "settings": {open_percentile, close_ratio, open_ratio, top_k},
 *    "frame_interval_s": the median over clips,
 *    "clips": [{clip, label, source, frames, duration_s,
 *               score {mean_logit, topk_logit, k, max_logit, p_fake (calibrated, of the mean), call_mean,
 *                      call_topk (fake|real at cal's threshold, or P >= 0.5 without one)},
 *               blinks {count, rate_per_min, mean_ms, ear_open, ear_min, threshold} | null,
 *               flicker {ratio, band, interior, background, band_px, pairs} | null, why (when null),
 *               frame_level [{path, time, logit, ear, call}]}, ...],
 *    "summary": {"real"|"fake": {clips, with_features, blink_rate_per_min, blink_mean_ms, flicker_ratio,
 *               mean_logit, topk_logit: {mean, sd, n}, called_fake_mean, called_fake_topk}},
 *    "auc": {blink_rate_per_min, blink_mean_ms, flicker_ratio, flicker_band, mean_logit, topk_logit}}
 * over the clips with features (fake positive: below 0.5, fakes have less of it; null without both
 * classes). logits[ds->n] are the clean frame scores; top_k as temporal_aggregate's k. */
json_t *temporal_report_json(const DetDataset *ds, const TemporalClip *tc, int n_clips,
                             const float *logits, const DetCalib *cal, const TemporalOpts *o, int top_k);

/* Reads a 68 x 2 float32 .npy (as `swaplab dataset` writes landmarks/...npy). -1 with err naming path. */
int temporal_read_landmarks(const char *path, float lm[TEMPORAL_NLM][2], SlErr *err);

#endif
