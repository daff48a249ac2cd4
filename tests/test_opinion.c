/* test_opinion.c — detect/opinion (verify --detector): a calibrated model's opinion on an image file
 * carries its logit, calibrated P(fake), the decision at the model's threshold (checked on both
 * sides of it) and that threshold's record, in JSON and in text, both saying it is an opinion; an
 * uncalibrated model says so; an unscorable image gives an error object without a decision; a file
 * that is not a detector model is refused with a sentence naming it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/opinion.h"
#include "detect/resnet.h"
#include "detect/toy.h"
#include "nn/safetensors.h"
#include "tests/test.h"
#include "util/fs.h"
#include "util/rng.h"

/* Everything det_opinion_print writes, as a malloc'ed string. */
static char *printed(const DetModel *m, const char *path, const DetVerdict *v, const char *error) {
    FILE *f = tmpfile();
    SL_ASSERT(f);
    det_opinion_print(f, m, path, v, error);
    long n = ftell(f);
    char *s = xcalloc((size_t)n + 1, 1);
    rewind(f);
    SL_ASSERT(fread(s, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    return s;
}

static void t_opinion(void) {
    SlRng r;
    sl_rng_seed(&r, 5);
    DetCnn net;
    detcnn_init(&net, &DETCNN_RESNET10, 32, &r);
    char model[700], png[700];
    SlErr err;
    sl_path_join(model, sizeof model, test_tmpdir(), "op.safetensors");
    sl_path_join(png, sizeof png, test_tmpdir(), "op.png");
    CHECK(detcnn_save(model, &net, NULL, &err) == 0);
    Image im = toy_artifact_image(48, 48, 3, 1, 3.0f, &r);
    CHECK(image_save_png(png, &im, NULL, 0, &err) == 0);

    /* uncalibrated: sigmoid, decision at P = 0.5, and the text says so */
    DetModel dm;
    CHECK(det_opinion_open(model, &dm, &err) == 0);
    DetVerdict v;
    CHECK(det_opinion_scan(&dm, png, &v, &err) == 0);
    CHECK(!v.calibrated && v.fake == (v.logit >= 0));
    json_t *j = det_opinion_json(&dm, model, &v, NULL);
    CHECK(json_is_true(json_object_get(j, "opinion_only")));
    CHECK(!strcmp(json_string_value(json_object_get(j, "probability")), "sigmoid (not calibrated)"));
    CHECK(json_is_false(json_object_get(json_object_get(j, "threshold"), "calibrated")));
    CHECK(!json_object_get(json_object_get(j, "threshold"), "target_fpr"));
    json_decref(j);
    char *t = printed(&dm, model, &v, NULL);
    CHECKF(strstr(t, "OPINION ONLY, not provenance") && strstr(t, "NOT calibrated") && strstr(t, "(resnet10), ") && strstr(t, "ResNet-10"),
           "%s", t);
    free(t);
    float z = v.logit;

    /* calibrated on each side of the image's logit: the decision follows the model's threshold */
    for (int side = 0; side < 2; side++) {
        DetCalib c = {0};
        c.present = 1, c.target_fpr = 0.01, c.threshold = z + (side ? -0.25 : 0.25), c.val_fpr = 0.005, c.val_tpr = 0.8;
        c.n_real = 200, c.n_fake = 200, c.n_ids = 7, c.platt_a = 1.5, c.platt_b = -0.5;
        c.scope = side ? CALIB_SCOPE_IDENTITY : CALIB_SCOPE_POOLED; /* each scope read back and said */
        snprintf(c.split, sizeof c.split, "val");
        snprintf(c.data, sizeof c.data, "ds");
        CHECK(det_model_save_calibrated(&dm, model, &c, &err) == 0);
        det_model_free(&dm);
        CHECK(det_opinion_open(model, &dm, &err) == 0);
        CHECK(det_opinion_scan(&dm, png, &v, &err) == 0);
        CHECK(v.logit == z && v.calibrated && v.fake == side && v.threshold == c.threshold);
        j = det_opinion_json(&dm, model, &v, NULL);
        json_t *th = json_object_get(j, "threshold");
        CHECK(!strcmp(json_string_value(json_object_get(j, "decision")), side ? "fake" : "real"));
        CHECK(json_real_value(json_object_get(th, "logit")) == c.threshold);
        CHECK(json_real_value(json_object_get(th, "target_fpr")) == 0.01 && json_integer_value(json_object_get(th, "n_identities")) == 7);
        CHECK(!strcmp(json_string_value(json_object_get(th, "split")), "val"));
        CHECK(!strcmp(json_string_value(json_object_get(th, "scope")), side ? "identity" : "pooled"));
        CHECK_NEAR(json_real_value(json_object_get(j, "p_fake")), 1 / (1 + exp(-(1.5 * z - 0.5))), 1e-9);
        CHECK(!strcmp(json_string_value(json_object_get(j, "model_sha256")), dm.sha256) && strlen(dm.sha256) == 64);
        json_decref(j);
        t = printed(&dm, model, &v, NULL);
        CHECKF(strstr(t, side ? "decision:   fake at the calibrated threshold (logit >= " :
                                "decision:   real at the calibrated threshold (logit < ") &&
               strstr(t, "chosen for FPR 0.01 on the val split") && strstr(t, "over 7 identities") &&
               strstr(t, side ? "val split, for each identity," : "val split, pooled over its identities,"), "%s", t);
        free(t);
    }

    /* an image the detector cannot read: an error, no decision */
    char bad[700];
    sl_path_join(bad, sizeof bad, test_tmpdir(), "op-missing.png");
    CHECK(det_opinion_scan(&dm, bad, &v, &err) == -1 && strstr(err.msg, "op-missing.png"));
    j = det_opinion_json(&dm, model, NULL, err.msg);
    CHECK(json_object_get(j, "error") && !json_object_get(j, "decision") && json_is_true(json_object_get(j, "opinion_only")));
    json_decref(j);
    t = printed(&dm, model, NULL, err.msg);
    CHECK(strstr(t, "score:      none: ") && !strstr(t, "decision"));
    free(t);
    det_model_free(&dm);

    /* not a detector model: a PNG, another kind of safetensors file */
    CHECK(det_opinion_open(png, &dm, &err) == -1);
    CHECKF(!strncmp(err.msg, "detector model: ", 16) && strstr(err.msg, "op.png"), "%s", err.msg);
    float one = 1;
    StTensor st = {.name = "x", .dtype = ST_F32, .ndim = 1, .shape = {1}, .data = &one, .nbytes = 4};
    const char *meta[] = {"swaplab.kind", "swap-model", NULL};
    CHECK(st_write(model, &st, 1, meta, &err) == 0);
    CHECK(det_opinion_open(model, &dm, &err) == -1);
    CHECKF(strstr(err.msg, "not a detector model") && strstr(err.msg, "op.safetensors"), "%s", err.msg);
    image_free(&im);
    detcnn_free(&net);
}

int main(void) {
    RUN(t_opinion);
    return test_summary("test_opinion");
}
