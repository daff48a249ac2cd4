/* temporal.c — blinks, border flicker and score aggregation of clips (temporal.h). */
#include "detect/temporal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/landmarks.h"
#include "detect/metrics.h"
#include "util/fs.h"
#include "util/progress.h"

void temporal_blink_default(TemporalBlinkCfg *c) {
    c->open_pct = 75;
    c->close_ratio = 0.75;
    c->open_ratio = 0.85;
}

static double dist(const float a[2], const float b[2]) {
    return hypot((double)a[0] - b[0], (double)a[1] - b[1]);
}

static double eye_ar(const float lm[TEMPORAL_NLM][2], int o) {
    double w = dist(lm[o], lm[o + 3]);
    if (!(w > 0)) return NAN;
    return (dist(lm[o + 1], lm[o + 5]) + dist(lm[o + 2], lm[o + 4])) / (2 * w);
}

double temporal_ear(const float lm[TEMPORAL_NLM][2]) {
    return 0.5 * (eye_ar(lm, 36) + eye_ar(lm, 42));
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy.percentile (linear) of v[0..n), n >= 1, on a sorted copy. */
static double percentile(const double *v, int n, double q) {
    double *s = xmalloc((size_t)n * sizeof *s);
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double pos = q / 100 * (n - 1);
    int i = (int)floor(pos);
    double r = i + 1 < n ? s[i] + (pos - i) * (s[i + 1] - s[i]) : s[n - 1];
    free(s);
    return r;
}

int temporal_blinks(const double *t, const double *ear, int n, const TemporalBlinkCfg *c, TemporalBlinks *out,
                    SlErr *err) {
    memset(out, 0, sizeof *out);
    out->n_frames = n;
    out->mean_ms = NAN;
    if (n < 2) return sl_fail(err, "%d frame%s: blinks need at least 2 frames in time", n, n == 1 ? "" : "s");
    if (!(c->open_pct >= 0 && c->open_pct <= 100) || !(c->close_ratio > 0 && c->close_ratio <= c->open_ratio) ||
        !(c->open_ratio < 2))
        return sl_fail(err, "blink settings out of range (percentile %g, close %g, open %g)", c->open_pct, c->close_ratio,
                       c->open_ratio);
    double *dts = xmalloc((size_t)(n - 1) * sizeof *dts);
    for (int i = 0; i < n; i++) {
        if (!isfinite(t[i]) || (i && !(t[i] > t[i - 1]))) {
            free(dts);
            return sl_fail(err, "frame %d's time %g is not after the previous frame's (%g): frames need increasing times", i,
                           t[i], i ? t[i - 1] : NAN);
        }
        if (!isfinite(ear[i])) {
            free(dts);
            return sl_fail(err, "frame %d has no eye aspect ratio (degenerate eye landmarks)", i);
        }
        if (i) dts[i - 1] = t[i] - t[i - 1];
    }
    out->dt = percentile(dts, n - 1, 50);
    free(dts);
    out->duration_s = t[n - 1] - t[0] + out->dt;
    out->ear_open = percentile(ear, n, c->open_pct);
    out->threshold = c->close_ratio * out->ear_open;
    double reopen = c->open_ratio * out->ear_open, total = 0;
    out->ear_min = ear[0];
    int in = 0, first = 0, last = 0;
    for (int i = 0; i < n; i++) {
        if (ear[i] < out->ear_min) out->ear_min = ear[i];
        if (!in && ear[i] < out->threshold) in = 1, first = last = i;
        else if (in && ear[i] < reopen) last = i;
        else if (in) {
            in = 0;
            out->n_blinks++, total += t[last] - t[first] + out->dt;
        }
    }
    if (in) out->n_blinks++, total += t[last] - t[first] + out->dt;
    out->rate_per_min = out->n_blinks / out->duration_s * 60;
    if (out->n_blinks) out->mean_ms = 1000 * total / out->n_blinks;
    return 0;
}

/* ---- border flicker -------------------------------------------------------------------------- */

typedef struct {
    double x, y;
} Pt;

static double cross(Pt o, Pt a, Pt b) {
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

static int cmp_pt(const void *a, const void *b) {
    const Pt *p = a, *q = b;
    return p->x < q->x ? -1 : p->x > q->x ? 1 : p->y < q->y ? -1 : p->y > q->y;
}

/* Convex hull (Andrew's monotone chain), counter-clockwise in h (at most n + 1 points); returns its size. */
static int hull(const float (*lm)[2], int n, Pt *h) {
    Pt p[TEMPORAL_NLM];
    for (int i = 0; i < n; i++) p[i] = (Pt){lm[i][0], lm[i][1]};
    qsort(p, (size_t)n, sizeof *p, cmp_pt);
    int k = 0;
    for (int i = 0; i < n; i++) {
        while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) k--;
        h[k++] = p[i];
    }
    for (int i = n - 2, lo = k + 1; i >= 0; i--) {
        while (k >= lo && cross(h[k - 2], h[k - 1], p[i]) <= 0) k--;
        h[k++] = p[i];
    }
    return k - 1;
}

/* Region of each pixel for the hull of lm: 1 band, 2 interior, 3 background, 0 neither (the gaps). */
static int regions(const float (*lm)[2], int w, int h, uint8_t *reg, double *band_px) {
    Pt hp[TEMPORAL_NLM + 1];
    int m = hull(lm, TEMPORAL_NLM, hp);
    if (m < 3) return -1;
    double area = 0;
    for (int i = 0; i < m; i++) area += hp[i].x * hp[(i + 1) % m].y - hp[(i + 1) % m].x * hp[i].y;
    area = fabs(area) / 2;
    double bw = 0.06 * sqrt(area);
    if (bw < 1.5) bw = 1.5;
    *band_px = bw;
    int n_in = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            Pt q = {x + 0.5, y + 0.5};
            int inside = 1;
            double d2 = INFINITY;
            for (int i = 0; i < m; i++) {
                Pt a = hp[i], b = hp[(i + 1) % m];
                if (cross(a, b, q) < 0) inside = 0;
                double ex = b.x - a.x, ey = b.y - a.y, l2 = ex * ex + ey * ey;
                double s = l2 > 0 ? ((q.x - a.x) * ex + (q.y - a.y) * ey) / l2 : 0;
                s = s < 0 ? 0 : s > 1 ? 1 : s;
                double dx = q.x - a.x - s * ex, dy = q.y - a.y - s * ey;
                if (dx * dx + dy * dy < d2) d2 = dx * dx + dy * dy;
            }
            double d = sqrt(d2);
            uint8_t r = d <= bw ? 1 : d > 2 * bw ? (inside ? 2 : 3) : 0;
            n_in += r == 2;
            reg[(size_t)y * w + x] = r;
        }
    return n_in ? 0 : -1;
}

