/* swap_video.c — the video swap pipeline (infer/swap_video.h): decode, track, align, model,
 * composite with time-smoothed colour statistics, label, watermark, encode, provenance boxes. */
#include "infer/swap_video.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/video.h"
#include "infer/colour.h"
#include "infer/label.h"
#include "infer/provenance/mp4_carrier.h"
#include "infer/watermark.h"
#include "util/crypto.h"

void swap_video_options_default(SwapVideoOptions *o) {
    memset(o, 0, sizeof *o);
    o->crf = 23;
    o->x264_preset = "veryfast";
    o->crop = 64;
    o->coverage = ALIGN_DEFAULT_COVERAGE;
    o->colour_smooth = 0.5;
    o->pipeline = 1;
}

/* ---- colour statistics smoothed in time ---------------------------------------------------- */
void colour_smoother_init(ColourSmoother *c, ColourMode mode, double tau) {
    memset(c, 0, sizeof *c);
    c->mode = mode;
    c->tau = tau;
}

void colour_smoother_reset(ColourSmoother *c) { c->init = 0; }

/* The exponential moving average of every field of a ColourStats (weight, RGB mean and
 * covariance, L*a*b* mean and deviation): a = 1 - exp(-dt / tau). */
_Static_assert(sizeof(ColourStats) == 19 * sizeof(double), "ColourStats: doubles only");
static void ema_stats(ColourStats *s, const ColourStats *now, double a) {
    double *d = (double *)s;
    const double *v = (const double *)now;
    for (size_t i = 0; i < sizeof *s / sizeof(double); i++) d[i] += a * (v[i] - d[i]);
}

void colour_smoother_apply(ColourSmoother *c, double t, float *img, const float *ref, const float *mask, size_t n) {
    if (c->mode == COLOUR_NONE) return;
    if (c->mode == COLOUR_HIST) { /* needs the whole distributions: per frame */
        colour_transfer(c->mode, img, ref, mask, n);
        return;
    }
    ColourStats from, to;
    if (colour_stats(&from, img, mask, n) || colour_stats(&to, ref, mask, n)) return; /* empty mask */
    if (!c->init) {
        c->from = from, c->to = to;
    } else {
        double a = 1;
        if (c->tau > 0) a = t > c->t_prev ? 1 - exp(-(t - c->t_prev) / c->tau) : 0; /* the same time again: 0 */
        ema_stats(&c->from, &from, a);
        ema_stats(&c->to, &to, a);
    }
    c->init = 1;
    c->t_prev = t;
    colour_apply(c->mode, img, n, &c->from, &c->to);
}

/* ---- the clip bound to its consented face set ---------------------------------------------- */
int swap_video_check_clip(const FaceSet *fs, const char *clip, SlErr *err) {
    char digest[65];
    if (sl_sha256_file(clip, digest, err)) return -1;
    int face = -1;
    for (int i = 0; i < fs->n; i++)
        if (!strcmp(fs->faces[i].clip_sha256, digest) && (face < 0 || fs->faces[i].clip_frame < fs->faces[face].clip_frame))
            face = i;
    if (face < 0)
        return sl_fail(err, "%s: this clip is not one whose faces are in the consented face set %s (no face there records "
                            "its SHA-256 %.16s...); extract the clip into a face set and record the subject's consent first",
                       clip, fs->dir, digest);
    const FaceRecord *f = &fs->faces[face];
    VideoReader *vr;
    VideoInfo vi;
    if (video_open(clip, 1, &vr, &vi, err)) return -1;
    Image frame = {0};
    double t;
    int r = 0;
    for (long k = 0; k <= f->clip_frame; k++) {
        image_free(&frame);
        r = video_read(vr, &frame, &t, err);
        if (r != 1) break;
    }
    video_close(vr);
    if (r != 1) {
        image_free(&frame);
        return r < 0 ? -1
                     : sl_fail(err, "%s: the clip ends before frame %ld that %s records for face %d", clip, f->clip_frame,
                               fs->dir, face);
    }
    int rc = 0;
    Affine a;
    if (align_face_affine(f->lm_src, fs->crop, f->coverage, &a)) {
        rc = sl_fail(err, "%s: face %d has degenerate landmarks", fs->dir, face);
    } else {
        Image crop;
        align_warp(&frame, &a, fs->crop, fs->crop, ALIGN_BORDER_REPLICATE, NULL, &crop);
        const size_t n = 3 * (size_t)fs->crop * fs->crop;
        float *ref = xmalloc(sizeof(float) * n);
        if (faceset_load_face(fs, face, ref, err)) {
            rc = -1;
        } else {
            double d = 0;
            const size_t np = (size_t)fs->crop * fs->crop;
            for (size_t i = 0; i < np; i++)
                for (int c = 0; c < 3; c++) d += fabs(crop.px[i * 3 + c] - ref[c * np + i] * 255.0);
            d /= (double)n;
            if (d > 1.0)
                rc = sl_fail(err, "%s: frame %ld of this clip does not show the consented face %s of %s (mean difference "
                                  "%.1f of 255): the clip is not the one the face set was extracted from",
                             clip, f->clip_frame, f->file, fs->dir, d);
        }
        free(ref);
        image_free(&crop);
    }
    image_free(&frame);
    return rc;
}

