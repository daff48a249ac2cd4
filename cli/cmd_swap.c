/* cmd_swap.c — `swaplab swap`: puts a model identity's face into the frames of a consented face set
 * (infer/swap.h), every output written with full provenance (infer/provenance.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "data/consent.h"
#include "data/faceset.h"
#include "infer/provenance.h"
#include "infer/swap.h"
#include "nn/device.h"
#include "model/run.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/lock.h"
#include "util/progress.h"


static const char *ABOUT =
    "Swaps the face of subject --to (one of the model's identities) into every aligned face of the\n"
    "face set --from: each crop is encoded, decoded with --to's decoder, colour-matched (--color) to the\n"
    "face it replaces inside the mask, warped back into the frame with the inverse of the\n"
    "alignment and blended. Both subjects need consent for 'swap': the --from set's manifest, and the\n"
    "--to subject's face set (--to-faceset, else the path the model recorded); revoked subjects are refused.\n"
    "Words (as in FaceForensics++ and DeepFaceLab, and everywhere in swaplab): the SOURCE is --to, the\n"
    "identity whose face is inserted; the TARGET is the subject of --from, the person in the frame.\n"
    "\n"
    "Masks: face = brows to chin, no forehead or hairline; face:E,F = eroded by E and feathered over F\n"
    "per cent of the face size (default " SWAP_DEFAULT_MASK "); hull, hull:E,F = the training hull with\n"
    "forehead; erode:N, blur:N = the hull shrunk or feathered by N px at crop scale. Colour: none, avg\n"
    "(mean per channel), rct (Reinhard: L*a*b* mean and std; also 'reinhard'), lct (RGB mean and\n"
    "covariance), hist (histogram matching); default " SWAP_DEFAULT_COLOUR ". Blend: alpha (by the mask) or\n"
    "poisson (seamless cloning); default " SWAP_DEFAULT_BLEND ". Detail D: the frame's own grain (a\n"
    "high-pass with sigma D frame pixels: camera noise, the finest texture) is kept under the decoded\n"
    "face, which cannot draw it (default 1; 0 = off). Crops larger than the model's input are resized for\n"
    "it and the decoded face back to crop size; crops smaller than the model's input are refused.\n"
    "\n"
    "Outputs: DIR/<from-subject>_to_<to-subject>/NNNNNN.png (NNNNNN = face index in the set), each with\n"
    "the provenance record, XMP, Ed25519 signature and C2PA content credentials (--key, else your\n"
    "per-user key and its certificate), watermark and, unless\n"
    "--label none, the visible SYNTHETIC label; with --raw also raw/NNNNNN.png (the decoded face, with\n"
    "provenance) and mask/NNNNNN.png (the blend mask); DIR/<from>_to_<to>/swap.json summarises the run\n"
    "(and DIR/swap.json, the newest run into DIR). The provenance record, its XMP text and swaplab\n"
    "verify name --to the source and the subject of --from the target.";

/* What each composited face needs to be written (swap_faces' callback). */
typedef struct {
    const RunInfo *run;
    const SwapGate *g;
    SwapModel *m;
    const SwapOptions *o;
    const FaceSet *fs;
    const SlKeypair *key;
    int with_label, raw;
    const char *pdir, *rawdir, *maskdir;
    json_t *outputs;
    SlProgress *prog;
    long iters;
    int written;
} SwapOut;

/* DIR/<pair>/NNNNNN.png with provenance, and with --raw the decoded face and the blend mask. */
static int write_output(int i, SwapResult *res, void *user, SlErr *err) {
    SwapOut *so = user;
    char name[32], path[SL_PATH_MAX];
    so->iters += res->iters;
    ProvenanceInfo pi;
    swap_provenance(&pi, so->run, so->g, so->m, so->o, so->fs->faces[i].source, so->with_label);
    snprintf(name, sizeof name, "%06d.png", i);
    sl_path_join(path, sizeof path, so->pdir, name);
    int w = provenance_write_png(path, &res->frame, &pi, so->key, err);
    if (!w && so->raw) {
        sl_path_join(path, sizeof path, so->rawdir, name);
        w = provenance_write_png(path, &res->raw, &pi, so->key, err);
    }
    if (!w && so->raw) {
        sl_path_join(path, sizeof path, so->maskdir, name);
        PngText t = {"Description", "swaplab swap blend mask (not a face; 255 = swapped face)"};
        w = image_save_png(path, &res->mask, &t, 1, err);
    }
    if (w) return -1;
    json_array_append_new(so->outputs,
                          json_pack("{s:i,s:s,s:s}", "face", i, "input", so->fs->faces[i].source, "output", name));
    sl_progress_update(so->prog, ++so->written, NULL);
    return 0;
}

static json_t *side_json(const ConsentInfo *ci, const char *dir) {
    return json_pack("{s:s,s:s,s:s,s:s}", "subject", ci->subject, "kind", ci->kind, "consent_sha256", ci->digest,
                     "faceset", dir);
}

