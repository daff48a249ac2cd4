/* cmd_dataset.c — `swaplab dataset`: flags and reporting; the pipeline (identity splits, real,
 * swapped and self-blended samples, masks, landmarks, labels.csv, dataset.json, the DeepfakeBench
 * index) is dataset/build.c. Format: docs/FORMATS.md "Detector dataset"; the watermark choice:
 * docs/WATERMARK.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "dataset/build.h"
#include "dataset/export.h"
#include "infer/watermark.h"
#include "util/args.h"
#include "util/mpi.h"

static const char *ABOUT =
    "Builds a detector dataset from consented face sets (consent scope 'dataset') and, for face swaps, a\n"
    "swap model that knows their subjects. Identities are assigned to train/val/test from --seed and\n"
    "--splits (by identity, never by frame; every split gets at least 2 identities: val calibrates the\n"
    "detector's threshold, test measures it; fewer than 6 identities are refused). Real samples are\n"
    "frames of each set. --method swap (default): fake samples are swaps between\n"
    "identities of the same split, in both directions: the chosen frames of each identity are shared\n"
    "round robin among its split partners, so every frame appears once as real and once swapped, and the\n"
    "classes are balanced. --method sbi: each real sample also gives a self-blended image (Shiohara &\n"
    "Yamasaki 2022: a colour- and geometry-jittered copy of the face blended into itself along an\n"
    "elastic, blurred landmark-hull mask); no model is needed. --method swap+sbi: both kinds of fake.\n"
    "All are the frame (original or composited) cropped by the face's alignment box at --size and\n"
    "written by the same PNG writer.\n"
    "\n"
    "Cross-domain test (--into DIR...): face sets of people the model does not know (consent scope\n"
    "dataset), e.g. consented photos from another camera. They join the test split only: each frame is\n"
    "a real test sample and receives the face of one of the model's test identities (round robin), as\n"
    "swaplab swap --from SET --to SUBJECT would; labels.csv names them as the target, dataset.json lists\n"
    "them under splits.test.into. Filter labels.csv by target to score them apart.\n"
    "\n"
    "Video: face sets extracted from clips (swaplab extract --in CLIP) give --frames-per-clip frames of\n"
    "each clip, evenly spaced in time; every sample names its clip (clip = SUBJECT_NAME-SHA8, time = seconds\n"
    "into it) in labels.csv and in the DeepfakeBench index, and a clip follows its identity into one split\n"
    "(a clip in the face sets of identities of different splits is refused). --video-versions c23,c40\n"
    "also writes DIR/videos/cCRF/SPLIT/real/CLIP.mp4 (each clip re-encoded as H.264 at that CRF, with the\n"
    "watermark of every real sample, audio copied) and, with swaps, DIR/videos/cCRF/SPLIT/fake/CLIP_SOURCE.mp4 (the clip swapped with a split\n"
    "partner's face as `swaplab swap --in` does: watermark, signed record and XMP in the file; the visible\n"
    "label as --label says), listed in dataset.json \"videos\"; every clip must be the one its consented\n"
    "face set was extracted from (checked as swap --in checks it).\n"
    "\n"
    "Watermark: real and fake samples carry the same keyed invisible watermark (--wm-key) with the same\n"
    "payload, the dataset id, so the mark cannot be a shortcut; fakes also carry the signed provenance\n"
    "record and XMP (PNG chunks, not pixels). The visible SYNTHETIC label, on by default on every swap\n"
    "output, is off here by default (--label none): a detector would learn the label, not the swap.\n"
    "--label visible draws it (recorded in labels.csv and dataset.json, with a warning).\n"
    "\n"
    "Output: DIR/{train,val,test}/{real,fake}/*.png, DIR/labels.csv (path,label,source,target,split,\n"
    "method,preset,mask,colour,blend,visible_label,model_sha256,frame,face,clip,time; source = the\n"
    "identity whose face is in the sample, target = the person in the frame), DIR/dataset.json, per-sample\n"
    "DIR/masks/PATH.png (fakes) and DIR/landmarks/PATH.npy, and DIR/deepfakebench.json (DeepfakeBench's\n"
    "dataset index; DIR/frames links to DIR for its path convention). Frames that cannot be read are\n"
    "reported and skipped with a count.\n"
    "\n"
    "Ranks: `mpirun -np N swaplab dataset ...` (an MPI build) shares the identities out over the ranks;\n"
    "every fake is logged by rank 0 in the one-process order before it is moved into place, and rank 0\n"
    "writes labels.csv, dataset.json (\"ranks\": N) and the index: the splits and samples equal one\n"
    "process's. Ranks whose options, model, face sets or consent differ are refused (docs/SCALE.md).";

int cmd_dataset(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *splits = "70/15/15", *label = "none", *mask = SWAP_DEFAULT_MASK,
               *colour = SWAP_DEFAULT_COLOUR, *blend = SWAP_DEFAULT_BLEND, *key_path = NULL, *wm_key = NULL, *revocations = NULL,
               *device = NULL, *method = "swap", *policy = NULL, *versions = "none";
    int size = 0, per_identity = 0, seed = 1, threads = 0, frames_per_clip = DSX_DEFAULT_FRAMES_PER_CLIP;
    SlStrList sets = {0}, into = {0};
    SlArg spec[] = {
        {"--model", SL_ARG_STR, &model, "RUN", "run directory or model file from swaplab train (knows every subject; swaps)"},
        {"--method", SL_ARG_STR, &method, "M", "fakes: swap (default), sbi (self-blended images) or swap+sbi"},
        {"--facesets", SL_ARG_LIST, &sets, "DIR...", "consented face sets (scope dataset), one per identity, >= 6"},
        {"--into", SL_ARG_LIST, &into, "DIR...",
         "cross-domain test: consented face sets (scope dataset) of other people, e.g. photos from another "
         "camera; test split only, their frames receive the faces of the test identities (the model need not know them)"},
        {"--out", SL_ARG_STR, &out, "DIR", "output directory (created; must not hold a dataset already)"},
        {"--splits", SL_ARG_STR, &splits, "T/V/T", "identity shares of train/val/test (70/15/15)"},
        {"--label", SL_ARG_STR, &label, "L", "none (default) or visible: the SYNTHETIC label on fakes (a shortcut)"},
        {"--mask", SL_ARG_STR, &mask, "M", "face, face:E,F, hull, hull:E,F, learned, learned:E,F (a --learn-mask model), erode:N or blur:N (" SWAP_DEFAULT_MASK ")"},
        {"--color", SL_ARG_STR, &colour, "C", "colour transfer: none, avg, rct, lct or hist, [:A] a part of it (" SWAP_DEFAULT_COLOUR ")"},
        {"--colour", SL_ARG_STR, &colour, "C", "the same as --color"},
        {"--blend", SL_ARG_STR, &blend, "B", "alpha or poisson (" SWAP_DEFAULT_BLEND ")"},
        {"--size", SL_ARG_INT, &size, "PX",
         "side of every sample, 64..1024 (default: the model's face size, >= 64; 128 without a model)", 0, 1024},
        {"--per-identity", SL_ARG_INT, &per_identity, "N", "frames per identity, chosen by --seed (0 = all)", 0, 1000000},
        {"--frames-per-clip", SL_ARG_INT, &frames_per_clip, "N",
         "faces from video: frames per clip, evenly spaced in time (default 32, DeepfakeBench's; 0 = all)", 0, 1000000},
        {"--video-versions", SL_ARG_STR, &versions, "cN,...",
         "faces from video: also write each clip and each swapped clip as H.264 at these CRFs, e.g. c23,c40 "
         "(FaceForensics++'s; default none)"},
        {"--seed", SL_ARG_INT, &seed, "S", "seed of the split and frame choice (1)", 0, 2147483647},
        {"--key", SL_ARG_STR, &key_path, "KEYFILE", "signing key of the fakes (default: your per-user lab key)"},
        {"--wm-key", SL_ARG_STR, &wm_key, "STRING", "watermark key string of every sample (default: the public key)"},
        {"--revocations", SL_ARG_STR, &revocations, "FILE", "consent revocation list (default: per-user list)"},
        {"--policy", SL_ARG_STR, &policy, "FILE",
         "lab policy: coordinator-signed consent only (default: $SWAPLAB_POLICY, per-user or system policy)"},
        {"--device", SL_ARG_STR, &device, "D", "cpu, cuda or auto (default auto; names a missing GPU only when given)"},
        {"--threads", SL_ARG_INT, &threads, "N", "compute threads (default: all cores)", 1, SL_ARG_MAX_THREADS},
        {0},
    };
    int r = sl_args_parse("dataset", "[--model RUN] --facesets DIR... --out DIR [--method swap|sbi|swap+sbi] [--splits 70/15/15] [--label none|visible]",
                          ABOUT, spec, argc, argv, NULL);
    if (r) {
        free(sets.v), free(into.v);
        return r == 1 ? 0 : 2;
    }
    SlErr err;
    DsConfig c;
    ds_config_default(&c);
    SwapOptions o;
    swap_options_default(&o);
    double frac[3];
    int with_label = -1;
    if (!strcmp(label, "visible")) with_label = 1;
    else if (!strcmp(label, "none")) with_label = 0;
    const char *usage = NULL;
    char ubuf[300];
    if (!out || sets.n == 0) usage = "--facesets and --out are required";
    else if (ds_parse_method(method, &c.fakes, &err)) usage = err.msg;
    else if ((c.fakes & DS_FAKE_SWAP) && !model) usage = "--model is required for --method swap and swap+sbi";
    else if (with_label < 0) snprintf(ubuf, sizeof ubuf, "--label must be visible or none, not '%s'", label), usage = ubuf;
    else if (sets.n < DSX_NSPLITS * DSX_MIN_PER_SPLIT)
        snprintf(ubuf, sizeof ubuf, "--facesets needs at least %d identities (2 each for train, val and test), got %d",
                 DSX_NSPLITS * DSX_MIN_PER_SPLIT, sets.n), usage = ubuf;
    else if (size && (size < WM_MIN_DIM || size > DS_MAX_SIZE)) usage = "--size must be 64..1024 (the watermark needs 64 px)";
    else if (per_identity < 0 || seed < 0 || threads < 0) usage = "--per-identity, --seed and --threads must not be negative";
    else if (sets.n + into.n > DS_MAX_IDS) usage = "at most 256 face sets (--facesets and --into together)";
    else if (swap_options_set_mask(&o, mask, &err) || swap_options_set_colour(&o, colour, &err) ||
             swap_options_set_blend(&o, blend, &err) || dsx_parse_splits(splits, frac, &err))
        usage = err.msg;
    else if ((c.n_video = dsx_parse_versions(versions, c.video_crf, &err)) < 0) usage = err.msg;
    if (usage) {
        free(sets.v), free(into.v);
        return sl_usage_error("dataset", "%s", usage);
    }

    c.model = model, c.facesets = (const char *const *)sets.v, c.n_sets = sets.n, c.out = out;
    c.into = (const char *const *)into.v, c.n_into = into.n;
    memcpy(c.frac, frac, sizeof frac);
    c.splits = splits, c.with_label = with_label, c.swap = o, c.size = size, c.per_identity = per_identity;
    c.seed = seed, c.threads = threads, c.key_path = key_path, c.wm_key = wm_key, c.revocations = revocations;
    c.device = device, c.policy = policy, c.frames_per_clip = frames_per_clip;
    SlMpi mpi; /* under an MPI launcher the ranks share the identities out (dataset/build.h) */
    if (sl_mpi_init(&mpi, &err)) {
        free(sets.v), free(into.v);
        fprintf(stderr, "swaplab dataset: %s\n", err.msg);
        return 1;
    }
    DsReport rep;
    int rc = ds_build_mpi(&mpi, &c, &rep, &err);
    free(sets.v), free(into.v);
    sl_mpi_finalize(&mpi);
    if (rc) {
        if (err.msg[0]) fprintf(stderr, "swaplab dataset: %s\n", err.msg);
        return 1;
    }
    if (mpi.rank != 0) return 0; /* rank 0 reports for every rank */
    if (rep.videos) printf("swaplab dataset: %ld videos (H.264 at --video-versions %s) in %s/videos\n", rep.videos, versions, out);
    if (rep.skipped)
        fprintf(stderr, "swaplab dataset: %ld samples skipped (unreadable files; see the warnings above)\n", rep.skipped);
    printf("swaplab dataset: %ld samples, fakes by %s (train %d+%d, val %d+%d, test %d+%d real+fake; identities "
           "%d/%d/%d) -> %s (%.2f samples/s%s)\n",
           rep.samples, ds_method_name(c.fakes), rep.real[0], rep.fake[0], rep.real[1], rep.fake[1], rep.real[2],
           rep.fake[2], rep.identities[0], rep.identities[1], rep.identities[2], out,
           rep.seconds > 0 ? rep.samples / rep.seconds : 0, rep.ranks > 1 ? ", all ranks" : "");
    return 0;
}
