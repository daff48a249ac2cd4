/* plot.c — SVG line, ROC, spectra and bar charts (plot.h), built into a growing string. */
#include "detect/plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

typedef struct {
    char *s;
    size_t len, cap;
} Buf;

__attribute__((format(printf, 2, 3))) static void bprintf(Buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        SL_ASSERT(k >= 0);
        if (b->s && b->len + (size_t)k < b->cap) {
            b->len += (size_t)k;
            return;
        }
        b->cap = (b->cap + (size_t)k + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
}

static void bescape(Buf *b, const char *t) {
    for (; t && *t; t++) {
        switch (*t) {
        case '<': bprintf(b, "&lt;"); break;
        case '>': bprintf(b, "&gt;"); break;
        case '&': bprintf(b, "&amp;"); break;
        case '"': bprintf(b, "&quot;"); break;
        default: bprintf(b, "%c", *t);
        }
    }
}

static const char *COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

typedef struct {
    double x0, x1, y0, y1; /* data range */
    double L, T, W, H;     /* plot area in pixels */
} Frame;

static double px(const Frame *f, double x) {
    return f->L + (x - f->x0) / (f->x1 - f->x0) * f->W;
}
static double py(const Frame *f, double y) {
    return f->T + f->H - (y - f->y0) / (f->y1 - f->y0) * f->H;
}

static void header(Buf *b, int w, int h, const char *title) {
    bprintf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", w, h, w, h);
    bprintf(b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", w, h);
    if (title) {
        bprintf(b, "<text x=\"%d\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">", w / 2);
        bescape(b, title);
        bprintf(b, "</text>\n");
    }
}

/* Round tick values (Heckbert, "Nice numbers for graph labels", Graphics Gems 1990): a step of 1, 2
 * or 5 times a power of ten giving about `want` intervals over [lo, hi]. */
double plot_nice_step(double lo, double hi, int want) {
    double range = hi - lo;
    if (!(range > 0) || !isfinite(range)) return 1;
    double raw = range / (want > 0 ? want : 5), mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* A tick value with as many decimals as the step needs: "0.25", "1000", never an exponent. */
void plot_format_tick(char *out, int n, double v, double step) {
    int dec = 0;
    while (dec < 9 && fabs(step * pow(10, dec) - floor(step * pow(10, dec) + 0.5)) > 1e-6 * step * pow(10, dec)) dec++;
    if (fabs(v) < step * 1e-9) v = 0; /* no "-0" */
    snprintf(out, (size_t)n, "%.*f", dec, v);
}

/* Widens a data range outwards to multiples of its nice step. */
static void nice_range(double *lo, double *hi, int want) {
    double st = plot_nice_step(*lo, *hi, want);
    *lo = floor(*lo / st + 1e-9) * st;
    *hi = ceil(*hi / st - 1e-9) * st;
}

static void ticks(Buf *b, const Frame *f, int xaxis) {
    double lo = xaxis ? f->x0 : f->y0, hi = xaxis ? f->x1 : f->y1, st = plot_nice_step(lo, hi, 5);
    for (double v = ceil(lo / st - 1e-9) * st; v <= hi + st * 1e-9; v += st) {
        char t[48];
        plot_format_tick(t, sizeof t, v, st);
        if (xaxis) {
            double xx = px(f, v);
            bprintf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", xx, f->T, xx, f->T + f->H);
            bprintf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", xx, f->T + f->H + 15, t);
        } else {
            double yy = py(f, v);
            bprintf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", f->L, yy, f->L + f->W, yy);
            bprintf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", f->L - 4, yy + 4, t);
        }
    }
}

/* Axes box, round ticks with labels on y (and x), axis titles. */
static void axes(Buf *b, const Frame *f, const char *xlabel, const char *ylabel, int xticks) {
    bprintf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", f->L, f->T,
            f->W, f->H);
    ticks(b, f, 0);
    if (xticks) ticks(b, f, 1);
    if (xlabel) {
        bprintf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", f->L + f->W / 2, f->T + f->H + 32);
        bescape(b, xlabel);
        bprintf(b, "</text>\n");
    }
    if (ylabel) {
        bprintf(b, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">", f->T + f->H / 2);
        bescape(b, ylabel);
        bprintf(b, "</text>\n");
    }
}

char *plot_svg_lines(const PlotOpts *o, const PlotSeries *s, int ns) {
    int w = o->width > 0 ? o->width : 480, h = o->height > 0 ? o->height : 360;
    Frame f = {o->xmin, o->xmax, o->ymin, o->ymax, 60, 30, w - 80, h - 80};
    if (f.x0 == f.x1 || f.y0 == f.y1) {
        double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
        for (int k = 0; k < ns; k++)
            for (int i = 0; i < s[k].n; i++)
                if (isfinite(s[k].x[i]) && isfinite(s[k].y[i]))
                    x0 = fmin(x0, s[k].x[i]), x1 = fmax(x1, s[k].x[i]), y0 = fmin(y0, s[k].y[i]), y1 = fmax(y1, s[k].y[i]);
        if (!isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
        if (f.x0 == f.x1) {
            f.x0 = x0, f.x1 = x1 > x0 ? x1 : x0 + 1;
            nice_range(&f.x0, &f.x1, 5);
        }
        if (f.y0 == f.y1) {
            f.y0 = y0, f.y1 = y1 > y0 ? y1 : y0 + 1;
            nice_range(&f.y0, &f.y1, 5);
        }
    }
    Buf b = {0};
    header(&b, w, h, o->title);
    axes(&b, &f, o->xlabel, o->ylabel, 1);
    if (o->diagonal)
        bprintf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n",
                px(&f, f.x0), py(&f, f.y0), px(&f, f.x1), py(&f, f.y1));
    for (int k = 0; k < ns; k++) {
        const char *col = COLORS[k % 8];
        bprintf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(s[k].x[i]) && isfinite(s[k].y[i]))
                bprintf(&b, "%.2f,%.2f ", px(&f, s[k].x[i]), py(&f, s[k].y[i]));
        bprintf(&b, "\"/>\n");
        if (s[k].label) {
            double ly = f.T + 16 + 16 * k, lx = f.L + f.W - 170;
            bprintf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>", lx, ly - 4,
                    lx + 18, ly - 4, col);
            bprintf(&b, "<text x=\"%.1f\" y=\"%.1f\">", lx + 22, ly);
            bescape(&b, s[k].label);
            bprintf(&b, "</text>\n");
        }
    }
    bprintf(&b, "</svg>\n");
    return b.s;
}

char *plot_svg_roc(const char *title, const PlotSeries *curves, int n) {
    PlotOpts o = {title, "false positive rate", "true positive rate", 420, 400, 0, 1, 0, 1, 1};
    return plot_svg_lines(&o, curves, n);
}

char *plot_svg_spectra(const char *title, const float *mean_real, const float *mean_fake, int n_bins) {
    double *x = xmalloc((size_t)n_bins * sizeof *x), *r = xmalloc((size_t)n_bins * sizeof *r);
    double *f = xmalloc((size_t)n_bins * sizeof *f);
    for (int i = 0; i < n_bins; i++) x[i] = n_bins > 1 ? (double)i / (n_bins - 1) : 0, r[i] = mean_real[i], f[i] = mean_fake[i];
    PlotSeries s[2] = {{"real (mean)", x, r, n_bins}, {"fake (mean)", x, f, n_bins}};
    PlotOpts o = {title, "spatial frequency (radius / max)", "normalised log power", 480, 360, 0, 1, 0, 0, 0};
    char *svg = plot_svg_lines(&o, s, 2);
    free(x), free(r), free(f);
    return svg;
}

char *plot_svg_bars(const char *title, const char *ylabel, const char *const *labels, const double *values,
                    const double *lo, const double *hi, int n, double ymin, double ymax) {
    int w = 80 + 70 * (n > 0 ? n : 1), h = 360;
    Frame f = {0, n > 0 ? n : 1, ymin, ymax > ymin ? ymax : ymin + 1, 60, 30, w - 80, h - 90};
    Buf b = {0};
    header(&b, w, h, title);
    axes(&b, &f, NULL, ylabel, 0);
    for (int i = 0; i < n; i++) {
        double x0 = px(&f, i + 0.15), x1 = px(&f, i + 0.85);
        if (isfinite(values[i])) {
            double v = fmin(fmax(values[i], f.y0), f.y1);
            bprintf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x0, py(&f, v), x1 - x0,
                    py(&f, f.y0) - py(&f, v), COLORS[0]);
        }
        if (lo && hi && isfinite(lo[i]) && isfinite(hi[i])) {
            double xm = (x0 + x1) / 2, a = py(&f, fmax(lo[i], f.y0)), c = py(&f, fmin(hi[i], f.y1));
            bprintf(&b, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"#000\" fill=\"none\"/>\n", xm, a, c,
                    xm - 6, a, xm + 6, xm - 6, c, xm + 6);
        }
        bprintf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (x0 + x1) / 2, f.T + f.H + 16);
        bescape(&b, labels[i]);
        bprintf(&b, "</text>\n");
    }
    bprintf(&b, "</svg>\n");
    return b.s;
}

int plot_write(const char *path, const char *svg, SlErr *err) {
    return sl_write_atomic(path, svg, strlen(svg), err);
}
