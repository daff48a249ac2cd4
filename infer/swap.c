/* swap.c — the swap library (swap.h): consent gate, model step, mask, colour transfer, warp back
 * into the frame and blend (alpha or Poisson, infer/blend.h). */
#include "infer/swap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/groundtruth.h"
#include "infer/blend.h"
#include "nn/device.h"
#include "data/image.h"
#include "util/fs.h"

void swap_options_default(SwapOptions *o) {
    memset(o, 0, sizeof *o);
    o->poisson_iters = 300;
    o->poisson_tol = 1e-3f;
    SL_ASSERT(swap_options_set_mask(o, SWAP_DEFAULT_MASK, NULL) == 0);
    SL_ASSERT(swap_options_set_colour(o, SWAP_DEFAULT_COLOUR, NULL) == 0);
    SL_ASSERT(swap_options_set_blend(o, SWAP_DEFAULT_BLEND, NULL) == 0);
    o->detail = SWAP_DEFAULT_DETAIL;
}

int swap_options_set_detail(SwapOptions *o, double d, SlErr *err) {
    if (!(d >= 0 && d <= 4)) return sl_fail(err, "detail %g out of range: a Gaussian sigma in frame pixels, 0 (off) to 4", d);
    o->detail = (float)d;
    return 0;
}

int swap_options_set_mask(SwapOptions *o, const char *s, SlErr *err) {
    MaskSpec m;
    if (mask_spec_parse(s, &m, err)) return -1;
    o->mask = m;
    snprintf(o->mask_str, sizeof o->mask_str, "%s", m.str);
    return 0;
}

int swap_options_set_colour(SwapOptions *o, const char *s, SlErr *err) {
    char name[16];
    const char *colon = strchr(s, ':');
    size_t len = colon ? (size_t)(colon - s) : strlen(s);
    ColourMode mode;
    if (len >= sizeof name) len = sizeof name - 1; /* too long for any name: fails below */
    memcpy(name, s, len);
    name[len] = 0;
    if (colour_mode_parse(name, &mode))
        return sl_fail(err, "unknown colour transfer '%s': use none, avg, rct (reinhard), lct or hist, optionally with "
                            ":AMOUNT (e.g. rct:0.25)", s);
    double amount = 1;
    if (colon) {
        char *end;
        amount = strtod(colon + 1, &end);
        if (mode == COLOUR_NONE) return sl_fail(err, "colour transfer '%s': none takes no amount", s);
        amount = round(amount * 1000) / 1000; /* in thousandths, so that colour_str records it exactly */
        if (end == colon + 1 || *end || !(amount > 0 && amount <= 1))
            return sl_fail(err, "colour transfer '%s': the amount after ':' is the part of the transfer applied, "
                                "0.001 to 1 (e.g. rct:0.25)", s);
    }
    o->colour = mode;
    o->colour_amount = (float)amount;
    if (amount == 1) snprintf(o->colour_str, sizeof o->colour_str, "%s", colour_mode_name(mode));
    else snprintf(o->colour_str, sizeof o->colour_str, "%s:%g", colour_mode_name(mode), amount);
    return 0;
}

int swap_options_set_blend(SwapOptions *o, const char *s, SlErr *err) {
    if (strcmp(s, "alpha") == 0) o->blend = SWAP_BLEND_ALPHA;
    else if (strcmp(s, "poisson") == 0) o->blend = SWAP_BLEND_POISSON;
    else return sl_fail(err, "unknown blend '%s': use alpha or poisson", s);
    snprintf(o->blend_str, sizeof o->blend_str, "%s", s);
    return 0;
}

void swap_face_mask(const SwapOptions *o, const float lm[68][2], const float *learned, int crop, float *mask) {
    mask_make_learned(&o->mask, lm, learned, crop, mask);
}