static void luma(const Image *im, float *y) {
    size_t n = (size_t)im->w * im->h;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = im->px + i * im->c;
        y[i] = im->c >= 3 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : p[0];
    }
}

int temporal_flicker(const Image *frames, const float (*lm)[TEMPORAL_NLM][2], int n, TemporalFlicker *out, SlErr *err) {
    memset(out, 0, sizeof *out);
    out->band = out->interior = out->background = out->ratio = NAN;
    if (n < 2) return sl_fail(err, "%d frame%s: flicker needs at least 2 frames in time", n, n == 1 ? "" : "s");
    if (!lm) return sl_fail(err, "no landmarks: flicker needs the face's 68 landmarks in every frame");
    const int w = frames[0].w, h = frames[0].h;
    for (int i = 0; i < n; i++) {
        if (frames[i].w != w || frames[i].h != h || (frames[i].c != 1 && frames[i].c != 3 && frames[i].c != 4))
            return sl_fail(err, "frame %d is %dx%dx%d, frame 0 %dx%d: a clip's frames must have one size", i, frames[i].w,
                           frames[i].h, frames[i].c, w, h);
        for (int k = 0; k < TEMPORAL_NLM; k++)
            if (!isfinite(lm[i][k][0]) || !isfinite(lm[i][k][1]))
                return sl_fail(err, "frame %d's landmark %d is not a number", i, k);
    }
    size_t np = (size_t)w * h;
    float *y0 = xmalloc(np * sizeof *y0), *y1 = xmalloc(np * sizeof *y1);
    uint8_t *reg = xmalloc(np);
    double acc[4] = {0}, ref_both = 0;
    int n_bg_pairs = 0, rc = 0;
    luma(&frames[0], y0);
    for (int i = 0; i + 1 < n; i++) {
        double bw;
        if (regions(lm[i], w, h, reg, &bw)) {
            rc = sl_fail(err, "frame %d: the face hull of its landmarks leaves no interior in a %dx%d frame", i, w, h);
            break;
        }
        if (!i) out->band_px = bw;
        luma(&frames[i + 1], y1);
        /* the global photometric change: d = a + b m by least squares over the frame, m the pair's mean
         * luminance (a gain and an offset are exactly linear in m; unlike y0 alone, m does not
         * soak up content that moves: cov(y1 - y0, y0 + y1) = var y1 - var y0) */
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (size_t p = 0; p < np; p++) {
            double x = 0.5 * ((double)y0[p] + y1[p]), d = (double)y1[p] - y0[p];
            sx += x, sy += d, sxx += x * x, sxy += x * d;
        }
        double var = sxx - sx * sx / np, b = var > 1e-9 * np ? (sxy - sx * sy / np) / var : 0, a = (sy - b * sx) / np;
        double sum[4] = {0};
        long cnt[4] = {0};
        for (size_t p = 0; p < np; p++) {
            double r = fabs((double)y1[p] - y0[p] - (a + b * 0.5 * ((double)y0[p] + y1[p])));
            sum[reg[p]] += r, cnt[reg[p]]++;
        }
        double m[4];
        for (int k = 1; k < 4; k++) m[k] = cnt[k] ? sum[k] / cnt[k] : NAN;
        acc[1] += m[1], acc[2] += m[2];
        if (cnt[3]) acc[3] += m[3], n_bg_pairs++, ref_both += 0.5 * (m[2] + m[3]);
        else ref_both += m[2];
        float *tmp = y0;
        y0 = y1, y1 = tmp;
        out->n_pairs++;
    }
    if (!rc) {
        int k = out->n_pairs;
        out->band = acc[1] / k, out->interior = acc[2] / k;
        out->background = n_bg_pairs ? acc[3] / n_bg_pairs : NAN;
        out->ratio = (out->band + 0.5) / (ref_both / k + 0.5);
    }
    free(y0), free(y1), free(reg);
    return rc;
}

