/* extract.c — the extraction pipeline (data/extract.h): detection with the plausibility check,
 * tracking with One-Euro smoothing through clips, and the run over photos and clips that writes a
 * face set, its report and a draft consent manifest. */
#include "data/extract.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/consent.h"
#include "data/exif.h"
#include "data/faceset.h"
#include "data/landmarks.h"
#include "data/video.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/progress.h"

void extract_options_default(ExtractOptions *o) {
    memset(o, 0, sizeof *o);
    o->size = 128;
    o->coverage = ALIGN_DEFAULT_COVERAGE;
    o->min_face = 40;
    o->detect_size = 1024;
    o->check = EXTRACT_CHECK_EYES;
    o->keep_frames = 1;
    o->every = 1;
    o->detect_every = 5;
    o->euro_min_cutoff = 1.0;
    o->euro_beta = 0.5;
}

int extract_check_parse(const char *s, ExtractCheck *out) {
    if (!strcmp(s, "none")) *out = EXTRACT_CHECK_NONE;
    else if (!strcmp(s, "shape")) *out = EXTRACT_CHECK_SHAPE;
    else if (!strcmp(s, "eyes")) *out = EXTRACT_CHECK_EYES;
    else return -1;
    return 0;
}

struct Extractor {
    ExtractOptions o;
    HaarCascade *face, *eye;
    LmModel *lm;
};

int extractor_open(Extractor **out, const ExtractOptions *o, SlErr *err) {
    Extractor *x = xcalloc(1, sizeof *x);
    x->o = *o;
    *out = NULL;
    if (haar_load(haar_default_path(o->alt2 ? HAAR_FRONTALFACE_ALT2 : HAAR_FRONTALFACE_DEFAULT), &x->face, err) ||
        (o->check == EXTRACT_CHECK_EYES && haar_load(haar_default_path(HAAR_EYE), &x->eye, err)) ||
        lm_load(lm_default_path(), &x->lm, err)) {
        extractor_free(x);
        return -1;
    }
    *out = x;
    return 0;
}

void extractor_free(Extractor *x) {
    if (!x) return;
    haar_free(x->face);
    haar_free(x->eye);
    lm_free(x->lm);
    free(x);
}

/* Face boxes of a grey image, detected on a copy of at most detect_size a side; with min_size > 0
 * (a tracked face's expected box) only boxes of min_size to 3 min_size are searched, which skips
 * the small pyramid scales that cost the most. */
static int detect_boxes(const Extractor *x, const uint8_t *grey, int w, int h, int min_size, HaarBox **boxes) {
    HaarParams hp = haar_params_default();
    hp.min_w = hp.min_h = min_size > x->o.min_face ? min_size : x->o.min_face;
    if (min_size > 0) hp.max_w = hp.max_h = 3 * hp.min_w;
    hp.threads = 0; /* pyramid levels on every OpenMP thread; same boxes */
    int big = w > h ? w : h;
    if (x->o.detect_size > 0 && big > x->o.detect_size) {
        /* large images: detect on a smaller copy (the same resize as the pyramid), then scale the
         * boxes back; landmarks still use the full-size image */
        double k = (double)big / x->o.detect_size;
        int dw = (int)lrint(w / k), dh = (int)lrint(h / k);
        if (dw < 1) dw = 1;
        if (dh < 1) dh = 1;
        uint8_t *small = xmalloc((size_t)dw * dh);
        haar_resize_exact(grey, w, h, small, dw, dh);
        hp.min_w = hp.min_h = (int)ceil(hp.min_w / k);
        if (min_size > 0) hp.max_w = hp.max_h = 3 * hp.min_w;
        int nb = haar_detect(x->face, small, dw, dh, &hp, boxes);
        for (int q = 0; q < nb; q++) {
            (*boxes)[q].x = (int)lrint((*boxes)[q].x * k);
            (*boxes)[q].y = (int)lrint((*boxes)[q].y * k);
            (*boxes)[q].w = (int)lrint((*boxes)[q].w * k);
            (*boxes)[q].h = (int)lrint((*boxes)[q].h * k);
        }
        free(small);
        return nb;
    }
    return haar_detect(x->face, grey, w, h, &hp, boxes);
}