int swap_check_mask(const SwapModel *m, const SwapOptions *o, const char *model_path, SlErr *err) {
    if (o->mask.shape != MASK_SHAPE_LEARNED || m->arch.mask) return 0;
    return sl_fail(err, "--mask %s: %s%s has no learned mask (its decoders draw RGB only); train one with "
                        "`swaplab train --learn-mask`, or choose another --mask (e.g. " MASK_DEFAULT ")",
                   o->mask_str, model_path ? "the model " : "this model", model_path ? model_path : "");
}

void swap_mask_apply(const SwapOptions *o, float *mask, int crop) {
    double area = 0;
    for (size_t i = 0; i < (size_t)crop * crop; i++) area += mask[i];
    mask_shape_edge(&o->mask, (float)sqrt(area), crop, mask);
}

int swap_colour_stats(const float *orig, const float *swapped, const float *mask, int crop, ColourStats *from,
                      ColourStats *to) {
    const size_t cn = (size_t)crop * crop;
    if (colour_stats(from, swapped, mask, cn) || colour_stats(to, orig, mask, cn)) return -1;
    return 0;
}

int swap_check_sizes(const SwapModel *m, const FaceSet *fs, SlErr *err) {
    if (fs->crop < m->arch.size)
        return sl_fail(err, "%s: its crops are %dx%d but the model (preset %s) takes %dx%d faces; swapping needs crops at "
                            "least as large as the model's input (make the set with --crop %d or more)",
                       fs->dir, fs->crop, fs->crop, m->arch.preset, m->arch.size, m->arch.size, m->arch.size);
    return 0;
}

void swap_run_model(SwapModel *m, NnCtx *ctx, int target, const float *in, int n, int crop, float *out) {
    swap_run_model_mask(m, ctx, target, in, n, crop, out, NULL);
}

void swap_run_model_mask(SwapModel *m, NnCtx *ctx, int target, const float *in, int n, int crop, float *out,
                         float *mask) {
    SL_ASSERT(target >= 0 && target < m->n_ids && n > 0 && crop >= m->arch.size && (!mask || m->arch.mask));
    const int S = m->arch.size;
    const size_t img = 3 * (size_t)S * S, cimg = 3 * (size_t)crop * crop, pl = (size_t)S * S;
    int was = ctx->training;
    ctx->training = 0;
    float *x = NULL;
    const float *xin = in;
    if (crop != S) {
        x = xmalloc(sizeof(float) * img * (size_t)n);
        for (int k = 0; k < n; k++) image_resize_planes(in + cimg * k, crop, 3, x + img * k, S);
        xin = x;
    }
    NnNet *nets[2] = {m->encoder, m->decoders[target]};
    float *y = xmalloc(sizeof(float) * (size_t)swap_model_out_channels(m) * pl * (size_t)n);
    nn_infer(ctx, nets, 2, xin, n, y); /* on ctx's device (uploads the model the first time) */
    float *ym = mask ? xmalloc(sizeof(float) * pl * (size_t)n) : NULL;
    swap_model_split_output(m, y, n, ym); /* RGB first; the mask channel apart */
    for (int k = 0; k < n; k++) {
        image_resize_planes(y + img * k, S, 3, out + cimg * k, crop);
        if (mask) image_resize_planes(ym + pl * k, S, 1, mask + (size_t)crop * crop * k, crop);
    }
    ctx->training = was;
    free(x);
    free(y);
    free(ym);
}

/* The k-th smallest of a[0..n-1] (k < n; a is reordered): Hoare's selection, the value a full sort
 * would put at index k, in linear expected time (equal values split evenly between the sides). */
static float select_kth(float *a, size_t n, size_t k) {
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        /* median of three as the pivot */
        float x = a[lo], y = a[mid], z = a[hi];
        float piv = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
        size_t i = lo, j = hi;
        for (;;) {
            while (a[i] < piv) i++;
            while (piv < a[j]) j--;
            if (i >= j) break;
            float t = a[i];
            a[i] = a[j], a[j] = t;
            i++, j--;
        }
        /* a[lo..j] <= piv <= a[j+1..hi] */
        if (k <= j) hi = j;
        else lo = j + 1;
    }
    return a[k];
}

