/* cmd_detect.c — `swaplab detect train|eval|scan`: train the spectral baseline (Durall et al. 2019)
 * or Meso-4 (Afchar et al. 2018) on a detector dataset, evaluate it with bootstrap intervals over
 * identities and under perturbations, and score single images with optional occlusion heatmaps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "detect/dataset.h"
#include "detect/detector.h"
#include "detect/heatmap.h"
#include "detect/meso.h"
#include "detect/metrics.h"
#include "detect/plot.h"
#include "detect/robust.h"
#include "detect/spectral.h"
#include "nn/checkpoint.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/progress.h"
#include "util/rng.h"

static int fail(const char *sub, const SlErr *err) {
    fprintf(stderr, "swaplab detect %s: %s\n", sub, err->msg);
    return 1;
}

/* ---- train ----------------------------------------------------------------------------------- */

static int train_spectral(const DetDataset *ds, const char *out, int bins, double l2, int augment, uint64_t seed,
                          const char *spectra_svg) {
    SlErr err;
    float *feats = xmalloc((size_t)ds->n * bins * sizeof *feats);
    int *labels = xmalloc((size_t)ds->n * sizeof *labels);
    SlRng rng;
    sl_rng_seed(&rng, seed);
    SlProgress pr;
    sl_progress_begin(&pr, "spectra", ds->n);
    int rc = 0;
    for (int i = 0; i < ds->n && !rc; i++) {
        Image im;
        if (image_load(ds->s[i].path, 3, &im, &err)) {
            rc = fail("train", &err);
            break;
        }
        if (augment) robust_augment_wang(&im, &rng);
        spectral_features(&im, bins, feats + (size_t)i * bins);
        labels[i] = ds->s[i].label;
        image_free(&im);
        sl_progress_update(&pr, i + 1, NULL);
    }
    sl_progress_end(&pr, NULL);
    if (!rc) {
        SpectralDetector det;
        LogRegReport rep;
        LogRegOpts o = {l2, 100, 1e-9};
        if (spectral_train(&det, feats, labels, ds->n, bins, &o, &rep, &err) || spectral_save(out, &det, &err)) {
            rc = fail("train", &err);
        } else {
            printf("spectral detector: %d images, %d bins, Newton %d iterations, loss %.4f%s -> %s\n", ds->n, bins, rep.iters,
                   rep.loss, rep.converged ? "" : " (not converged)", out);
            if (spectra_svg) {
                float *mr = xmalloc((size_t)bins * sizeof *mr), *mf = xmalloc((size_t)bins * sizeof *mf);
                spectral_class_means(feats, labels, ds->n, bins, mr, mf);
                char *svg = plot_svg_spectra("Azimuthally averaged spectrum", mr, mf, bins);
                if (plot_write(spectra_svg, svg, &err)) rc = fail("train", &err);
                free(svg), free(mr), free(mf);
            }
        }
        spectral_free(&det);
    }
    free(feats), free(labels);
    return rc;
}

/* Meso-4 training. Batches and dropout masks are drawn from generators forked per step from the
 * seed, so a run resumed from its last checkpoint (model OUT + Adam state OUT.adam, both written
 * atomically every save_every steps) continues exactly as if it had not been stopped. */