static void eye_centres(const double *xy, double *lx, double *ly, double *rx, double *ry) {
    *lx = *ly = *rx = *ry = 0;
    for (int k = 36; k < 42; k++) *lx += xy[2 * k] / 6, *ly += xy[2 * k + 1] / 6;
    for (int k = 42; k < 48; k++) *rx += xy[2 * k] / 6, *ry += xy[2 * k + 1] / 6;
}

/* Eye boxes of the eye cascade within 0.3 inter-ocular distances of the landmarks' eyes, searched
 * in the band around the eyes scaled so the eyes are 100 px apart. */
static int eyes_near(const Extractor *x, const uint8_t *grey, int w, int h, const double *xy) {
    double lx, ly, rx, ry;
    eye_centres(xy, &lx, &ly, &rx, &ry);
    double iod = hypot(rx - lx, ry - ly);
    if (!(iod >= 4)) return 0;
    int x0 = (int)floor(fmin(lx, rx) - 0.6 * iod), x1 = (int)ceil(fmax(lx, rx) + 0.6 * iod);
    int y0 = (int)floor(fmin(ly, ry) - 0.5 * iod), y1 = (int)ceil(fmax(ly, ry) + 0.5 * iod);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w) x1 = w;
    if (y1 > h) y1 = h;
    int rw = x1 - x0, rh = y1 - y0;
    if (rw < 8 || rh < 8) return 0;
    double k = 100.0 / iod;
    int dw = (int)lrint(rw * k), dh = (int)lrint(rh * k);
    if (dw < 24 || dh < 24 || (long)dw * dh > 4000000L) return 0;
    uint8_t *cr = xmalloc((size_t)rw * rh), *sc = xmalloc((size_t)dw * dh);
    for (int y = 0; y < rh; y++) memcpy(cr + (size_t)y * rw, grey + (size_t)(y0 + y) * w + x0, (size_t)rw);
    haar_resize_exact(cr, rw, rh, sc, dw, dh);
    HaarParams ep = haar_params_default();
    ep.min_w = ep.min_h = 20;
    HaarBox *eb;
    int ne = haar_detect(x->eye, sc, dw, dh, &ep, &eb), hits = 0;
    for (int q = 0; q < ne; q++) {
        double cx = x0 + (eb[q].x + eb[q].w / 2.0) / k, cy = y0 + (eb[q].y + eb[q].h / 2.0) / k;
        if (hypot(cx - lx, cy - ly) < 0.3 * iod || hypot(cx - rx, cy - ry) < 0.3 * iod) hits++;
    }
    free(eb), free(cr), free(sc);
    return hits;
}

/* Landmarks for a predictor box, and the checks. Returns 1 when plausible. */
static int face_from_rect(const Extractor *x, const uint8_t *inten, const uint8_t *grey, int w, int h, LmRect r,
                          int eyes, double *xy, double *shape, int *neyes) {
    lm_predict(x->lm, inten, w, h, r, xy);
    *shape = lm_shape_residual(x->lm, xy);
    *neyes = -1;
    if (x->o.check == EXTRACT_CHECK_NONE) return 1;
    if (!(*shape <= EXTRACT_SHAPE_MAX)) return 0;
    if (x->o.check == EXTRACT_CHECK_EYES && eyes && grey) {
        *neyes = eyes_near(x, grey, w, h, xy);
        return *neyes > 0;
    }
    return 1;
}

static void to_points(const double *xy, float lm[ALIGN_NLM][2]) {
    /* dlib's points are pixel indices; align.h puts pixel centres at +0.5 */
    for (int q = 0; q < ALIGN_NLM; q++) {
        lm[q][0] = (float)(xy[2 * q] + 0.5);
        lm[q][1] = (float)(xy[2 * q + 1] + 0.5);
    }
}

static void sort_boxes_by_area(HaarBox *b, int n) {
    /* largest first; stable for equal areas (boxes come sorted by position) */
    for (int a = 1; a < n; a++)
        for (int k = a; k > 0 && (long)b[k].w * b[k].h > (long)b[k - 1].w * b[k - 1].h; k--) {
            HaarBox t = b[k];
            b[k] = b[k - 1];
            b[k - 1] = t;
        }
}

static void appendf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t n, const char *fmt, ...) {
    if (!buf || !n) return;
    size_t l = strlen(buf);
    if (l + 1 >= n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + l, n - l, fmt, ap);
    va_end(ap);
}

