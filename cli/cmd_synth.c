/* cmd_synth.c — `swaplab synth`: renders synthetic volunteers — composites of consented volunteers
 * (data/synth/composite.h, the default) or cartoon heads (data/synth/synth.h, --style cartoon) —
 * aligns every frame (data/align.h) and writes one complete face set per identity
 * (data/faceset.h) with a synthetic consent manifest (data/consent.h). Same seed → byte-identical
 * files, also under `mpirun -np N swaplab synth`: rank r writes identities r, r+N, ... and rank 0
 * the ground truth and the summary (docs/SCALE.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/consent.h"
#include "data/faceset.h"
#include "data/groundtruth.h"
#include "data/synth/composite.h"
#include "data/synth/composite_gt.h"
#include "data/synth/synth_clip.h"
#include "data/synth/synth.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/mpi.h"
#include "util/progress.h"
#include "util/rng.h"

#define SYNTH_MAX_IDS 9999
#define SYNTH_MAX_FRAMES 1000000

typedef struct {
    const char *out;
    int frames, size, crop, video, crf;
    float coverage;
    SlRng root;
    const VolunteerLib *lib; /* NULL: the cartoon renderer */
} SynthJob;

/* The composite style's face set of identity s: the recipe from stream 2s, the frames (or the
 * clip) from stream 2s+1. With --video the frames are a 25 fps clip encoded as clip.mp4; the set's
 * frames and crops are the decoded clip's, and every face record names it (data/synth/synth_clip.h). */
/* One more frame written (by any of the OpenMP threads): the count and the progress line. */
static void frame_done(long *done, SlProgress *prog) {
    long d;
#ifdef _OPENMP
#pragma omp atomic capture
#endif
    d = ++*done;
    if (prog) {
#ifdef _OPENMP
#pragma omp critical(synth_progress)
#endif
        sl_progress_update(prog, d, NULL);
    }
}

static int write_composite(const SynthJob *job, const char *subject, const char *dir, int s, long *done,
                           SlProgress *prog, SlErr *err) {
    SlRng rid = sl_rng_fork(&job->root, 2 * (uint64_t)s), rfr = sl_rng_fork(&job->root, 2 * (uint64_t)s + 1);
    CompositeRecipe rec;
    if (composite_recipe_draw_distinct(job->lib, &rid, &rec, err)) return sl_failctx(err, "%s", subject);
    Composite person;
    if (composite_build(job->lib, &rec, &person, err)) return sl_failctx(err, "%s", subject);
    ClipPlan clip;
    if (job->video) composite_clip_plan(&clip, job->frames, &rfr);
    FaceSetWriter w;
    if (faceset_writer_open(&w, dir, job->crop, job->coverage, 1, err)) {
        composite_free(&person);
        return -1;
    }
    SynthClipWriter cw = {0};
    int rc = job->video ? synth_clip_open(&cw, dir, job->size, job->size, job->crf, err) : 0;
    for (int f = 0; f < job->frames && !rc; f++) {
        CompFrame fr;
        if (job->video) composite_clip_frame(&clip, f, &fr);
        else composite_frame_random(&fr, &rfr);
        Image img;
        float lm[68][2];
        composite_render(job->lib, &person, &fr, job->size, &img, lm);
        json_t *params = json_object();
        json_object_set_new(params, "render_size", json_integer(job->size));
        json_object_set_new(params, "identity", composite_recipe_to_json(job->lib, &rec));
        json_object_set_new(params, "frame", composite_frame_to_json(&fr));
        if (job->video)
            json_object_set_new(params, "clip", json_pack("{s:i,s:i,s:f}", "fps", CLIP_FPS, "index", f, "time",
                                                          (double)f / CLIP_FPS));
        if (job->video) rc = synth_clip_add(&cw, &img, lm, params, err); /* the set comes from the decoded clip */
        else rc = faceset_writer_add(&w, &img, lm, params, err) < 0;
        image_free(&img);
        if (rc) {
            sl_failctx(err, "%s frame %d", subject, f);
            break;
        }
        frame_done(done, prog);
    }
    composite_free(&person);
    if (!rc && job->video) rc = synth_clip_finish(&cw, &w, err);
    synth_clip_free(&cw);
    if (!rc) rc = faceset_writer_finish(&w, err);
    faceset_writer_free(&w);
    if (rc) return -1;
    json_t *contrib = composite_contributors_json(job->lib, &rec);
    rc = consent_write_composite(dir, subject, contrib, err);
    json_decref(contrib);
    return rc;
}

