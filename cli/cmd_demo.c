/* cmd_demo.c — `swaplab demo --out DIR`: the whole story in one command on synthetic volunteers:
 * render, train the tiny preset, swap both ways, build a detector dataset, train and evaluate the
 * detectors, verify provenance (also on JPEG re-encodes) and write DIR/report/index.html. Each step is
 * a child `swaplab` process (its own progress and errors); a finished step leaves
 * DIR/.steps/<name>.done, so a rerun resumes where it stopped (training itself with --resume). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/commands.h"
#include "data/image.h"
#include "report/report.h"
#include "util/args.h"
#include "util/fs.h"

#define DEMO_STEPS 7
#define DEMO_MAX_ARGS 64

typedef struct {
    const char *out;
    const char *style; /* synth --style: composite (real-looking volunteers) or cartoon */
    int ids, frames, limit, det_steps, det_size, quick, train_steps;
    int clip_frames; /* frames of the before/after clip (25 fps, 128 px) */
    double minutes;
    char exe[SL_PATH_MAX];
    char steps_dir[SL_PATH_MAX];
    char failed[512]; /* names of failed optional steps */
} Demo;

/* Runs `swaplab ARGS...` as a child process; stdout goes to stdout_path when non-NULL (written to a
 * temporary file and renamed when the child exits 0 or 1). Returns the exit status (-1: could not run,
 * 128+N: killed by signal N). */
static int run_child(const Demo *d, const char *stdout_path, const char *const *args) {
    int na = 0;
    while (args[na]) na++;
    const char **argv = xmalloc((size_t)(na + 2) * sizeof *argv);
    argv[0] = d->exe;
    for (int i = 0; i < na; i++) argv[i + 1] = args[i];
    argv[na + 1] = NULL;
    char tmp[SL_PATH_MAX] = "";
    if (stdout_path) snprintf(tmp, sizeof tmp, "%s.tmp.%ld", stdout_path, (long)getpid());
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        free(argv);
        return -1;
    }
    if (pid == 0) {
        if (stdout_path) {
            int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || dup2(fd, 1) < 0) _exit(127);
            close(fd);
        }
        execv(d->exe, (char *const *)argv);
        _exit(127);
    }
    free(argv);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (stdout_path) {
        if ((rc == 0 || rc == 1) && rename(tmp, stdout_path) == 0) return rc;
        unlink(tmp);
    }
    return rc;
}

static void marker(const Demo *d, const char *name, char *out, size_t n) {
    char nm[128];
    snprintf(nm, sizeof nm, "%s.done", name);
    sl_path_join(out, n, d->steps_dir, nm);
}

static int step_done(const Demo *d, const char *name) {
    char p[SL_PATH_MAX];
    marker(d, name, p, sizeof p);
    return sl_is_file(p);
}

