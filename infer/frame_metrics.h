/* frame_metrics.h — how a swap looks once it is back in its frame (issue 17's measures), for
 * `swaplab eval`, the report and the benchmarks: sharpness ratio, border ratio, colour step and
 * frame PSNR/SSIM against the ground truth, per frame and averaged per pair of identities. */
#ifndef SL_FRAME_METRICS_H
#define SL_FRAME_METRICS_H

#include <jansson.h>
#include <stdio.h>

#include "data/faceset.h"
#include "data/image.h"
#include "model/swap_model.h"

/* ---- composited frames ------------------------------------------------------------------------
 * How a swap looks once it is back in its frame, measured on the whole frame around the face:
 *  - sharpness: variance of the Laplacian of the luma where the mask is >= 0.98 (the swapped
 *    region), swap / source frame (1 = as sharp as the real frame; an upscaled 64 px blur: ~0.1);
 *  - border: the 90th percentile of the luma gradient magnitude on the mask's border (pixels whose
 *    3x3 neighbourhood holds both mask > 0.02 and mask < 0.98), swap / source frame (1 = no seam);
 *  - colour step: the CIE L*a*b* distance (ΔE76) between the mean of a band just inside the mask
 *    (mask >= 0.98, within W px of its edge) and a band just outside (mask <= 0.02, within W px),
 *    swap minus source (0 = the swap adds no step); W = 6% of the face size (sqrt of the mask's
 *    area), at least 2 px;
 *  - PSNR and SSIM against the ground-truth frame (synthetic sets), in the face's box (the aligned
 *    crop's footprint in swaplab eval), with the unswapped source frame as baseline.
 * The ground truth's own sharpness, border and colour step (a perfect swap's) are kept as the
 * reference. Ratios are averaged over frames. */
typedef struct {
    int n;                                    /* frames */
    double sharpness, sharpness_gt;           /* swap / source; ground truth / source */
    double border, border_gt;                 /* swap / source; ground truth / source */
    double colour_step, colour_step_gt;       /* swap − source; ground truth − source (ΔE) */
    double psnr, ssim, psnr_src, ssim_src;    /* vs the ground-truth frame; -1 without one */
} FrameMetrics;

/* Metrics of one composited frame: src the unswapped frame, swap the composited one, gt the
 * ground-truth frame (NULL: PSNR/SSIM and the _gt fields are -1), mask the blend mask in frame
 * coordinates (src->w * src->h floats). box (x0, y0, x1, y1; x1, y1 exclusive) is the region of
 * PSNR/SSIM, e.g. the aligned crop's footprint, so that masks compare on one region; NULL: the
 * mask's bounding box grown by 15% of the face size. All RGB of one size. -1 (fm untouched) when
 * the mask is empty. */
int frame_metrics_measure(const Image *src, const Image *swap, const Image *gt, const float *mask, const int *box,
                           FrameMetrics *fm);
/* Running means: add one frame's metrics to acc (acc zeroed first), then frame_metrics_mean. */
void frame_metrics_add(FrameMetrics *acc, const FrameMetrics *one);
void frame_metrics_mean(FrameMetrics *acc);

typedef struct {
    int npairs;
    struct {
        int a, b;
        FrameMetrics m;
    } pair[SWAP_MAX_IDS * (SWAP_MAX_IDS - 1)];
    FrameMetrics all; /* over every frame of every pair */
    char mask[32], colour[16], blend[16]; /* the compositing options measured */
    double detail;
    int heldout;
} FrameReport;
/* issue 17's target for the colour step: within ±this ΔE */
#define FRAME_COLOUR_STEP_MAX 2.0
json_t *frame_report_to_json(const FrameReport *r, const FaceSet *sets);
/* The table of swaplab eval; with colour "none" or a part of a transfer ("rct:0.25") and a pair
 * whose colour step is beyond ±FRAME_COLOUR_STEP_MAX, a note that points to --color rct. */
void frame_report_print(FILE *out, const FrameReport *r, const FaceSet *sets);

#endif