/* Writes the face set of identity s (0-based). The identity draws from stream 2s of the root
 * generator and the frames from stream 2s+1, so a set does not depend on the others. */
static int write_identity(const SynthJob *job, int s, long *done, SlProgress *prog, SlErr *err) {
    char subject[32], dir[SL_PATH_MAX];
    snprintf(subject, sizeof subject, "synth-%04d", s + 1);
    sl_path_join(dir, sizeof dir, job->out, subject);
    if (job->lib) return write_composite(job, subject, dir, s, done, prog, err);
    SlRng rid = sl_rng_fork(&job->root, 2 * (uint64_t)s), rfr = sl_rng_fork(&job->root, 2 * (uint64_t)s + 1);
    SynthIdentity id;
    synth_identity_random(&id, &rid);
    /* skin tones spread over the run's identities: golden-ratio steps from a seeded start, so any
     * two consecutive identities are at least 0.38 of the range apart (a swap then changes the
     * face visibly, and identity transfer can be measured) */
    SlRng rtone = sl_rng_fork(&job->root, 0x70e);
    double t0 = sl_rng_uniform(&rtone), t = t0 + 0.6180339887498949 * s;
    synth_identity_set_tone(&id, (float)(0.05 + 0.9 * (t - (double)(long)t)), &rid);
    FaceSetWriter w;
    if (faceset_writer_open(&w, dir, job->crop, job->coverage, 1, err)) return -1;
    for (int f = 0; f < job->frames; f++) {
        SynthFrame fr;
        synth_frame_random(&fr, &rfr);
        Image img;
        float lm[68][2];
        synth_render(&id, &id, &fr, job->size, &img, lm);
        json_t *params = json_object();
        json_object_set_new(params, "render_size", json_integer(job->size));
        json_object_set_new(params, "identity", synth_identity_to_json(&id));
        json_object_set_new(params, "frame", synth_frame_to_json(&fr));
        int rc = faceset_writer_add(&w, &img, lm, params, err);
        image_free(&img);
        if (rc < 0) {
            faceset_writer_free(&w);
            return sl_failctx(err, "%s frame %d", subject, f);
        }
        frame_done(done, prog);
    }
    int rc = faceset_writer_finish(&w, err);
    faceset_writer_free(&w);
    if (rc) return -1;
    return consent_write_synthetic(dir, subject, err);
}