static int mark_done(const Demo *d, const char *name, double secs, SlErr *err) {
    char p[SL_PATH_MAX], body[128];
    marker(d, name, p, sizeof p);
    int n = snprintf(body, sizeof body, "{\"step\": \"%s\", \"seconds\": %.1f}\n", name, secs);
    return sl_write_atomic(p, body, (size_t)n, err);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* Removes a partial output of an unfinished step (our own folder under DIR) before redoing it. */
static void remove_tree(const char *path) {
    if (sl_is_dir(path) || sl_is_file(path)) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void banner(int k, const char *what) {
    printf("\n[%d/%d] %s\n", k, DEMO_STEPS, what);
    fflush(stdout);
}

static int step_fail(int k, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int step_fail(int k, const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "swaplab demo: step %d/%d (%s) failed: ", k, DEMO_STEPS, name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

static void set_path(const Demo *d, int i, char *out, size_t n) {
    char nm[32];
    snprintf(nm, sizeof nm, "sets/synth-%04d", i + 1);
    sl_path_join(out, n, d->out, nm);
}

/* Runs one child command as the whole (or part of a) step, reporting a failure with its name. */
static int child_ok(const Demo *d, int k, const char *name, const char *out, const char *const *args) {
    int rc = run_child(d, out, args);
    if (rc == 0) return 0;
    char cmd[1024] = "";
    for (int i = 0; args[i] && strlen(cmd) < 900; i++) {
        strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
        strncat(cmd, args[i], sizeof cmd - strlen(cmd) - 1);
    }
    step_fail(k, name, "`swaplab%s` %s %d (its message is above)", cmd, rc > 128 ? "was killed by signal" : "exited with status",
              rc > 128 ? rc - 128 : rc);
    return 1;
}

static int do_synth(Demo *d, int k) {
    char sets[SL_PATH_MAX], ids[16], frames[16], gtf[16];
    sl_path_join(sets, sizeof sets, d->out, "sets");
    remove_tree(sets);
    snprintf(ids, sizeof ids, "%d", d->ids);
    snprintf(frames, sizeof frames, "%d", d->frames);
    snprintf(gtf, sizeof gtf, "%d", d->limit); /* the report shows the ground truth of the swapped frames */
    const char *a[] = {"synth", "--out", sets, "--identities", ids, "--frames", frames, "--size", "128", "--crop", "64",
                       "--style", d->style, "--ground-truth", "--ground-truth-frames", gtf, NULL};
    if (child_ok(d, k, "synthetic volunteers", NULL, a)) return 1;
    /* the before/after clip: synth-0001 again (same seed, same person) as a 25 fps clip.mp4 */
    char clip[SL_PATH_MAX], cframes[16];
    sl_path_join(clip, sizeof clip, d->out, "clip");
    remove_tree(clip);
    if (!strcmp(d->style, "cartoon")) return 0; /* clips are composites only */
    snprintf(cframes, sizeof cframes, "%d", d->clip_frames);
    const char *c[] = {"synth", "--out", clip, "--identities", "1", "--frames", cframes, "--size", "128", "--crop", "64",
                       "--video", NULL};
    return child_ok(d, k, "synthetic volunteers (clip)", NULL, c);
}

static int do_train(Demo *d, int k) {
    char run[SL_PATH_MAX], st[SL_PATH_MAX], s[16][4096], mins[32], steps[32];
    sl_path_join(run, sizeof run, d->out, "run");
    sl_path_join(st, sizeof st, run, "state.json");
    int ntrain = d->ids; /* `swaplab dataset` swaps between every pair of a split: the model knows all */
    for (int i = 0; i < ntrain; i++) set_path(d, i, s[i], sizeof s[i]);
    snprintf(mins, sizeof mins, "%g", d->minutes);
    snprintf(steps, sizeof steps, "%d", d->train_steps);
    const char *a[DEMO_MAX_ARGS];
    int n = 0;
    a[n++] = "train", a[n++] = "--facesets";
    for (int i = 0; i < ntrain; i++) a[n++] = s[i];
    a[n++] = "--out", a[n++] = run, a[n++] = "--preset", a[n++] = "tiny", a[n++] = "--timelapse";
    a[n++] = "--batch", a[n++] = d->quick ? "4" : "8";
    a[n++] = "--lr", a[n++] = "5e-4"; /* ten times Adam's classic 5e-5: a few minutes are all the demo has */
    if (d->quick) a[n++] = "--holdout-every", a[n++] = "4";
    if (d->train_steps > 0) a[n++] = "--steps", a[n++] = steps, a[n++] = "--preview-every", a[n++] = d->quick ? "2" : "25";
    else a[n++] = "--minutes", a[n++] = mins;
    if (sl_is_file(st)) {
        printf("resuming the run in %s\n", run);
        a[n++] = "--resume";
    }
    a[n] = NULL;
    if (child_ok(d, k, "training", NULL, a)) return 1;
    const char *e[DEMO_MAX_ARGS];
    n = 0;
    e[n++] = "eval", e[n++] = "--model", e[n++] = run, e[n++] = "--facesets";
    for (int i = 0; i < ntrain; i++) e[n++] = s[i];
    e[n++] = "--max", e[n++] = d->quick ? "4" : "8";
    e[n++] = "--frames", e[n++] = d->quick ? "1" : "4"; /* composited frames per pair (30 pairs for 6 ids) */
    if (d->quick) e[n++] = "--holdout-every", e[n++] = "4";
    e[n] = NULL;
    return child_ok(d, k, "training (fidelity evaluation)", NULL, e);
}

static int do_swap(Demo *d, int k) {
    char run[SL_PATH_MAX], a1[SL_PATH_MAX], b1[SL_PATH_MAX], lim[16];
    sl_path_join(run, sizeof run, d->out, "run");
    set_path(d, 0, a1, sizeof a1);
    set_path(d, 1, b1, sizeof b1);
    snprintf(lim, sizeof lim, "%d", d->limit);
    for (int dir = 0; dir < 2; dir++) {
        char out[SL_PATH_MAX], nm[64];
        const char *to = dir ? "synth-0001" : "synth-0002";
        snprintf(nm, sizeof nm, "swaps/%s", dir ? "synth-0002_to_synth-0001" : "synth-0001_to_synth-0002");
        sl_path_join(out, sizeof out, d->out, nm);
        remove_tree(out);
        const char *a[] = {"swap", "--model", run, "--from", dir ? b1 : a1, "--to", to, "--out", out, "--raw", "--limit",
                           lim, NULL};
        if (child_ok(d, k, "swaps", NULL, a)) return 1;
    }
    /* the clip: synth-0002's face through synth-0001's clip, the label on every frame */
    char cset[SL_PATH_MAX], cin[SL_PATH_MAX], vdir[SL_PATH_MAX], vout[SL_PATH_MAX];
    sl_path_join(cset, sizeof cset, d->out, "clip/synth-0001");
    sl_path_join(cin, sizeof cin, cset, "clip.mp4");
    sl_path_join(vdir, sizeof vdir, d->out, "video");
    sl_path_join(vout, sizeof vout, vdir, "synth-0001_to_synth-0002.mp4");
    remove_tree(vdir);
    if (!sl_is_file(cin)) return 0; /* the cartoon style has no clip */
    SlErr err;
    if (sl_mkdirs(vdir, &err)) return step_fail(k, "swaps", "%s", err.msg);
    const char *v[] = {"swap", "--model", run, "--from", cset, "--to", "synth-0002", "--in", cin, "--out", vout, NULL};
    return child_ok(d, k, "swaps (clip)", NULL, v);
}

static int do_detect(Demo *d, int k) {
    char run[SL_PATH_MAX], data[SL_PATH_MAX], det[SL_PATH_MAX], sets[DEMO_MAX_ARGS][4096];
    sl_path_join(run, sizeof run, d->out, "run");
    sl_path_join(data, sizeof data, d->out, "dataset");
    sl_path_join(det, sizeof det, d->out, "detect");
    remove_tree(data);
    remove_tree(det);
    SlErr err;
    if (sl_mkdirs(det, &err)) return step_fail(k, "detectors", "%s", err.msg);
    const char *a[DEMO_MAX_ARGS];
    int n = 0;
    a[n++] = "dataset", a[n++] = "--model", a[n++] = run, a[n++] = "--facesets";
    for (int i = 0; i < d->ids && i < DEMO_MAX_ARGS - 12; i++) {
        set_path(d, i, sets[i], sizeof sets[i]);
        a[n++] = sets[i];
    }
    /* 12 identities: 4 train, 4 val (the detectors' threshold), 4 test; fakes are swaps inside a split
     * and self-blended images */
    a[n++] = "--out", a[n++] = data, a[n++] = "--label", a[n++] = "none", a[n++] = "--splits";
    a[n++] = "34/33/33", a[n++] = "--method", a[n++] = "swap+sbi";
    /* every frame of a volunteer up to 120 (the default --frames): with 40 a side, Meso-4 saw 480
     * training images and overfitted them within a few hundred steps (docs/PERFORMANCE.md, Demo) */
    char per_id[16];
    snprintf(per_id, sizeof per_id, "%d", d->quick ? 6 : d->frames < 120 ? d->frames : 120);
    a[n++] = "--per-identity", a[n++] = per_id, a[n++] = "--size", a[n++] = "64";
    a[n] = NULL;
    if (child_ok(d, k, "detectors (dataset)", NULL, a)) return 1;
    char msteps[16], msize[16];
    snprintf(msteps, sizeof msteps, "%d", d->det_steps);
    snprintf(msize, sizeof msize, "%d", d->det_size);
    static const char *methods[] = {"spectral", "meso4"};
    for (int m = 0; m < 2; m++) {
        char model[SL_PATH_MAX], ev[SL_PATH_MAX], nm[64];
        snprintf(nm, sizeof nm, "%s.safetensors", methods[m]);
        sl_path_join(model, sizeof model, det, nm);
        snprintf(nm, sizeof nm, "%s.eval.json", methods[m]);
        sl_path_join(ev, sizeof ev, det, nm);
        const char *t[] = {"detect", "train", "--data", data, "--method", methods[m], "--out", model,
                           m ? "--steps" : NULL, msteps, "--size", msize, "--batch", d->quick ? "8" : "32", NULL};
        if (child_ok(d, k, "detectors (training)", NULL, t)) return 1;
        const char *e[] = {"detect", "eval", "--model", model, "--data", data, "--out", ev, "--perturb", "jpeg:75", "jpeg:50",
                           "resize:0.5", NULL};
        if (child_ok(d, k, "detectors (evaluation)", NULL, e)) return 1;
    }
    return 0;
}

/* Every swap output, and a JPEG q50 re-encode of each, through `swaplab verify --json`. */
static int do_verify(Demo *d, int k) {
    char swaps[SL_PATH_MAX], vdir[SL_PATH_MAX], jdir[SL_PATH_MAX];
    sl_path_join(swaps, sizeof swaps, d->out, "swaps");
    sl_path_join(vdir, sizeof vdir, d->out, "verify");
    sl_path_join(jdir, sizeof jdir, vdir, "jpeg-q50");
    remove_tree(vdir);
    SlErr err;
    if (sl_mkdirs(jdir, &err)) return step_fail(k, "provenance", "%s", err.msg);
    int cap = 64, n = 0, nj = 0;
    char **files = xmalloc((size_t)cap * sizeof *files), **jpegs = xmalloc((size_t)cap * sizeof *jpegs);
    static const char *pairs[] = {"synth-0001_to_synth-0002", "synth-0002_to_synth-0001"};
    const char *png[] = {".png", NULL};
    int rc = 0;
    for (int p = 0; p < 2 && !rc; p++) {
        char dir[SL_PATH_MAX];
        sl_snprintf(dir, sizeof dir, "%s/%s/%s", swaps, pairs[p], pairs[p]);
        char **names;
        int m = sl_list_dir(dir, png, &names, &err);
        if (m < 0) {
            rc = step_fail(k, "provenance", "%s", err.msg);
            break;
        }
        for (int i = 0; i < m && !rc; i++) {
            if (n + 1 >= cap) {
                cap *= 2;
                files = xrealloc(files, (size_t)cap * sizeof *files);
                jpegs = xrealloc(jpegs, (size_t)cap * sizeof *jpegs);
            }
            char f[SL_PATH_MAX], j[SL_PATH_MAX];
            sl_path_join(f, sizeof f, dir, names[i]);
            files[n++] = xstrdup(f);
            Image im;
            if (image_load(f, 3, &im, &err)) {
                rc = step_fail(k, "provenance", "%s", err.msg);
                break;
            }
            char nm[256];
            snprintf(nm, sizeof nm, "%s_%.*s.jpg", pairs[p], (int)strlen(names[i]) - 4, names[i]);
            sl_path_join(j, sizeof j, jdir, nm);
            if (image_save_jpeg(j, &im, 50, &err)) rc = step_fail(k, "provenance", "%s", err.msg);
            else jpegs[nj++] = xstrdup(j);
            image_free(&im);
        }
        sl_free_list(names, m);
    }
    for (int pass = 0; pass < 2 && !rc; pass++) {
        char **list = pass ? jpegs : files;
        int cnt = pass ? nj : n;
        const char **a = xmalloc((size_t)(cnt + 3) * sizeof *a);
        a[0] = "verify", a[1] = "--json";
        for (int i = 0; i < cnt; i++) a[i + 2] = list[i];
        a[cnt + 2] = NULL;
        char out[SL_PATH_MAX];
        sl_path_join(out, sizeof out, vdir, pass ? "jpeg-q50.json" : "swap-outputs.json");
        /* verify exits 1 when a file is not marked, 3 when one is altered or forged: findings for the
         * report, not failures */
        int st = run_child(d, out, a);
        if (st != 0 && st != 1 && st != 3) {
            rc = step_fail(k, "provenance", "`swaplab verify --json` exited with status %d", st);
        } else {
            printf("verify: %d %s checked -> %s%s\n", cnt, pass ? "JPEG q50 re-encodes" : "swap outputs", out,
                   st ? " (some files are not marked: see the report)" : "");
        }
        free(a);
    }
    char clip[SL_PATH_MAX]; /* the swapped clip of step 4: its record, signature, and every frame's marks */
    sl_path_join(clip, sizeof clip, d->out, "video/synth-0001_to_synth-0002.mp4");
    if (!rc && sl_is_file(clip)) {
        char out[SL_PATH_MAX];
        sl_path_join(out, sizeof out, vdir, "swapped-clip.json");
        const char *a[] = {"verify", "--json", clip, NULL};
        int st = run_child(d, out, a);
        if (st != 0 && st != 1 && st != 3) rc = step_fail(k, "provenance", "`swaplab verify --json` exited with status %d", st);
        else printf("verify: the swapped clip checked -> %s%s\n", out, st ? " (not marked: see the report)" : "");
    }
    for (int i = 0; i < n; i++) free(files[i]);
    for (int i = 0; i < nj; i++) free(jpegs[i]);
    free(files), free(jpegs);
    return rc;
}

static int do_report(Demo *d, int k) {
    ReportOpts o = {0};
    o.dir = d->out;
    ReportSummary sum;
    SlErr err;
    if (report_write(&o, &sum, &err)) return step_fail(k, "report", "%s", err.msg);
    if (sum.missing[0]) printf("report: sections without data: %s\n", sum.missing);
    printf("report: %s\n", sum.path);
    return 0;
}

int cmd_demo(int argc, char **argv) {
    Demo d = {0};
    d.ids = 12, d.frames = 120, d.limit = 24, d.det_steps = 600, d.det_size = 64, d.minutes = 4, d.clip_frames = 50;
    d.style = "composite";
    int fresh = 0;
    SlArg spec[] = {
        {"--out", SL_ARG_STR, &d.out, "DIR", "where everything goes (required; reruns resume there)"},
        {"--minutes", SL_ARG_DOUBLE, &d.minutes, "M", "training time of the tiny preset (4)", 0.01, 10080},
        {"--train-steps", SL_ARG_INT, &d.train_steps, "N", "train N steps instead of --minutes (0 = use minutes)", 0, 100000000},
        {"--identities", SL_ARG_INT, &d.ids, "N", "synthetic volunteers, 6..16 (12; detector split 4/4/4 train/val/test)", 6, 16},
        {"--frames", SL_ARG_INT, &d.frames, "M", "frames per volunteer (120)", 4, 10000},
        {"--limit", SL_ARG_INT, &d.limit, "N", "frames swapped each way (24)", 1, 100000},
        {"--detector-steps", SL_ARG_INT, &d.det_steps, "N", "Meso-4 training steps (600)", 1, 10000000},
        {"--style", SL_ARG_STR, &d.style, "S",
         "volunteers: composite (real-looking people who do not exist, each a composite of consented\n"
         "volunteers; default) or cartoon (the 3-D cartoon heads)"},
        {"--quick", SL_ARG_FLAG, &d.quick, NULL, "a tiny run for tests: 6 ids x 12 frames, 6 steps, 4 swaps"},
        {"--fresh", SL_ARG_FLAG, &fresh, NULL, "forget finished steps and start over in DIR"},
        {0},
    };
    int r = sl_args_parse("demo", "--out DIR [--minutes M] [--quick] [--fresh]",
                          "The whole story on synthetic volunteers, in about 10 minutes on 2 CPU cores:\n"
                          "  1 build  2 render volunteers (and a 2 s clip)  3 train tiny  4 swap both ways (and the clip)\n"
                          "  5 dataset + detectors  6 verify provenance (and JPEG re-encodes)  7 DIR/report/index.html\n"
                          "A finished step leaves DIR/.steps/<name>.done; rerunning skips it, and training resumes\n"
                          "from its last checkpoint. A failure names its step and the command that failed.",
                          spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    if (!d.out) return sl_usage_error("demo", "--out DIR is required");
    if (strcmp(d.style, "composite") && strcmp(d.style, "cartoon"))
        return sl_usage_error("demo", "--style must be composite or cartoon, not '%s'", d.style);
    if (d.quick)
        d.ids = 6, d.frames = 12, d.limit = 4, d.det_steps = 20, d.train_steps = d.train_steps ? d.train_steps : 6, d.clip_frames = 12;
    if (d.ids < 6 || d.ids > 16 || d.frames < 4 || d.frames > 10000 || d.limit < 1 || d.det_steps < 1 || d.minutes <= 0 ||
        d.train_steps < 0)
        return sl_usage_error("demo", "need 6..16 identities (2 each for the detectors' train, val and test), 4..10000 frames, --limit and --detector-steps >= 1, "
                                      "--minutes > 0");
    ssize_t len = readlink("/proc/self/exe", d.exe, sizeof d.exe - 1);
    if (len <= 0) {
        fprintf(stderr, "swaplab demo: cannot find its own executable (/proc/self/exe): %s\n", strerror(errno));
        return 1;
    }
    d.exe[len] = 0;
    if (sl_endswith(d.exe, " (deleted)")) d.exe[len - 10] = 0; /* rebuilt while running: use the new one */
    SlErr err;
    sl_path_join(d.steps_dir, sizeof d.steps_dir, d.out, ".steps");
    if (fresh) remove_tree(d.steps_dir);
    if (sl_mkdirs(d.steps_dir, &err)) {
        fprintf(stderr, "swaplab demo: %s\n", err.msg);
        return 1;
    }
    char train_what[128];
    if (d.train_steps > 0) snprintf(train_what, sizeof train_what, "training the tiny preset (%d steps)", d.train_steps);
    else snprintf(train_what, sizeof train_what, "training the tiny preset (about %g minutes)", d.minutes);
    char synth_what[128];
    snprintf(synth_what, sizeof synth_what, "rendering %d synthetic volunteers (%s) x %d frames, with consent manifests",
             d.ids, strcmp(d.style, "cartoon") ? "composites of consented people" : "cartoon heads", d.frames);
    struct {
        const char *name, *what;
        int (*fn)(Demo *, int);
        int optional; /* a failure is reported and the demo goes on to the report */
    } steps[DEMO_STEPS] = {
        {"build", "build: swaplab " SL_VERSION " (make demo installs the packages and builds)", NULL, 0},
        {"synth", synth_what, do_synth, 0},
        {"train", train_what, do_train, 0},
        {"swap", "swapping both ways (synth-0001 <-> synth-0002), and a clip, with provenance and visible labels", do_swap, 0},
        {"detect", "building the labelled dataset, training and evaluating the detectors (spectral, Meso-4)", do_detect, 1},
        {"verify", "verifying provenance on every output and on JPEG q50 re-encodes", do_verify, 1},
        {"report", "writing the report", do_report, 0},
    };
    double t_all = sl_now();
    for (int k = 0; k < DEMO_STEPS; k++) {
        banner(k + 1, steps[k].what);
        if (steps[k].fn && k + 1 < DEMO_STEPS && step_done(&d, steps[k].name)) {
            printf("already done (delete %s/%s.done to redo it)\n", d.steps_dir, steps[k].name);
            continue;
        }
        double t0 = sl_now();
        if (steps[k].fn && steps[k].fn(&d, k + 1)) {
            if (!steps[k].optional) {
                fprintf(stderr, "swaplab demo: stopped at step %d (%s); finished steps are kept, rerun the same "
                                "command to resume\n", k + 1, steps[k].name);
                return 1;
            }
            size_t fl = strlen(d.failed);
            snprintf(d.failed + fl, sizeof d.failed - fl, "%s%d (%s)", fl ? ", " : "", k + 1, steps[k].name);
            continue;
        }
        double secs = sl_now() - t0;
        if (mark_done(&d, steps[k].name, secs, &err)) {
            fprintf(stderr, "swaplab demo: %s\n", err.msg);
            return 1;
        }
        printf("step %d done in %.1f s\n", k + 1, secs);
    }
    printf("\ndemo finished in %.1f s\n", sl_now() - t_all);
    fflush(stdout);
    if (d.failed[0]) {
        fprintf(stderr, "swaplab demo: these steps failed (see above; the report says which sections are missing): %s\n",
                d.failed);
        return 1;
    }
    char rp[SL_PATH_MAX];
    sl_path_join(rp, sizeof rp, d.out, "report/index.html");
    printf("%s\n", rp);
    return 0;
}
