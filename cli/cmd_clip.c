/* cmd_clip.c — `swaplab clip`: a video clip from still images (data/slideshow.h), for test and
 * workshop clips made from consented photos or synthetic volunteers (never downloaded video). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/slideshow.h"
#include "util/args.h"
#include "util/fs.h"

#define CMD "clip"

int cmd_clip(int argc, char **argv) {
    SlStrList in = {0};
    const char *out = NULL;
    SlideshowOptions o;
    slideshow_options_default(&o);
    int hold = o.hold, crf = o.crf, w = 0, h = 0, rot = 0;
    double fps = o.fps, pan = o.pan, tone = 0;
    SlArg spec[] = {
        {"--in", SL_ARG_LIST, &in, "IMAGE", "images in order, or folders of them (name order); required"},
        {"--out", SL_ARG_STR, &out, "CLIP", "the clip to write (.mp4, .mkv, .mov); required"},
        {"--fps", SL_ARG_DOUBLE, &fps, "F", "frames per second (default 25)", 1, 240},
        {"--hold", SL_ARG_INT, &hold, "N", "frames per image (default 25)", 1, 100000},
        {"--pan", SL_ARG_DOUBLE, &pan, "F", "fraction of the image the view pans across per image; 0 = still (default 0.08)", 0, 0.5},
        {"--crf", SL_ARG_INT, &crf, "N", "H.264 constant rate factor (default 18)", 0, 51},
        {"--width", SL_ARG_INT, &w, "PX", "frame width, 16 or more (default 0: the first image's, made even)", 0, 8192},
        {"--height", SL_ARG_INT, &h, "PX", "frame height, 16 or more (default 0: the first image's, made even)", 0, 8192},
        {"--tone", SL_ARG_DOUBLE, &tone, "HZ", "add an AAC sine tone of HZ as the audio track (default 0: no audio)", 0, 20000},
        {"--rotate-tag", SL_ARG_INT, &rot, "DEG", "store the frames turned and a display rotation of 0, 90, 180 or 270 (default 0)", 0, 270},
        {0},
    };
    int r = sl_args_parse(CMD, "--in IMAGE... --out CLIP [--fps F] [--hold N] [--pan F] [--crf N] [--tone HZ]",
                          "Makes an H.264 clip from still images: each image is held for --hold frames while the\n"
                          "view pans slowly across it, so faces move as in real video. For test and workshop clips\n"
                          "from consented photos or synthetic volunteers (swaplab synth's frames/).",
                          spec, argc, argv, NULL);
    if (r) {
        free(in.v);
        return r == 1 ? 0 : 2;
    }
    int rc = 0;
    if (in.n == 0 || !out) rc = sl_usage_error(CMD, "--in and --out are required");
    else if (!(fps >= 1 && fps <= 240)) rc = sl_usage_error(CMD, "--fps must be 1 to 240");
    else if (hold < 1 || hold > 100000) rc = sl_usage_error(CMD, "--hold must be 1 to 100000");
    else if (!(pan >= 0 && pan <= 0.5)) rc = sl_usage_error(CMD, "--pan must be 0 to 0.5");
    else if (crf < 0 || crf > 51) rc = sl_usage_error(CMD, "--crf must be 0 to 51");
    else if ((w || h) && (w < 16 || h < 16 || w > 8192 || h > 8192)) rc = sl_usage_error(CMD, "--width and --height must both be 16 to 8192");
    else if (!(tone >= 0 && tone <= 20000)) rc = sl_usage_error(CMD, "--tone must be 0 to 20000");
    else if (rot != 0 && rot != 90 && rot != 180 && rot != 270) rc = sl_usage_error(CMD, "--rotate-tag must be 0, 90, 180 or 270");
    if (rc) {
        free(in.v);
        return rc;
    }
    o.fps = fps, o.hold = hold, o.pan = pan, o.crf = crf, o.w = w & ~1, o.h = h & ~1, o.tone_hz = tone, o.rotation_tag = rot;
    /* folders: their files in name order */
    char **paths = NULL;
    int np = 0;
    SlErr err;
    for (int i = 0; i < in.n && !rc; i++) {
        if (sl_is_dir(in.v[i])) {
            char **names;
            int n = sl_list_dir(in.v[i], NULL, &names, &err);
            if (n < 0) {
                rc = 1;
                break;
            }
            for (int k = 0; k < n; k++) {
                if (names[k][0] == '.') continue;
                char p[SL_PATH_MAX];
                sl_path_join(p, sizeof p, in.v[i], names[k]);
                paths = xrealloc(paths, (size_t)(np + 1) * sizeof *paths);
                paths[np++] = xstrdup(p);
            }
            sl_free_list(names, n);
        } else {
            paths = xrealloc(paths, (size_t)(np + 1) * sizeof *paths);
            paths[np++] = xstrdup(in.v[i]);
        }
    }
    free(in.v);
    long frames = rc ? -1 : slideshow_write((const char *const *)paths, np, out, &o, &err);
    for (int i = 0; i < np; i++) free(paths[i]);
    free(paths);
    if (frames < 0) {
        fprintf(stderr, "swaplab %s: %s\n", CMD, err.msg);
        return 1;
    }
    printf("%s: %ld frames from %d images (%.1f s at %g frames/s, H.264 CRF %d%s)\n", out, frames, np, frames / fps, fps, crf,
           tone > 0 ? ", with a tone" : "");
    return 0;
}
