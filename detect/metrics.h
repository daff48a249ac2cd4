/* metrics.h — detector evaluation that holds up in a paper: ROC curve, AUC, average precision,
 * EER, accuracy, TPR at low FPR, each with a 95% bootstrap confidence interval over identities.
 *
 * Conventions: label 1 = fake (the positive class), 0 = real; a score is the detector's belief that
 * the sample is fake (higher = more fake; a probability for the accuracy at 0.5). Definitions follow
 * scikit-learn so numbers can be compared with PyTorch/sklearn pipelines:
 *   ROC     roc_curve(drop_intermediate=False): one point per distinct score, from (0,0) (threshold
 *           +inf) to (1,1); a sample is called fake when score >= threshold.
 *           https://scikit-learn.org/stable/modules/generated/sklearn.metrics.roc_curve.html
 *   AUC     exact Mann–Whitney statistic: P(score_fake > score_real) + 0.5 P(equal) — equal to the
 *           trapezoidal area under that ROC.
 *   AP      step-wise, as average_precision_score: sum over thresholds of (R_k - R_{k-1}) P_k,
 *           no interpolation.
 *   EER     the FPR at which FPR = FNR, linearly interpolated between the two ROC points where
 *           FNR - FPR changes sign (the threshold is interpolated the same way).
 *   acc@0.5 fraction correct when fake is predicted for score >= 0.5.
 *   TPR@FPR interpolated: the piecewise-linear ROC through its points, read at FPR = x (the
 *           operating point a randomised mix of two neighbouring thresholds reaches; where the curve
 *           is vertical at x, its top). The conservative value — the best TPR of a real threshold
 *           with FPR <= x — is reported too (…_conservative), with no interval.
 * Bootstrap (Efron & Tibshirani 1993, percentile intervals): the samples' group ids (the identity
 * of the face) are mapped to 0..G-1 in ascending id order; each of B replicates draws G groups with
 * replacement (sl_rng_int(rng, G), G draws per replicate, rng seeded with `seed`) and takes every
 * sample of each drawn group, so frames of one person never count as independent. A replicate
 * without both classes is skipped for every metric (n_boot_valid counts the rest). The interval is
 * the 2.5th and 97.5th percentile (linear interpolation, numpy's default) of the valid replicates.
 * groups = NULL makes every sample its own group. */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stdint.h>

#include <jansson.h>

#include "util/util.h"

#define METRICS_DEFAULT_BOOT 1000

typedef struct {
    double lo, hi; /* NaN when no valid replicate */
} MetricsCI;

/* The point metrics of one set of scores (no curve, no interval). NaN where undefined. */
typedef struct {
    double auc, ap, eer, eer_threshold, acc;
    double tpr_at_fpr1, tpr_at_fpr01;                           /* FPR = 1% and 0.1%, interpolated */
    double tpr_at_fpr1_conservative, tpr_at_fpr01_conservative; /* best real threshold with FPR <= x */
} MetricsPoint;

typedef struct {
    int n, n_pos, n_neg, n_groups;
    MetricsPoint point;
    MetricsCI auc_ci, ap_ci, eer_ci, acc_ci, tpr_at_fpr1_ci, tpr_at_fpr01_ci;
    int n_boot, n_boot_valid;
    uint64_t seed;
    /* ROC points, n_roc of them, owned (metrics_free). thr[0] = +INFINITY. */
    int n_roc;
    double *fpr, *tpr, *thr;
} MetricsResult;

/* Point metrics only. Returns -1 with err when n < 1, a label is not 0/1, a score is not finite,
 * or one class is missing. */
int metrics_point(const float *scores, const int *labels, int n, MetricsPoint *out, SlErr *err);

/* ROC curve (see above). *fpr, *tpr, *thr are malloc'ed arrays of *n_out points. Needs both
 * classes (else -1 with err). */
int metrics_roc(const float *scores, const int *labels, int n, double **fpr, double **tpr,
                double **thr, int *n_out, SlErr *err);

/* Everything: point metrics, ROC, and n_boot bootstrap replicates over groups (n_boot = 0: no
 * intervals, CIs NaN). groups may be NULL. Fill out; free with metrics_free. */
int metrics_eval(const float *scores, const int *labels, const int *groups, int n, int n_boot,
                 uint64_t seed, MetricsResult *out, SlErr *err);
void metrics_free(MetricsResult *r);
/* The same with accuracy taken at scores >= acc_thr instead of 0.5 (e.g. 0 for logits: the same
 * decision as P >= 0.5). */
int metrics_eval_thr(const float *scores, const int *labels, const int *groups, int n, int n_boot, uint64_t seed,
                     float acc_thr, MetricsResult *out, SlErr *err);

/* Decisions at one threshold (score >= thr: fake): the confusion matrix, accuracy, TPR and FPR,
 * each with a 95% bootstrap interval over groups (as metrics_eval; replicates without both classes
 * skipped). */
typedef struct {
    double threshold;
    int tp, fp, tn, fn;
    double acc, tpr, fpr;
    MetricsCI acc_ci, tpr_ci, fpr_ci;
    int n_boot_valid;
} MetricsAtThr;
int metrics_at_threshold(const float *scores, const int *labels, const int *groups, int n, double thr, int n_boot,
                         uint64_t seed, MetricsAtThr *out, SlErr *err);
/* {"threshold", "confusion": {"tp", "fp", "tn", "fn"}, "accuracy", "tpr", "fpr" (each value + ci95)}. */
json_t *metrics_at_threshold_json(const MetricsAtThr *t);
/* Reliability diagram (DeGroot & Fienberg 1983; Guo et al. 2017): probabilities in nbins equal-width
 * bins of [0, 1]; per bin the count, the mean probability and the fraction of fakes (NaN when
 * empty). Returns the expected calibration error sum_b (n_b / n) |mean_p_b - frac_b|. */
double metrics_reliability(const double *probs, const int *labels, int n, int nbins, int *count, double *mean_p,
                           double *frac_fake);

/* Percentile with linear interpolation between order statistics (numpy.percentile's default) of
 * v[0..n) (sorted in place); q in [0, 100]. NaN for n = 0. */
double metrics_percentile(double *v, int n, double q);

/* JSON of all of it: {"n", "n_fake", "n_real", "n_groups", "bootstrap": {"replicates", "valid",
 * "seed" (a decimal string: a uint64 does not fit JSON numbers), "level": 0.95, "resampled_unit"}, "auc": {"value", "ci95": [lo, hi]}, "ap", "eer" (+ "threshold"),
 * "accuracy_at_0.5", "tpr_at_fpr_1pct", "tpr_at_fpr_0.1pct" (+ "conservative"), "roc": {"fpr",
 * "tpr", "threshold"}} — NaN is written as null, the +inf threshold as null. New reference. */
json_t *metrics_to_json(const MetricsResult *r);
/* Writes metrics_to_json atomically (indented). */
int metrics_write_json(const char *path, const MetricsResult *r, SlErr *err);

#endif
