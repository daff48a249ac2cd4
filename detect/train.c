/* train.c — training and calibration of any registered detector (train.h). */
#include "detect/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect/plot.h"
#include "detect/robust.h"
#include "detect/score.h"
#include "nn/checkpoint.h"
#include "util/fs.h"
#include "util/progress.h"
#include "util/rng.h"

void det_train_config_default(DetTrainConfig *c) {
    memset(c, 0, sizeof *c);
    c->kind = det_kind_by_name("spectral");
    c->seed = 1;
    c->bins = SPECTRAL_DEFAULT_BINS;
    c->l2 = 1e-2;
    c->steps = 300;
    c->batch = 32;
    c->save_every = 100;
    c->lr = 1e-3;
    c->progress = 1;
}

void det_h264_copies_free(DetH264Copies *hc) {
    if (hc->path) {
        for (int i = 0; i < hc->n; i++)
            if (hc->path[i]) unlink(hc->path[i]), free(hc->path[i]);
        free(hc->path);
        rmdir(hc->dir);
    }
    memset(hc, 0, sizeof *hc);
}

int det_h264_copies(const DetDataset *ds, uint64_t seed, int progress, DetH264Copies *hc, SlErr *err) {
    memset(hc, 0, sizeof *hc);
    const char *td = getenv("TMPDIR");
    if (!td || !*td) td = "/tmp";
    if (snprintf(hc->dir, sizeof hc->dir, "%s/swaplab-h264aug-XXXXXX", td) >= (int)sizeof hc->dir)
        return sl_fail(err, "--augment-h264: the temp directory name '%s' is too long", td);
    if (!mkdtemp(hc->dir))
        return sl_fail(err, "--augment-h264: cannot create a temp directory in %s (%s)", td, strerror(errno));
    hc->n = ds->n;
    hc->path = xcalloc((size_t)(ds->n ? ds->n : 1), sizeof *hc->path);
    int *order, *start, n_clips = detds_clip_order(ds, &order, &start), rc = 0, done = 0;
    SlRng base;
    sl_rng_seed(&base, seed);
    SlProgress pr;
    if (progress) sl_progress_begin(&pr, "h264 copies", ds->n);
    Image *fr = xcalloc(DET_SCORE_CLIP_FRAMES, sizeof *fr);
    for (int c = 0; c < n_clips && !rc; c++) {
        SlRng r = sl_rng_fork(&base, 0x264A0000000ULL + (uint64_t)c);
        int crf = ROBUST_AUG_CRF_LO + sl_rng_int(&r, ROBUST_AUG_CRF_HI - ROBUST_AUG_CRF_LO + 1);
        for (int a = start[c]; a < start[c + 1] && !rc; a += DET_SCORE_CLIP_FRAMES) {
            int m = start[c + 1] - a < DET_SCORE_CLIP_FRAMES ? start[c + 1] - a : DET_SCORE_CLIP_FRAMES, got = 0;
            for (; got < m && !rc; got++)
                if (image_load(ds->s[order[a + got]].path, 3, &fr[got], err)) rc = -1;
            if (rc) got--;
            if (!rc && robust_h264(fr, m, crf, err)) {
                const DetSample *s = &ds->s[order[a]];
                sl_failctx(err, "--augment-h264: H.264 at CRF %d of %s %s", crf, s->clip ? "clip" : "image",
                           s->clip ? s->clip : s->path);
                rc = -1;
            }
            for (int j = 0; j < m && !rc; j++) {
                char path[SL_PATH_MAX];
                int i = order[a + j];
                sl_snprintf(path, sizeof path, "%s/%d.png", hc->dir, i);
                if (image_save_png(path, &fr[j], NULL, 0, err)) rc = -1;
                else hc->path[i] = xstrdup(path);
            }
            for (int j = 0; j < got; j++) image_free(&fr[j]);
            done += m;
            if (progress) sl_progress_update(&pr, done, NULL);
        }
    }
    if (progress) sl_progress_end(&pr, NULL);
    free(fr), free(order), free(start);
    if (rc) det_h264_copies_free(hc);
    return rc;
}