int cmd_swap(int argc, char **argv) {
    const char *model = NULL, *from = NULL, *to = NULL, *out = NULL, *mask = SWAP_DEFAULT_MASK, *colour = SWAP_DEFAULT_COLOUR,
               *blend = SWAP_DEFAULT_BLEND, *label = "visible", *key_path = NULL, *to_faceset = NULL, *revocations = NULL,
               *device = NULL, *policy = NULL;
    int raw = 0, limit = 0, threads = 0;
    double detail = SWAP_DEFAULT_DETAIL;
    SlArg spec[] = {
        {"--model", SL_ARG_STR, &model, "RUN", "run directory or model file from swaplab train"},
        {"--from", SL_ARG_STR, &from, "FACESET", "the TARGET: face set whose frames receive the face (consent scope swap)"},
        {"--to", SL_ARG_STR, &to, "SUBJECT", "the SOURCE: the model identity whose face is inserted"},
        {"--out", SL_ARG_STR, &out, "DIR", "output directory (created)"},
        {"--mask", SL_ARG_STR, &mask, "M", "face, face:E,F, hull, hull:E,F, erode:N or blur:N (" SWAP_DEFAULT_MASK ")"},
        {"--color", SL_ARG_STR, &colour, "C", "colour transfer: none, avg, rct, lct or hist (" SWAP_DEFAULT_COLOUR ")"},
        {"--colour", SL_ARG_STR, &colour, "C", "the same as --color"},
        {"--blend", SL_ARG_STR, &blend, "B", "alpha or poisson (" SWAP_DEFAULT_BLEND ")"},
        {"--detail", SL_ARG_DOUBLE, &detail, "D", "frame grain kept under the face: sigma in frame pixels, 0..4, 0 = off (1)", 0, 4},
        {"--label", SL_ARG_STR, &label, "L", "visible (default) or none: the visible SYNTHETIC label"},
        {"--raw", SL_ARG_FLAG, &raw, NULL, "also write the decoded face and the mask of every face"},
        {"--key", SL_ARG_STR, &key_path, "KEYFILE", "signing key (default: your per-user lab key)"},
        {"--to-faceset", SL_ARG_STR, &to_faceset, "DIR", "the --to (source) subject's face set, for its consent check"},
        {"--revocations", SL_ARG_STR, &revocations, "FILE", "consent revocation list (default: per-user list)"},
        {"--policy", SL_ARG_STR, &policy, "FILE", "lab policy: coordinator-signed consent only (default: $SWAPLAB_POLICY, per-user or system policy)"},
        {"--limit", SL_ARG_INT, &limit, "N", "swap only the first N faces (0 = all)", 0, 2147483647},
        {"--device", SL_ARG_STR, &device, "D", "cpu, cuda or auto (default auto; names a missing GPU only when given)"},
        {"--threads", SL_ARG_INT, &threads, "N", "compute threads (default: all cores)", 1, SL_ARG_MAX_THREADS},
        {0},
    };
    int r = sl_args_parse("swap", "--model RUN --from FACESET --to SUBJECT --out DIR [--mask M] [--color C] [--blend B]",
                          ABOUT, spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    if (!model || !from || !to || !out) return sl_usage_error("swap", "--model, --from, --to and --out are required");
    SwapOptions o;
    swap_options_default(&o);
    SlErr err;
    if (swap_options_set_mask(&o, mask, &err) || swap_options_set_colour(&o, colour, &err) ||
        swap_options_set_blend(&o, blend, &err) || swap_options_set_detail(&o, detail, &err))
        return sl_usage_error("swap", "%s", err.msg);
    int with_label;
    if (strcmp(label, "visible") == 0) with_label = 1;
    else if (strcmp(label, "none") == 0) with_label = 0;
    else return sl_usage_error("swap", "--label must be visible or none, not '%s'", label);
    if (limit < 0 || threads < 0) return sl_usage_error("swap", "--limit and --threads must not be negative");

    int rc = 1, fs_loaded = 0, dev = 0;
    SlLock lock = {.fd = -1};
    FaceSet fs;
    RunInfo run;
    SwapGate g;
    NnCtx ctx;
    json_t *outputs = NULL;
    SwapModel *m = NULL;
    if (consent_policy_select(policy, &err)) goto fail;
    m = run_load_model(model, &run, &err);
    if (!m) goto fail;
    if (swap_gate(&run, from, to, to_faceset, revocations, &g, &err)) goto fail;
    if (faceset_load(from, &fs, &err)) goto fail;
    fs_loaded = 1;
    if (swap_check_sizes(m, &fs, &err)) goto fail;
    int n = limit > 0 && limit < fs.n ? limit : fs.n;
    if (n == 0) {
        sl_fail(&err, "%s: the face set has no faces", from);
        goto fail;
    }
    if (swap_check_frames(&fs, n, &err)) goto fail;
    SlKeypair key;
    if (provenance_load_key(key_path, &key, &err)) goto fail;
    nn_ctx_init(&ctx, threads, 1);
    if (nn_device_select(&ctx, device, &err)) goto fail;
    dev = 1;

    char pair[300], pdir[SL_PATH_MAX], rawdir[SL_PATH_MAX], maskdir[SL_PATH_MAX], path[SL_PATH_MAX], probe[SL_PATH_MAX];
    snprintf(pair, sizeof pair, "%s_to_%s", g.from.subject, g.to.subject);
    sl_path_join(pdir, sizeof pdir, out, pair);
    sl_path_join(rawdir, sizeof rawdir, pdir, "raw");
    sl_path_join(maskdir, sizeof maskdir, pdir, "mask");
    if (sl_mkdirs(pdir, &err) || (raw && (sl_mkdirs(rawdir, &err) || sl_mkdirs(maskdir, &err)))) {
        sl_failctx(&err, "cannot create the output directory");
        goto fail;
    }
    if (sl_lock_dir(&lock, pdir, "swaplab swap", &err)) goto fail;
    sl_snprintf(probe, sizeof probe, "%s/.swaplab-write-test.%ld", pdir, (long)getpid());
    if (sl_write_atomic(probe, "", 0, &err)) {
        sl_failctx(&err, "the output directory is not writable");
        goto fail;
    }
    unlink(probe);

    outputs = json_array();
    SlProgress prog;
    char title[320];
    snprintf(title, sizeof title, "swap %s -> %s", g.from.subject, g.to.subject);
    sl_progress_begin(&prog, title, n);
    double t0 = sl_now();
    int *idx = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) idx[i] = i;
    SwapOut so = {&run, &g, m, &o, &fs, &key, with_label, raw, pdir, rawdir, maskdir, outputs, &prog, 0, 0};
    int sr = swap_faces(m, &ctx, g.target, &fs, idx, n, &o, write_output, NULL, &so, &err);
    free(idx);
    if (sr) goto fail_prog;
    long iters = so.iters;
    double secs = sl_now() - t0;
    char summary[400];
    snprintf(summary, sizeof summary, "%d faces in %.1f s (%.2f frames/s)", n, secs, secs > 0 ? n / secs : 0);
    sl_progress_end(&prog, summary);

    char when[32];
    sl_utc_iso8601(when);
    json_t *j = json_object();
    json_object_set_new(j, "tool", json_string("swaplab swap"));
    json_object_set_new(j, "version", json_string(SL_VERSION));
    json_object_set_new(j, "created", json_string(when));
    json_object_set_new(j, "model", json_string(run.model_path));
    json_object_set_new(j, "model_sha256", json_string(run.sha256));
    json_object_set_new(j, "model_step", json_integer(run.step));
    json_object_set_new(j, "preset", json_string(m->arch.preset));
    json_object_set_new(j, "from", side_json(&g.from, g.from_dir));
    json_object_set_new(j, "to", side_json(&g.to, g.to_dir));
    json_object_set_new(j, "settings", json_pack("{s:s,s:s,s:s,s:f,s:s,s:b,s:i}", "mask", o.mask_str, "colour",
                                                 colour_mode_name(o.colour), "blend", o.blend_str, "detail",
                                                 (double)o.detail, "label",
                                                 with_label ? "visible" : "none", "raw", raw, "limit", limit));
    json_object_set_new(j, "directory", json_string(pair));
    json_object_set_new(j, "count", json_integer(n));
    json_object_set_new(j, "seconds", json_real(secs));
    json_object_set_new(j, "frames_per_s", json_real(secs > 0 ? n / secs : 0));
    if (o.blend == SWAP_BLEND_POISSON) json_object_set_new(j, "poisson_mean_iterations", json_real((double)iters / n));
    json_object_set_new(j, "outputs", outputs);
    outputs = NULL;
    /* DIR/<pair>/swap.json describes this pair for good ("directory": "." — itself); DIR/swap.json,
     * the newest swap into DIR, is overwritten when another pair is swapped into the same DIR */
    json_object_set_new(j, "directory", json_string("."));
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    sl_path_join(path, sizeof path, pdir, "swap.json");
    int w = sl_write_atomic(path, s, strlen(s), &err);
    free(s);
    json_object_set_new(j, "directory", json_string(pair));
    s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    sl_path_join(path, sizeof path, out, "swap.json");
    if (!w) w = sl_write_atomic(path, s, strlen(s), &err);
    free(s);
    if (w) goto fail;
    printf("swaplab swap: %d faces of %s with the face of %s -> %s (%.2f frames/s); summary %s\n", n, g.from.subject,
           g.to.subject, pdir, secs > 0 ? n / secs : 0, path);
    rc = 0;
    goto done;
fail_prog:
    sl_progress_end(&prog, "stopped");
fail:
    fprintf(stderr, "swaplab swap: %s\n", err.msg);
done:
    sl_unlock(&lock);
    json_decref(outputs);
    if (dev) {
        if (m) nn_model_release_device(&m->model, &ctx);
        nn_device_release(&ctx);
    }
    if (fs_loaded) faceset_free(&fs);
    swap_model_free(m);
    return rc;
}