/* ---- aggregation ----------------------------------------------------------------------------- */

static int cmp_float_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x > y ? -1 : x < y;
}

void temporal_aggregate(const float *logits, int n, int k, TemporalAgg *a) {
    SL_ASSERT(n >= 1);
    if (k <= 0) k = (n + 3) / 4;
    if (k > n) k = n;
    float *s = xmalloc((size_t)n * sizeof *s);
    memcpy(s, logits, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_float_desc);
    double sum = 0, top = 0;
    for (int i = 0; i < n; i++) {
        sum += s[i];
        if (i < k) top += s[i];
    }
    a->mean = sum / n, a->topk = top / k, a->max = s[0], a->k = k;
    free(s);
}

/* ---- landmarks files ------------------------------------------------------------------------- */

int temporal_read_landmarks(const char *path, float lm[TEMPORAL_NLM][2], SlErr *err) {
    char *cb;
    size_t len;
    if (sl_read_file(path, 1 << 16, &cb, &len, err)) return -1;
    const uint8_t *b = (const uint8_t *)cb;
    int rc = 0;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) || b[6] != 1) {
        rc = sl_fail(err, "%s: not a NumPy .npy file of format 1.x", path);
    } else {
        size_t hl = (size_t)b[8] | (size_t)b[9] << 8;
        char hdr[256];
        if (10 + hl > len || hl >= sizeof hdr) {
            rc = sl_fail(err, "%s: truncated .npy header", path);
        } else {
            memcpy(hdr, b + 10, hl);
            hdr[hl] = 0;
            char shape[32];
            snprintf(shape, sizeof shape, "(%d, 2)", TEMPORAL_NLM);
            if (!strstr(hdr, "'descr': '<f4'") || !strstr(hdr, "'fortran_order': False") || !strstr(hdr, shape))
                rc = sl_fail(err, "%s: not 68 x 2 little-endian float32 landmarks (header %.120s)", path, hdr);
            else if (len != 10 + hl + sizeof(float) * TEMPORAL_NLM * 2)
                rc = sl_fail(err, "%s: %zu bytes, 68 x 2 float32 landmarks need %zu", path, len,
                             10 + hl + sizeof(float) * TEMPORAL_NLM * 2);
            else
                memcpy(lm, b + 10 + hl, sizeof(float) * TEMPORAL_NLM * 2);
        }
    }
    for (int k = 0; !rc && k < TEMPORAL_NLM; k++)
        if (!isfinite(lm[k][0]) || !isfinite(lm[k][1])) rc = sl_fail(err, "%s: landmark %d is not a number", path, k);
    free(cb);
    return rc;
}