int extract_faces(Extractor *x, const Image *img, ExtractFace **faces, int *nrejected, char *why, size_t nwhy) {
    *faces = NULL;
    *nrejected = 0;
    if (why && nwhy) why[0] = 0;
    uint8_t *grey = haar_grey_from_image(img);
    HaarBox *boxes;
    int nb = detect_boxes(x, grey, img->w, img->h, 0, &boxes);
    sort_boxes_by_area(boxes, nb);
    int nf = 0;
    uint8_t *inten = nb ? lm_intensity_from_image(img) : NULL;
    for (int k = 0; k < nb && (x->o.all || nf == 0); k++) {
        LmRect r = lm_rect_from_haar(boxes[k].x, boxes[k].y, boxes[k].w, boxes[k].h);
        double xy[2 * ALIGN_NLM], shape;
        int eyes;
        if (!face_from_rect(x, inten, grey, img->w, img->h, r, 1, xy, &shape, &eyes)) {
            (*nrejected)++;
            appendf(why, nwhy, "%sbox %d,%d %dx%d rejected (%s)", why && why[0] ? "; " : "", boxes[k].x, boxes[k].y, boxes[k].w,
                    boxes[k].h, shape > EXTRACT_SHAPE_MAX ? "landmarks not shaped like a face" : "no eye where the landmarks put one");
            continue;
        }
        *faces = xrealloc(*faces, (size_t)(nf + 1) * sizeof **faces);
        ExtractFace *f = &(*faces)[nf++];
        f->box = boxes[k];
        to_points(xy, f->lm);
        f->shape = shape;
        f->eyes = eyes;
    }
    free(inten);
    free(boxes);
    free(grey);
    return nf;
}

/* ---- One-Euro filter ------------------------------------------------------------------------ */
void one_euro_init(OneEuro *f, int n, double min_cutoff, double beta) {
    memset(f, 0, sizeof *f);
    f->n = n;
    f->min_cutoff = min_cutoff;
    f->beta = beta;
    f->d_cutoff = 1.0;
    f->x = xcalloc((size_t)n, sizeof *f->x);
    f->dx = xcalloc((size_t)n, sizeof *f->dx);
}

void one_euro_free(OneEuro *f) {
    free(f->x);
    free(f->dx);
    memset(f, 0, sizeof *f);
}

void one_euro_reset(OneEuro *f) { f->init = 0; }

static double euro_alpha(double cutoff, double dt) {
    double tau = 1.0 / (2 * M_PI * cutoff);
    return 1.0 / (1.0 + tau / dt);
}

void one_euro_apply(OneEuro *f, double t, double scale, double *v) {
    if (f->min_cutoff <= 0) return;
    double dt = t - f->t_prev;
    if (!f->init || !(dt > 0)) {
        if (!f->init || dt < 0) {
            memcpy(f->x, v, (size_t)f->n * sizeof *v);
            memset(f->dx, 0, (size_t)f->n * sizeof *f->dx);
            f->init = 1;
            f->t_prev = t;
        } else {
            memcpy(v, f->x, (size_t)f->n * sizeof *v); /* the same time again: the same output */
        }
        return;
    }
    double ad = euro_alpha(f->d_cutoff, dt), s = scale > 0 ? scale : 1;
    for (int i = 0; i < f->n; i++) {
        double d = (v[i] - f->x[i]) / dt;
        f->dx[i] += ad * (d - f->dx[i]);
        double a = euro_alpha(f->min_cutoff + f->beta * fabs(f->dx[i]) / s, dt);
        f->x[i] += a * (v[i] - f->x[i]);
        v[i] = f->x[i];
    }
    f->t_prev = t;
}

/* ---- tracking ------------------------------------------------------------------------------- */
struct FaceTracker {
    Extractor *x;
    int have, since;
    double raw[2 * ALIGN_NLM];
    OneEuro euro;
    long detections, found, lost, rejected, cuts;
    uint8_t thumb[32 * 32]; /* the last frame's 32x32 mean intensities, to notice cuts */
    int have_thumb;
};

/* 1 when the frame differs from the last one like a cut (mean absolute difference of 32x32 block
 * means above 24 of 255): the tracker then detects again and restarts the smoothing. */