static int train_meso(const DetDataset *ds, const char *out, int size, int steps, int batch, double lr, int augment,
                      uint64_t seed, int threads, int save_every, int resume) {
    SlErr err;
    SlRng base;
    sl_rng_seed(&base, seed);
    char adam_path[4096];
    sl_snprintf(adam_path, sizeof adam_path, "%s.adam", out);
    Meso4 m;
    if (resume) {
        if (!sl_is_file(out) || !sl_is_file(adam_path)) {
            fprintf(stderr, "swaplab detect train: %s: nothing to resume (need %s and %s); drop --resume to start anew\n", out,
                    out, adam_path);
            return 1;
        }
        if (meso4_load(out, &m, &err)) return fail("train", &err);
        long astep = -1;
        if (m.size != size) {
            fprintf(stderr, "swaplab detect train: %s was trained at --size %d, not %d\n", out, m.size, size);
            meso4_free(&m);
            return 1;
        }
        if (nn_load_optimizer(adam_path, &m.model, &astep, &err)) {
            meso4_free(&m);
            return fail("train", &err);
        }
        if (astep != m.step) {
            fprintf(stderr, "swaplab detect train: %s is at step %ld but %s at step %ld (stopped between the two writes?); "
                            "start anew without --resume\n", out, m.step, adam_path, astep);
            meso4_free(&m);
            return 1;
        }
        if (m.step >= steps) {
            printf("meso4: %s is already at step %ld (--steps %d); nothing to do\n", out, m.step, steps);
            meso4_free(&m);
            return 0;
        }
        sl_info("resuming %s at step %ld of %d", out, m.step, steps);
    } else {
        if (sl_is_file(out)) {
            fprintf(stderr, "swaplab detect train: %s exists; add --resume to continue it, or choose another --out\n", out);
            return 1;
        }
        SlRng init = sl_rng_fork(&base, 0xC0FFEE);
        meso4_init(&m, size, &init);
    }
    NnCtx ctx;
    nn_ctx_init(&ctx, threads, seed);
    NnAdam adam = {(float)lr, 0.9f, 0.999f, 1e-8f, 0, 1};
    size_t per = (size_t)3 * size * size;
    float *x = xmalloc((size_t)batch * per * sizeof *x), *y = xmalloc((size_t)batch * sizeof *y);
    /* balanced batches: half real, half fake (the classes of a detector set are rarely equal) */
    int *idx[2], cnt[2] = {0, 0};
    idx[0] = xmalloc((size_t)ds->n * sizeof(int)), idx[1] = xmalloc((size_t)ds->n * sizeof(int));
    for (int i = 0; i < ds->n; i++) idx[ds->s[i].label][cnt[ds->s[i].label]++] = i;
    char nimg[24], sd[24];
    snprintf(nimg, sizeof nimg, "%d", ds->n);
    snprintf(sd, sizeof sd, "%llu", (unsigned long long)seed);
    const char *meta[] = {"train_images", nimg, "seed", sd, "augment", augment ? "wang2020" : "none", NULL};
    int rc = 0;
    SlProgress pr;
    sl_progress_begin(&pr, "meso4", steps);
    double ema = NAN;
    for (long s = m.step; s < steps && !rc; s++) {
        SlRng rng = sl_rng_fork(&base, (uint64_t)s);
        ctx.rng = sl_rng_fork(&base, (uint64_t)s | (1ULL << 40));
        for (int b = 0; b < batch; b++) {
            int lab = b % 2, i = idx[lab][sl_rng_int(&rng, cnt[lab])];
            Image im;
            if (image_load(ds->s[i].path, 3, &im, &err)) {
                rc = fail("train", &err);
                break;
            }
            if (augment) robust_augment_wang(&im, &rng);
            meso4_input(&im, size, x + (size_t)b * per);
            y[b] = (float)lab;
            image_free(&im);
        }
        if (rc) break;
        float loss = meso4_train_step(&m, &ctx, x, y, batch, &adam);
        ema = isnan(ema) ? loss : 0.95 * ema + 0.05 * loss;
        char extra[48];
        snprintf(extra, sizeof extra, "loss %.4f", ema);
        sl_progress_update(&pr, s + 1, extra);
        if ((s + 1) % save_every == 0 || s + 1 == steps) {
            /* the optimizer first: a model file never claims a step its Adam state has not reached */
            if (nn_save_optimizer(adam_path, &m.model, m.step, NULL, &err) || meso4_save(out, &m, meta, &err))
                rc = fail("train", &err);
        }
    }
    sl_progress_end(&pr, NULL);
    if (!rc) printf("meso4: %d steps of %d at %dx%d, final loss (EMA) %.4f -> %s\n", steps, batch, size, size, ema, out);
    meso4_free(&m);
    free(x), free(y), free(idx[0]), free(idx[1]);
    return rc;
}