/* ---- a dataset, clip by clip ----------------------------------------------------------------- */

void temporal_clips_free(TemporalClip *c, int n) {
    for (int i = 0; i < n; i++) free(c[i].idx), free(c[i].ear);
}

/* landmarks/REL with .npy for the extension, beside the dataset's images */
static void landmarks_path(const DetSample *s, char *out, size_t n) {
    const char *rel = s->path + s->rel_off;
    const char *dot = strrchr(rel, '.');
    int stem = dot && !strchr(dot, '/') ? (int)(dot - rel) : (int)strlen(rel);
    snprintf(out, n, "%.*slandmarks/%.*s.npy", s->rel_off, s->path, stem, rel);
}

static void sort_by_time(const DetDataset *ds, int *idx, int n) {
    /* insertion sort: stable (dataset order where times tie), no comparator state */
    for (int a = 1; a < n; a++) {
        int v = idx[a], b = a - 1;
        while (b >= 0 && ds->s[idx[b]].time > ds->s[v].time) idx[b + 1] = idx[b], b--;
        idx[b + 1] = v;
    }
}

/* One clip's features from its samples idx[0..m) (in time order). 0, or -1 with c->why set. */
static int clip_features(const DetDataset *ds, const char *name, const LmModel *lmm, const TemporalOpts *o, TemporalClip *c) {
    const int m = c->n_frames;
    for (int j = 0; j < m; j++)
        if (!isfinite(ds->s[c->idx[j]].time)) {
            snprintf(c->why, sizeof c->why, "clip %s: %s has no time in labels.csv", name, ds->s[c->idx[j]].path);
            return -1;
        }
    if (m < 2) {
        snprintf(c->why, sizeof c->why, "clip %s has %d frame%s in this split: blinks and flicker need at least 2", name,
                 m, m == 1 ? "" : "s");
        return -1;
    }
    Image *im = xcalloc((size_t)m, sizeof *im);
    float (*lm)[TEMPORAL_NLM][2] = xmalloc((size_t)m * sizeof *lm);
    double *t = xmalloc((size_t)m * sizeof *t);
    int rc = 0, loaded = 0;
    SlErr err;
    for (; loaded < m && !rc; loaded++) {
        const DetSample *s = &ds->s[c->idx[loaded]];
        char lp[SL_PATH_MAX];
        landmarks_path(s, lp, sizeof lp);
        t[loaded] = s->time;
        if (image_load(s->path, 3, &im[loaded], &err) || temporal_read_landmarks(lp, lm[loaded], &err)) {
            if (im[loaded].px) image_free(&im[loaded]);
            snprintf(c->why, sizeof c->why, "clip %s: %s", name, err.msg);
            rc = -1;
            break;
        }
        if (lmm) {
            double xy[2 * TEMPORAL_NLM];
            for (int k = 0; k < TEMPORAL_NLM; k++) xy[2 * k] = lm[loaded][k][0], xy[2 * k + 1] = lm[loaded][k][1];
            LmRect box = lm_rect_fit(lmm, xy);
            uint8_t *in = lm_intensity_from_image(&im[loaded]);
            lm_predict(lmm, in, im[loaded].w, im[loaded].h, box, xy);
            free(in);
            for (int k = 0; k < TEMPORAL_NLM; k++) lm[loaded][k][0] = (float)xy[2 * k], lm[loaded][k][1] = (float)xy[2 * k + 1];
        }
        c->ear[loaded] = temporal_ear(lm[loaded]);
    }
    if (!rc && temporal_blinks(t, c->ear, m, &o->blink, &c->blinks, &err)) {
        snprintf(c->why, sizeof c->why, "clip %s: %s", name, err.msg);
        rc = -1;
    }
    if (!rc && temporal_flicker(im, (const float (*)[TEMPORAL_NLM][2])lm, m, &c->flicker, &err)) {
        snprintf(c->why, sizeof c->why, "clip %s: %s", name, err.msg);
        rc = -1;
    }
    for (int j = 0; j < loaded; j++) image_free(&im[j]);
    free(im), free(lm), free(t);
    return rc;
}