static int scene_cut(FaceTracker *t, const uint8_t *inten, int w, int h) {
    uint8_t th[32 * 32];
    double diff = 0;
    for (int by = 0; by < 32; by++)
        for (int bx = 0; bx < 32; bx++) {
            int x0 = bx * w / 32, x1 = (bx + 1) * w / 32, y0 = by * h / 32, y1 = (by + 1) * h / 32;
            long s = 0, n = 0;
            for (int y = y0; y < y1; y += 2)
                for (int x = x0; x < x1; x += 2) s += inten[(size_t)y * w + x], n++;
            th[by * 32 + bx] = (uint8_t)(n ? s / n : 0);
            diff += abs((int)th[by * 32 + bx] - (int)t->thumb[by * 32 + bx]);
        }
    int cut = t->have_thumb && diff / (32 * 32) > 24;
    memcpy(t->thumb, th, sizeof th);
    t->have_thumb = 1;
    return cut;
}

FaceTracker *tracker_new(Extractor *x) {
    FaceTracker *t = xcalloc(1, sizeof *t);
    t->x = x;
    one_euro_init(&t->euro, 2 * ALIGN_NLM, x->o.euro_min_cutoff, x->o.euro_beta);
    return t;
}

void tracker_free(FaceTracker *t) {
    if (!t) return;
    one_euro_free(&t->euro);
    free(t);
}

void tracker_stats(const FaceTracker *t, long *detections, long *found, long *lost, long *rejected) {
    if (detections) *detections = t->detections;
    if (found) *found = t->found;
    if (lost) *lost = t->lost;
    if (rejected) *rejected = t->rejected;
}

static void centre_and_iod(const double *xy, double *cx, double *cy, double *iod) {
    double lx, ly, rx, ry;
    eye_centres(xy, &lx, &ly, &rx, &ry);
    *cx = *cy = 0;
    for (int k = 0; k < ALIGN_NLM; k++) *cx += xy[2 * k] / ALIGN_NLM, *cy += xy[2 * k + 1] / ALIGN_NLM;
    *iod = hypot(rx - lx, ry - ly);
}

int tracker_step(FaceTracker *t, const Image *frame, double time, float lm[ALIGN_NLM][2], int *detected) {
    const Extractor *x = t->x;
    const int w = frame->w, h = frame->h;
    uint8_t *inten = lm_intensity_from_image(frame);
    double txy[2 * ALIGN_NLM], shape;
    int eyes, tracked = 0;
    if (detected) *detected = 0;
    if (scene_cut(t, inten, w, h) && t->have) { /* a new shot: find the face afresh */
        t->cuts++;
        t->have = 0;
        one_euro_reset(&t->euro);
    }
    if (t->have) {
        /* follow the face: the box whose mean shape best fits the last landmarks */
        LmRect r = lm_rect_fit(x->lm, t->raw);
        tracked = face_from_rect(x, inten, NULL, w, h, r, 0, txy, &shape, &eyes);
    }
    const double *use = tracked ? txy : NULL;
    double dxy[2 * ALIGN_NLM];
    if (!t->have || !tracked || t->since + 1 >= x->o.detect_every) {
        if (detected) *detected = 1;
        t->detections++;
        uint8_t *grey = haar_grey_from_image(frame);
        HaarBox *boxes;
        int nb;
        if (t->have) { /* the face followed: boxes of about its size (its Haar box is ~2.7 inter-ocular distances) */
            double cx, cy, iod;
            centre_and_iod(t->raw, &cx, &cy, &iod);
            nb = detect_boxes(x, grey, w, h, (int)(1.5 * iod), &boxes);
            if (nb == 0) { /* it changed size: the whole range */
                free(boxes);
                nb = detect_boxes(x, grey, w, h, 0, &boxes);
            }
        } else {
            nb = detect_boxes(x, grey, w, h, 0, &boxes);
        }
        sort_boxes_by_area(boxes, nb);
        if (t->have) { /* nearest to the face followed first */
            double cx, cy, iod;
            centre_and_iod(t->raw, &cx, &cy, &iod);
            for (int a = 1; a < nb; a++)
                for (int k = a; k > 0; k--) {
                    double d1 = hypot(boxes[k].x + boxes[k].w / 2.0 - cx, boxes[k].y + boxes[k].h / 2.0 - cy);
                    double d0 = hypot(boxes[k - 1].x + boxes[k - 1].w / 2.0 - cx, boxes[k - 1].y + boxes[k - 1].h / 2.0 - cy);
                    if (d1 >= d0) break;
                    HaarBox tb = boxes[k];
                    boxes[k] = boxes[k - 1];
                    boxes[k - 1] = tb;
                }
        }
        for (int k = 0; k < nb; k++) {
            LmRect r = lm_rect_from_haar(boxes[k].x, boxes[k].y, boxes[k].w, boxes[k].h);
            if (face_from_rect(x, inten, grey, w, h, r, 1, dxy, &shape, &eyes)) {
                use = dxy;
                break;
            }
            t->rejected++;
        }
        free(boxes);
        free(grey);
        t->since = 0;
    } else {
        t->since++;
    }
    free(inten);
    if (!use) {
        if (t->have) t->lost++;
        t->have = 0;
        one_euro_reset(&t->euro);
        return 0;
    }
    double cx0 = 0, cy0 = 0, iod0 = 0, cx, cy, iod;
    if (t->have) centre_and_iod(t->raw, &cx0, &cy0, &iod0);
    centre_and_iod(use, &cx, &cy, &iod);
    if (!t->have || hypot(cx - cx0, cy - cy0) > iod) one_euro_reset(&t->euro); /* another face, or a cut */
    memcpy(t->raw, use, sizeof t->raw);
    t->have = 1;
    t->found++;
    double sm[2 * ALIGN_NLM];
    memcpy(sm, use, sizeof sm);
    one_euro_apply(&t->euro, time, iod, sm);
    to_points(sm, lm);
    return 1;
}