static int train_spectral(const DetDataset *ds, const DetTrainConfig *c, DetTrainReport *rep, SlErr *err) {
    int bins = c->bins;
    float *feats = xmalloc((size_t)ds->n * bins * sizeof *feats);
    int *labels = xmalloc((size_t)ds->n * sizeof *labels);
    SlRng rng;
    sl_rng_seed(&rng, c->seed);
    DetH264Copies hc = {0};
    int rc = c->augment_h264 > 0 ? det_h264_copies(ds, c->seed, c->progress, &hc, err) : 0;
    SlProgress pr;
    if (c->progress) sl_progress_begin(&pr, "spectra", ds->n);
    for (int i = 0; i < ds->n && !rc; i++) {
        Image im;
        const char *path = ds->s[i].path;
        if (hc.n && sl_rng_uniform(&rng) < c->augment_h264) path = hc.path[i];
        if (image_load(path, 3, &im, err)) {
            rc = -1;
            break;
        }
        if (c->augment) robust_augment_wang(&im, &rng);
        spectral_features(&im, bins, feats + (size_t)i * bins);
        labels[i] = ds->s[i].label;
        image_free(&im);
        if (c->progress) sl_progress_update(&pr, i + 1, NULL);
    }
    if (c->progress) sl_progress_end(&pr, NULL);
    det_h264_copies_free(&hc);
    if (!rc) {
        SpectralDetector det;
        LogRegReport lr;
        LogRegOpts o = {c->l2, 100, 1e-9};
        if (spectral_train(&det, feats, labels, ds->n, bins, &o, &lr, err) || spectral_save(c->out, &det, err)) {
            rc = -1;
        } else {
            rep->steps_done = lr.iters, rep->loss = lr.loss, rep->converged = lr.converged;
            if (c->spectra_svg) {
                float *mr = xmalloc((size_t)bins * sizeof *mr), *mf = xmalloc((size_t)bins * sizeof *mf);
                spectral_class_means(feats, labels, ds->n, bins, mr, mf);
                char *svg = plot_svg_spectra("Azimuthally averaged spectrum", mr, mf, bins);
                if (plot_write(c->spectra_svg, svg, err)) rc = -1;
                free(svg), free(mr), free(mf);
            }
        }
        spectral_free(&det);
    }
    free(feats), free(labels);
    return rc;
}

/* Batches and dropout masks are drawn from generators forked per step from the seed, so a run
 * resumed from its last checkpoint (model OUT + Adam state OUT.adam, both written atomically every
 * save_every steps) continues exactly as if it had not been stopped. */
float det_lr_at(const DetTrainConfig *c, long s) {
    if (!c->lr_cosine || c->steps < 1) return (float)c->lr;
    return (float)(c->lr * 0.5 * (1.0 + cos(M_PI * (double)s / (double)c->steps)));
}

void det_fake_kinds(const DetDataset *ds, int *idx, int cnt, int pooled, DetFakeKinds *fk) {
    const char *name[DET_FAKE_KINDS_MAX];
    int n = 0, *kind = xmalloc((size_t)cnt * sizeof *kind), *tmp = xmalloc((size_t)cnt * sizeof *tmp);
    for (int j = 0; j < cnt; j++) {
        const char *m = ds->s[idx[j]].method;
        int k = 0;
        while (k < n && strcmp(name[k], m)) k++;
        if (k == n) {
            if (n == DET_FAKE_KINDS_MAX) k = n - 1; /* more kinds than that: the last ones share a pool */
            else name[n++] = m;
        }
        kind[j] = k;
    }
    memset(fk, 0, sizeof *fk);
    if (pooled || n < 2) {
        fk->n = 1, fk->start[1] = cnt;
        snprintf(fk->desc, sizeof fk->desc, "pooled");
    } else {
        int o = 0;
        for (int k = 0; k < n; k++) {
            fk->start[k] = o;
            for (int j = 0; j < cnt; j++)
                if (kind[j] == k) tmp[o++] = idx[j];
        }
        fk->n = n, fk->start[n] = cnt;
        memcpy(idx, tmp, (size_t)cnt * sizeof *idx);
        size_t len = (size_t)snprintf(fk->desc, sizeof fk->desc, "per-method:");
        for (int k = 0; k < n && len < sizeof fk->desc; k++)
            len += (size_t)snprintf(fk->desc + len, sizeof fk->desc - len, "%s%s", k ? "," : "", name[k][0] ? name[k] : "?");
    }
    free(kind), free(tmp);
}

/* one fake: a kind of fake, then one of its samples (fk->n == 1: any fake) */
static int draw_fake(const DetFakeKinds *fk, const int *fakes, int nfakes, SlRng *rng) {
    if (fk->n < 2) return fakes[sl_rng_int(rng, nfakes)];
    int k = sl_rng_int(rng, fk->n);
    return fakes[fk->start[k] + sl_rng_int(rng, fk->start[k + 1] - fk->start[k])];
}