int temporal_dataset(const DetDataset *ds, const int *clip_of, int n_clips, const TemporalOpts *o, int progress,
                     TemporalClip *out, SlErr *err) {
    memset(out, 0, (size_t)n_clips * sizeof *out);
    if (ds->n < 1) return sl_fail(err, "no samples");
    char dir[SL_PATH_MAX], lmdir[SL_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%.*s", ds->s[0].rel_off, ds->s[0].path);
    snprintf(lmdir, sizeof lmdir, "%slandmarks", dir);
    if (!sl_is_dir(lmdir))
        return sl_fail(err, "%s: no landmarks/ folder; blinks and flicker need each sample's 68 landmarks in "
                            "landmarks/PATH.npy, as `swaplab dataset` writes them", lmdir);
    LmModel *lmm = NULL;
    if (o->lm_source == TEMPORAL_LM_DETECT) {
        const char *mp = o->lm_model ? o->lm_model : lm_default_path();
        if (lm_load(mp, &lmm, err))
            return sl_failctx(err, "the 68-point landmark model (Debian libdlib-data; $SWAPLAB_LANDMARKS), or "
                                   "--temporal-landmarks dataset");
    }
    int *cnt = xcalloc((size_t)n_clips, sizeof *cnt);
    for (int i = 0; i < ds->n; i++) cnt[clip_of[i]]++;
    for (int c = 0; c < n_clips; c++) {
        out[c].idx = xmalloc((size_t)(cnt[c] ? cnt[c] : 1) * sizeof *out[c].idx);
        out[c].ear = xmalloc((size_t)(cnt[c] ? cnt[c] : 1) * sizeof *out[c].ear);
        for (int j = 0; j < (cnt[c] ? cnt[c] : 1); j++) out[c].ear[j] = NAN;
    }
    for (int i = 0; i < ds->n; i++) out[clip_of[i]].idx[out[clip_of[i]].n_frames++] = i;
    free(cnt);
    SlProgress pr;
    if (progress) sl_progress_begin(&pr, "temporal cues", n_clips);
    for (int c = 0; c < n_clips; c++) {
        TemporalClip *tc = &out[c];
        sort_by_time(ds, tc->idx, tc->n_frames);
        const DetSample *s0 = &ds->s[tc->idx[0]];
        tc->ok = clip_features(ds, s0->clip ? s0->clip : s0->path + s0->rel_off, lmm, o, tc) == 0;
        if (progress) sl_progress_update(&pr, c + 1, NULL);
    }
    if (progress) sl_progress_end(&pr, NULL);
    lm_free(lmm);
    return 0;
}

/* ---- the report ------------------------------------------------------------------------------ */

static json_t *jnum(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

static int decide(const DetCalib *cal, double z) {
    return cal->present ? z >= cal->threshold : z >= 0;
}

/* {mean, sd, n} of the finite values v[0..n) */
static json_t *stat_json(const double *v, int n) {
    double s = 0, ss = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) s += v[i], m++;
    double mean = m ? s / m : NAN;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) ss += (v[i] - mean) * (v[i] - mean);
    return json_pack("{s:o, s:o, s:i}", "mean", jnum(mean), "sd", jnum(m > 1 ? sqrt(ss / (m - 1)) : NAN), "n", m);
}