/* ---- the run -------------------------------------------------------------------------------- */
typedef struct {
    char **v;
    int n, cap;
} PathList;

static void pl_add(PathList *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, (size_t)l->cap * sizeof *l->v);
    }
    l->v[l->n++] = xstrdup(s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Regular files of dir (sorted by name, dot files skipped); with recursive, those of sub-folders
 * too (symlinked folders not followed), depth first in name order. */
static int list_inputs(const char *dir, int recursive, int depth, PathList *out, SlErr *err) {
    if (depth > 32) return sl_fail(err, "%s: folders nested more than 32 deep", dir);
    DIR *d = opendir(dir);
    if (!d) return sl_fail(err, "%s: cannot list the folder", dir);
    PathList names = {0};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        pl_add(&names, e->d_name);
    }
    closedir(d);
    if (names.n) qsort(names.v, (size_t)names.n, sizeof *names.v, cmp_str);
    int rc = 0;
    for (int i = 0; i < names.n && !rc; i++) {
        char p[SL_PATH_MAX];
        sl_path_join(p, sizeof p, dir, names.v[i]);
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (S_ISREG(st.st_mode)) pl_add(out, p);
        else if (S_ISDIR(st.st_mode) && recursive) rc = list_inputs(p, 1, depth + 1, out, err);
        else if (S_ISLNK(st.st_mode) && sl_is_file(p)) pl_add(out, p);
    }
    for (int i = 0; i < names.n; i++) free(names.v[i]);
    free(names.v);
    return rc;
}

typedef struct {
    char *text;
    size_t len, cap;
} Buf;

static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[8800];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    size_t n = (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1;
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->text = xrealloc(b->text, b->cap);
    }
    memcpy(b->text + b->len, tmp, n);
    b->len += n;
    b->text[b->len] = 0;
}

/* One line of the report: no tabs or newlines from file names. */
static void clean(char *s) {
    for (; *s; s++)
        if (*s == '\t' || *s == '\n' || *s == '\r') *s = ' ';
}

