/* extract.h — the extraction pipeline as a library: faces found (OpenCV Haar cascade, data/haar.h),
 * checked, given 68 landmarks (dlib's predictor, data/landmarks.h), aligned and cropped into a face
 * set (data/faceset.h), from photos or from the frames of video clips (data/video.h). In clips a
 * face is tracked: the detector runs every few frames or when the face is lost, the landmarks
 * every frame, and a One-Euro filter (Casiez, Roussel & Vogel, CHI 2012,
 * https://doi.org/10.1145/2207676.2208639) smooths them in time so aligned crops do not jitter.
 * `swaplab extract` parses flags and calls extract_run; `swaplab swap --in clip` uses the tracker.
 * How it works and what was measured: docs/EXTRACT.md.
 *
 *   Extractor *x; extractor_open(&x, &opt, &err);
 *   FaceTracker *t = tracker_new(x);
 *   float lm[68][2]; int detected;
 *   if (tracker_step(t, &frame, time_s, lm, &detected) == 1) ... a face, smoothed landmarks in lm
 *   tracker_free(t); extractor_free(x);
 *
 * Plausibility: the Haar cascade also fires on necks, collars and chins. A box is kept only when
 * the eye cascade finds an eye within 0.3 inter-ocular distances of an eye the landmarks place
 * (check "eyes", the default) and the landmarks are shaped like a face (lm_shape_residual at most
 * EXTRACT_SHAPE_MAX); otherwise the next box is tried. */
#ifndef SL_EXTRACT_H
#define SL_EXTRACT_H

#include "data/align.h"
#include "data/haar.h"
#include "data/image.h"
#include "util/util.h"

#define EXTRACT_SHAPE_MAX 0.25 /* fixtures' faces: 0.037..0.090 (docs/EXTRACT.md) */

typedef enum { EXTRACT_CHECK_NONE = 0, EXTRACT_CHECK_SHAPE, EXTRACT_CHECK_EYES } ExtractCheck;

typedef struct {
    int size;             /* aligned crop side (128) */
    float coverage;       /* ALIGN_DEFAULT_COVERAGE */
    int min_face;         /* smallest face in pixels (40) */
    int all;              /* photos: every plausible face, not only the largest (0) */
    int detect_size;      /* detect on a copy at most this many pixels a side; 0 = full size (1024) */
    int alt2;             /* the alt2 cascade instead of default (0) */
    ExtractCheck check;   /* EXTRACT_CHECK_EYES */
    int recursive;        /* --in DIR: walk sub-folders too (0) */
    int keep_frames;      /* write frames/ (1) */
    /* clips */
    int every;            /* keep every Nth frame (1) */
    double fps;           /* > 0: keep at most this many frames per second (0: use every) */
    int detect_every;     /* run the detector at least every N frames (5) */
    double euro_min_cutoff; /* One-Euro minimum cut-off frequency in Hz (1.0); <= 0: no smoothing */
    double euro_beta;     /* One-Euro speed coefficient, per inter-ocular distance per second (0.5) */
    int threads;          /* video decoder threads (0: FFmpeg's choice) */
} ExtractOptions;

void extract_options_default(ExtractOptions *o);
/* "none", "shape", "eyes"; -1 otherwise. */
int extract_check_parse(const char *s, ExtractCheck *out);

typedef struct Extractor Extractor;

/* Loads the cascades and the landmark model. */
int extractor_open(Extractor **out, const ExtractOptions *o, SlErr *err);
void extractor_free(Extractor *x);

typedef struct {
    HaarBox box;                 /* the detector's box */
    float lm[ALIGN_NLM][2];      /* landmarks, pixel centres at +0.5 (data/align.h) */
    double shape;                /* lm_shape_residual */
    int eyes;                    /* eye boxes found near the landmarks' eyes (-1: not checked) */
} ExtractFace;

/* Every face box of img, largest first, each with its landmarks and checks; *why of rejected boxes
 * is summarised in why (may be NULL). Returns the number of plausible faces kept (at most 1 unless
 * o->all), *faces malloc'ed (NULL when 0), *nrejected the boxes refused. */
int extract_faces(Extractor *x, const Image *img, ExtractFace **faces, int *nrejected, char *why, size_t nwhy);

/* ---- tracking through a clip ----------------------------------------------------------------- */
typedef struct FaceTracker FaceTracker;
FaceTracker *tracker_new(Extractor *x);
void tracker_free(FaceTracker *t);
/* One frame at time t (seconds, increasing). Returns 1 with the smoothed landmarks of the tracked
 * face in lm, or 0 when no face is found (lost). *detected (may be NULL) is 1 when the detector
 * ran on this frame. */
int tracker_step(FaceTracker *t, const Image *frame, double time, float lm[ALIGN_NLM][2], int *detected);
/* Counters since tracker_new: detector runs, frames with a face, times the face was lost, boxes
 * rejected by the plausibility check. */
void tracker_stats(const FaceTracker *t, long *detections, long *found, long *lost, long *rejected);

/* The One-Euro filter of n values (exposed for tests). */
typedef struct {
    int n, init;
    double min_cutoff, beta, d_cutoff, t_prev;
    double *x, *dx;
} OneEuro;
void one_euro_init(OneEuro *f, int n, double min_cutoff, double beta);
void one_euro_free(OneEuro *f);
void one_euro_reset(OneEuro *f);
/* Filters v (n values) in place at time t; scale divides the speed (e.g. the inter-ocular distance,
 * so beta does not depend on the face's size in pixels). */
void one_euro_apply(OneEuro *f, double t, double scale, double *v);

/* ---- the whole pipeline ---------------------------------------------------------------------- */
typedef struct {
    int files, images, clips;   /* inputs: files found, photos read, clips read */
    long frames;                /* frames decoded from clips */
    int faces, noface, unreadable, failed, rejected;
    char report[4200];          /* the path of extract_report.txt */
} ExtractSummary;

/* Extracts faces from inputs (photos, clips, folders of them) into the face set out for subject,
 * writes out/extract_report.txt (one line per input) and a DRAFT consent.json. Returns -1 with err
 * when an input does not exist, the models do not load, nothing could be read, or no face was
 * found in any input (each names the files); the report is written in the last two cases. */
int extract_run(const ExtractOptions *o, const char *const *inputs, int n, const char *out, const char *subject,
                ExtractSummary *s, SlErr *err);

#endif