/* Bilinear sampling of c x c planes at pixel-index coordinates (u, v), the taps found once for all
 * the planes sampled at one point: their weights, their indices with the edge replicated, and
 * which of them lie inside the plane. */
typedef struct {
    double w[4];
    size_t idx[4];
    int in[4];
} Taps;

static void taps_at(int c, double u, double v, Taps *t) {
    if (!(u > -1e6 && u < 1e6 && v > -1e6 && v < 1e6)) u = v = -1e6;
    double fu = floor(u), fv = floor(v);
    int x0 = (int)fu, y0 = (int)fv;
    double wx = u - fu, wy = v - fv;
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 2; i++) {
            int q = 2 * j + i, x = x0 + i, y = y0 + j;
            t->w[q] = (i ? wx : 1 - wx) * (j ? wy : 1 - wy);
            t->in[q] = !(x < 0 || y < 0 || x >= c || y >= c);
            x = x < 0 ? 0 : x >= c ? c - 1 : x;
            y = y < 0 ? 0 : y >= c ? c - 1 : y;
            t->idx[q] = (size_t)y * c + x;
        }
}

/* Plane p sampled at the taps; outside the plane the edge is replicated (zero_out = 0) or 0
 * (zero_out = 1). */
static float taps_sample(const Taps *t, const float *p, int zero_out) {
    double s = 0;
    for (int q = 0; q < 4; q++)
        if (t->in[q] || !zero_out) s += t->w[q] * p[t->idx[q]];
    return (float)s;
}

int swap_composite(const Image *frame, const Affine *a, int crop, const float *orig, const float *swapped,
                   const float *mask, const SwapOptions *o, Image *out) {
    return swap_composite_mask(frame, a, crop, orig, swapped, mask, o, out, NULL);
}