static void do_photo(Extractor *x, FaceSetWriter *fw, const char *path, const char *name, Buf *rep, ExtractSummary *s) {
    SlErr err;
    Image img;
    int orient;
    if (exif_load_image(path, 3, &img, &orient, &err)) {
        s->unreadable++;
        clean(err.msg);
        buf_printf(rep, "%s\tunreadable\t%s\n", name, err.msg);
        return;
    }
    s->images++;
    ExtractFace *faces;
    int nrej;
    char why[1024];
    int nf = extract_faces(x, &img, &faces, &nrej, why, sizeof why);
    s->rejected += nrej;
    if (nf == 0) {
        s->noface++;
        buf_printf(rep, "%s\tno-face\t%dx%d, no face of at least %d px found%s%s\n", name, img.w, img.h, x->o.min_face,
                   nrej ? "; " : "", why);
    } else {
        char idx[2048] = "";
        for (int k = 0; k < nf; k++) {
            int fi = faceset_writer_add(fw, &img, (const float(*)[2])faces[k].lm, NULL, &err);
            if (fi < 0) {
                s->failed++;
                clean(err.msg);
                buf_printf(rep, "%s\tfailed\tface at %d,%d %dx%d: %s\n", name, faces[k].box.x, faces[k].box.y, faces[k].box.w,
                           faces[k].box.h, err.msg);
                continue;
            }
            s->faces++;
            appendf(idx, sizeof idx, "%s%d (box %d,%d %dx%d)", idx[0] ? ", " : "", fi, faces[k].box.x, faces[k].box.y,
                    faces[k].box.w, faces[k].box.h);
        }
        if (idx[0])
            buf_printf(rep, "%s\tfaces\t%s%s%s%s\n", name, idx, orient != 1 ? "; EXIF orientation applied" : "",
                       nrej ? "; " : "", why);
    }
    free(faces);
    image_free(&img);
}

static void do_clip(Extractor *x, FaceSetWriter *fw, const char *path, const char *name, Buf *rep, ExtractSummary *s) {
    SlErr err;
    char digest[65];
    VideoReader *vr;
    VideoInfo vi;
    if (sl_sha256_file(path, digest, &err) || video_open(path, x->o.threads, &vr, &vi, &err)) {
        s->unreadable++;
        clean(err.msg);
        buf_printf(rep, "%s\tunreadable\t%s\n", name, err.msg);
        return;
    }
    s->clips++;
    FaceTracker *t = tracker_new(x);
    Image f;
    double tm, next_t = 0;
    long i = 0, kept = 0, faces = 0, noface = 0, failed = 0, first = -1, last = -1;
    int rc;
    char why[1200] = "";
    while ((rc = video_read(vr, &f, &tm, &err)) == 1) {
        float lm[ALIGN_NLM][2];
        int has = tracker_step(t, &f, tm, lm, NULL);
        int take = x->o.fps > 0 ? tm + 1e-9 >= next_t : i % x->o.every == 0;
        if (take) {
            if (x->o.fps > 0) next_t = (floor(tm * x->o.fps + 1e-9) + 1) / x->o.fps;
            kept++;
            if (!has) {
                noface++;
            } else {
                FaceClip c = {path, digest, tm, i};
                int fi = faceset_writer_add_clip(fw, &f, (const float(*)[2])lm, &c, &err);
                if (fi < 0) {
                    failed++;
                    if (!why[0]) snprintf(why, sizeof why, "; first failure at frame %ld: %s", i, err.msg);
                } else {
                    if (first < 0) first = fi;
                    last = fi;
                    faces++;
                }
            }
        }
        image_free(&f);
        i++;
    }
    s->frames += i;
    long det, found, lost, rej;
    tracker_stats(t, &det, &found, &lost, &rej);
    s->faces += (int)faces;
    s->failed += (int)failed;
    s->rejected += (int)rej;
    clean(why);
    char rdmsg[1200] = "";
    if (rc < 0) {
        clean(err.msg);
        snprintf(rdmsg, sizeof rdmsg, "; reading stopped: %s", err.msg);
    }
    if (faces == 0) {
        s->noface++;
        buf_printf(rep, "%s\tno-face\tclip %dx%d %s, %ld frames, %ld sampled, no face of at least %d px found (%ld boxes rejected)%s%s\n",
                   name, vi.w, vi.h, vi.codec, i, kept, x->o.min_face, rej, rdmsg, why);
        sl_warn("%s: no face found in %ld frames", path, i);
    } else {
        buf_printf(rep,
                   "%s\tclip\t%dx%d %s%s, %ld frames, %ld sampled: faces %ld..%ld (%ld faces, %ld sampled frames without a "
                   "face); detector ran %ld times, face lost %ld times, %ld boxes rejected%s%s\n",
                   name, vi.w, vi.h, vi.codec, vi.rotation ? " (rotation applied)" : "", i, kept, first, last, faces, noface,
                   det, lost, rej, rdmsg, why);
    }
    tracker_free(t);
    video_close(vr);
}

