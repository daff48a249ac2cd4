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
#include "detect/metrics.h"
#include "detect/plot.h"
#include "detect/robust.h"
#include "detect/score.h"
#include "detect/spectral.h"
#include "detect/temporal.h"
#include "detect/train.h"
#include "nn/checkpoint.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/progress.h"
#include "util/rng.h"

/* "[lo, hi]", or "[no interval]" padded to the same width when there is none (--boot 0). */
static const char *ci_str(char *buf, size_t n, double lo, double hi) {
    if (isfinite(lo) && isfinite(hi)) snprintf(buf, n, "[%.4f, %.4f]", lo, hi);
    else snprintf(buf, n, "%-16s", "[no interval]");
    return buf;
}

static int fail(const char *sub, const SlErr *err) {
    fprintf(stderr, "swaplab detect %s: %s\n", sub, err->msg);
    return 1;
}

/* ---- train ----------------------------------------------------------------------------------- */

static int detect_train(int argc, char **argv) {
    const char *data = NULL, *method = "spectral", *split = NULL, *calib_split = "val", *sched = NULL, *scope_s = "identity";
    int seed = 1, no_calib = 0;
    double fpr = CALIB_DEFAULT_FPR;
    DetTrainConfig c;
    det_train_config_default(&c);
    char methods[256], mhelp[400];
    det_kind_names(methods, sizeof methods);
    snprintf(mhelp, sizeof mhelp, "detector: %s (default spectral)", methods);
    SlArg spec[] = {
        {"--data", SL_ARG_STR, &data, "DIR", "detector dataset (labels.csv, or real/ and fake/ folders)"},
        {"--out", SL_ARG_STR, &c.out, "FILE", "model file to write (.safetensors)"},
        {"--method", SL_ARG_STR, &method, "NAME", mhelp},
        {"--split", SL_ARG_STR, &split, "NAME", "rows of labels.csv to train on (default train; all without labels.csv)"},
        {"--augment", SL_ARG_FLAG, &c.augment, NULL, "Wang et al. 2020 blur+JPEG augmentation (p = 0.5 each)"},
        {"--augment-h264", SL_ARG_DOUBLE, &c.augment_h264, "P",
         "with probability P a training draw takes its H.264 copy: each clip encoded once as one video at a CRF of "
         "20..45, as --perturb h264 does (default 0)", 0, 1},
        {"--seed", SL_ARG_INT, &seed, "N", "random seed (default 1)", 0, 2147483647},
        {"--bins", SL_ARG_INT, &c.bins, "N", "spectral: spectrum bins (default 64)", 2, SPECTRAL_MAX_BINS},
        {"--l2", SL_ARG_DOUBLE, &c.l2, "X", "spectral: L2 strength of the logistic regression (default 0.01)", 1e-12, 1e6},
        {"--spectra", SL_ARG_STR, &c.spectra_svg, "FILE", "spectral: also write the mean real/fake spectra as SVG"},
        {"--size", SL_ARG_INT, &c.size, "N",
         "CNNs: input side, a multiple of 32 (default 128; the Meso-4 paper's 256 is 4x slower on a CPU)", 32, 1024},
        {"--steps", SL_ARG_INT, &c.steps, "N", "CNNs: Adam steps (default 300: minutes on a laptop CPU)", 1, 100000000},
        {"--batch", SL_ARG_INT, &c.batch, "N", "CNNs: batch size, half real half fake (default 32)", 2, 1024},
        {"--lr", SL_ARG_DOUBLE, &c.lr, "X", "CNNs: Adam learning rate (default 0.001)", 1e-12, 1},
        {"--lr-schedule", SL_ARG_STR, &sched, "NAME",
         "CNNs: constant, or cosine (the rate falls from --lr to 0 over --steps as (1 + cos(pi s / steps)) / 2) "
         "(default constant)"},
        {"--pooled-fakes", SL_ARG_FLAG, &c.pooled_fakes, NULL,
         "CNNs: draw fakes from one pool (default: each kind of fake, labels.csv \"method\" such as swap or sbi, is drawn "
         "equally often, however many samples it has)"},
        {"--paired-reals", SL_ARG_FLAG, &c.paired_reals, NULL,
         "CNNs: each real of a batch is the frame its neighbouring fake was made from (labels.csv target and frame), "
         "so that a person's reals come as often as their fakes (default: reals drawn on their own)"},
        {"--threads", SL_ARG_INT, &c.threads, "N", "CNNs: CPU threads (default: all)", 1, SL_ARG_MAX_THREADS},
        {"--save-every", SL_ARG_INT, &c.save_every, "N", "CNNs: checkpoint OUT and OUT.adam every N steps (default 100)", 1,
         100000000},
        {"--resume", SL_ARG_FLAG, &c.resume, NULL, "CNNs: continue from OUT's last checkpoint up to --steps"},
        {"--fpr", SL_ARG_DOUBLE, &fpr, "X", "calibration: the validation false-positive rate of the threshold (0.01)", 1e-6, 0.5},
        {"--calib-split", SL_ARG_STR, &calib_split, "NAME", "calibration: the identity-disjoint split to fit on (val)"},
        {"--fpr-scope", SL_ARG_STR, &scope_s, "S", "calibration: identity (the FPR holds for each validation identity; default) or pooled (over all validation reals at once)"},
        {"--no-calibrate", SL_ARG_FLAG, &no_calib, NULL, "do not calibrate after training (decisions then at P = 0.5)"},
        {0},
    };
    int r = sl_args_parse("detect train", "--data DIR --out FILE [--method NAME] [options]",
                          "Trains a deepfake detector on a labelled dataset and saves it as safetensors. Then, when the\n"
                          "dataset has a validation split (labels.csv split \"val\"), calibrates it there: the decision\n"
                          "threshold at --fpr and Platt scaling go into the model file (see `detect calibrate`).",
                          spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    if (!data || !c.out) return sl_usage_error("detect train", "--data and --out are required");
    c.kind = det_kind_by_name(method);
    if (!c.kind) return sl_usage_error("detect train", "--method must be one of %s, not '%s'", methods, method);
    if (c.bins < 2 || c.bins > SPECTRAL_MAX_BINS) return sl_usage_error("detect train", "--bins must be 2..%d", SPECTRAL_MAX_BINS);
    if (!(c.l2 > 0)) return sl_usage_error("detect train", "--l2 must be > 0");
    if (c.size && (c.size < 32 || c.size > 1024 || c.size % 32))
        return sl_usage_error("detect train", "--size must be a multiple of 32 in 32..1024");
    if (c.steps < 1 || c.batch < 2 || c.batch > 1024) return sl_usage_error("detect train", "--steps must be >= 1 and --batch 2..1024");
    if (!(c.lr > 0)) return sl_usage_error("detect train", "--lr must be > 0");
    if (sched) {
        if (!strcmp(sched, "cosine")) c.lr_cosine = 1;
        else if (!strcmp(sched, "constant")) c.lr_cosine = 0;
        else return sl_usage_error("detect train", "--lr-schedule must be constant or cosine, not '%s'", sched);
    }
    if (c.save_every < 1) return sl_usage_error("detect train", "--save-every must be >= 1");
    if (!(fpr > 0 && fpr < 1)) return sl_usage_error("detect train", "--fpr must be in (0, 1)");
    int scope = calib_scope_parse(scope_s);
    if (scope < 0) return sl_usage_error("detect train", "--fpr-scope must be pooled or identity, not '%s'", scope_s);
    if (c.resume && !c.kind->cnn) return sl_usage_error("detect train", "--resume is for the CNNs (spectral training is one pass)");
    c.seed = (uint64_t)seed;
    SlErr err;
    DetDataset ds;
    char csv[SL_PATH_MAX];
    sl_path_join(csv, sizeof csv, data, "labels.csv");
    int has_csv = sl_is_file(csv);
    if (!split) split = has_csv ? "train" : "all";
    if (detds_load(data, split, &ds, &err)) return fail("train", &err);
    detds_drop_unreadable(&ds);
    int nr, nf;
    detds_counts(&ds, &nr, &nf);
    if (!nr || !nf) {
        detds_free(&ds);
        fprintf(stderr, "swaplab detect train: %s (split %s) has %d real and %d fake images; both are needed\n", data, split, nr, nf);
        return 1;
    }
    /* the validation split, checked before training: none (a hand-made set) is a warning, one class an error */
    int calibrate = !no_calib && has_csv;
    if (calibrate) {
        DetDataset vs;
        int vr = 0, vf = 0;
        if (detds_load(data, calib_split, &vs, &err) == 0) {
            detds_drop_unreadable(&vs);
            detds_counts(&vs, &vr, &vf);
            detds_free(&vs);
        }
        if (!vr && !vf) {
            sl_warn("%s has no readable images in split %s: %s will not be calibrated (decisions at P = 0.5); "
                    "`swaplab dataset` always writes an identity-disjoint val split", data, calib_split, c.out);
            calibrate = 0;
        } else if (!vr || !vf) {
            detds_free(&ds);
            fprintf(stderr, "swaplab detect train: %s split %s has %d real and %d fake images; calibration needs both "
                            "(or --no-calibrate)\n", data, calib_split, vr, vf);
            return 1;
        }
    } else if (!no_calib) {
        sl_warn("%s has no labels.csv and so no validation split: %s will not be calibrated (decisions at P = 0.5)", data,
                c.out);
    }
    sl_info("training %s on %d real + %d fake images (%d identities) from %s", c.kind->name, nr, nf, ds.n_groups, data);
    DetTrainReport rep;
    int rc = det_train(&ds, &c, &rep, &err);
    detds_free(&ds);
    if (rc) return fail("train", &err);
    if (rep.nothing_to_do) {
        printf("%s: %s is already at step %ld (--steps %d); nothing to do\n", c.kind->name, c.out, rep.steps_done, c.steps);
        return 0;
    }
    if (c.kind->cnn)
        printf("%s: %d steps of %d, final loss (EMA) %.4f -> %s\n", c.kind->name, c.steps, c.batch, rep.loss, c.out);
    else
        printf("spectral detector: %d images, %d bins, Newton %ld iterations, loss %.4f%s -> %s\n", nr + nf, c.bins,
               rep.steps_done, rep.loss, rep.converged ? "" : " (not converged)", c.out);
    if (!calibrate) return 0;
    DetCalib cal;
    if (det_calibrate_file(c.out, data, calib_split, fpr, scope, c.threads, &cal, &err)) return fail("train", &err);
    printf("calibrated on %s (%d identities, %d real + %d fake): threshold logit %.4f at FPR %.4f (target %.4f, %s), TPR %.4f\n",
           calib_split, cal.n_ids, cal.n_real, cal.n_fake, cal.threshold, cal.val_fpr, cal.target_fpr,
           calib_scope_name(cal.scope), cal.val_tpr);
    return 0;
}

/* ---- calibrate ------------------------------------------------------------------------------- */

static int detect_calibrate(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *split = "val", *scope_s = "identity";
    double fpr = CALIB_DEFAULT_FPR;
    int threads = 0;
    SlArg spec[] = {
        {"--model", SL_ARG_STR, &model, "FILE", "detector model to calibrate (rewritten in place, atomically)"},
        {"--data", SL_ARG_STR, &data, "DIR", "detector dataset with labels.csv"},
        {"--split", SL_ARG_STR, &split, "NAME", "identity-disjoint split to fit on (default val; never test)"},
        {"--fpr", SL_ARG_DOUBLE, &fpr, "X", "false-positive rate of the threshold on that split (default 0.01)", 1e-6, 0.5},
        {"--fpr-scope", SL_ARG_STR, &scope_s, "S", "identity (the FPR holds for each of the split's identities: the largest of their own thresholds; default) or pooled (over all its reals at once)"},
        {"--threads", SL_ARG_INT, &threads, "N", "CPU threads for CNNs (default: all)", 1, SL_ARG_MAX_THREADS},
        {0},
    };
    int r = sl_args_parse("detect calibrate", "--model FILE --data DIR [--split val] [--fpr 0.01] [--fpr-scope identity|pooled]",
                          "Chooses the decision threshold of a detector on a validation split at a stated false-positive\n"
                          "rate (the smallest logit above all but floor(FPR x reals) real samples) and fits Platt scaling\n"
                          "there; both go into the model file's metadata \"calibration\", read by scan, eval and the report.",
                          spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    if (!model || !data) return sl_usage_error("detect calibrate", "--model and --data are required");
    if (!(fpr > 0 && fpr < 1)) return sl_usage_error("detect calibrate", "--fpr must be in (0, 1)");
    if (!strcmp(split, "test")) return sl_usage_error("detect calibrate", "calibrating on the test split would bias its results; use val");
    int scope = calib_scope_parse(scope_s);
    if (scope < 0) return sl_usage_error("detect calibrate", "--fpr-scope must be pooled or identity, not '%s'", scope_s);
    SlErr err;
    DetCalib cal;
    if (det_calibrate_file(model, data, split, fpr, scope, threads, &cal, &err)) return fail("calibrate", &err);
    printf("%s: threshold logit %.4f at validation FPR %.4f (target %.4f, %s), TPR %.4f; Platt a %.4f b %.4f; %d identities, "
           "%d real + %d fake\n", model, cal.threshold, cal.val_fpr, cal.target_fpr, calib_scope_name(cal.scope), cal.val_tpr,
           cal.platt_a, cal.platt_b, cal.n_ids, cal.n_real, cal.n_fake);
    return 0;
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
        char ci[40];
        printf("%d scores (%d fake, %d real, %d groups): AUC %.4f %s  AP %.4f  EER %.4f  acc %.4f  TPR@1%%FPR %.4f\n",
               n, mr.n_pos, mr.n_neg, G, mr.point.auc, ci_str(ci, sizeof ci, mr.auc_ci.lo, mr.auc_ci.hi), mr.point.ap,
               mr.point.eer, mr.point.acc, mr.point.tpr_at_fpr1);
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

static json_t *calibration_json(const DetCalib *c) {
    if (!c->present) return json_null();
    char *t = calib_to_json(c);
    json_t *j = json_loads(t, 0, NULL);
    free(t);
    return j ? j : json_null();
}

/* The reliability diagram of the calibrated probabilities of the clean scores (10 bins). */
static json_t *reliability_json(const DetModel *dm, const float *logits, const int *labels, int n) {
    enum { NB = 10 };
    double *p = xmalloc((size_t)n * sizeof *p), mp[NB], ff[NB];
    int cnt[NB];
    for (int i = 0; i < n; i++) p[i] = det_model_prob(dm, logits[i]);
    double ece = metrics_reliability(p, labels, n, NB, cnt, mp, ff);
    free(p);
    json_t *o = json_object(), *jc = json_array(), *jm = json_array(), *jf = json_array();
    for (int b = 0; b < NB; b++) {
        json_array_append_new(jc, json_integer(cnt[b]));
        json_array_append_new(jm, isfinite(mp[b]) ? json_real(mp[b]) : json_null());
        json_array_append_new(jf, isfinite(ff[b]) ? json_real(ff[b]) : json_null());
    }
    json_object_set_new(o, "probability", json_string(dm->calib.present ? "Platt-calibrated" : "sigmoid (not calibrated)"));
    json_object_set_new(o, "bins", json_integer(NB));
    json_object_set_new(o, "count", jc);
    json_object_set_new(o, "mean_probability", jm);
    json_object_set_new(o, "fraction_fake", jf);
    json_object_set_new(o, "ece", isfinite(ece) ? json_real(ece) : json_null());
    return o;
}

/* Clip-level metrics (the FaceForensics++ / DeepfakeBench video-level protocol): each clip's score is
 * the mean logit of its frames (top_k > 0 or -1: the mean of its top k, -1 meaning ceil(n/4); see
 * temporal_aggregate), its label the majority label, its bootstrap group the identity of its first
 * frame; decisions at the same threshold. null when the clips lack a class. */
static json_t *clip_metrics(const float *z, const int *labels, const int *groups, const int *clip_of, int n, int n_clips,
                            double thr, int boot, uint64_t seed, int top_k) {
    float *cz = xcalloc((size_t)n_clips, sizeof *cz), *fz = xmalloc((size_t)n * sizeof *fz);
    int *cnt = xcalloc((size_t)n_clips + 1, sizeof *cnt), *nf = xcalloc((size_t)n_clips, sizeof *nf);
    int *cl = xmalloc((size_t)n_clips * sizeof *cl), *cg = xmalloc((size_t)n_clips * sizeof *cg);
    int *start = xcalloc((size_t)n_clips + 1, sizeof *start), *fill = xmalloc((size_t)n_clips * sizeof *fill);
    for (int i = 0; i < n; i++) start[clip_of[i] + 1]++;
    for (int c = 0; c < n_clips; c++) start[c + 1] += start[c], fill[c] = start[c];
    for (int i = 0; i < n; i++) {
        int c = clip_of[i];
        if (!cnt[c]) cg[c] = groups[i];
        cnt[c]++, nf[c] += labels[i], fz[fill[c]++] = z[i];
    }
    for (int c = 0; c < n_clips; c++) {
        TemporalAgg a;
        temporal_aggregate(fz + start[c], cnt[c], top_k > 0 ? top_k : 0, &a);
        cz[c] = (float)(top_k ? a.topk : a.mean), cl[c] = 2 * nf[c] >= cnt[c];
    }
    MetricsResult mr;
    MetricsAtThr at;
    SlErr err;
    json_t *o = json_null();
    if (metrics_eval_thr(cz, cl, cg, n_clips, boot, seed, 0.0f, &mr, &err) == 0) {
        o = metrics_to_json(&mr);
        if (metrics_at_threshold(cz, cl, cg, n_clips, thr, boot, seed, &at, &err) == 0)
            json_object_set_new(o, "at_threshold", metrics_at_threshold_json(&at));
        char agg[96];
        if (top_k > 0) snprintf(agg, sizeof agg, "mean logit of the clip's %d highest frame logits", top_k);
        else snprintf(agg, sizeof agg, "%s", top_k ? "mean logit of the clip's ceil(n/4) highest frame logits"
                                                   : "mean logit of the clip's frames");
        json_object_set_new(o, "aggregation", json_string(agg));
        metrics_free(&mr);
    }
    free(cz), free(fz), free(cnt), free(nf), free(cl), free(cg), free(start), free(fill);
    return o;
}

/* A metric of a metrics_to_json object: its value (ci = 0) or interval end (1, 2); NaN when null. */
static double jmetric(const json_t *o, const char *key, int ci) {
    const json_t *m = json_object_get(o, key);
    const json_t *v = ci ? json_array_get(json_object_get(m, "ci95"), (size_t)ci - 1) : json_object_get(m, "value");
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A JSON number, NaN when null or absent. */
static double jmetric_value(const json_t *v) {
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The clip-level row under a perturbation's frame-level row of the table. */
static void print_clip_row(const json_t *c, const char *what) {
    if (!json_is_object(c)) return;
    char label[32];
    snprintf(label, sizeof label, " %lld %s", (long long)json_integer_value(json_object_get(c, "n")), what);
    const json_t *t = json_object_get(c, "at_threshold");
    char ci[40];
    printf("%-12s %.4f %s  %.4f  %.4f  %.4f  %.4f     %.4f %.4f %.4f\n", label, jmetric(c, "auc", 0),
           ci_str(ci, sizeof ci, jmetric(c, "auc", 1), jmetric(c, "auc", 2)), jmetric(c, "ap", 0), jmetric(c, "eer", 0),
           jmetric(c, "accuracy_at_0.5", 0), jmetric(c, "tpr_at_fpr_1pct", 0), jmetric(t, "accuracy", 0),
           jmetric(t, "tpr", 0), jmetric(t, "fpr", 0));
}

/* "12.3 ± 4.5" of a {mean, sd, n} object (prec decimals), "-" without values. */
static void fmt_stat(char *buf, size_t n, const json_t *st, int prec) {
    double m = jmetric_value(json_object_get(st, "mean")), sd = jmetric_value(json_object_get(st, "sd"));
    if (!isfinite(m)) snprintf(buf, n, "-");
    else if (!isfinite(sd)) snprintf(buf, n, "%.*f", prec, m);
    else snprintf(buf, n, "%.*f ± %.*f", prec, m, prec, sd);
}

/* detect eval --temporal: the clips, real then fake, each with its cues beside its scores; the classes'
 * means and the cues' AUCs. */
static void print_temporal(const json_t *jt, const char *split) {
    enum { MAX_ROWS = 40 };
    const json_t *clips = json_object_get(jt, "clips");
    double dt = jmetric_value(json_object_get(jt, "frame_interval_s"));
    printf("\ntemporal cues per clip (%s split, clean scores, frames in time order; landmarks %s; calls %s)\n", split,
           json_string_value(json_object_get(jt, "landmarks")), json_string_value(json_object_get(jt, "decision")));
    if (isfinite(dt) && dt > 0.1)
        printf("note: frames are %.2f s apart (median): blinks of 100-400 ms fall between them and flicker is measured "
               "between distant frames; a dataset made with --frames-per-clip 0 has every frame\n", dt);
    printf("%-5s %-36s %6s %10s %9s %8s %10s %11s %5s\n", "class", "clip", "frames", "blinks/min", "blink ms", "flicker",
           "mean logit", "top-k logit", "call");
    int rows = 0, total = (int)json_array_size(clips);
    for (int cls = 0; cls < 2; cls++) {
        size_t i;
        const json_t *c;
        json_array_foreach(clips, i, c) {
            const char *lab = json_string_value(json_object_get(c, "label"));
            if (strcmp(lab, cls ? "fake" : "real")) continue;
            if (rows++ >= MAX_ROWS) continue;
            const json_t *b = json_object_get(c, "blinks"), *f = json_object_get(c, "flicker"), *s = json_object_get(c, "score");
            char rate[16] = "-", ms[16] = "-", fl[16] = "-";
            if (json_is_object(b)) {
                snprintf(rate, sizeof rate, "%.1f", jmetric_value(json_object_get(b, "rate_per_min")));
                double v = jmetric_value(json_object_get(b, "mean_ms"));
                if (isfinite(v)) snprintf(ms, sizeof ms, "%.0f", v);
            }
            if (json_is_object(f)) snprintf(fl, sizeof fl, "%.3f", jmetric_value(json_object_get(f, "ratio")));
            printf("%-5s %-36.36s %6lld %10s %9s %8s %10.3f %11.3f %5s\n", lab, json_string_value(json_object_get(c, "clip")),
                   (long long)json_integer_value(json_object_get(c, "frames")), rate, ms, fl,
                   jmetric_value(json_object_get(s, "mean_logit")), jmetric_value(json_object_get(s, "topk_logit")),
                   json_string_value(json_object_get(s, "call_mean")));
            if (!json_is_object(b)) printf("      (no cues: %s)\n", json_string_value(json_object_get(c, "why")));
        }
    }
    if (rows > MAX_ROWS) printf("... %d more clips in the JSON (\"temporal\".\"clips\")\n", total - MAX_ROWS);
    for (int cls = 0; cls < 2; cls++) {
        const json_t *sm = json_object_get(json_object_get(jt, "summary"), cls ? "fake" : "real");
        char rate[40], ms[40], fl[40], zm[40], zk[40];
        fmt_stat(rate, sizeof rate, json_object_get(sm, "blink_rate_per_min"), 1);
        fmt_stat(ms, sizeof ms, json_object_get(sm, "blink_mean_ms"), 0);
        fmt_stat(fl, sizeof fl, json_object_get(sm, "flicker_ratio"), 3);
        fmt_stat(zm, sizeof zm, json_object_get(sm, "mean_logit"), 3);
        fmt_stat(zk, sizeof zk, json_object_get(sm, "topk_logit"), 3);
        printf("%s clips: %lld (%lld with cues): blinks/min %s, blink ms %s, flicker %s, mean logit %s, top-k logit %s; "
               "called fake %lld (mean) %lld (top-k)\n", cls ? "fake" : "real",
               (long long)json_integer_value(json_object_get(sm, "clips")),
               (long long)json_integer_value(json_object_get(sm, "with_features")), rate, ms, fl, zm, zk,
               (long long)json_integer_value(json_object_get(sm, "called_fake_mean")),
               (long long)json_integer_value(json_object_get(sm, "called_fake_topk")));
    }
    const json_t *a = json_object_get(jt, "auc");
    printf("AUC over the clips with cues (fake positive; < 0.5: fakes have less): blinks/min %.3f, blink ms %.3f, "
           "flicker %.3f, mean logit %.3f, top-k logit %.3f\n", jmetric_value(json_object_get(a, "blink_rate_per_min")),
           jmetric_value(json_object_get(a, "blink_mean_ms")), jmetric_value(json_object_get(a, "flicker_ratio")),
           jmetric_value(json_object_get(a, "mean_logit")), jmetric_value(json_object_get(a, "topk_logit")));
}

static int detect_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *out = NULL, *split = NULL, *roc = NULL, *scores_out = NULL,
               *scores_in = NULL;
    const char *temporal_lm = "detect";
    SlStrList perturb = {0};
    int boot = METRICS_DEFAULT_BOOT, seed = 1, threads = 0, temporal = 0, top_k = 0;
    SlArg spec[] = {
        {"--model", SL_ARG_STR, &model, "FILE", "detector model (from detect train)"},
        {"--data", SL_ARG_STR, &data, "DIR", "detector dataset (labels.csv, or real/ and fake/ folders)"},
        {"--out", SL_ARG_STR, &out, "FILE", "metrics JSON to write"},
        {"--split", SL_ARG_STR, &split, "NAME", "rows of labels.csv to evaluate (default test; all without labels.csv)"},
        {"--perturb", SL_ARG_LIST, &perturb, "SPEC",
         "also evaluate under jpegQ (1..100) resizeF (0..1] blur:S noise:S h264:CRF (0..51, per labels.csv clip), or "
         "standard (= jpeg75,jpeg50,resize0.5,h264:23,h264:40); several or comma-separated; 'list' shows all "
         "(default: clean only)"},
        {"--boot", SL_ARG_INT, &boot, "N", "bootstrap replicates over identities (default 1000; 0 = none)", 0, 100000},
        {"--seed", SL_ARG_INT, &seed, "N", "seed of the bootstrap and of noise (default 1)", 0, 2147483647},
        {"--roc", SL_ARG_STR, &roc, "FILE", "write the ROC curves as SVG"},
        {"--scores", SL_ARG_STR, &scores_out, "FILE", "write every image's score (its logit) as CSV (path,label,group,perturbation,score)"},
        {"--threads", SL_ARG_INT, &threads, "N", "CPU threads for Meso-4 (default: all)", 1, SL_ARG_MAX_THREADS},
        {"--scores-in", SL_ARG_STR, &scores_in, "CSV", "evaluate another tool's scores instead (columns score,label[,source])"},
        {"--temporal", SL_ARG_FLAG, &temporal, NULL,
         "also per clip, in time order: blink rate and duration from the landmarks, flicker at the face hull's border, "
         "beside the clip's mean and top-k logit, real and fake apart, and each cue's AUC (labels.csv clip and time, "
         "landmarks/; a dataset made with --frames-per-clip 0 has every frame)"},
        {"--temporal-landmarks", SL_ARG_STR, &temporal_lm, "detect|dataset",
         "--temporal's landmarks: detect (default: dlib's predictor on each frame) or dataset (the landmarks/ files; a "
         "fake's are its target frame's)"},
        {"--top-k", SL_ARG_INT, &top_k, "K", "clip score clip_level_topk: the mean of the K highest frame logits (default 0: "
         "a quarter of the clip's frames, rounded up)", 0, 1000000},
        {0},
    };
    int r = sl_args_parse("detect eval", "--model FILE --data DIR --out FILE [--perturb SPEC...] [options]",
                          "Scores a dataset and writes AUC, AP, EER, accuracy and TPR at 1% / 0.1% FPR, each with a 95%\n"
                          "bootstrap interval over identities (labels.csv column \"source\"), clean and under perturbations;\n"
                          "when labels.csv names clips (column \"clip\"), also per clip (the mean logit of its frames): a\n"
                          "\" N clips\" row under each perturbation and \"clip_level\" in the JSON (\"clip_level_topk\": the\n"
                          "mean of its top-k frame logits). --temporal adds the clips' blinks and border flicker.",
                          spec, argc, argv, NULL);
    if (r) {
        free(perturb.v);
        return r == 1 ? 0 : 2;
    }
    enum { MAX_PERT = 32 };
    for (int k = 0; k < perturb.n; k++)
        if (!strcmp(perturb.v[k], "list")) {
            fputs(robust_list_text(), stdout);
            free(perturb.v);
            return 0;
        }
    int n_pert = 1;
    RobustSpec *ps = xmalloc((MAX_PERT + 1) * sizeof *ps);
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
    TemporalOpts topt = {.lm_source = TEMPORAL_LM_DETECT};
    temporal_blink_default(&topt.blink);
    if (!strcmp(temporal_lm, "dataset")) topt.lm_source = TEMPORAL_LM_DATASET;
    else if (strcmp(temporal_lm, "detect")) rc = sl_usage_error("detect eval", "--temporal-landmarks is detect or dataset, not '%s'", temporal_lm);
    if (rc) {
        free(perturb.v), free(ps);
        return rc;
    }
    if (!model || !data || !out) rc = sl_usage_error("detect eval", "--model, --data and --out are required");
    else if (boot < 0 || boot > 100000) rc = sl_usage_error("detect eval", "--boot must be 0..100000");
    for (int k = 0; !rc && k < perturb.n; k++)
        if (robust_parse_list(perturb.v[k], ps, MAX_PERT + 1, &n_pert, &err)) rc = sl_usage_error("detect eval", "%s", err.msg);
    free(perturb.v);
    { /* one result per perturbation: drop repeats and "none" (the clean run is always first) */
        int m = 1;
        for (int k = 1; k < n_pert; k++) {
            int seen = 0;
            for (int j = 0; j < m; j++) seen |= ps[j].kind == ps[k].kind && ps[j].value == ps[k].value;
            if (!seen && ps[k].kind != ROBUST_NONE) ps[m++] = ps[k];
        }
        n_pert = m;
    }
    if (rc) {
        free(ps);
        return rc;
    }
    DetModel dm;
    if (det_model_load(model, threads, NULL, &dm, &err)) {
        free(ps);
        return fail("eval", &err);
    }
    char csv[SL_PATH_MAX];
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
    /* clip-level evaluation when labels.csv names clips */
    int *clip_of = xmalloc((size_t)ds.n * sizeof *clip_of), n_clips = 0, has_clip = 0;
    for (int i = 0; i < ds.n; i++) has_clip |= ds.s[i].clip != NULL;
    if (has_clip) n_clips = detds_clips(&ds, clip_of);
    if (temporal && !has_clip) {
        fprintf(stderr, "swaplab detect eval: --temporal: %s (split %s) names no clips; it needs labels.csv with clip and "
                        "time columns and landmarks/, as `swaplab dataset` writes them from video\n", data, split);
        rc = 1;
    }
    TemporalClip *tclips = NULL;
    if (!rc && temporal) {
        tclips = xcalloc((size_t)n_clips, sizeof *tclips);
        if (temporal_dataset(&ds, clip_of, n_clips, &topt, 1, tclips, &err)) {
            rc = fail("eval", &err);
            free(tclips);
            tclips = NULL;
        }
    }
    if (!rc && det_score_dataset(&dm, &ds, ps, n_pert, (uint64_t)seed, 1, scores, &err)) rc = fail("eval", &err);
    json_t *root = json_object(), *results = json_object();
    PlotSeries *curves = xcalloc((size_t)n_pert, sizeof *curves);
    char (*names)[32] = xmalloc((size_t)n_pert * sizeof *names), (*legend)[64] = xmalloc((size_t)n_pert * sizeof *legend);
    MetricsResult *mr = xcalloc((size_t)n_pert, sizeof *mr);
    double thr = dm.calib.present ? dm.calib.threshold : 0;
    if (!rc) {
        printf("%-12s %-24s %-7s %-7s %-7s %-9s %s\n", "perturbation", "AUC [95% CI]", "AP", "EER", "acc", "TPR@1%FPR",
               dm.calib.present ? "at the calibrated threshold: acc TPR FPR" : "at P = 0.5 (not calibrated): acc TPR FPR");
        for (int k = 0; k < n_pert && !rc; k++) {
            robust_name(&ps[k], names[k], sizeof names[k]);
            MetricsAtThr at;
            if (metrics_eval_thr(scores + (size_t)k * ds.n, labels, groups, ds.n, boot, (uint64_t)seed, 0.0f, &mr[k], &err) ||
                metrics_at_threshold(scores + (size_t)k * ds.n, labels, groups, ds.n, thr, boot, (uint64_t)seed, &at, &err)) {
                rc = fail("eval", &err);
                break;
            }
            json_t *jm = metrics_to_json(&mr[k]);
            json_object_set_new(jm, "at_threshold", metrics_at_threshold_json(&at));
            if (n_clips) {
                json_object_set_new(jm, "clip_level", clip_metrics(scores + (size_t)k * ds.n, labels, groups, clip_of, ds.n,
                                                                   n_clips, thr, boot, (uint64_t)seed, 0));
                json_object_set_new(jm, "clip_level_topk", clip_metrics(scores + (size_t)k * ds.n, labels, groups, clip_of,
                                                                        ds.n, n_clips, thr, boot, (uint64_t)seed,
                                                                        top_k ? top_k : -1));
            }
            json_object_set_new(results, names[k], jm);
            const MetricsPoint *p = &mr[k].point;
            char ci[40];
            printf("%-12s %.4f %s  %.4f  %.4f  %.4f  %.4f     %.4f %.4f %.4f\n", names[k], p->auc,
                   ci_str(ci, sizeof ci, mr[k].auc_ci.lo, mr[k].auc_ci.hi), p->ap, p->eer, p->acc, p->tpr_at_fpr1, at.acc,
                   at.tpr, at.fpr);
            print_clip_row(json_object_get(jm, "clip_level"), "clips");
            if (temporal) print_clip_row(json_object_get(jm, "clip_level_topk"), "top-k");
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
        json_object_set_new(root, "score", json_string("logit (ROC and EER thresholds are logits; accuracy_at_0.5 is P >= 0.5)"));
        json_object_set_new(root, "calibration", calibration_json(&dm.calib));
        json_object_set_new(root, "reliability", reliability_json(&dm, scores, labels, ds.n));
        json_object_set_new(root, "results", json_incref(results));
        if (tclips) {
            json_t *jt = temporal_report_json(&ds, tclips, n_clips, scores, &dm.calib, &topt, top_k);
            print_temporal(jt, split);
            json_object_set_new(root, "temporal", jt);
        }
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
    if (tclips) temporal_clips_free(tclips, n_clips);
    free(tclips);
    free(scores), free(labels), free(groups), free(ps), free(clip_of);
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
                          "Prints each image's calibrated probability of being fake and the detector's call at its\n"
                          "calibrated threshold (path TAB P(fake) TAB fake|real; a detector's call, not proof: check\n"
                          "provenance with `swaplab verify`). --heatmap shows where the detector looked.",
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
    if (det_model_load(model, threads, NULL, &dm, &err)) {
        free(pos.v);
        return fail("scan", &err);
    }
    if (!dm.calib.present)
        sl_warn("%s is not calibrated: the verdict is at P = 0.5 (run `swaplab detect calibrate`)", model);
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
        float z = det_model_logit(&dm, &im);
        double p = det_model_prob(&dm, z);
        int fake = det_model_decide(&dm, z);
        if (arr) {
            row = json_pack("{s:s, s:f, s:s, s:s}", "file", pos.v[i], "p_fake", p, "decision", fake ? "fake" : "real",
                            "model", det_model_arch(&dm));
            json_array_append_new(arr, row);
        } else {
            printf("%s\t%.4f\t%s\n", pos.v[i], p, fake ? "fake" : "real");
        }
        if (heat_dir) {
            int side = det_model_input_side(&dm) ? det_model_input_side(&dm) : (im.w < im.h ? im.w : im.h);
            int pt = patch ? patch : (side / 8 > 1 ? side / 8 : 2), st = stride ? stride : (pt / 2 > 0 ? pt / 2 : 1);
            int hh, hw;
            float *heat = det_model_heatmap(&dm, &im, pt, st, &hh, &hw);
            const char *base = strrchr(pos.v[i], '/');
            base = base ? base + 1 : pos.v[i];
            char name[1024], path[SL_PATH_MAX], note[160];
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
        "usage: swaplab detect train|calibrate|eval|scan [options]   (each takes --help)\n"
        "  train      train a detector (spectral, meso4, mesoinception4, resnet10) on a detector dataset\n"
        "  calibrate  threshold at a validation FPR and Platt scaling, stored in the model file\n"
        "  eval   AUC, AP, EER, accuracy, TPR@FPR with bootstrap intervals over identities, under perturbations\n"
        "  scan   score images; optional occlusion heatmaps\n";
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs(usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (!strcmp(argv[0], "train")) return detect_train(argc - 1, argv + 1);
    if (!strcmp(argv[0], "eval")) return detect_eval(argc - 1, argv + 1);
    if (!strcmp(argv[0], "calibrate")) return detect_calibrate(argc - 1, argv + 1);
    if (!strcmp(argv[0], "scan")) return detect_scan(argc - 1, argv + 1);
    fprintf(stderr, "swaplab detect: unknown subcommand '%s'\n%s", argv[0], usage);
    return 2;
}