/* DIR/ground-truth/A__B/NNNNNN.png for every ordered pair A != B and the first nframes frames of A. */
static int write_ground_truth(const char *out, int n, const VolunteerLib *lib, int nframes, SlErr *err) {
    FaceSet *sets = xcalloc((size_t)n, sizeof *sets);
    int rc = 0, loaded = 0;
    for (; loaded < n && !rc; loaded++) {
        char dir[SL_PATH_MAX], subject[32];
        snprintf(subject, sizeof subject, "synth-%04d", loaded + 1);
        sl_path_join(dir, sizeof dir, out, subject);
        rc = faceset_load(dir, &sets[loaded], err);
        if (rc) break;
    }
    /* composites: each set's person is built once, each pair's swap person from two of them */
    Composite *people = lib && !rc ? xcalloc((size_t)n, sizeof *people) : NULL;
    int failed = rc != 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int k = 0; k < (people ? n : 0); k++) {
        SlErr e;
        if (composite_gt_set_person(lib, &sets[k], &people[k], &e)) {
#ifdef _OPENMP
#pragma omp critical(synth_gt_err)
#endif
            {
                if (!failed) *err = e;
                failed = 1;
            }
        }
    }
    rc = failed ? -1 : 0;
    long total = 0, done = 0;
    for (int a = 0; a < n && !rc; a++) total += (long)(n - 1) * (sets[a].n < nframes ? sets[a].n : nframes);
    SlProgress prog;
    if (!rc) sl_progress_begin(&prog, "ground truth", total);
    /* the ordered pairs are independent (one folder each): shared out over the OpenMP threads */
    const int npairs = rc ? 0 : n * (n - 1);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int p = 0; p < npairs; p++) {
        int stop;
#ifdef _OPENMP
#pragma omp atomic read
#endif
        stop = failed;
        if (stop) continue;
        const int a = p / (n - 1), b = p % (n - 1) + (p % (n - 1) >= a);
        SlErr e;
        int prc = 0;
        char pair[320], dir[SL_PATH_MAX];
        snprintf(pair, sizeof pair, "ground-truth/%s__%s", sets[a].subject, sets[b].subject);
        sl_path_join(dir, sizeof dir, out, pair);
        prc = sl_mkdirs(dir, &e);
        Composite person; /* composites: the swap's person is built once per pair */
        int have_person = 0;
        if (!prc && lib) {
            composite_swap_of(lib, &people[a], &people[b], 2, &person);
            have_person = 1;
        }
        for (int i = 0; i < sets[a].n && i < nframes && !prc; i++) {
            Image crop;
            if (lib) prc = composite_gt_render(lib, &person, &sets[a], i, &crop, NULL, &e);
            else prc = groundtruth_swap(&sets[a], i, &sets[b], &crop, &e);
            if (prc) break;
            char name[32], path[SL_PATH_MAX], what[640];
            snprintf(name, sizeof name, "%06d.png", i);
            sl_path_join(path, sizeof path, dir, name);
            snprintf(what, sizeof what, "ground truth of a %s -> %s swap of %s (synthetic render of people who do not exist)",
                     sets[a].subject, sets[b].subject, sets[a].faces[i].file);
            PngText t[2] = {{"Software", "swaplab " SL_VERSION " synth"}, {"Description", what}};
            prc = image_save_png(path, &crop, t, 2, &e);
            image_free(&crop);
            long d;
#ifdef _OPENMP
#pragma omp atomic capture
#endif
            d = ++done;
#ifdef _OPENMP
#pragma omp critical(synth_gt_progress)
#endif
            sl_progress_update(&prog, d, NULL);
        }
        if (have_person) composite_free(&person);
        if (prc) {
#ifdef _OPENMP
#pragma omp critical(synth_gt_err)
#endif
            {
                if (!failed) *err = e;
#ifdef _OPENMP
#pragma omp atomic write
#endif
                failed = 1;
            }
        }
    }
    rc = failed ? -1 : 0;
    if (!rc) sl_progress_end(&prog, NULL);
    if (people)
        for (int k = 0; k < n; k++) composite_free(&people[k]);
    free(people);
    for (int i = 0; i < n; i++) faceset_free(&sets[i]);
    free(sets);
    return rc;
}

static int synth_run(SlMpi *mpi, const char *out, int ids, int frames, int size, int crop, double coverage,
                     unsigned long long seed, int gt, int video, int crf, const char *voldir);