/* ---- label, watermark and encoding on a second thread ---------------------------------------- */
#define MARK_QUEUE 4

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_get;
    Image img[MARK_QUEUE];
    double t[MARK_QUEUE];
    int head, n, closed, failed;
    SlErr err;                /* the worker's first error */
    VideoWriter *vw;          /* written by the worker only while it runs */
    WmEmbedder *wm;           /* used by the worker only while it runs */
    const LabelStamp *label;  /* NULL: no label */
    double mark, encode;      /* wall seconds in the worker */
    double cpu;               /* the worker thread's CPU seconds */
} Marker;

static int mark_and_encode(VideoWriter *vw, WmEmbedder *wm, const LabelStamp *label, Image *out,
                           double t, double *mark, double *encode, double (*clk)(int), int cpu, SlErr *err) {
    double f = clk(cpu);
    if (label) label_stamp_draw(label, out);
    int w = wm_embedder_apply(wm, out, err);
    double g = clk(cpu);
    *mark += g - f;
    if (!w) w = video_writer_add(vw, out, t, err);
    *encode += clk(cpu) - g;
    return w;
}

static double wall_s(int cpu) {
    (void)cpu;
    return sl_now();
}

static double thread_cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void *marker_main(void *arg) {
    Marker *k = arg;
    double c0 = thread_cpu_s();
    for (;;) {
        pthread_mutex_lock(&k->mu);
        while (k->n == 0 && !k->closed) pthread_cond_wait(&k->can_get, &k->mu);
        if (k->n == 0) {
            k->cpu = thread_cpu_s() - c0;
            pthread_mutex_unlock(&k->mu);
            return NULL;
        }
        Image im = k->img[k->head];
        double t = k->t[k->head];
        k->head = (k->head + 1) % MARK_QUEUE;
        k->n--;
        int failed = k->failed;
        pthread_cond_signal(&k->can_put);
        pthread_mutex_unlock(&k->mu);
        if (!failed) {
            SlErr e;
            if (mark_and_encode(k->vw, k->wm, k->label, &im, t, &k->mark, &k->encode, wall_s, 0, &e)) {
                pthread_mutex_lock(&k->mu);
                k->failed = 1;
                k->err = e;
                pthread_cond_signal(&k->can_put);
                pthread_mutex_unlock(&k->mu);
            }
        }
        image_free(&im);
    }
}

/* Hands a frame to the worker (which frees it); -1 with err when the worker has failed. */
static int marker_push(Marker *k, Image *img, double t, SlErr *err) {
    pthread_mutex_lock(&k->mu);
    while (k->n == MARK_QUEUE && !k->failed) pthread_cond_wait(&k->can_put, &k->mu);
    if (k->failed) {
        *err = k->err;
        pthread_mutex_unlock(&k->mu);
        image_free(img);
        return -1;
    }
    int slot = (k->head + k->n) % MARK_QUEUE;
    k->img[slot] = *img;
    k->t[slot] = t;
    k->n++;
    pthread_cond_signal(&k->can_get);
    pthread_mutex_unlock(&k->mu);
    return 0;
}

