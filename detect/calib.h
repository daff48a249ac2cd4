/* calib.h — calibrated decisions of a detector: an operating threshold chosen on an
 * identity-disjoint validation split at a stated false-positive rate, and Platt scaling (Platt 1999,
 * "Probabilistic outputs for support vector machines"; the label smoothing of Lin, Lin & Weng 2007)
 * of the raw logit into a probability. Both are fitted on validation logits, stored in the model
 * file's metadata under the key "calibration" (a JSON object, calib_to_json) and read back by every
 * command that decides (detect scan, detect eval, verify --detector, the report).
 *
 * Threshold at FPR a over n real validation logits r: k = floor(a n) reals may score at or above
 * it; the threshold is the smallest float above the (k+1)-th highest real logit (so at most k
 * do; ties go to "real"), and +inf when n = 0. Decisions compare the logit (not the probability:
 * probabilities saturate at 1.0 in float, logits do not). A sample is called fake when
 * logit >= threshold.
 *
 * Scope: "identity" (what `detect train` and `detect calibrate` use unless told otherwise) takes
 * the largest of the thresholds each identity's own reals give at FPR a, so it holds for every
 * validation identity (with 64 reals an identity at 1%: none of its reals at or above it);
 * "pooled" takes the reals of every validation identity as one sample, so the FPR holds on average
 * over people (calib_fit; records written before the scope existed). Detectors score some people's real faces higher than
 * others' (an offset per identity); the pooled threshold then lets a few people's reals through far
 * more often than a (docs/PERFORMANCE.md "Detectors"). */
#ifndef SL_DETECT_CALIB_H
#define SL_DETECT_CALIB_H

#include <jansson.h>

#include "util/util.h"

#define CALIB_DEFAULT_FPR 0.01
enum { CALIB_SCOPE_POOLED = 0, CALIB_SCOPE_IDENTITY = 1 };

typedef struct {
    int present;          /* 0: the model file has no calibration */
    double target_fpr;    /* the requested validation FPR */
    int scope;            /* CALIB_SCOPE_POOLED or CALIB_SCOPE_IDENTITY (see above) */
    double threshold;     /* on the logit: fake when logit >= threshold */
    double val_fpr, val_tpr; /* measured on the validation split at the threshold */
    int n_real, n_fake, n_ids; /* validation samples and identities */
    double platt_a, platt_b;   /* calibrated P(fake) = sigmoid(a logit + b) */
    char split[16];            /* the split it was fitted on ("val") */
    char data[256];            /* the dataset directory */
} DetCalib;

/* The threshold of logits of real samples r[0..n) at FPR a (see above). */
double calib_threshold_at_fpr(const float *real_logits, int n, double a);
/* Platt scaling: a, b minimising the BCE of sigmoid(a z + b) against smoothed targets
 * ((N+ + 1)/(N+ + 2) for fakes, 1/(N- + 2) for reals), by Newton's method. Needs both classes. */
void calib_platt_fit(const float *logits, const int *labels, int n, double *a, double *b);
/* Fits both from validation logits, labels (1 fake) and the number of identities; -1 with err when
 * one class is missing or a is outside (0, 1). */
int calib_fit(const float *logits, const int *labels, int n, int n_ids, double target_fpr, DetCalib *c, SlErr *err);
/* The same with a scope; groups[i] (0..n_ids-1) is sample i's identity (only read for
 * CALIB_SCOPE_IDENTITY, where every identity must be in 0..n_ids-1). */
int calib_fit_scoped(const float *logits, const int *labels, const int *groups, int n, int n_ids, double target_fpr,
                     int scope, DetCalib *c, SlErr *err);
/* "pooled" / "identity" and back (-1 for another word). */
const char *calib_scope_name(int scope);
int calib_scope_parse(const char *name);
/* Calibrated P(fake) of a logit (plain sigmoid when not present). */
double calib_prob(const DetCalib *c, double logit);
/* 1 fake, 0 real at the threshold (not present: P >= 0.5, i.e. logit >= 0). */
int calib_decide(const DetCalib *c, double logit);

/* The metadata value (compact JSON); malloc'ed. */
char *calib_to_json(const DetCalib *c);
/* Parses a metadata value; -1 with err naming path on a malformed one. */
int calib_from_json(const char *text, const char *path, DetCalib *c, SlErr *err);

#endif