/* AUC of a feature over the clips where it is finite (fake positive); null without both classes. */
static json_t *auc_json(const double *v, const int *label, int n) {
    float *s = xmalloc((size_t)(n ? n : 1) * sizeof *s);
    int *l = xmalloc((size_t)(n ? n : 1) * sizeof *l), m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) s[m] = (float)v[i], l[m++] = label[i];
    MetricsPoint p;
    SlErr err;
    json_t *o = m && metrics_point(s, l, m, &p, &err) == 0 ? jnum(p.auc) : json_null();
    free(s), free(l);
    return o;
}

enum { F_RATE, F_MS, F_FLICK, F_BAND, F_MEAN, F_TOPK, NF_ };

json_t *temporal_report_json(const DetDataset *ds, const TemporalClip *tc, int n_clips, const float *logits,
                             const DetCalib *cal, const TemporalOpts *o, int top_k) {
    static const char *const fname[NF_] = {"blink_rate_per_min", "blink_mean_ms", "flicker_ratio", "flicker_band",
                                           "mean_logit", "topk_logit"};
    double *f[NF_];
    for (int k = 0; k < NF_; k++) f[k] = xmalloc((size_t)(n_clips ? n_clips : 1) * sizeof *f[k]);
    int *label = xmalloc((size_t)(n_clips ? n_clips : 1) * sizeof *label);
    int *callm = xmalloc((size_t)(n_clips ? n_clips : 1) * sizeof *callm), *callk = xmalloc((size_t)(n_clips ? n_clips : 1) * sizeof *callk);
    double *dts = xmalloc((size_t)(n_clips ? n_clips : 1) * sizeof *dts);
    int n_dt = 0;
    json_t *clips = json_array();
    for (int c = 0; c < n_clips; c++) {
        const TemporalClip *t = &tc[c];
        const int m = t->n_frames;
        const DetSample *s0 = &ds->s[t->idx[0]];
        float *z = xmalloc((size_t)m * sizeof *z);
        int nfake = 0;
        json_t *frames = json_array();
        for (int j = 0; j < m; j++) {
            const DetSample *s = &ds->s[t->idx[j]];
            z[j] = logits[t->idx[j]];
            nfake += s->label;
            json_array_append_new(frames, json_pack("{s:s, s:o, s:f, s:o, s:s}", "path", s->path + s->rel_off, "time",
                                                    jnum(s->time), "logit", (double)z[j], "ear", jnum(t->ear[j]), "call",
                                                    decide(cal, z[j]) ? "fake" : "real"));
        }
        label[c] = 2 * nfake >= m;
        TemporalAgg a;
        temporal_aggregate(z, m, top_k, &a);
        free(z);
        callm[c] = decide(cal, a.mean), callk[c] = decide(cal, a.topk);
        f[F_MEAN][c] = a.mean, f[F_TOPK][c] = a.topk;
        json_t *score = json_pack("{s:f, s:f, s:i, s:f, s:f, s:s, s:s}", "mean_logit", a.mean, "topk_logit", a.topk, "k", a.k,
                                  "max_logit", a.max, "p_fake", calib_prob(cal, a.mean), "call_mean",
                                  callm[c] ? "fake" : "real", "call_topk", callk[c] ? "fake" : "real");
        json_t *jc = json_pack("{s:s, s:s, s:s, s:i}", "clip", s0->clip ? s0->clip : s0->path + s0->rel_off, "label",
                               label[c] ? "fake" : "real", "source", ds->groups[s0->group], "frames", m);
        json_object_set_new(jc, "score", score);
        if (t->ok) {
            const TemporalBlinks *b = &t->blinks;
            const TemporalFlicker *fl = &t->flicker;
            json_object_set_new(jc, "duration_s", jnum(b->duration_s));
            json_object_set_new(jc, "blinks", json_pack("{s:i, s:f, s:o, s:f, s:f, s:f}", "count", b->n_blinks,
                                                        "rate_per_min", b->rate_per_min, "mean_ms", jnum(b->mean_ms),
                                                        "ear_open", b->ear_open, "ear_min", b->ear_min, "threshold",
                                                        b->threshold));
            json_object_set_new(jc, "flicker", json_pack("{s:f, s:f, s:f, s:o, s:f, s:i}", "ratio", fl->ratio, "band",
                                                         fl->band, "interior", fl->interior, "background",
                                                         jnum(fl->background), "band_px", fl->band_px, "pairs",
                                                         fl->n_pairs));
            f[F_RATE][c] = b->rate_per_min, f[F_MS][c] = b->mean_ms, f[F_FLICK][c] = fl->ratio, f[F_BAND][c] = fl->band;
            dts[n_dt++] = b->dt;
        } else {
            json_object_set_new(jc, "duration_s", json_null());
            json_object_set_new(jc, "blinks", json_null());
            json_object_set_new(jc, "flicker", json_null());
            json_object_set_new(jc, "why", json_string(t->why));
            f[F_RATE][c] = f[F_MS][c] = f[F_FLICK][c] = f[F_BAND][c] = NAN;
        }
        json_object_set_new(jc, "frame_level", frames);
        json_array_append_new(clips, jc);
    }
    json_t *summary = json_object(), *auc = json_object();
    double *v = xmalloc((size_t)(n_clips ? n_clips : 1) * sizeof *v);
    for (int cls = 0; cls < 2; cls++) {
        json_t *js = json_object();
        int n = 0, nok = 0, cm = 0, ck = 0;
        for (int c = 0; c < n_clips; c++)
            if (label[c] == cls) n++, nok += tc[c].ok, cm += callm[c], ck += callk[c];
        json_object_set_new(js, "clips", json_integer(n));
        json_object_set_new(js, "with_features", json_integer(nok));
        for (int k = 0; k < NF_; k++) {
            if (k == F_BAND) continue;
            int m = 0;
            for (int c = 0; c < n_clips; c++)
                if (label[c] == cls) v[m++] = f[k][c];
            json_object_set_new(js, fname[k], stat_json(v, m));
        }
        json_object_set_new(js, "called_fake_mean", json_integer(cm));
        json_object_set_new(js, "called_fake_topk", json_integer(ck));
        json_object_set_new(summary, cls ? "fake" : "real", js);
    }
    for (int k = 0; k < NF_; k++) {
        /* the scores' AUC over the same clips as the features' (those with features) */
        for (int c = 0; c < n_clips; c++) v[c] = k >= F_MEAN && !tc[c].ok ? NAN : f[k][c];
        json_object_set_new(auc, fname[k], auc_json(v, label, n_clips));
    }
    free(v);
    json_t *root = json_object();
    json_object_set_new(root, "landmarks", json_string(o->lm_source == TEMPORAL_LM_DETECT
                                                           ? "detected on each frame's pixels (dlib's 68-point predictor, "
                                                             "from the box of the dataset's landmarks)"
                                                           : "the dataset's landmarks/ files (a fake's are its target "
                                                             "frame's)"));
    json_object_set_new(root, "settings", json_pack("{s:f, s:f, s:f, s:i}", "open_percentile", o->blink.open_pct,
                                                    "close_ratio", o->blink.close_ratio, "open_ratio", o->blink.open_ratio,
                                                    "top_k", top_k));
    json_object_set_new(root, "frame_interval_s", jnum(n_dt ? percentile(dts, n_dt, 50) : NAN));
    json_object_set_new(root, "decision", json_string(cal->present ? "at the calibrated threshold (on the logit)"
                                                                     : "at P = 0.5 (the model is not calibrated)"));
    json_object_set_new(root, "clips", clips);
    json_object_set_new(root, "summary", summary);
    json_object_set_new(root, "auc", auc);
    for (int k = 0; k < NF_; k++) free(f[k]);
    free(label), free(callm), free(callk), free(dts);
    return root;
}