/* ---- the pipeline -------------------------------------------------------------------------- */
static double clock_s(int cpu) {
    if (!cpu) return sl_now();
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int swap_video_run(SwapModel *m, NnCtx *ctx, int target, const char *in_clip, const char *out_clip,
                   const SwapOptions *so, const SwapVideoOptions *vo, const ExtractOptions *ex,
                   const ProvenanceInfo *pi, const SlKeypair *key, SwapVideoStats *stats, SlErr *err) {
    SwapVideoStats st;
    memset(&st, 0, sizeof st);
    const int C = vo->crop;
    if (C < m->arch.size)
        return sl_fail(err, "%s: the face crop is %d px but the model (preset %s) takes %d px faces", in_clip, C,
                       m->arch.preset, m->arch.size);
    if (swap_check_mask(m, so, NULL, err)) return -1;
    char digest[65];
    if (sl_sha256_file(in_clip, digest, err)) return -1;
    VideoReader *vr = NULL;
    VideoInfo vi;
    Extractor *x = NULL;
    FaceTracker *tr = NULL;
    VideoWriter *vw = NULL;
    float *in = NULL, *dec = NULL, *dec_raw = NULL, *mask = NULL, *learned = NULL;
    Marker *marker = NULL;
    pthread_t worker;
    int worker_running = 0;
    LabelStamp stamp = {0};
    WmEmbedder *wm = NULL;
    int rc = -1;
    double t0 = clock_s(vo->cpu_clock), p0 = clock_s(1), m0 = thread_cpu_s();
    if (video_open(in_clip, vo->threads, &vr, &vi, err)) goto done;
    if (extractor_open(&x, ex, err)) goto done;
    tr = tracker_new(x);
    VideoWriterOptions wo;
    video_writer_options_default(&wo);
    wo.crf = vo->crf;
    wo.preset = vo->x264_preset;
    wo.fps = vi.fps > 0 ? vi.fps : 25;
    wo.threads = vo->threads;
    wo.audio_from = in_clip;
    if (video_writer_open(&vw, out_clip, vi.w, vi.h, &wo, err)) goto done;
    WmKey wk;
    wm_key_from_string(&wk, pi->wm_key);
    wm = wm_embedder_new(&wk, provenance_payload(pi)); /* the layout and the planes made once for the clip */
    if (pi->label) label_stamp_init(&stamp, vi.w, vi.h); /* the font rendered once for the clip */
    const LabelStamp *label = pi->label ? &stamp : NULL;
    const size_t cn = (size_t)C * C;
    in = xmalloc(sizeof(float) * 3 * cn);
    dec = xmalloc(sizeof(float) * 3 * cn);
    if (so->colour_amount < 1) dec_raw = xmalloc(sizeof(float) * 3 * cn); /* the face before a part transfer */
    mask = xmalloc(sizeof(float) * cn);
    if (so->mask.shape == MASK_SHAPE_LEARNED) learned = xmalloc(sizeof(float) * cn);
    ColourSmoother cs;
    colour_smoother_init(&cs, so->colour, vo->colour_smooth);
    SwapOptions so_none = *so;
    so_none.colour = COLOUR_NONE; /* the colour transfer is done here, with smoothed statistics */
    so_none.colour_amount = 1;
    /* label, watermark and encoding overlap with the next frame's decode, tracking and swap on a
     * second thread (not with cpu_clock: per-stage CPU times need one stage at a time) */
    if (vo->pipeline && !vo->cpu_clock) {
        marker = xcalloc(1, sizeof *marker);
        pthread_mutex_init(&marker->mu, NULL);
        pthread_cond_init(&marker->can_put, NULL);
        pthread_cond_init(&marker->can_get, NULL);
        marker->vw = vw, marker->wm = wm, marker->label = label;
        if (pthread_create(&worker, NULL, marker_main, marker) != 0) SL_DIE("cannot start the encoding thread");
        worker_running = 1;
    }
    for (;;) {
        if (vo->limit > 0 && st.frames >= vo->limit) break;
        double a = clock_s(vo->cpu_clock);
        Image frame;
        double t;
        int r = video_read(vr, &frame, &t, err);
        double b = clock_s(vo->cpu_clock);
        st.decode += b - a;
        if (r < 0) goto done;
        if (r == 0) break;
        float lm[ALIGN_NLM][2];
        int has = tracker_step(tr, &frame, t, lm, NULL);
        double c = clock_s(vo->cpu_clock);
        st.track += c - b;
        Image out;
        Image crop = {0};
        float lm_crop[ALIGN_NLM][2];
        Affine aff;
        SlErr e2;
        if (has && align_face(&frame, lm, C, vo->coverage, &crop, lm_crop, &aff, &e2) == 0) {
            image_to_chw(&crop, in);
            image_free(&crop);
            double d = clock_s(vo->cpu_clock);
            st.align += d - c;
            swap_run_model_mask(m, ctx, target, in, 1, C, dec, learned);
            double e = clock_s(vo->cpu_clock);
            st.model += e - d;
            swap_face_mask(so, (const float(*)[2])lm_crop, learned, C, mask);
            if (dec_raw) memcpy(dec_raw, dec, sizeof(float) * 3 * cn);
            colour_smoother_apply(&cs, t, dec, in, mask, cn);
            if (dec_raw) colour_mix(dec, dec_raw, so->colour_amount, cn);
            swap_composite(&frame, &aff, C, in, dec, mask, &so_none, &out);
            image_free(&frame);
            st.composite += clock_s(vo->cpu_clock) - e;
            st.swapped++;
        } else {
            out = frame;
            colour_smoother_reset(&cs);
            st.lost += !has;
        }
        int w;
        if (marker) {
            w = marker_push(marker, &out, t, err); /* the worker frees out */
        } else {
            w = mark_and_encode(vw, wm, label, &out, t, &st.mark, &st.encode, clock_s, vo->cpu_clock, err);
            image_free(&out);
        }
        if (w) goto done;
        st.frames++;
    }
    if (worker_running) { /* every frame written before the file is finished */
        pthread_mutex_lock(&marker->mu);
        marker->closed = 1;
        pthread_cond_signal(&marker->can_get);
        pthread_mutex_unlock(&marker->mu);
        pthread_join(worker, NULL);
        worker_running = 0;
        st.mark += marker->mark, st.encode += marker->encode;
        st.cpu_worker = marker->cpu;
        if (marker->failed) {
            *err = marker->err;
            goto done;
        }
    }
    if (st.swapped == 0) {
        sl_fail(err, "%s: no face found in any of its %ld frames; nothing written", in_clip, st.frames);
        goto done;
    }
    Mp4Provenance mp = {.info = pi, .key = key, .w = vi.w & ~1, .h = vi.h & ~1, .frames = st.frames, .swapped = st.swapped,
                        .fps = wo.fps, .crf = vo->crf, .input_sha256 = digest};
    double h = clock_s(vo->cpu_clock);
    if (video_writer_finish(vw, mp4_carrier_append, &mp, err)) goto done;
    st.encode += clock_s(vo->cpu_clock) - h;
    rc = 0;
done:
    if (worker_running) { /* stopped by an error: let the worker drain and free the queue */
        pthread_mutex_lock(&marker->mu);
        marker->closed = 1;
        marker->failed = 1;
        pthread_cond_signal(&marker->can_get);
        pthread_mutex_unlock(&marker->mu);
        pthread_join(worker, NULL);
    }
    if (marker) {
        pthread_mutex_destroy(&marker->mu);
        pthread_cond_destroy(&marker->can_put);
        pthread_cond_destroy(&marker->can_get);
        free(marker);
    }
    st.total = clock_s(vo->cpu_clock) - t0;
    st.cpu_total = clock_s(1) - p0;
    st.cpu_main = thread_cpu_s() - m0;
    if (stats) *stats = st;
    free(in), free(dec), free(dec_raw), free(mask), free(learned);
    label_stamp_free(&stamp);
    wm_embedder_free(wm);
    video_writer_free(vw);
    tracker_free(tr);
    extractor_free(x);
    video_close(vr);
    return rc;
}