static int detect_train(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *method = "spectral", *split = NULL, *spectra = NULL;
    int bins = SPECTRAL_DEFAULT_BINS, size = 128, steps = 300, batch = 32, augment = 0, seed = 1,
        threads = 0, save_every = 100, resume = 0;
    double l2 = 1e-2, lr = 1e-3;
    SlArg spec[] = {
        {"--data", SL_ARG_STR, &data, "DIR", "detector dataset (labels.csv, or real/ and fake/ folders)"},
        {"--out", SL_ARG_STR, &out, "FILE", "model file to write (.safetensors)"},
        {"--method", SL_ARG_STR, &method, "NAME", "spectral (Durall et al. 2019, default) or meso4 (Afchar et al. 2018)"},
        {"--split", SL_ARG_STR, &split, "NAME", "rows of labels.csv to train on (default train; all without labels.csv)"},
        {"--augment", SL_ARG_FLAG, &augment, NULL, "Wang et al. 2020 blur+JPEG augmentation (p = 0.5 each)"},
        {"--seed", SL_ARG_INT, &seed, "N", "random seed (default 1)", 0, 2147483647},
        {"--bins", SL_ARG_INT, &bins, "N", "spectral: spectrum bins (default 64)", 2, SPECTRAL_MAX_BINS},
        {"--l2", SL_ARG_DOUBLE, &l2, "X", "spectral: L2 strength of the logistic regression (default 0.01)", 1e-12, 1e6},
        {"--spectra", SL_ARG_STR, &spectra, "FILE", "spectral: also write the mean real/fake spectra as SVG"},
        {"--size", SL_ARG_INT, &size, "N", "meso4: input side, a multiple of 32 (default 128; the paper's 256 is 4x slower)", 32, 1024},
        {"--steps", SL_ARG_INT, &steps, "N", "meso4: Adam steps (default 300: minutes on a laptop CPU)", 1, 100000000},
        {"--batch", SL_ARG_INT, &batch, "N", "meso4: batch size, half real half fake (default 32)", 2, 1024},
        {"--lr", SL_ARG_DOUBLE, &lr, "X", "meso4: Adam learning rate (default 0.001)", 1e-12, 1},
        {"--threads", SL_ARG_INT, &threads, "N", "meso4: CPU threads (default: all)", 1, SL_ARG_MAX_THREADS},
        {"--save-every", SL_ARG_INT, &save_every, "N", "meso4: checkpoint OUT and OUT.adam every N steps (default 100)", 1, 100000000},
        {"--resume", SL_ARG_FLAG, &resume, NULL, "meso4: continue from OUT's last checkpoint up to --steps"},
        {0},
    };
    int r = sl_args_parse("detect train", "--data DIR --out FILE [--method spectral|meso4] [options]",
                          "Trains a deepfake detector on a labelled dataset and saves it as safetensors.", spec, argc,
                          argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    if (!data || !out) return sl_usage_error("detect train", "--data and --out are required");
    int is_meso = !strcmp(method, "meso4");
    if (!is_meso && strcmp(method, "spectral")) return sl_usage_error("detect train", "--method must be spectral or meso4");
    if (bins < 2 || bins > SPECTRAL_MAX_BINS) return sl_usage_error("detect train", "--bins must be 2..%d", SPECTRAL_MAX_BINS);
    if (!(l2 > 0)) return sl_usage_error("detect train", "--l2 must be > 0");
    if (size < 32 || size > 1024 || size % 32) return sl_usage_error("detect train", "--size must be a multiple of 32 in 32..1024");
    if (steps < 1 || batch < 2 || batch > 1024) return sl_usage_error("detect train", "--steps must be >= 1 and --batch 2..1024");
    if (!(lr > 0)) return sl_usage_error("detect train", "--lr must be > 0");
    if (save_every < 1) return sl_usage_error("detect train", "--save-every must be >= 1");
    if (resume && !is_meso) return sl_usage_error("detect train", "--resume is for --method meso4 (spectral training is one pass)");
    SlErr err;
    DetDataset ds;
    char csv[4096];
    sl_path_join(csv, sizeof csv, data, "labels.csv");
    if (!split) split = sl_is_file(csv) ? "train" : "all";
    if (detds_load(data, split, &ds, &err)) return fail("train", &err);
    detds_drop_unreadable(&ds);
    int nr, nf;
    detds_counts(&ds, &nr, &nf);
    if (!nr || !nf) {
        detds_free(&ds);
        fprintf(stderr, "swaplab detect train: %s (split %s) has %d real and %d fake images; both are needed\n", data, split, nr, nf);
        return 1;
    }
    sl_info("training %s on %d real + %d fake images (%d identities) from %s", method, nr, nf, ds.n_groups, data);
    int rc = is_meso ? train_meso(&ds, out, size, steps, batch, lr, augment, (uint64_t)seed, threads, save_every, resume)
                     : train_spectral(&ds, out, bins, l2, augment, (uint64_t)seed, spectra);
    detds_free(&ds);
    return rc;
}

/* ---- eval ------------------------------------------------------------------------------------ */

static int write_json(const char *path, json_t *o, SlErr *err) {
    char *s = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    SL_ASSERT(s);
    int rc = sl_write_atomic(path, s, strlen(s), err);
    free(s);
    return rc;
}

/* Metrics of another tool's scores (a PyTorch detector, say): no model, no perturbations. */
static int eval_external(const char *scores_in, const char *out, const char *roc, int boot, int seed) {
    SlErr err;
    float *scores;
    int *labels, *groups, n, G;
    if (detds_load_scores(scores_in, &scores, &labels, &groups, &n, &G, &err)) return fail("eval", &err);
    MetricsResult mr;
    int rc = 0;
    if (metrics_eval(scores, labels, groups, n, boot, (uint64_t)seed, &mr, &err)) {
        rc = fail("eval", &err);
    } else {
        json_t *root = json_object(), *results = json_object();
        json_object_set_new(results, "none", metrics_to_json(&mr));
        json_object_set_new(root, "scores", json_string(scores_in));
        json_object_set_new(root, "positive_class", json_string("fake"));
        json_object_set_new(root, "results", results);
        if (write_json(out, root, &err)) rc = fail("eval", &err);
        json_decref(root);
        printf("%d scores (%d fake, %d real, %d groups): AUC %.4f [%.4f, %.4f]  AP %.4f  EER %.4f  acc %.4f  TPR@1%%FPR %.4f\n",
               n, mr.n_pos, mr.n_neg, G, mr.point.auc, mr.auc_ci.lo, mr.auc_ci.hi, mr.point.ap, mr.point.eer,
               mr.point.acc, mr.point.tpr_at_fpr1);
        if (!rc && roc) {
            char legend[64];
            snprintf(legend, sizeof legend, "AUC %.3f", mr.point.auc);
            PlotSeries c = {legend, mr.fpr, mr.tpr, mr.n_roc};
            char *svg = plot_svg_roc("ROC", &c, 1);
            if (plot_write(roc, svg, &err)) rc = fail("eval", &err);
            free(svg);
        }
        metrics_free(&mr);
    }
    free(scores), free(labels), free(groups);
    return rc;
}

static int detect_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *out = NULL, *split = NULL, *roc = NULL, *scores_out = NULL,
               *scores_in = NULL;
    SlStrList perturb = {0};
    int boot = METRICS_DEFAULT_BOOT, seed = 1, threads = 0;
    SlArg spec[] = {
        {"--model", SL_ARG_STR, &model, "FILE", "detector model (from detect train)"},
        {"--data", SL_ARG_STR, &data, "DIR", "detector dataset (labels.csv, or real/ and fake/ folders)"},
        {"--out", SL_ARG_STR, &out, "FILE", "metrics JSON to write"},
        {"--split", SL_ARG_STR, &split, "NAME", "rows of labels.csv to evaluate (default test; all without labels.csv)"},
        {"--perturb", SL_ARG_LIST, &perturb, "SPEC", "also evaluate under jpeg:Q resize:F blur:S noise:S (several allowed)"},
        {"--boot", SL_ARG_INT, &boot, "N", "bootstrap replicates over identities (default 1000; 0 = none)", 0, 100000},
        {"--seed", SL_ARG_INT, &seed, "N", "seed of the bootstrap and of noise (default 1)", 0, 2147483647},
        {"--roc", SL_ARG_STR, &roc, "FILE", "write the ROC curves as SVG"},
        {"--scores", SL_ARG_STR, &scores_out, "FILE", "write every image's score as CSV (path,label,group,perturbation,score)"},
        {"--threads", SL_ARG_INT, &threads, "N", "CPU threads for Meso-4 (default: all)", 1, SL_ARG_MAX_THREADS},
        {"--scores-in", SL_ARG_STR, &scores_in, "CSV", "evaluate another tool's scores instead (columns score,label[,source])"},
        {0},
    };
    int r = sl_args_parse("detect eval", "--model FILE --data DIR --out FILE [--perturb SPEC...] [options]",
                          "Scores a dataset and writes AUC, AP, EER, accuracy and TPR at 1% / 0.1% FPR, each with a 95%\n"
                          "bootstrap interval over identities (labels.csv column \"source\"), clean and under perturbations.",
                          spec, argc, argv, NULL);
    if (r) {
        free(perturb.v);
        return r == 1 ? 0 : 2;
    }
    int n_pert = perturb.n + 1;
    RobustSpec *ps = xmalloc((size_t)n_pert * sizeof *ps);
    ps[0] = (RobustSpec){ROBUST_NONE, 0};
    SlErr err;
    int rc = 0;
    if (scores_in) {
        if (!out || model || data || perturb.n)
            rc = sl_usage_error("detect eval", "--scores-in takes --out, and no --model, --data or --perturb");
        else if (boot < 0 || boot > 100000) rc = sl_usage_error("detect eval", "--boot must be 0..100000");
        free(perturb.v);
        free(ps);
        return rc ? rc : eval_external(scores_in, out, roc, boot, seed);
    }
    if (!model || !data || !out) rc = sl_usage_error("detect eval", "--model, --data and --out are required");
    else if (boot < 0 || boot > 100000) rc = sl_usage_error("detect eval", "--boot must be 0..100000");
    else if (perturb.n > 32) rc = sl_usage_error("detect eval", "at most 32 --perturb values");
    for (int k = 0; !rc && k < perturb.n; k++)
        if (robust_parse(perturb.v[k], &ps[k + 1], &err)) rc = sl_usage_error("detect eval", "%s", err.msg);
    free(perturb.v);
    if (rc) {
        free(ps);
        return rc;
    }
    DetModel dm;
    if (det_model_load(model, threads, &dm, &err)) {
        free(ps);
        return fail("eval", &err);
    }
    char csv[4096];
    sl_path_join(csv, sizeof csv, data, "labels.csv");
    if (!split) split = sl_is_file(csv) ? "test" : "all";
    DetDataset ds;
    if (detds_load(data, split, &ds, &err)) {
        det_model_free(&dm);
        free(ps);
        return fail("eval", &err);
    }
    detds_drop_unreadable(&ds);
    {
        int nr, nf;
        detds_counts(&ds, &nr, &nf);
        if (!nr || !nf) {
            fprintf(stderr, "swaplab detect eval: %s (split %s) has %d readable real and %d fake images; need both real and fake\n",
                    data, split, nr, nf);
            detds_free(&ds);
            det_model_free(&dm);
            free(ps);
            return 1;
        }
    }
    float *scores = xmalloc((size_t)n_pert * ds.n * sizeof *scores);
    int *labels = xmalloc((size_t)ds.n * sizeof *labels), *groups = xmalloc((size_t)ds.n * sizeof *groups);
    for (int i = 0; i < ds.n; i++) labels[i] = ds.s[i].label, groups[i] = ds.s[i].group;
    SlRng rng;
    sl_rng_seed(&rng, (uint64_t)seed);
    SlProgress pr;
    sl_progress_begin(&pr, "scoring", ds.n);
    for (int i = 0; i < ds.n && !rc; i++) {
        Image im;
        if (image_load(ds.s[i].path, 3, &im, &err)) {
            rc = fail("eval", &err);
            break;
        }
        for (int k = 0; k < n_pert; k++) {
            Image c = image_clone(&im);
            SlRng pr_rng = sl_rng_fork(&rng, ((uint64_t)i << 6) | (uint64_t)k);
            robust_apply(&c, &ps[k], &pr_rng);
            scores[(size_t)k * ds.n + i] = det_model_score(&dm, &c);
            image_free(&c);
        }
        image_free(&im);
        sl_progress_update(&pr, i + 1, NULL);
    }
    sl_progress_end(&pr, NULL);
    json_t *root = json_object(), *results = json_object();
    PlotSeries *curves = xcalloc((size_t)n_pert, sizeof *curves);
    char (*names)[32] = xmalloc((size_t)n_pert * sizeof *names), (*legend)[64] = xmalloc((size_t)n_pert * sizeof *legend);
    MetricsResult *mr = xcalloc((size_t)n_pert, sizeof *mr);
    if (!rc) {
        printf("%-12s %-24s %-7s %-7s %-7s %s\n", "perturbation", "AUC [95% CI]", "AP", "EER", "acc", "TPR@1%FPR");
        for (int k = 0; k < n_pert && !rc; k++) {
            robust_name(&ps[k], names[k], sizeof names[k]);
            if (metrics_eval(scores + (size_t)k * ds.n, labels, groups, ds.n, boot, (uint64_t)seed, &mr[k], &err)) {
                rc = fail("eval", &err);
                break;
            }
            json_object_set_new(results, names[k], metrics_to_json(&mr[k]));
            const MetricsPoint *p = &mr[k].point;
            printf("%-12s %.4f [%.4f, %.4f]  %.4f  %.4f  %.4f  %.4f\n", names[k], p->auc, mr[k].auc_ci.lo, mr[k].auc_ci.hi,
                   p->ap, p->eer, p->acc, p->tpr_at_fpr1);
            snprintf(legend[k], sizeof legend[k], "%s (AUC %.3f)", names[k], p->auc);
            curves[k] = (PlotSeries){legend[k], mr[k].fpr, mr[k].tpr, mr[k].n_roc};
        }
    }
    if (!rc) {
        json_object_set_new(root, "model", json_string(model));
        json_object_set_new(root, "model_sha256", json_string(dm.sha256));
        json_object_set_new(root, "arch", json_string(det_model_arch(&dm)));
        json_object_set_new(root, "data", json_string(data));
        json_object_set_new(root, "split", json_string(split));
        json_object_set_new(root, "positive_class", json_string("fake"));
        json_object_set_new(root, "results", json_incref(results));
        if (write_json(out, root, &err)) rc = fail("eval", &err);
    }
    if (!rc && roc) {
        char *svg = plot_svg_roc("ROC", curves, n_pert);
        if (plot_write(roc, svg, &err)) rc = fail("eval", &err);
        free(svg);
    }
    if (!rc && scores_out) {
        SlAtomicFile af;
        if (sl_atomic_open(&af, scores_out, &err)) rc = fail("eval", &err);
        else {
            fprintf(af.f, "path,label,group,perturbation,score\n");
            for (int k = 0; k < n_pert; k++)
                for (int i = 0; i < ds.n; i++) {
                    fputc('"', af.f);
                    for (const char *c = ds.s[i].path; *c; c++) {
                        if (*c == '"') fputc('"', af.f);
                        fputc(*c, af.f);
                    }
                    fprintf(af.f, "\",%d,\"%s\",%s,%.6f\n", labels[i], ds.groups[groups[i]], names[k], scores[(size_t)k * ds.n + i]);
                }
            if (sl_atomic_commit(&af, &err)) rc = fail("eval", &err);
        }
    }
    for (int k = 0; k < n_pert; k++) metrics_free(&mr[k]);
    json_decref(results);
    json_decref(root);
    free(mr), free(curves), free(names), free(legend);
    free(scores), free(labels), free(groups), free(ps);
    detds_free(&ds);
    det_model_free(&dm);
    return rc;
}