static int train_cnn(const DetDataset *ds, const DetTrainConfig *c, DetTrainReport *rep, SlErr *err) {
    const DetCnnArch *arch = c->kind->cnn;
    int size = c->size ? c->size : arch->default_size, batch = c->batch;
    if (size < arch->multiple || size % arch->multiple || size > 1024)
        return sl_fail(err, "%s: --size must be a multiple of %d in %d..1024, not %d", arch->title, arch->multiple,
                       arch->multiple, size);
    SlRng base;
    sl_rng_seed(&base, c->seed);
    char adam_path[SL_PATH_MAX];
    sl_snprintf(adam_path, sizeof adam_path, "%s.adam", c->out);
    DetCnn m;
    if (c->resume) {
        if (!sl_is_file(c->out) || !sl_is_file(adam_path))
            return sl_fail(err, "%s: nothing to resume (need %s and %s); drop --resume to start anew", c->out, c->out,
                           adam_path);
        if (detcnn_load(c->out, arch, &m, err)) return -1;
        long astep = -1;
        if (m.size != size) {
            sl_fail(err, "%s was trained at --size %d, not %d", c->out, m.size, size);
            detcnn_free(&m);
            return -1;
        }
        if (nn_load_optimizer(adam_path, &m.model, &astep, err)) {
            detcnn_free(&m);
            return -1;
        }
        if (astep != m.step) {
            sl_fail(err, "%s is at step %ld but %s at step %ld (stopped between the two writes?); start anew without "
                         "--resume", c->out, m.step, adam_path, astep);
            detcnn_free(&m);
            return -1;
        }
        if (m.step >= c->steps) {
            rep->steps_done = m.step, rep->nothing_to_do = 1, rep->loss = NAN;
            detcnn_free(&m);
            return 0;
        }
        sl_info("resuming %s at step %ld of %d", c->out, m.step, c->steps);
    } else {
        if (sl_is_file(c->out))
            return sl_fail(err, "%s exists; add --resume to continue it, or choose another --out", c->out);
        SlRng init = sl_rng_fork(&base, 0xC0FFEE);
        detcnn_init(&m, arch, size, &init);
    }
    DetH264Copies hc = {0};
    if (c->augment_h264 > 0 && det_h264_copies(ds, c->seed, c->progress, &hc, err)) {
        detcnn_free(&m);
        return -1;
    }
    NnCtx ctx;
    nn_ctx_init(&ctx, c->threads, c->seed);
    NnAdam adam = {(float)c->lr, 0.9f, 0.999f, 1e-8f, 0, 1};
    size_t per = (size_t)3 * size * size;
    float *x = xmalloc((size_t)batch * per * sizeof *x), *y = xmalloc((size_t)batch * sizeof *y);
    /* balanced batches: half real, half fake (the classes of a detector set are rarely equal) */
    int *idx[2], cnt[2] = {0, 0};
    idx[0] = xmalloc((size_t)ds->n * sizeof(int)), idx[1] = xmalloc((size_t)ds->n * sizeof(int));
    for (int i = 0; i < ds->n; i++) idx[ds->s[i].label][cnt[ds->s[i].label]++] = i;
    SL_ASSERT(cnt[0] && cnt[1]);
    DetFakeKinds fk;
    det_fake_kinds(ds, idx[1], cnt[1], c->pooled_fakes, &fk);
    char nimg[24], sd[24];
    snprintf(nimg, sizeof nimg, "%d", ds->n);
    snprintf(sd, sizeof sd, "%llu", (unsigned long long)c->seed);
    char aug[96];
    snprintf(aug, sizeof aug, "%s", c->augment ? "wang2020" : "none");
    if (c->augment_h264 > 0)
        snprintf(aug, sizeof aug, "%s%sh264-clips:p=%g,crf=%d..%d", c->augment ? "wang2020" : "", c->augment ? "+" : "",
                 c->augment_h264, ROBUST_AUG_CRF_LO, ROBUST_AUG_CRF_HI);
    /* --paired-reals: the real frame of each fake, where the set has it */
    int *pair = c->paired_reals ? detds_pairs(ds) : NULL, npaired = 0;
    for (int j = 0; pair && j < cnt[1]; j++) npaired += pair[idx[1][j]] >= 0;
    if (pair) sl_info("paired reals: %d of %d fakes have their real frame in the set", npaired, cnt[1]);
    char draw[sizeof fk.desc + 40];
    snprintf(draw, sizeof draw, "%s%s", fk.desc, pair ? "+paired-reals" : "");
    const char *meta[] = {"train_images", nimg, "seed", sd, "augment", aug, "fake_draw", draw,
                          "lr_schedule", c->lr_cosine ? "cosine" : "constant", NULL};
    int rc = 0;
    SlProgress pr;
    if (c->progress) sl_progress_begin(&pr, arch->name, c->steps);
    double ema = NAN;
    for (long s = m.step; s < c->steps && !rc; s++) {
        SlRng rng = sl_rng_fork(&base, (uint64_t)s);
        ctx.rng = sl_rng_fork(&base, (uint64_t)s | (1ULL << 40));
        adam.lr = det_lr_at(c, s);
        int next_fake = -1; /* --paired-reals: the fake of slot b + 1, drawn at slot b */
        for (int b = 0; b < batch; b++) {
            int lab = b % 2, i;
            if (lab) {
                i = next_fake >= 0 ? next_fake : draw_fake(&fk, idx[1], cnt[1], &rng);
                next_fake = -1;
            } else if (pair && b + 1 < batch) { /* the fake of slot b + 1 first; this real is its frame */
                next_fake = draw_fake(&fk, idx[1], cnt[1], &rng);
                i = pair[next_fake] >= 0 ? pair[next_fake] : idx[0][sl_rng_int(&rng, cnt[0])];
            } else i = idx[0][sl_rng_int(&rng, cnt[0])];
            const char *path = ds->s[i].path;
            if (hc.n && sl_rng_uniform(&rng) < c->augment_h264) path = hc.path[i];
            Image im;
            if (image_load(path, 3, &im, err)) {
                rc = -1;
                break;
            }
            if (c->augment) robust_augment_wang(&im, &rng);
            detcnn_input(&im, size, x + (size_t)b * per);
            y[b] = (float)lab;
            image_free(&im);
        }
        if (rc) break;
        float loss = detcnn_train_step(&m, &ctx, x, y, batch, &adam);
        ema = isnan(ema) ? loss : 0.95 * ema + 0.05 * loss;
        char extra[48];
        snprintf(extra, sizeof extra, "loss %.4f", ema);
        if (c->progress) sl_progress_update(&pr, s + 1, extra);
        if ((s + 1) % c->save_every == 0 || s + 1 == c->steps) {
            /* the optimizer first: a model file never claims a step its Adam state has not reached */
            if (nn_save_optimizer(adam_path, &m.model, m.step, NULL, err) || detcnn_save(c->out, &m, meta, err)) rc = -1;
        }
    }
    if (c->progress) sl_progress_end(&pr, NULL);
    rep->steps_done = m.step, rep->loss = ema;
    det_h264_copies_free(&hc);
    detcnn_free(&m);
    free(x), free(y), free(idx[0]), free(idx[1]), free(pair);
    return rc;
}

