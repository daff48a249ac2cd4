/* opinion.h — a detector's opinion on a file, reported beside its provenance (`swaplab verify
 * --detector MODEL`): the score of any registered detector (detector.h) and its decision at the
 * model's calibrated threshold (calib.h), in words and in JSON that say what it is.
 *
 * Provenance establishes marks; a detector only has an opinion. Nothing here feeds verify's verdict,
 * its "marked" field or its exit code: a detector that calls a file fake does not make it a marked
 * swaplab output, and one that calls it real does not clear it. (A file the detector cannot read is
 * an error, as an unreadable file is.) */
#ifndef SL_DETECT_OPINION_H
#define SL_DETECT_OPINION_H

#include <jansson.h>
#include <stdio.h>

#include "detect/detector.h"

/* The sentence both outputs carry. */
#define DET_OPINION_NOTE \
    "a detector's opinion, not provenance: it never makes verify call a file marked, nor clears one"

/* Loads model_path as a detector of any kind; -1 with err naming the file when it is not a readable
 * detector model (another kind of safetensors file, not safetensors at all, a bad calibration). */
int det_opinion_open(const char *model_path, DetModel *m, SlErr *err);
/* Scores one image file: det_scan_file. */
int det_opinion_scan(DetModel *m, const char *image_path, DetVerdict *v, SlErr *err);
/* The "detector" object of verify --json: {opinion_only: true, note, model, model_sha256, arch, kind,
 * logit, p_fake, probability, decision, threshold {logit, calibrated, target_fpr, split, data, val_fpr,
 * val_tpr, n_identities}} or, when v is NULL, {opinion_only, note, model, ..., error}. */
json_t *det_opinion_json(const DetModel *m, const char *model_path, const DetVerdict *v, const char *error);
/* The same as indented text lines under verify's per-file checks. */
void det_opinion_print(FILE *f, const DetModel *m, const char *model_path, const DetVerdict *v, const char *error);

#endif