/* ---- scan ------------------------------------------------------------------------------------ */

static int detect_scan(int argc, char **argv) {
    const char *model = NULL, *heat_dir = NULL;
    int patch = 0, stride = 0, threads = 0, as_json = 0;
    SlStrList pos = {0};
    SlArg spec[] = {
        {"--model", SL_ARG_STR, &model, "FILE", "detector model (from detect train)"},
        {"--heatmap", SL_ARG_STR, &heat_dir, "DIR", "also write occlusion heatmaps DIR/<name>.heat.png"},
        {"--patch", SL_ARG_INT, &patch, "N", "heatmap patch side (default: 1/8 of the model's input)", 1, 4096},
        {"--stride", SL_ARG_INT, &stride, "N", "heatmap patch step (default: patch / 2)", 1, 4096},
        {"--threads", SL_ARG_INT, &threads, "N", "CPU threads for Meso-4 (default: all)", 1, SL_ARG_MAX_THREADS},
        {"--json", SL_ARG_FLAG, &as_json, NULL,
         "print a JSON array of {file, p_fake, model, heatmap} (default: one 'FILE<tab>P' line each)"},
        {0},
    };
    int r = sl_args_parse("detect scan", "--model FILE IMAGE... [--heatmap DIR]",
                          "Prints each image's probability of being fake (a score, not a verdict: check provenance\n"
                          "with `swaplab verify`). --heatmap shows where the detector looked.",
                          spec, argc, argv, &pos);
    if (r) {
        free(pos.v);
        return r == 1 ? 0 : 2;
    }
    if (!model || pos.n == 0) {
        free(pos.v);
        return sl_usage_error("detect scan", "--model and at least one image are required");
    }
    if (patch < 0 || stride < 0) {
        free(pos.v);
        return sl_usage_error("detect scan", "--patch and --stride must be positive");
    }
    SlErr err;
    DetModel dm;
    if (det_model_load(model, threads, &dm, &err)) {
        free(pos.v);
        return fail("scan", &err);
    }
    if (heat_dir && sl_mkdirs(heat_dir, &err)) {
        det_model_free(&dm);
        free(pos.v);
        return fail("scan", &err);
    }
    int rc = 0;
    json_t *arr = as_json ? json_array() : NULL, *row = NULL;
    for (int i = 0; i < pos.n && !rc; i++) {
        Image im;
        if (image_load(pos.v[i], 3, &im, &err)) {
            rc = fail("scan", &err);
            if (arr) json_array_append_new(arr, json_pack("{s:s, s:s}", "file", pos.v[i], "error", err.msg));
            break;
        }
        float p = det_model_score(&dm, &im);
        if (arr) {
            row = json_pack("{s:s, s:f, s:s}", "file", pos.v[i], "p_fake", (double)p, "model", det_model_arch(&dm));
            json_array_append_new(arr, row);
        } else {
            printf("%s\t%.4f\n", pos.v[i], p);
        }
        if (heat_dir) {
            int side = dm.kind == DET_MESO4 ? dm.meso.size : (im.w < im.h ? im.w : im.h);
            int pt = patch ? patch : (side / 8 > 1 ? side / 8 : 2), st = stride ? stride : (pt / 2 > 0 ? pt / 2 : 1);
            int hh, hw;
            float *heat = det_model_heatmap(&dm, &im, pt, st, &hh, &hw);
            const char *base = strrchr(pos.v[i], '/');
            base = base ? base + 1 : pos.v[i];
            char name[1024], path[4096], note[160];
            snprintf(name, sizeof name, "%.*s.heat.png", (int)(strchr(base, '.') ? strchr(base, '.') - base : (long)strlen(base)), base);
            sl_path_join(path, sizeof path, heat_dir, name);
            snprintf(note, sizeof note, "occlusion heatmap, %s, patch %d stride %d, P(fake) %.4f", det_model_arch(&dm), pt, st, p);
            PngText t = {"swaplab.heatmap", note};
            if (heatmap_save_png(path, &im, heat, hh, hw, 0.6f, &t, 1, &err)) rc = fail("scan", &err);
            else if (row) json_object_set_new(row, "heatmap", json_string(path));
            free(heat);
        }
        image_free(&im);
    }
    if (arr) {
        char *js = json_dumps(arr, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        printf("%s\n", js);
        free(js);
        json_decref(arr);
    }
    det_model_free(&dm);
    free(pos.v);
    return rc;
}

int cmd_detect(int argc, char **argv) {
    static const char *usage =
        "usage: swaplab detect train|eval|scan [options]   (each takes --help)\n"
        "  train  train the spectral baseline or Meso-4 on a detector dataset\n"
        "  eval   AUC, AP, EER, accuracy, TPR@FPR with bootstrap intervals over identities, under perturbations\n"
        "  scan   score images; optional occlusion heatmaps\n";
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs(usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (!strcmp(argv[0], "train")) return detect_train(argc - 1, argv + 1);
    if (!strcmp(argv[0], "eval")) return detect_eval(argc - 1, argv + 1);
    if (!strcmp(argv[0], "scan")) return detect_scan(argc - 1, argv + 1);
    fprintf(stderr, "swaplab detect: unknown subcommand '%s'\n%s", argv[0], usage);
    return 2;
}
