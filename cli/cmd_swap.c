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
#include "infer/swap_run.h"
#include "infer/swap_video.h"
#include "nn/device.h"
#include "model/run.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/mpi.h"
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
    "forehead; learned, learned:E,F = the mask the decoder draws itself (a model trained with\n"
    "--learn-mask; where it is unsure, between 0.25 and 0.75, it leans on the hull); erode:N, blur:N =\n"
    "the hull shrunk or feathered by N px at crop scale. Colour: none, avg\n"
    "(mean per channel), rct (Reinhard: L*a*b* mean and std; also 'reinhard'), lct (RGB mean and\n"
    "covariance), hist (histogram matching); MODE:A applies the part A (0.001 to 1) of the transfer (rct:0.25:\n"
    "a quarter of the way to the frame's colour); default " SWAP_DEFAULT_COLOUR ". Blend: alpha (by the mask) or\n"
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
    "Ranks: `mpirun -np N swaplab swap ...` (an MPI build) shares the faces out over the ranks in batches\n"
    "of 8; every output is logged by rank 0 in the one-process order before it is moved into place, and\n"
    "the result equals one process's, with one swap.json (\"ranks\": N). Ranks whose options, model,\n"
    "face sets or consent differ are refused. With --in, rank 0 swaps the clip (docs/SCALE.md).\n"
    "\n"
    "Video: --in CLIP --out OUT.mp4 swaps every frame of the clip in which the face is found (tracked:\n"
    "detection every 5 frames or when lost, landmarks every frame, One-Euro smoothed) and passes the\n"
    "others through; --from must be the face set `swaplab extract` made from this very clip (its\n"
    "faces.jsonl records the clip's SHA-256, and the clip's frame reproduces that face's consented crop)\n"
    "and carry consent for swap. Colour statistics are smoothed\n"
    "over --colour-smooth seconds so the face does not flicker; H.264 at --crf; the audio is copied\n"
    "unchanged. Every frame gets the watermark and (unless --label none) the visible label; the MP4\n"
    "carries the signed record and XMP (swaplab verify OUT.mp4). Written atomically.";

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
    if (!m || swap_check_mask(m, o, run.model_path, &err)) goto fail;
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
        {"--mask", SL_ARG_STR, &mask, "M", "face, face:E,F, hull, hull:E,F, learned, learned:E,F, erode:N or blur:N (" SWAP_DEFAULT_MASK ")"},
        {"--color", SL_ARG_STR, &colour, "C", "colour transfer: none, avg, rct, lct or hist, [:A] a part of it (" SWAP_DEFAULT_COLOUR ")"},
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
        /* one clip per call: under an MPI launcher rank 0 swaps it, the other ranks would write the same file */
        if (sl_mpi_launched_rank() > 0) {
            fprintf(stderr, "swaplab swap: rank %d of %d: one clip per call, swapped by rank 0; nothing to do here\n",
                    sl_mpi_launched_rank(), sl_mpi_launched_size());
            return 0;
        }
        return swap_clip(model, from, to, to_faceset, revocations, policy, in_clip, out, &o, with_label, key_path, device, threads,
                         crf, colour_smooth, limit);
    }

    SwapRunArgs ra = {.model = model, .from = from, .to = to, .out = out, .to_faceset = to_faceset,
                      .revocations = revocations, .policy = policy, .key_path = key_path, .device = device, .o = o,
                      .with_label = with_label, .raw = raw, .limit = limit, .threads = threads};
    SlMpi mpi; /* under an MPI launcher the ranks share the faces out (infer/swap_run.h) */
    if (sl_mpi_init(&mpi, &err)) {
        fprintf(stderr, "swaplab swap: %s\n", err.msg);
        return 1;
    }
    SwapRunStats st;
    int rc = swap_run(&mpi, &ra, &st, &err);
    if (rc && err.msg[0]) fprintf(stderr, "swaplab swap: %s\n", err.msg);
    if (!rc && mpi.rank == 0)
        printf("swaplab swap: %d faces of %s with the face of %s -> %s (%.2f frames/s%s); summary %s\n", st.count,
               st.from_subject, st.to_subject, st.pair_dir, st.seconds > 0 ? st.count / st.seconds : 0,
               st.ranks > 1 ? ", all ranks" : "", st.summary);
    sl_mpi_finalize(&mpi);
    return rc ? 1 : 0;
}
