/* heatmap.h — occlusion sensitivity maps for any detector (Zeiler & Fergus 2014, "Visualizing and
 * Understanding Convolutional Networks", https://arxiv.org/abs/1311.2901): a grey patch slides over
 * the input; where covering the image lowers the fake probability most, the detector was looking.
 *
 * The detector is a callback on one CHW float image (the layout nn/ uses), so the spectral
 * detector, Meso-4 or a toy scorer plug in the same way. The map is the mean, over every patch
 * position covering a pixel, of (score of the intact image - score with the patch), so positive =
 * evidence for "fake". Patch positions step by `stride` and always include the last row/column, so
 * every pixel is covered. Cost: one score call per position, ((h-p)/s + 2) x ((w-p)/s + 2) at most. */
#ifndef SL_HEATMAP_H
#define SL_HEATMAP_H

#include "data/image.h"
#include "util/util.h"

typedef float (*HeatmapScoreFn)(const float *chw, void *ctx);

typedef struct {
    int patch;  /* side of the square patch in pixels (default 8) */
    int stride; /* step (default patch / 2) */
    float fill; /* value written into the patch (default 0.5: mid grey for inputs in [0, 1]) */
} HeatmapOpts;

/* chw: c x h x w floats (not modified). out: h x w floats. opts may be NULL (defaults). Returns
 * the score of the intact image. */
float heatmap_occlusion(const float *chw, int c, int h, int w, HeatmapScoreFn score, void *ctx,
                        const HeatmapOpts *opts, float *out);

/* The map (hh x hw, any resolution; bilinearly resampled to the image) over img: negative values
 * count as 0, the rest is divided by the map's maximum and coloured with a viridis-like colormap
 * (dark blue = no effect, yellow = the largest drop), blended with weight alpha * value over the
 * image, so unimportant regions keep their pixels. Returns a new 3-channel image. */
Image heatmap_overlay(const Image *img, const float *heat, int hh, int hw, float alpha);
/* The colormap at t in [0, 1] (clamped). */
void heatmap_color(float t, uint8_t rgb[3]);

/* heatmap_overlay written as PNG (atomic, with optional text records, e.g. provenance). */
int heatmap_save_png(const char *path, const Image *img, const float *heat, int hh, int hw, float alpha,
                     const PngText *texts, int ntexts, SlErr *err);

/* An 8-bit image as CHW floats in [0, 1] (c = img->c), malloc'ed: the input heatmap_occlusion takes. */
float *heatmap_image_to_chw(const Image *img);

#endif
