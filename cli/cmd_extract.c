/* cmd_extract.c — `swaplab extract`: the flags of the extraction pipeline (data/extract.h: faces
 * found, checked, landmarked, tracked through clips and aligned into a face set with a DRAFT consent
 * manifest) and its report. How it works: docs/EXTRACT.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/extract.h"
#include "util/args.h"

#define CMD "extract"

int cmd_extract(int argc, char **argv) {
    SlStrList in = {0};
    const char *out = NULL, *subject = NULL, *cascade = "default", *check = "eyes";
    ExtractOptions o;
    extract_options_default(&o);
    int size = o.size, min_face = o.min_face, all = 0, detect_size = o.detect_size, recursive = 0, every = o.every,
        detect_every = o.detect_every, threads = 0;
    double coverage = o.coverage, fps = 0, smooth = o.euro_min_cutoff, beta = o.euro_beta;
    SlArg spec[] = {
        {"--in", SL_ARG_LIST, &in, "PATH", "photos (PNG, JPEG, BMP, PGM/PPM), video clips (mp4, mov, mkv, webm, avi, ...), or folders of them; required"},
        {"--out", SL_ARG_STR, &out, "FACESET", "the face-set directory to create; required"},
        {"--subject", SL_ARG_STR, &subject, "ID", "the volunteer's pseudonym (never a real name); required"},
        {"--size", SL_ARG_INT, &size, "N", "side of the aligned crops in pixels (default 128)", 16, 4096},
        {"--coverage", SL_ARG_DOUBLE, &coverage, "F", "fraction of the crop the face template fills (default 0.625)", 0.05, 1.5},
        {"--min-face", SL_ARG_INT, &min_face, "PX", "smallest face to detect, in pixels (default 40)", 20, 100000},
        {"--all", SL_ARG_FLAG, &all, NULL, "photos: keep every plausible face, not only the largest (default: off)"},
        {"--cascade", SL_ARG_STR, &cascade, "NAME", "Haar cascade: default or alt2 (default: default)"},
        {"--check", SL_ARG_STR, &check, "C", "reject implausible face boxes: eyes (eye cascade + face shape; default), shape, none"},
        {"--detect-size", SL_ARG_INT, &detect_size, "PX", "detect on a copy scaled to at most PX a side (default 1024; 0 = full size)", 0, 16384},
        {"--recursive", SL_ARG_FLAG, &recursive, NULL, "folders: also read their sub-folders (default: off)"},
        {"--every", SL_ARG_INT, &every, "N", "clips: keep every Nth frame (default 1)", 1, 100000},
        {"--fps", SL_ARG_DOUBLE, &fps, "F", "clips: keep at most F frames per second of video (default 0 = use --every)", 0, 1000},
        {"--detect-every", SL_ARG_INT, &detect_every, "N", "clips: run the face detector at least every N frames (default 5)", 1, 1000},
        {"--smooth", SL_ARG_DOUBLE, &smooth, "HZ", "clips: One-Euro minimum cut-off in Hz; 0 = no smoothing (default 1)", 0, 1000},
        {"--smooth-beta", SL_ARG_DOUBLE, &beta, "B", "clips: One-Euro speed coefficient per inter-ocular distance/s (default 0.5)", 0, 1000},
        {"--threads", SL_ARG_INT, &threads, "N", "clips: video decoder threads (default 0 = FFmpeg's choice)", 0, SL_ARG_MAX_THREADS},
        {0},
    };
    int r = sl_args_parse(CMD, "--in PATH... --out FACESET --subject ID [--size N] [--coverage F] [--min-face PX] [--all] [--cascade NAME] [--check C] [--detect-size PX] [--recursive] [--every N | --fps F]",
                          "Finds faces in volunteers' photos and video clips, places 68 landmarks, aligns and crops\n"
                          "them into a face set (aligned/, frames/, faces.jsonl) and writes a DRAFT consent.json: nothing\n"
                          "can be trained on it until `swaplab consent init` records the subject's consent.\n"
                          "A face box is kept only when the eye cascade finds an eye where the landmarks put one and\n"
                          "the landmarks are shaped like a face; otherwise the next box is tried (--check).\n"
                          "In clips the face is tracked: detection every few frames or when lost, landmarks every\n"
                          "frame, smoothed in time (One-Euro filter); faces.jsonl records the clip, its SHA-256 and\n"
                          "each face's time stamp. Inputs without a face are listed in FACESET/extract_report.txt;\n"
                          "it is an error when nothing could be read or no input had a face.\n"
                          "Models: OpenCV's Haar cascades (BSD-3, Debian opencv-data) and dlib's 68-point\n"
                          "predictor (trained on iBUG 300-W: non-commercial use only; Debian libdlib-data).",
                          spec, argc, argv, NULL);
    if (r) {
        free(in.v);
        return r == 1 ? 0 : 2;
    }
    int rc = 0;
    if (in.n == 0) rc = sl_usage_error(CMD, "--in is required");
    else if (!out) rc = sl_usage_error(CMD, "--out is required");
    else if (!subject || !*subject) rc = sl_usage_error(CMD, "--subject is required");
    else if (size < 16 || size > 4096) rc = sl_usage_error(CMD, "--size must be 16 to 4096");
    else if (!(coverage > 0.05 && coverage <= 1.5)) rc = sl_usage_error(CMD, "--coverage must be in (0.05, 1.5]");
    else if (min_face < 20 || min_face > 100000) rc = sl_usage_error(CMD, "--min-face must be 20 to 100000");
    else if (detect_size != 0 && (detect_size < 64 || detect_size > 16384))
        rc = sl_usage_error(CMD, "--detect-size must be 0 or 64 to 16384");
    else if (strcmp(cascade, "default") != 0 && strcmp(cascade, "alt2") != 0)
        rc = sl_usage_error(CMD, "--cascade must be default or alt2");
    else if (extract_check_parse(check, &o.check)) rc = sl_usage_error(CMD, "--check must be eyes, shape or none");
    else if (every < 1 || every > 100000) rc = sl_usage_error(CMD, "--every must be 1 to 100000");
    else if (!(fps >= 0 && fps <= 1000)) rc = sl_usage_error(CMD, "--fps must be 0 to 1000");
    else if (fps > 0 && every != 1) rc = sl_usage_error(CMD, "--every and --fps exclude each other");
    else if (detect_every < 1 || detect_every > 1000) rc = sl_usage_error(CMD, "--detect-every must be 1 to 1000");
    else if (!(smooth >= 0 && smooth <= 1000) || !(beta >= 0 && beta <= 1000))
        rc = sl_usage_error(CMD, "--smooth and --smooth-beta must be 0 to 1000");
    else if (threads < 0 || threads > 256) rc = sl_usage_error(CMD, "--threads must be 0 to 256");
    if (rc) {
        free(in.v);
        return rc;
    }
    o.size = size, o.coverage = (float)coverage, o.min_face = min_face, o.all = all, o.detect_size = detect_size;
    o.alt2 = strcmp(cascade, "alt2") == 0, o.recursive = recursive, o.every = every, o.fps = fps;
    o.detect_every = detect_every, o.euro_min_cutoff = smooth, o.euro_beta = beta, o.threads = threads;

    ExtractSummary s;
    SlErr err;
    rc = extract_run(&o, (const char *const *)in.v, in.n, out, subject, &s, &err);
    free(in.v);
    if (rc) {
        fprintf(stderr, "swaplab %s: %s\n", CMD, err.msg);
        return 1;
    }
    printf("%s: %d files, %d images and %d clips (%ld frames) read, %d faces extracted; %d without a face, %d unreadable, "
           "%d failed, %d face boxes rejected as implausible\n",
           out, s.files, s.images, s.clips, s.frames, s.faces, s.noface, s.unreadable, s.failed, s.rejected);
    if (s.noface + s.unreadable + s.failed + s.rejected) printf("details: %s\n", s.report);
    printf("consent.json is a DRAFT: run `swaplab consent init %s ...` once %s has signed the consent form\n", out, subject);
    return 0;
}
