/* opinion.c — a detector's opinion on a file, beside its provenance (opinion.h). */
#include "detect/opinion.h"

#include <math.h>
#include <string.h>

static const char *kind_title(const DetModel *m) {
    return m->kind->cnn ? m->kind->cnn->title : m->kind->title;
}

static json_t *num(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

int det_opinion_open(const char *model_path, DetModel *m, SlErr *err) {
    if (!det_model_load(model_path, 0, NULL, m, err)) return 0;
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    return sl_fail(err, "detector model: %s", why);
}

int det_opinion_scan(DetModel *m, const char *image_path, DetVerdict *v, SlErr *err) {
    return det_scan_file(m, image_path, v, err);
}

json_t *det_opinion_json(const DetModel *m, const char *model_path, const DetVerdict *v, const char *error) {
    json_t *o = json_object();
    json_object_set_new(o, "opinion_only", json_true());
    json_object_set_new(o, "note", json_string(DET_OPINION_NOTE));
    json_object_set_new(o, "model", json_string(model_path));
    json_object_set_new(o, "model_sha256", json_string(m->sha256));
    json_object_set_new(o, "arch", json_string(det_model_arch(m)));
    json_object_set_new(o, "kind", json_string(kind_title(m)));
    if (!v) {
        json_object_set_new(o, "error", json_string(error ? error : "not scored"));
        return o;
    }
    const DetCalib *c = &m->calib;
    json_object_set_new(o, "logit", num(v->logit));
    json_object_set_new(o, "p_fake", num(v->prob));
    json_object_set_new(o, "probability", json_string(c->present ? "Platt-calibrated" : "sigmoid (not calibrated)"));
    json_object_set_new(o, "decision", json_string(v->fake ? "fake" : "real"));
    json_t *t = json_object();
    json_object_set_new(t, "logit", num(v->threshold));
    json_object_set_new(t, "calibrated", json_boolean(v->calibrated));
    if (c->present) {
        json_object_set_new(t, "target_fpr", num(c->target_fpr));
        json_object_set_new(t, "scope", json_string(calib_scope_name(c->scope)));
        json_object_set_new(t, "split", json_string(c->split));
        json_object_set_new(t, "data", json_string(c->data));
        json_object_set_new(t, "val_fpr", num(c->val_fpr));
        json_object_set_new(t, "val_tpr", num(c->val_tpr));
        json_object_set_new(t, "n_identities", json_integer(c->n_ids));
    }
    json_object_set_new(o, "threshold", t);
    return o;
}

void det_opinion_print(FILE *f, const DetModel *m, const char *model_path, const DetVerdict *v, const char *error) {
    fprintf(f, "  detector:     OPINION ONLY, not provenance: it never makes a file marked, nor clears one\n");
    fprintf(f, "    model:      %s (%s), %s, sha256 %.16s\n", kind_title(m), det_model_arch(m), model_path, m->sha256);
    if (!v) {
        fprintf(f, "    score:      none: %s\n", error ? error : "not scored");
        return;
    }
    const DetCalib *c = &m->calib;
    fprintf(f, "    score:      P(fake) %.4f (%s), logit %.4f\n", v->prob,
            c->present ? "Platt-calibrated" : "sigmoid, not calibrated", v->logit);
    if (c->present)
        fprintf(f,
                "    decision:   %s at the calibrated threshold (logit %s %.4f; chosen for FPR %g on the %s split, %s,\n"
                "                where it measured FPR %.4f, TPR %.4f over %d identities)\n",
                v->fake ? "fake" : "real", v->fake ? ">=" : "<", v->threshold, c->target_fpr, c->split[0] ? c->split : "?",
                c->scope == CALIB_SCOPE_IDENTITY ? "for each identity" : "pooled over its identities", c->val_fpr, c->val_tpr,
                c->n_ids);
    else
        fprintf(f,
                "    decision:   %s at P(fake) = 0.5 (the model is NOT calibrated: run `swaplab detect calibrate`)\n",
                v->fake ? "fake" : "real");
}