int det_train(const DetDataset *ds, const DetTrainConfig *c, DetTrainReport *rep, SlErr *err) {
    memset(rep, 0, sizeof *rep);
    int nr, nf;
    detds_counts(ds, &nr, &nf);
    if (!nr || !nf) return sl_fail(err, "the training set has %d real and %d fake images; both are needed", nr, nf);
    return c->kind->cnn ? train_cnn(ds, c, rep, err) : train_spectral(ds, c, rep, err);
}

int det_logits_of(DetModel *m, const DetDataset *ds, float *logits, int progress, SlErr *err) {
    SlProgress pr;
    if (progress) sl_progress_begin(&pr, "scoring", ds->n);
    int rc = 0;
    for (int i = 0; i < ds->n; i++) {
        Image im;
        if (image_load(ds->s[i].path, 3, &im, err)) {
            rc = -1;
            break;
        }
        logits[i] = det_model_logit(m, &im);
        image_free(&im);
        if (progress) sl_progress_update(&pr, i + 1, NULL);
    }
    if (progress) sl_progress_end(&pr, NULL);
    return rc;
}

int det_calibrate_file(const char *model, const char *data, const char *split, double target_fpr, int scope,
                       int threads, DetCalib *out, SlErr *err) {
    DetModel m;
    if (det_model_load(model, threads, NULL, &m, err)) return -1;
    DetDataset ds;
    if (detds_load(data, split, &ds, err)) {
        det_model_free(&m);
        return sl_failctx(err, "calibration needs the identity-disjoint validation split '%s'", split);
    }
    detds_drop_unreadable(&ds);
    float *z = xmalloc((size_t)(ds.n ? ds.n : 1) * sizeof *z);
    int *y = xmalloc((size_t)(ds.n ? ds.n : 1) * sizeof *y), rc = -1;
    int *g = xmalloc((size_t)(ds.n ? ds.n : 1) * sizeof *g);
    for (int i = 0; i < ds.n; i++) y[i] = ds.s[i].label, g[i] = ds.s[i].group;
    DetCalib c;
    if (det_logits_of(&m, &ds, z, 0, err) == 0) {
        if (calib_fit_scoped(z, y, g, ds.n, ds.n_groups, target_fpr, scope, &c, err)) {
            sl_failctx(err, "%s (split %s)", data, split);
        } else {
            snprintf(c.split, sizeof c.split, "%s", split);
            snprintf(c.data, sizeof c.data, "%s", data);
            rc = det_model_save_calibrated(&m, model, &c, err);
            if (!rc && out) *out = c;
        }
    }
    free(z), free(y), free(g);
    detds_free(&ds);
    det_model_free(&m);
    return rc;
}