int swap_composite_mask(const Image *frame, const Affine *a, int crop, const float *orig, const float *swapped,
                        const float *mask, const SwapOptions *o, Image *out, float *frame_mask) {
    SL_ASSERT(frame->c == 3);
    const size_t cn = (size_t)crop * crop;
    float *sw = xmalloc(sizeof(float) * 3 * cn);
    memcpy(sw, swapped, sizeof(float) * 3 * cn);
    if (o->colour_from && o->colour_to) colour_apply(o->colour, sw, cn, o->colour_from, o->colour_to);
    else colour_transfer(o->colour, sw, orig, mask, cn);
    if (o->colour_amount < 1) colour_mix(sw, swapped, o->colour_amount, cn);
    *out = image_clone(frame);
    if (frame_mask) memset(frame_mask, 0, sizeof(float) * (size_t)frame->w * frame->h);
    /* the crop's footprint in the frame, with a margin for the Poisson boundary */
    Affine inv;
    affine_invert(a, &inv);
    double xmin = 1e18, xmax = -1e18, ymin = 1e18, ymax = -1e18;
    for (int k = 0; k < 4; k++) {
        float fx, fy;
        affine_apply(&inv, (k & 1) ? (float)crop : 0, (k & 2) ? (float)crop : 0, &fx, &fy);
        xmin = fmin(xmin, fx), xmax = fmax(xmax, fx), ymin = fmin(ymin, fy), ymax = fmax(ymax, fy);
    }
    /* clamped to the frame before any conversion to int (a hostile affine may put it anywhere) */
    int x0 = (int)fmin(frame->w, fmax(0, floor(xmin) - 2)), y0 = (int)fmin(frame->h, fmax(0, floor(ymin) - 2));
    int x1 = (int)fmax(0, fmin(frame->w, ceil(xmax) + 2)), y1 = (int)fmax(0, fmin(frame->h, ceil(ymax) + 2));
    int iters = 0;
    if (x1 > x0 && y1 > y0) {
        const int rw = x1 - x0, rh = y1 - y0;
        const size_t rn = (size_t)rw * rh;
        float *dst = xmalloc(sizeof(float) * 3 * rn), *src = xmalloc(sizeof(float) * 3 * rn);
        float *m = xmalloc(sizeof(float) * rn);
        for (int y = 0; y < rh; y++)
            for (int x = 0; x < rw; x++) {
                size_t q = (size_t)y * rw + x;
                double px = x0 + x + 0.5, py = y0 + y + 0.5;
                double u = a->m[0] * px + a->m[1] * py + a->m[2] - 0.5;
                double v = a->m[3] * px + a->m[4] * py + a->m[5] - 0.5;
                Taps t;
                taps_at(crop, u, v, &t);
                m[q] = taps_sample(&t, mask, 1);
                const uint8_t *fp = frame->px + ((size_t)(y0 + y) * frame->w + x0 + x) * 3;
                for (int c = 0; c < 3; c++) {
                    src[c * rn + q] = taps_sample(&t, sw + c * cn, 0);
                    dst[c * rn + q] = fp[c] * (1.0f / 255.0f);
                }
            }
        if (o->detail > 0) {
            /* the frame's own grain (camera noise, the finest texture) under the decoded face: a
             * high-pass at pixel scale, which a decoder working below the frame's resolution cannot
             * draw, clipped to 4 times its robust spread under the mask (1.4826 x the median
             * absolute value), so that the frame owner's strong edges (eyelids, lashes, lips) stay
             * out and only the noise-like part comes through */
            float *lo = xmalloc(sizeof(float) * rn), *hp = xmalloc(sizeof(float) * rn), *abs_in = xmalloc(sizeof(float) * rn);
            for (int c = 0; c < 3; c++) {
                memcpy(lo, dst + c * rn, sizeof(float) * rn);
                blend_gaussian(lo, rw, rh, o->detail);
                size_t k = 0;
                for (size_t q = 0; q < rn; q++) {
                    hp[q] = dst[c * rn + q] - lo[q];
                    if (m[q] >= 0.5f) abs_in[k++] = fabsf(hp[q]);
                }
                if (k == 0) continue;
                const float lim = 4.0f * 1.4826f * select_kth(abs_in, k, k / 2);
                for (size_t q = 0; q < rn; q++) src[c * rn + q] += hp[q] > lim ? lim : hp[q] < -lim ? -lim : hp[q];
            }
            free(lo), free(hp), free(abs_in);
        }
        if (o->blend == SWAP_BLEND_POISSON)
            iters = blend_poisson(dst, src, m, rw, rh, 3, o->poisson_iters, o->poisson_tol);
        else
            blend_alpha(dst, src, m, rw, rh, 3);
        if (frame_mask)
            for (int y = 0; y < rh; y++) memcpy(frame_mask + (size_t)(y0 + y) * frame->w + x0, m + (size_t)y * rw, sizeof(float) * rw);
        for (int y = 0; y < rh; y++)
            for (int x = 0; x < rw; x++)
                for (int c = 0; c < 3; c++) {
                    float v = dst[c * rn + (size_t)y * rw + x] * 255.0f + 0.5f;
                    out->px[((size_t)(y0 + y) * frame->w + x0 + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
        free(dst), free(src), free(m);
    }
    free(sw);
    return iters;
}

static int no_frame(const FaceSet *fs, int i, SlErr *err) {
    return sl_fail(err, "%s: face %d (%s) keeps no source frame: missing frames for compositing (the set must keep "
                        "its frames/; extract it again with frames kept, or use a set made by swaplab synth)",
                   fs->dir, i, fs->faces[i].file);
}

int swap_check_frames(const FaceSet *fs, int n, SlErr *err) {
    for (int i = 0; i < n && i < fs->n; i++)
        if (!fs->faces[i].source[0]) return no_frame(fs, i, err);
    return 0;
}

static Image planar_to_image(const float *p, int s, int nch) {
    Image im = image_new(s, s, nch);
    const size_t n = (size_t)s * s;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < nch; c++) {
            float v = p[c * n + i] * 255.0f + 0.5f;
            im.px[i * nch + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    return im;
}

int swap_finish_face(const FaceSet *fs, int i, const float *orig, const float *swapped, const float *learned,
                     const SwapOptions *o, SwapResult *r, SlErr *err) {
    memset(r, 0, sizeof *r);
    SL_ASSERT(i >= 0 && i < fs->n);
    const FaceRecord *f = &fs->faces[i];
    if (!f->source[0]) return no_frame(fs, i, err);
    char path[SL_PATH_MAX];
    faceset_source_path(fs, i, path, sizeof path);
    Image frame;
    if (image_load(path, 3, &frame, err)) return -1;
    if (f->src_w > 0 && (frame.w != f->src_w || frame.h != f->src_h)) {
        sl_fail(err, "%s: the frame is %dx%d but faces.jsonl records %dx%d for face %d", path, frame.w, frame.h,
                f->src_w, f->src_h, i);
        image_free(&frame);
        return -1;
    }
    const int C = fs->crop;
    const size_t cn = (size_t)C * C;
    float *mask = xmalloc(sizeof(float) * cn);
    swap_face_mask(o, (const float(*)[2])f->lm_crop, learned, C, mask);
    r->frame_mask = xmalloc(sizeof(float) * (size_t)frame.w * frame.h);
    r->iters = swap_composite_mask(&frame, &f->affine, C, orig, swapped, mask, o, &r->frame, r->frame_mask);
    r->raw = planar_to_image(swapped, C, 3);
    r->mask = planar_to_image(mask, C, 1);
    free(mask);
    image_free(&frame);
    return 0;
}

int swap_faces(SwapModel *m, NnCtx *ctx, int target, const FaceSet *fs, const int *idx, int n, const SwapOptions *o,
               SwapFaceDone done, SwapFaceSkip skip, void *user, SlErr *err) {
    SL_ASSERT(n >= 0 && done);
    if (swap_check_sizes(m, fs, err) || swap_check_mask(m, o, NULL, err)) return -1;
    const int C = fs->crop, learned = o->mask.shape == MASK_SHAPE_LEARNED;
    const size_t cimg = 3 * (size_t)C * C, cn = (size_t)C * C;
    float *in = xmalloc(sizeof(float) * cimg * SWAP_BATCH), *dec = xmalloc(sizeof(float) * cimg * SWAP_BATCH);
    float *dmask = learned ? xmalloc(sizeof(float) * cn * SWAP_BATCH) : NULL;
    int rc = 0;
    for (int b0 = 0; b0 < n && rc == 0; b0 += SWAP_BATCH) {
        int got[SWAP_BATCH], nb = 0;
        for (int k = b0; k < n && k < b0 + SWAP_BATCH && rc == 0; k++) {
            SlErr why;
            if (faceset_load_face(fs, idx[k], in + cimg * nb, &why) == 0) got[nb++] = idx[k];
            else if (skip) skip(idx[k], &why, user);
            else rc = -1, *err = why;
        }
        if (rc || nb == 0) continue;
        swap_run_model_mask(m, ctx, target, in, nb, C, dec, dmask);
        for (int k = 0; k < nb && rc == 0; k++) {
            SwapResult r;
            SlErr why;
            if (swap_finish_face(fs, got[k], in + cimg * k, dec + cimg * k, dmask ? dmask + cn * k : NULL, o, &r, &why)) {
                if (skip) skip(got[k], &why, user);
                else rc = -1, *err = why;
                continue;
            }
            if (done(got[k], &r, user, err)) rc = -1;
            swap_result_free(&r);
        }
    }
    free(in), free(dec), free(dmask);
    return rc;
}

int swap_face(SwapModel *m, NnCtx *ctx, int target, const FaceSet *fs, int i, const SwapOptions *o,
              SwapResult *r, SlErr *err) {
    memset(r, 0, sizeof *r);
    if (swap_check_sizes(m, fs, err) || swap_check_mask(m, o, NULL, err)) return -1;
    if (!fs->faces[i].source[0]) return no_frame(fs, i, err);
    const size_t cimg = 3 * (size_t)fs->crop * fs->crop;
    float *in = xmalloc(sizeof(float) * cimg), *out = xmalloc(sizeof(float) * cimg);
    float *dmask = o->mask.shape == MASK_SHAPE_LEARNED ? xmalloc(sizeof(float) * (size_t)fs->crop * fs->crop) : NULL;
    int rc = faceset_load_face(fs, i, in, err);
    if (rc == 0) {
        swap_run_model_mask(m, ctx, target, in, 1, fs->crop, out, dmask);
        rc = swap_finish_face(fs, i, in, out, dmask, o, r, err);
    }
    free(in), free(out), free(dmask);
    return rc;
}

int swap_eval_frames(SwapModel *m, NnCtx *ctx, const FaceSet *sets, int nsets, const SwapOptions *o, int holdout_every,
                     int max_faces, FrameReport *r, SlErr *err) {
    SL_ASSERT(nsets == m->n_ids && max_faces > 0);
    memset(r, 0, sizeof *r);
    snprintf(r->mask, sizeof r->mask, "%s", o->mask_str);
    snprintf(r->colour, sizeof r->colour, "%s", o->colour_str);
    snprintf(r->blend, sizeof r->blend, "%s", o->blend_str);
    r->detail = o->detail;
    r->heldout = 1;
    for (int a = 0; a < nsets; a++)
        if (swap_check_sizes(m, &sets[a], err)) return -1;
    if (swap_check_mask(m, o, NULL, err)) return -1;
    int rc = 0;
    GroundTruthCache *gtc = gt_cache_new(); /* the pair's ground-truth person, built once */
    for (int a = 0; a < nsets && rc == 0; a++) {
        const FaceSet *fs = &sets[a];
        int *idx = xmalloc(sizeof(int) * (size_t)(fs->n > 0 ? fs->n : 1)), n = 0;
        for (int i = 0; i < fs->n && n < max_faces; i++)
            if (faceset_is_heldout(i, fs->n, holdout_every)) idx[n++] = i;
        if (n == 0) {
            r->heldout = 0;
            for (int i = 0; i < fs->n && n < max_faces; i++) idx[n++] = i;
        }
        const int gt_ok = groundtruth_available(fs);
        const size_t cimg = 3 * (size_t)fs->crop * fs->crop;
        float *in = xmalloc(sizeof(float) * cimg), *out = xmalloc(sizeof(float) * cimg);
        float *dmask = o->mask.shape == MASK_SHAPE_LEARNED ? xmalloc(sizeof(float) * (size_t)fs->crop * fs->crop) : NULL;
        for (int b = 0; b < nsets && rc == 0; b++) {
            if (a == b) continue;
            FrameMetrics acc = {0};
            for (int k = 0; k < n && rc == 0; k++) {
                int i = idx[k];
                SwapResult res;
                Image src = {0}, gt = {0};
                char path[SL_PATH_MAX];
                if ((rc = faceset_load_face(fs, i, in, err))) break;
                swap_run_model_mask(m, ctx, b, in, 1, fs->crop, out, dmask);
                if ((rc = swap_finish_face(fs, i, in, out, dmask, o, &res, err))) break;
                faceset_source_path(fs, i, path, sizeof path);
                rc = image_load(path, 3, &src, err);
                if (rc == 0 && gt_ok && (rc = groundtruth_swap_frame_cached(gtc, fs, i, &sets[b], &gt, err)) == 0 &&
                    (gt.w != src.w || gt.h != src.h))
                    rc = sl_fail(err, "%s: face %d: the ground-truth frame is %dx%d, the frame %dx%d", fs->dir, i, gt.w,
                                 gt.h, src.w, src.h);
                /* PSNR/SSIM region: the crop's footprint in the frame, the same for every mask */
                Affine inv;
                affine_invert(&fs->faces[i].affine, &inv);
                int box[4] = {src.w, src.h, 0, 0};
                for (int c = 0; c < 4; c++) {
                    float fx, fy;
                    affine_apply(&inv, (c & 1) ? (float)fs->crop : 0, (c & 2) ? (float)fs->crop : 0, &fx, &fy);
                    int ix = (int)fmax(0, fmin(src.w, floor(fx))), iy = (int)fmax(0, fmin(src.h, floor(fy)));
                    int jx = (int)fmax(0, fmin(src.w, ceil(fx))), jy = (int)fmax(0, fmin(src.h, ceil(fy)));
                    box[0] = ix < box[0] ? ix : box[0], box[1] = iy < box[1] ? iy : box[1];
                    box[2] = jx > box[2] ? jx : box[2], box[3] = jy > box[3] ? jy : box[3];
                }
                FrameMetrics fm;
                if (rc == 0 && box[2] - box[0] > 11 && box[3] - box[1] > 11 &&
                    frame_metrics_measure(&src, &res.frame, gt_ok ? &gt : NULL, res.frame_mask, box, &fm) == 0)
                    frame_metrics_add(&acc, &fm);
                image_free(&src);
                if (gt_ok) image_free(&gt);
                swap_result_free(&res);
            }
            if (rc) break;
            r->pair[r->npairs].a = a, r->pair[r->npairs].b = b;
            frame_metrics_mean(&acc);
            frame_metrics_add(&r->all, &acc);
            r->pair[r->npairs++].m = acc;
        }
        free(in), free(out), free(idx), free(dmask);
    }
    gt_cache_free(gtc);
    frame_metrics_mean(&r->all);
    return rc ? -1 : 0;
}

void swap_result_free(SwapResult *r) {
    image_free(&r->frame);
    image_free(&r->raw);
    image_free(&r->mask);
    free(r->frame_mask);
    r->frame_mask = NULL;
}

/* ---- consent gate --------------------------------------------------------------------------- */
static int refuse_revoked(const char *revocations, const char *role, const char *subject, SlErr *err) {
    char reason[512] = "", path[SL_PATH_MAX];
    SlErr e;
    int rv = consent_is_revoked(revocations, subject, reason, sizeof reason, &e);
    if (rv == 0) return 0;
    if (revocations) snprintf(path, sizeof path, "%s", revocations);
    else consent_revocations_default_path(path, sizeof path);
    if (rv < 0)
        return sl_fail(err, "%s subject '%s' refused: the revocation list cannot be read (%s); the gate fails closed",
                       role, subject, e.msg);
    return sl_fail(err, "%s subject '%s' refused: consent was revoked (%s%s%s)", role, subject, path,
                   reason[0] ? ": " : "", reason);
}

int swap_gate(const RunInfo *run, const char *from_dir, const char *to_subject, const char *to_faceset,
              const char *revocations, SwapGate *g, SlErr *err) {
    memset(g, 0, sizeof *g);
    g->target = run_find_identity(run, to_subject);
    if (g->target < 0) {
        char list[1024] = "";
        for (int i = 0; i < run->n_ids; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", run->ids[i].subject);
        }
        return sl_fail(err, "target subject '%s' is not an identity of the model %s; its identities are: %s", to_subject,
                       run->model_path, list);
    }
    if (refuse_revoked(revocations, "target", to_subject, err)) return -1;
    ConsentOptions opt = {.revocations = revocations};
    snprintf(g->from_dir, sizeof g->from_dir, "%s", from_dir);
    if (consent_check(from_dir, "swap", &opt, &g->from, NULL, err))
        return sl_failctx(err, "source face set %s (subject '%s') may not be swapped", from_dir,
                          g->from.subject[0] ? g->from.subject : "unknown");
    if (refuse_revoked(revocations, "source", g->from.subject, err)) return -1;
    const char *td = to_faceset ? to_faceset : run->ids[g->target].faceset;
    if (!td[0] || !sl_is_dir(td)) {
        if (to_faceset) return sl_fail(err, "target subject '%s': --to-faceset %s is not a directory", to_subject, to_faceset);
        return sl_fail(err, "target subject '%s': cannot find its face set to check its consent (the model records '%s', "
                            "which does not exist here); pass --to-faceset DIR",
                       to_subject, td);
    }
    snprintf(g->to_dir, sizeof g->to_dir, "%s", td);
    if (consent_check(td, "swap", &opt, &g->to, NULL, err))
        return sl_failctx(err, "target subject '%s' (face set %s) may not be swapped", to_subject, td);
    if (strcmp(g->to.subject, to_subject) != 0)
        return sl_fail(err, "target subject '%s': the face set %s belongs to subject '%s'; pass the target's own face set "
                            "with --to-faceset",
                       to_subject, td, g->to.subject);
    if (strcmp(g->to.digest, run->ids[g->target].consent_digest) != 0) {
        /* Another manifest than the one the model was trained under: a copied face set relabelled with
         * this subject, or a renewal. Only a renewal signed by a coordinator of the lab policy counts. */
        ConsentPolicy pol;
        SlErr pe;
        uint8_t spk[32];
        int renewal = consent_policy_find(NULL, NULL, &pol, &pe) == 1 && g->to.signature_ok &&
                      sl_unhex(spk, 32, g->to.signer_pk) == 0 && consent_policy_key(&pol, spk) >= 0;
        if (!renewal)
            return sl_fail(err, "target subject '%s': the consent manifest %s/consent.json (sha256 %.16s...) is not the "
                                "one the model was trained under (%.16s...); a model is used only under the consent it "
                                "was trained with (a renewal counts when a coordinator of a lab policy signed it)",
                           to_subject, td, g->to.digest, run->ids[g->target].consent_digest);
        sl_warn("target subject '%s': the consent manifest %s/consent.json is a renewal signed by a coordinator of the "
                "lab policy %s, not the one the model was trained under", to_subject, td, pol.path);
    }
    char why[512] = "";
    SlErr re;
    int rv = consent_is_revoked_digest(revocations, to_subject, run->ids[g->target].consent_digest, why, sizeof why, &re);
    if (rv < 0)
        return sl_fail(err, "target subject '%s' refused: the revocation list cannot be read (%s); the gate fails closed",
                       to_subject, re.msg);
    if (rv) return sl_fail(err, "target subject '%s' refused: the consent the model was trained under was revoked (%s)",
                           to_subject, why);
    return 0;
}

void swap_provenance(ProvenanceInfo *pi, const RunInfo *run, const SwapGate *g, const SwapModel *m,
                     const SwapOptions *o, const char *input, int label) {
    provenance_info_init(pi);
    pi->model_sha256 = run->sha256;
    pi->source_subject = g->to.subject; /* the face inserted */
    pi->source_consent_sha256 = g->to.digest;
    pi->target_subject = g->from.subject; /* the person in the frame */
    pi->target_consent_sha256 = g->from.digest;
    pi->target_kind = g->from.kind;
    pi->frame_dir = g->from_dir;
    pi->ledger = PROV_LEDGER_DEFAULT; /* every swap output goes into the transparency log */
    pi->preset = m->arch.preset;
    pi->mask = o->mask_str;
    pi->colour = o->colour_str;
    pi->blend = o->blend_str;
    pi->input = input;
    pi->label = label;
}
