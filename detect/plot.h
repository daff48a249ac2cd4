/* plot.h — small self-contained SVG charts for detector results (ROC curves, spectra, bar charts
 * with confidence intervals), returned as strings so the HTML report can inline them, or written
 * atomically. No scripts, no external fonts; text is XML-escaped.
 * SVG 1.1: https://www.w3.org/TR/SVG11/ */
#ifndef SL_PLOT_H
#define SL_PLOT_H

#include "util/util.h"

typedef struct {
    const char *label;     /* legend text (NULL: none) */
    const double *x, *y;   /* n points; non-finite points are skipped */
    int n;
} PlotSeries;

typedef struct {
    const char *title, *xlabel, *ylabel;
    int width, height;        /* pixels; 0 = 480 x 360 */
    double xmin, xmax, ymin, ymax; /* axis ranges; xmin == xmax (e.g. all 0) = from the data */
    int diagonal;             /* draw the y = x chance line (ROC) */
} PlotOpts;

/* Line chart of ns series. Returns a malloc'ed NUL-terminated SVG document. */
char *plot_svg_lines(const PlotOpts *o, const PlotSeries *s, int ns);
/* ROC curves: axes fixed to [0,1] x [0,1] with the chance diagonal; labels like "spectral (AUC 0.93)". */
char *plot_svg_roc(const char *title, const PlotSeries *curves, int n);
/* Mean spectra of real and fake images (x = normalised radius 0..1). */
char *plot_svg_spectra(const char *title, const float *mean_real, const float *mean_fake, int n_bins);
/* Vertical bars with optional error bars (lo/hi may be NULL; NaN entries are skipped). */
char *plot_svg_bars(const char *title, const char *ylabel, const char *const *labels, const double *values,
                    const double *lo, const double *hi, int n, double ymin, double ymax);
/* Axis ticks are round numbers (1, 2 or 5 times a power of ten) with class="tick"; ranges taken from
 * the data are widened to whole steps. The step for about `want` intervals over [lo, hi]: */
double plot_nice_step(double lo, double hi, int want);
/* v as a tick label for that step: as many decimals as the step needs, no exponent ("0.25", "1000"). */
void plot_format_tick(char *out, int n, double v, double step);
/* Writes svg to path atomically. */
int plot_write(const char *path, const char *svg, SlErr *err);

#endif
