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
#include "data/video.h"
#include "infer/provenance.h"
#include "infer/swap.h"
#include "infer/swap_video.h"
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
    "verify name --to the source and the subject of --from the target.\n"
    "\n"
    "Video: --in CLIP --out OUT.mp4 swaps every frame of the clip in which the face is found (tracked:\n"
    "detection every 5 frames or when lost, landmarks every frame, One-Euro smoothed) and passes the\n"
    "others through; --from must be the face set `swaplab extract` made from this very clip (its\n"
    "faces.jsonl records the clip's SHA-256, and the clip's frame reproduces that face's consented crop)\n"
    "and carry consent for swap. Colour statistics are smoothed\n"
    "over --colour-smooth seconds so the face does not flicker; H.264 at --crf; the audio is copied\n"
    "unchanged. Every frame gets the watermark and (unless --label none) the visible label; the MP4\n"
    "carries the signed record and XMP (swaplab verify OUT.mp4). Written atomically.";

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

/* `swap --in CLIP`: the consent gate, the clip bound to the --from face set by its digest, then
 * the video pipeline (infer/swap_video.h). */
static int swap_clip(const char *model, const char *from, const char *to, const char *to_faceset, const char *revocations,
                     const char *policy,
                     const char *in_clip, const char *out, const SwapOptions *o, int with_label, const char *key_path,
                     const char *device, int threads, int crf, double colour_smooth, int limit) {
    SlErr err;
    RunInfo run;
    SwapGate g;
    FaceSet fs;
    NnCtx ctx;
    int rc = 1, fs_loaded = 0, dev = 0;
    SwapModel *m = NULL;
    if (consent_policy_select(policy, &err)) goto fail;
    m = run_load_model(model, &run, &err);
    if (!m) goto fail;
    if (swap_gate(&run, from, to, to_faceset, revocations, &g, &err)) goto fail;
    if (faceset_load(from, &fs, &err)) goto fail;
    fs_loaded = 1;
    if (swap_check_sizes(m, &fs, &err)) goto fail;
    if (swap_video_check_clip(&fs, in_clip, &err)) goto fail;
    SlKeypair key;
    if (provenance_load_key(key_path, &key, &err)) goto fail;
    nn_ctx_init(&ctx, threads, 1);
    if (nn_device_select(&ctx, device, &err)) goto fail;
    dev = 1;
    ProvenanceInfo pi;
    swap_provenance(&pi, &run, &g, m, o, in_clip, with_label);
    SwapVideoOptions vo;
    swap_video_options_default(&vo);
    vo.crf = crf;
    vo.crop = fs.crop;
    vo.coverage = fs.coverage;
    vo.colour_smooth = colour_smooth;
    vo.limit = limit;
    ExtractOptions ex;
    extract_options_default(&ex);
    SwapVideoStats st;
    if (swap_video_run(m, &ctx, g.target, in_clip, out, o, &vo, &ex, &pi, &key, &st, &err)) goto fail;
    printf("swaplab swap: %s -> %s: %ld frames, the face of %s swapped into %ld (%ld without a face passed through), "
           "H.264 CRF %d, %.2f frames/s; verify with `swaplab verify %s`\n",
           in_clip, out, st.frames, g.to.subject, st.swapped, st.frames - st.swapped, crf,
           st.total > 0 ? st.frames / st.total : 0, out);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "swaplab swap: %s\n", err.msg);
done:
    if (dev) {
        if (m) nn_model_release_device(&m->model, &ctx);
        nn_device_release(&ctx);
    }
    if (fs_loaded) faceset_free(&fs);
    swap_model_free(m);
    return rc;
}

int cmd_swap(int argc, char **argv) {
    const char *model = NULL, *from = NULL, *to = NULL, *out = NULL, *mask = SWAP_DEFAULT_MASK, *colour = SWAP_DEFAULT_COLOUR,
               *blend = SWAP_DEFAULT_BLEND, *label = "visible", *key_path = NULL, *to_faceset = NULL, *revocations = NULL,
               *device = NULL, *policy = NULL;
    int raw = 0, limit = 0, threads = 0, crf = 23;
    const char *in_clip = NULL;
    double colour_smooth = 0.5;
    double detail = SWAP_DEFAULT_DETAIL;
    SlArg spec[] = {
        {"--model", SL_ARG_STR, &model, "RUN", "run directory or model file from swaplab train"},
        {"--from", SL_ARG_STR, &from, "FACESET", "the TARGET: face set whose frames receive the face (consent scope swap)"},
        {"--to", SL_ARG_STR, &to, "SUBJECT", "the SOURCE: the model identity whose face is inserted"},
        {"--out", SL_ARG_STR, &out, "DIR", "output directory (created); with --in, the video file to write"},
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
        {"--limit", SL_ARG_INT, &limit, "N", "swap only the first N faces (with --in: frames; default 0 = all)", 0, 2147483647},
        {"--device", SL_ARG_STR, &device, "D", "cpu, cuda or auto (default auto; names a missing GPU only when given)"},
        {"--threads", SL_ARG_INT, &threads, "N", "compute threads (default: all cores)", 1, SL_ARG_MAX_THREADS},
        {"--in", SL_ARG_STR, &in_clip, "CLIP", "video: swap through this clip (any container FFmpeg reads); --out is then the .mp4 to write (default: none, the face set's frames)"},
        {"--crf", SL_ARG_INT, &crf, "N", "video: H.264 constant rate factor (default 23)", 0, 51},
        {"--colour-smooth", SL_ARG_DOUBLE, &colour_smooth, "S", "video: time constant of the colour statistics in seconds; 0 = per frame (default 0.5)", 0, 60},
        {0},
    };
    int r = sl_args_parse("swap", "--model RUN --from FACESET --to SUBJECT --out DIR|OUT.mp4 [--in CLIP] [--mask M] [--color C] [--blend B] [--crf N]",
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
    if (crf < 0 || crf > 51) return sl_usage_error("swap", "--crf must be 0 to 51");
    if (!(colour_smooth >= 0 && colour_smooth <= 60)) return sl_usage_error("swap", "--colour-smooth must be 0 to 60 seconds");
    if (in_clip) {
        if (raw) return sl_usage_error("swap", "--raw is for face sets, not --in CLIP");
        if (!video_is_video_path(out)) return sl_usage_error("swap", "with --in, --out must name a video file (.mp4, .mov or .mkv), not '%s'", out);
        return swap_clip(model, from, to, to_faceset, revocations, policy, in_clip, out, &o, with_label, key_path, device, threads,
                         crf, colour_smooth, limit);
    }

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