int cmd_synth(int argc, char **argv) {
    const char *out = NULL;
    int ids = 4, frames = 100, size = 256, crop = 64, gt = 0, gt_frames = 0;
    double coverage = ALIGN_DEFAULT_COVERAGE;
    const char *seed_s = "1", *style = "composite", *prepare = NULL;
    int video = 0, crf = SYNTH_CLIP_DEFAULT_CRF;
    char voldef[SL_PATH_MAX];
    vol_default_dir(voldef, sizeof voldef);
    const char *voldir = voldef;
    SlArg spec[] = {
        {"--out", SL_ARG_STR, &out, "DIR", "write DIR/synth-0001 ... (required)"},
        {"--identities", SL_ARG_INT, &ids, "N", "number of synthetic people (default 4)", 1, SYNTH_MAX_IDS},
        {"--frames", SL_ARG_INT, &frames, "M", "frames per person (default 100)", 1, SYNTH_MAX_FRAMES},
        {"--size", SL_ARG_INT, &size, "PX", "side of the rendered frames (default 256)", 32, 4096},
        {"--crop", SL_ARG_INT, &crop, "PX", "side of the aligned crops: 64, 128 or 256 (default 64)", 16, 1024},
        {"--coverage", SL_ARG_DOUBLE, &coverage, "C", "fraction of the crop the mean face spans (default 0.625)", 0.2, 1.5},
        {"--seed", SL_ARG_STR, &seed_s, "S", "random seed, an unsigned integer (default 1); same seed, same bytes"},
        {"--ground-truth", SL_ARG_FLAG, &gt, NULL,
         "also write DIR/ground-truth/A__B/NNNNNN.png: the perfect A->B swap of every frame of A"},
        {"--ground-truth-frames", SL_ARG_INT, &gt_frames, "N",
         "with --ground-truth: only the first N frames of A per pair (default 0 = all)", 0, SYNTH_MAX_FRAMES},
        {"--style", SL_ARG_STR, &style, "S",
         "composite (default): real-looking people who do not exist, each a composite of 3-4 consented\n"
         "volunteers; cartoon: the 3-D cartoon heads (what does the network see?)"},
        {"--video", SL_ARG_FLAG, &video, NULL,
         "the frames of a person are one 25 fps clip (smooth head motion, blinks, talking, light drift),\n"
         "kept as frames/NNNNNN.png and encoded as clip.mp4 (H.264), which faces.jsonl names, so\n"
         "`swaplab swap --in SET/clip.mp4 --from SET` takes it (composite style only; default:\n"
         "independent random frames)"},
        {"--crf", SL_ARG_INT, &crf, "N", "with --video: H.264 constant rate factor of clip.mp4, 0 (lossless) to 51 (default 12,\n"
         "near-lossless)", 0, 51},
        {"--volunteers", SL_ARG_STR, &voldir, "DIR",
         "the volunteer library (default $SWAPLAB_VOLUNTEERS, else data/volunteers of the checkout)"},
        {"--prepare-volunteers", SL_ARG_STR, &prepare, "DIR",
         "write the 68-point files (.lm68) of a volunteer library with haar.c + landmarks.c, then stop"},
        {0},
    };
    int r = sl_args_parse("synth", "--out DIR [--identities N] [--frames M] [--size PX] [--crop PX] [--seed S] [--ground-truth\n"
                          "       [--ground-truth-frames N]] [--style composite|cartoon] [--video [--crf N]] [--volunteers DIR]",
                          "Renders synthetic volunteers - people who do not exist - and writes one aligned face\n"
                          "set per person (faces.jsonl, aligned/, frames/, consent.json), ready for `swaplab train`.\n"
                          "Every face keeps its renderer parameters, so the true result of any swap between\n"
                          "two synthetic people can be rendered later (data/groundtruth.h).",
                          spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    SlErr err;
    if (prepare) {
        if (vol_prepare_landmarks(prepare, &err)) {
            fprintf(stderr, "swaplab synth: %s\n", err.msg);
            return 1;
        }
        printf("wrote the 68-point files of %s\n", prepare);
        return 0;
    }
    if (!out) return sl_usage_error("synth", "--out DIR is required");
    int cartoon = !strcmp(style, "cartoon");
    if (!cartoon && strcmp(style, "composite")) return sl_usage_error("synth", "--style must be composite or cartoon, not '%s'", style);
    if (cartoon && video) return sl_usage_error("synth", "--video needs --style composite");
    if (crf < 0 || crf > 51) return sl_usage_error("synth", "--crf must be 0..51");
    if (ids < 1 || ids > SYNTH_MAX_IDS) return sl_usage_error("synth", "--identities must be 1..%d", SYNTH_MAX_IDS);
    if (frames < 1 || frames > SYNTH_MAX_FRAMES) return sl_usage_error("synth", "--frames must be 1..%d", SYNTH_MAX_FRAMES);
    if (size < 32 || size > 4096) return sl_usage_error("synth", "--size must be 32..4096");
    if (crop < 16 || crop > 1024) return sl_usage_error("synth", "--crop must be 16..1024 (64, 128 and 256 are usual)");
    if (!(coverage >= 0.2 && coverage <= 1.5)) return sl_usage_error("synth", "--coverage must be 0.2..1.5");
    if (gt_frames && !gt) return sl_usage_error("synth", "--ground-truth-frames needs --ground-truth");
    char *end;
    unsigned long long seed = strtoull(seed_s, &end, 10);
    if (!*seed_s || *end || seed_s[0] == '-') return sl_usage_error("synth", "--seed must be an unsigned integer, not '%s'", seed_s);
    SlMpi mpi; /* ranks of an MPI launcher share the identities (one rank without one) */
    if (sl_mpi_init(&mpi, &err)) {
        fprintf(stderr, "swaplab synth: %s\n", err.msg);
        return 1;
    }
    /* gt: the ground-truth frames per pair (0: none) */
    int rc = synth_run(&mpi, out, ids, frames, size, crop, coverage, seed, gt ? (gt_frames ? gt_frames : frames) : 0, video,
                       crf, cartoon ? NULL : voldir);
    sl_mpi_finalize(&mpi);
    return rc;
}

/* voldir: the volunteer library of the composite style, NULL for the cartoon style. Every rank
 * opens the library itself (a failure there still goes through the collectives below). */
static int synth_run(SlMpi *mpi, const char *out, int ids, int frames, int size, int crop, double coverage,
                     unsigned long long seed, int gt, int video, int crf, const char *voldir) {
    SlErr err;
    int failed = 0;
    SlErr first = {{0}};
    VolunteerLib lib;
    int have_lib = 0;
    if (voldir) {
        if (vol_lib_open(voldir, &lib, &first)) failed = 1;
        else have_lib = 1;
    }
    if (!failed && sl_mkdirs(out, &first)) failed = 1; /* still through the collectives below, as every rank */
    SynthJob job = {.out = out, .frames = frames, .size = size, .crop = crop, .coverage = (float)coverage,
                    .video = video, .crf = crf, .lib = have_lib ? &lib : NULL};
    sl_rng_seed(&job.root, seed);
    double t0 = sl_now();
    long done = 0;
    SlProgress prog;
    const int mine = ids / mpi->size + (mpi->rank < ids % mpi->size);
    sl_progress_begin(&prog, mpi->size > 1 ? "synth (this rank)" : "synth", (long)mine * frames);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int s = mpi->rank; s < ids; s += mpi->size) {
        int stop;
#ifdef _OPENMP
#pragma omp atomic read
#endif
        stop = failed;
        if (stop) continue;
        SlErr e;
        if (write_identity(&job, s, &done, &prog, &e)) {
#ifdef _OPENMP
#pragma omp critical(synth_err)
#endif
            {
                if (!failed) first = e;
#ifdef _OPENMP
#pragma omp atomic write
#endif
                failed = 1;
            }
        }
    }
    /* every rank learns whether all succeeded and the total (also the barrier before the ground
     * truth, which reads every set) */
    if (failed) {
        if (mpi->size > 1) fprintf(stderr, "\nswaplab synth: rank %d of %d: %s\n", mpi->rank, mpi->size, first.msg);
        else fprintf(stderr, "\nswaplab synth: %s\n", first.msg);
        fflush(stderr);
    }
    int nfailed = sl_mpi_count_failed(mpi, !failed);
    double total = (double)done;
    sl_mpi_sum_f64(mpi, &total, 1);
    if (nfailed) {
        if (!failed && mpi->rank == 0) fprintf(stderr, "\nswaplab synth: %d rank(s) failed (see above)\n", nfailed);
        fflush(stderr);
        sl_mpi_count_failed(mpi, 0); /* every rank has printed before any exits (the launcher then ends the job) */
        if (have_lib) vol_lib_free(&lib);
        return 1;
    }
    char summary[128];
    snprintf(summary, sizeof summary, "%ld faces", done);
    sl_progress_end(&prog, summary);
    if (mpi->rank != 0) {
        if (have_lib) vol_lib_free(&lib);
        return 0;
    }
    done = (long)total;
    if (gt && ids < 2) sl_warn("swaplab synth: --ground-truth needs at least two identities; none written");
    if (gt && ids > 1 && write_ground_truth(out, ids, job.lib, gt, &err)) {
        fprintf(stderr, "swaplab synth: %s\n", err.msg);
        if (have_lib) vol_lib_free(&lib);
        return 1;
    }
    if (have_lib) vol_lib_free(&lib);
    printf("wrote %d face set%s (%d frames each, %dx%d frames, %dx%d aligned crops, coverage %.3g) to %s/synth-0001%s in %.1f s\n",
           ids, ids == 1 ? "" : "s", frames, size, size, crop, crop, coverage, out, ids > 1 ? "..." : "",
           sl_now() - t0);
    if (gt && ids > 1 && gt < frames) printf("ground truth of every swap of the first %d frames: %s/ground-truth/\n", gt, out);
    else if (gt && ids > 1) printf("ground truth of every swap: %s/ground-truth/\n", out);
    if (video)
        printf("each person is one %d fps clip of %d frames (%.1f s) in frames/ and %s (H.264 CRF %d)\n", CLIP_FPS, frames,
               (double)frames / CLIP_FPS, SYNTH_CLIP_NAME, crf);
    printf("every person is synthetic (consent.json kind \"synthetic\"%s); next: swaplab train --facesets %s/synth-0001 %s/synth-0002 ...\n",
           have_lib ? ", contributors listed" : "", out, out);
    return 0;
}
