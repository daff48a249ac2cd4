/* report.h — the static HTML report of a run (`swaplab report`, the last step of `swaplab demo`): the
 * training as it happened (preview filmstrip, loss and fidelity curves), the swaps beside their
 * source and ground truth, the detectors (ROC, metrics with confidence intervals, robustness,
 * heatmaps, spectra), the provenance `swaplab verify` found, and what to look for. One file, no
 * network: images are embedded as JPEG thumbnails (data: URIs), charts are inline SVG; the whole
 * preview grids the thumbnails open and the video are files in the assets folder beside the page
 * (DIR/report/assets/, or NAME-assets/ beside --out NAME.html). Every face set shown must consent to
 * "report".
 *
 * A demo directory holds (each part optional except the run):
 *   run/ (swaplab train), sets/ (swaplab synth, with ground-truth/), swaps/ (swaplab swap --raw,
 *   one folder per direction with swap.json), dataset/ (swaplab dataset), detect/ (detector model
 *   files *.safetensors, any depth up to 2), verify/ (*.json from `swaplab verify --json`), video/
 *   (the swapped clip) and clip/ (the face set, with clip.mp4, of `synth --video` it started from). */
#ifndef SL_REPORT_H
#define SL_REPORT_H

#include <stddef.h>

#include "util/util.h"

typedef struct {
    const char *dir;         /* the demo directory (or a run directory) */
    const char *run;         /* NULL: DIR/run when it exists, else DIR */
    const char *sets;        /* NULL: DIR/sets */
    const char *swaps;       /* NULL: DIR/swaps */
    const char *dataset;     /* NULL: DIR/dataset */
    const char *detect;      /* NULL: DIR/detect */
    const char *verify;      /* NULL: DIR/verify */
    const char *video;       /* a swapped clip (MP4) to show; NULL: the first *.mp4 in DIR/video, else in
                                DIR/swaps/ (two levels down); none found: no video on the page */
    const char *video_before; /* the clip the swap started from, shown beside it when the folder holding
                                it is a face set with consent for "report"; NULL: with video NULL,
                                the first DIR/clip/<set>/clip.mp4 (`synth --video`), else none */
    const char *out;         /* NULL: DIR/report/index.html */
    const char *revocations; /* consent revocation list (NULL: the per-user default) */
    int max_previews;        /* preview grids in the filmstrip (<= 0: 12) */
    int max_examples;        /* swap rows and heatmap examples per section (<= 0: 4) */
    int threads;             /* detector scoring threads (<= 0: default) */
} ReportOpts;

/* What the report contains, for the caller's summary line. */
typedef struct {
    char path[SL_PATH_MAX];
    int facesets, previews, swaps, detectors, verified, videos;
    char missing[1024]; /* sections left out, comma separated ("" when complete) */
} ReportSummary;

/* Writes the report atomically. Returns -1 with err when a face set lacks consent for "report", the
 * run is missing or unreadable, or the file cannot be written. */
int report_write(const ReportOpts *o, ReportSummary *sum, SlErr *err);

#endif
