/* cmd_eval.c — `swaplab eval`: swap fidelity of a trained model against the synthetic ground truth
 * (train/fidelity.h), with the source-unchanged and mean-face baselines and identity transfer, and
 * the composited frames' sharpness, border, colour step and frame PSNR/SSIM (infer/swap.h
 * swap_eval_frames, with the swap's mask, colour and blend options). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/consent.h"
#include "data/faceset.h"
#include "nn/device.h"
#include "infer/swap.h"
#include "train/fidelity.h"
#include "model/run.h"
#include "util/args.h"
#include "util/fs.h"

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *json_out = NULL, *device = NULL;
    SlStrList sets = {0};
    const char *mask = SWAP_DEFAULT_MASK, *colour = SWAP_DEFAULT_COLOUR, *blend = SWAP_DEFAULT_BLEND;
    int max_faces = 32, holdout = 10, threads = 0, frames = 16;
    double detail = SWAP_DEFAULT_DETAIL;
    SlArg spec[] = {
        {"--model", SL_ARG_STR, &model, "RUN", "run directory or model file"},
        {"--facesets", SL_ARG_LIST, &sets, "DIR", "the synthetic face sets of the model's identities, in order"},
        {"--max", SL_ARG_INT, &max_faces, "N", "evaluate at most N faces per identity (32)", 1, 1000000},
        {"--holdout-every", SL_ARG_INT, &holdout, "K", "the training run's hold-out rule (10)", 0, 1000000},
        {"--json", SL_ARG_STR, &json_out, "FILE", "also write the results as JSON (default: RUN/eval.json)"},
        {"--frames", SL_ARG_INT, &frames, "N", "composited frames measured per pair (16; 0 = none)", 0, 100000},
        {"--mask", SL_ARG_STR, &mask, "M", "mask of the composited frames, as swaplab swap (" SWAP_DEFAULT_MASK ")"},
        {"--color", SL_ARG_STR, &colour, "C", "colour transfer, as swaplab swap (" SWAP_DEFAULT_COLOUR ")"},
        {"--colour", SL_ARG_STR, &colour, "C", "the same as --color"},
        {"--blend", SL_ARG_STR, &blend, "B", "alpha or poisson (" SWAP_DEFAULT_BLEND ")"},
        {"--detail", SL_ARG_DOUBLE, &detail, "D", "frame grain kept under the face, as swaplab swap (1)", 0, 4},
        {"--threads", SL_ARG_INT, &threads, "N", "compute threads (default: all cores)", 1, SL_ARG_MAX_THREADS},
        {"--device", SL_ARG_STR, &device, "D", "cpu, cuda or auto (default auto; names a missing GPU only when given)"},
        {0},
    };
    int r = sl_args_parse("eval", "--model RUN --facesets DIR...",
                          "Swaps held-out frames A→B for every pair of identities and compares each swap with the\n"
                          "renderer's ground truth (A's frame with B's inner face), inside the face mask: PSNR and\n"
                          "SSIM, against two baselines (the unswapped source; B's mean face), and identity transfer\n"
                          "(does a small classifier on the inner face call the swap B?). Then composites the swaps\n"
                          "into their frames as swaplab swap does (--mask, --color, --blend) and measures the frames:\n"
                          "sharpness ratio (Laplacian variance of the swapped region, swap / source frame), border\n"
                          "ratio (90th percentile gradient on the mask border, swap / source), colour step (L*a*b*\n"
                          "distance across the mask edge, swap minus source) and frame PSNR/SSIM against the\n"
                          "ground-truth frame.",
                          spec, argc, argv, NULL);
    if (r) {
        free(sets.v);
        return r == 1 ? 0 : 2;
    }
    if (!model || sets.n < 2) {
        free(sets.v);
        return sl_usage_error("eval", "--model and at least two --facesets are required");
    }
    SlErr err;
    SwapOptions so;
    swap_options_default(&so);
    if (swap_options_set_mask(&so, mask, &err) || swap_options_set_colour(&so, colour, &err) ||
        swap_options_set_blend(&so, blend, &err) || swap_options_set_detail(&so, detail, &err)) {
        free(sets.v);
        return sl_usage_error("eval", "%s", err.msg);
    }
    if (frames < 0 || max_faces < 1 || holdout < 0) {
        free(sets.v);
        return sl_usage_error("eval", "need --frames >= 0, --max >= 1 and --holdout-every >= 0");
    }
    RunInfo info;
    int rc = 1;
    FaceSet fs[SWAP_MAX_IDS];
    int nloaded = 0;
    Fidelity *f = NULL;
    NnCtx ctx;
    int dev = 0;
    SwapModel *m = run_load_model(model, &info, &err);
    if (!m || swap_check_mask(m, &so, info.model_path, &err)) goto fail;
    if (sets.n != info.n_ids) {
        sl_fail(&err, "the model has %d identities but %d face sets were given", info.n_ids, sets.n);
        goto fail;
    }
    for (int i = 0; i < sets.n; i++) {
        ConsentInfo ci;
        if (consent_check(sets.v[i], "train", NULL, &ci, NULL, &err)) goto fail;
        if (faceset_load(sets.v[i], &fs[i], &err)) goto fail;
        nloaded++;
        if (strcmp(ci.subject, info.ids[i].subject) != 0) {
            sl_fail(&err, "%s is subject '%s', but identity %d of the model is '%s'", sets.v[i], ci.subject, i + 1,
                    info.ids[i].subject);
            goto fail;
        }
    }
    for (int i = 0; i < sets.n; i++)
        if (swap_check_sizes(m, &fs[i], &err)) goto fail;
    f = fidelity_prepare(fs, sets.n, m->arch.size, holdout, max_faces, &err);
    if (!f) goto fail;
    nn_ctx_init(&ctx, threads, 1);
    if (nn_device_select(&ctx, device, &err)) goto fail;
    dev = 1;
    FidelityReport rep;
    if (fidelity_run(f, m, &ctx, &rep, &err)) goto fail;
    rep.step = info.step;
    printf("model %s (step %ld, preset %s)\n", info.model_path, info.step, m->arch.preset);
    fidelity_print(stdout, &rep, fs);
    json_t *j = fidelity_to_json(&rep, fs);
    if (frames > 0) {
        FrameReport fr;
        if (swap_eval_frames(m, &ctx, fs, sets.n, &so, holdout, frames, &fr, &err)) {
            json_decref(j);
            goto fail;
        }
        frame_report_print(stdout, &fr, fs);
        json_object_set_new(j, "frames", frame_report_to_json(&fr, fs));
    }
    json_object_set_new(j, "model", json_string(info.model_path));
    json_object_set_new(j, "model_sha256", json_string(info.sha256));
    json_object_set_new(j, "preset", json_string(m->arch.preset));
    char path[SL_PATH_MAX];
    if (json_out) sl_snprintf(path, sizeof path, "%s", json_out);
    else if (sl_is_dir(model)) sl_path_join(path, sizeof path, model, "eval.json");
    else path[0] = 0;
    if (path[0]) {
        char *s = json_dumps(j, JSON_INDENT(2));
        int w = sl_write_atomic(path, s, strlen(s), &err);
        free(s);
        if (w) {
            json_decref(j);
            goto fail;
        }
        printf("results: %s\n", path);
    }
    json_decref(j);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "swaplab eval: %s\n", err.msg);
done:
    if (dev) {
        if (m) nn_model_release_device(&m->model, &ctx);
        nn_device_release(&ctx);
    }
    fidelity_free(f);
    for (int i = 0; i < nloaded; i++) faceset_free(&fs[i]);
    swap_model_free(m);
    free(sets.v);
    return rc;
}
