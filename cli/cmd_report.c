/* cmd_report.c — `swaplab report --run DIR`: writes DIR/report/index.html (report/report.h) and prints
 * its path. */
#include <stdio.h>

#include "cli/commands.h"
#include "data/consent.h"
#include "report/report.h"
#include "util/args.h"

int cmd_report(int argc, char **argv) {
    ReportOpts o = {0};
    const char *policy = NULL;
    SlArg spec[] = {
        {"--run", SL_ARG_STR, &o.dir, "DIR", "the demo directory, or a training run directory (required)"},
        {"--train-run", SL_ARG_STR, &o.run, "RUN", "the training run (default: DIR/run if present, else DIR)"},
        {"--sets", SL_ARG_STR, &o.sets, "DIR", "folder of the face sets and ground-truth/ (default DIR/sets)"},
        {"--swaps", SL_ARG_STR, &o.swaps, "DIR", "folder of swap outputs, one sub-folder per swap.json (DIR/swaps)"},
        {"--detect", SL_ARG_STR, &o.detect, "DIR", "folder of `swaplab detect eval` JSON files (DIR/detect)"},
        {"--verify", SL_ARG_STR, &o.verify, "DIR", "folder of `swaplab verify --json` outputs (DIR/verify)"},
        {"--video", SL_ARG_STR, &o.video, "FILE", "a swapped clip to show (default: first *.mp4 in DIR/video or DIR/swaps)"},
        {"--video-before", SL_ARG_STR, &o.video_before, "FILE",
         "the clip the swap started from, shown beside it if its folder is a face set with consent\n"
         "for 'report' (default without --video: the first DIR/clip/*/clip.mp4, else none)"},
        {"--out", SL_ARG_STR, &o.out, "FILE", "the HTML file to write (default DIR/report/index.html)"},
        {"--revocations", SL_ARG_STR, &o.revocations, "FILE", "consent revocation list (default: per-user list)"},
        {"--policy", SL_ARG_STR, &policy, "FILE", "lab policy: coordinator-signed consent only (default: $SWAPLAB_POLICY, per-user or system policy)"},
        {"--previews", SL_ARG_INT, &o.max_previews, "N", "preview grids in the filmstrip (12)", 0, 500},
        {"--examples", SL_ARG_INT, &o.max_examples, "N", "example rows per swap and heatmap table (4)", 0, 100},
        {"--threads", SL_ARG_INT, &o.threads, "N", "CPU threads for Meso-4 heatmaps (default: all)", 1, SL_ARG_MAX_THREADS},
        {0},
    };
    int r = sl_args_parse("report", "--run DIR [--out FILE] [options]",
                          "Writes a static HTML page (no network; images embedded as thumbnails, the whole preview\n"
                          "grids and the video in the assets folder beside it) of a run: labelled preview grids over\n"
                          "time, loss and fidelity curves, swaps beside source and ground truth, the clip, detector\n"
                          "ROC, metrics with confidence intervals, robustness, heatmaps and spectra, the provenance\n"
                          "`swaplab verify` found, and what to look for. Every face set shown (the model's identities\n"
                          "and DIR/sets/*) must have consent for the scope 'report'; otherwise nothing is written.",
                          spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    if (!o.dir) return sl_usage_error("report", "--run DIR is required");
    if (o.max_previews < 0 || o.max_previews > 500 || o.max_examples < 0 || o.max_examples > 100)
        return sl_usage_error("report", "--previews must be 0..500 and --examples 0..100");
    ReportSummary sum;
    SlErr err;
    if (consent_policy_select(policy, &err) || report_write(&o, &sum, &err)) {
        fprintf(stderr, "swaplab report: %s\n", err.msg);
        return 1;
    }
    if (sum.missing[0]) fprintf(stderr, "swaplab report: sections without data: %s\n", sum.missing);
    fprintf(stderr, "report: %d face sets, %d preview grids, %d swap examples, %d video, %d detectors, %d verified files\n",
            sum.facesets, sum.previews, sum.swaps, sum.videos, sum.detectors, sum.verified);
    printf("%s\n", sum.path);
    return 0;
}