int extract_run(const ExtractOptions *o, const char *const *inputs, int n, const char *out, const char *subject,
                ExtractSummary *s, SlErr *err) {
    memset(s, 0, sizeof *s);
    PathList files = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (sl_is_dir(inputs[i])) {
            int before = files.n;
            rc = list_inputs(inputs[i], o->recursive, 0, &files, err);
            if (!rc && files.n == before) {
                int sub = 0;
                if (!o->recursive) { /* say why an empty listing happened */
                    DIR *d = opendir(inputs[i]);
                    struct dirent *e;
                    while (d && (e = readdir(d)))
                        if (e->d_name[0] != '.') {
                            char p[SL_PATH_MAX];
                            sl_path_join(p, sizeof p, inputs[i], e->d_name);
                            sub += sl_is_dir(p);
                        }
                    if (d) closedir(d);
                }
                rc = sub ? sl_fail(err, "%s: no files in the folder, only %d sub-folder%s (use --recursive)", inputs[i], sub,
                                   sub == 1 ? "" : "s")
                         : sl_fail(err, "%s: the folder has no files", inputs[i]);
            }
        } else if (sl_is_file(inputs[i])) {
            pl_add(&files, inputs[i]);
        } else {
            if (!sl_check_regular(inputs[i], err)) sl_fail(err, "%s: not a file or directory", inputs[i]);
            rc = -1;
        }
    }
    s->files = files.n;
    Extractor *x = NULL;
    FaceSetWriter fw;
    int writer_open = 0;
    if (!rc && files.n == 0) rc = sl_fail(err, "no input files");
    if (!rc) rc = extractor_open(&x, o, err);
    if (!rc) rc = faceset_writer_open(&fw, out, o->size, o->coverage, o->keep_frames, err);
    if (!rc) writer_open = 1;
    Buf rep = {0};
    if (!rc) {
        buf_printf(&rep, "# swaplab extract report: one line per input file: file, status, detail\n");
        buf_printf(&rep, "# status: faces (photo: the face-set indices), clip (video: the range of face-set indices), "
                         "no-face, unreadable, failed\n");
        SlProgress prog;
        sl_progress_begin(&prog, "extract", files.n);
        for (int i = 0; i < files.n; i++) {
            char name[SL_PATH_MAX];
            snprintf(name, sizeof name, "%s", files.v[i]);
            clean(name);
            if (video_is_video_path(files.v[i])) do_clip(x, &fw, files.v[i], name, &rep, s);
            else do_photo(x, &fw, files.v[i], name, &rep, s);
            char extra[64];
            snprintf(extra, sizeof extra, "faces %d", s->faces);
            sl_progress_update(&prog, i + 1, extra);
        }
        char summary[256];
        snprintf(summary, sizeof summary, "%d images, %d clips, %d faces", s->images, s->clips, s->faces);
        sl_progress_end(&prog, summary);
        sl_path_join(s->report, sizeof s->report, out, "extract_report.txt");
        /* faces.jsonl only when there are faces (an empty one would block a second try into out) */
        if ((s->faces > 0 && faceset_writer_finish(&fw, err)) || sl_write_atomic(s->report, rep.text, rep.len, err)) rc = -1;
        else if (s->images + s->clips == 0)
            rc = sl_fail(err, "nothing was read: none of the %d input file%s is a readable photo or clip (%s says why)",
                         files.n, files.n == 1 ? "" : "s", s->report);
        else if (s->faces == 0)
            rc = sl_fail(err, "no face found in %s%s (%s says why)", files.n == 1 ? files.v[0] : "any of the inputs",
                         files.n == 1 ? "" : " read", s->report);
        if (!rc) {
            char src[1024];
            snprintf(src, sizeof src, "subject %s: %d faces extracted by swaplab extract from %d photos and %d clips (%s)",
                     subject, s->faces, s->images, s->clips, files.n == 1 ? files.v[0] : "see extract_report.txt");
            rc = consent_write_draft(out, src, err);
        }
    }
    free(rep.text);
    if (writer_open) faceset_writer_free(&fw);
    extractor_free(x);
    for (int i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    return rc;
}
