/* bench_watermark.c — measures the watermark of infer/watermark.h: PSNR, payload recovery after
 * JPEG 90/75/50, 0.5x downscale and Gaussian noise sigma=2, and false positives on clean images.
 * Prints the Markdown table of docs/PERFORMANCE.md ("Watermark").
 *
 *   build-prov/bench/bench_watermark [--marked N] [--clean N] [--seed S]
 *
 * Image sets: procedural images (gradients, shapes, value-noise texture, sensor noise; 256x256,
 * 320x384, 512x512), synthetic volunteers from data/synth when SWAPLAB_BENCH_SYNTH=1 (the renderer
 * must be linked), and the consented fixture photos tests/fixtures/faces/ *.png. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "data/synth/synth.h"
#include "infer/watermark.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/rng.h"
#include "util/util.h"

/* The renderer may not be linked yet (it lands in data/synth/); weak references let the benchmark
 * run without it and use synthetic frames as soon as it is there. */
#pragma weak synth_render
#pragma weak synth_identity_random
#pragma weak synth_frame_random

/* ---- procedural images ---------------------------------------------------------------------- */
static float lerpf(float a, float b, float t) { return a + (b - a) * t; }

static Image procedural(SlRng *r, int w, int h) {
    Image im = image_new(w, h, 3);
    float c0[3], c1[3];
    for (int k = 0; k < 3; k++) c0[k] = sl_rng_range(r, 0, 255), c1[k] = sl_rng_range(r, 0, 255);
    float ang = sl_rng_range(r, 0, 6.2832f), gx = cosf(ang), gy = sinf(ang);
    /* value noise on a coarse lattice */
    int cells = 2 + sl_rng_int(r, 30);
    float amp = sl_rng_range(r, 0, 60);
    float *lat = xmalloc(sizeof(float) * (size_t)(cells + 2) * (cells + 2));
    for (int i = 0; i < (cells + 2) * (cells + 2); i++) lat[i] = sl_rng_range(r, -1, 1);
    int nshapes = sl_rng_int(r, 8);
    float sh[8][7];
    for (int s = 0; s < nshapes; s++) {
        sh[s][0] = sl_rng_range(r, 0, (float)w), sh[s][1] = sl_rng_range(r, 0, (float)h);
        sh[s][2] = sl_rng_range(r, 5, w / 2.0f), sh[s][3] = sl_rng_range(r, 5, h / 2.0f);
        for (int k = 0; k < 3; k++) sh[s][4 + k] = sl_rng_range(r, 0, 255);
    }
    float noise = sl_rng_uniform(r) < 0.5f ? 0 : sl_rng_range(r, 0, 6);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float t = 0.5f + 0.5f * ((x - w / 2.0f) * gx + (y - h / 2.0f) * gy) / (0.7f * (w > h ? w : h));
            float fx = (float)x / w * cells, fy = (float)y / h * cells;
            int ix = (int)fx, iy = (int)fy;
            float ax = fx - ix, ay = fy - iy;
            ax = ax * ax * (3 - 2 * ax), ay = ay * ay * (3 - 2 * ay);
            float v = lerpf(lerpf(lat[iy * (cells + 2) + ix], lat[iy * (cells + 2) + ix + 1], ax),
                            lerpf(lat[(iy + 1) * (cells + 2) + ix], lat[(iy + 1) * (cells + 2) + ix + 1], ax), ay);
            float px[3];
            for (int k = 0; k < 3; k++) px[k] = lerpf(c0[k], c1[k], t) + amp * v;
            for (int s = 0; s < nshapes; s++) {
                float dx = (x - sh[s][0]) / sh[s][2], dy = (y - sh[s][1]) / sh[s][3];
                if (dx * dx + dy * dy < 1)
                    for (int k = 0; k < 3; k++) px[k] = sh[s][4 + k] + amp * 0.5f * v;
            }
            for (int k = 0; k < 3; k++) {
                float q = px[k] + (noise > 0 ? noise * sl_rng_normal(r) : 0);
                im.px[((size_t)y * w + x) * 3 + k] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q + 0.5f);
            }
        }
    free(lat);
    return im;
}

static void add_noise(Image *im, SlRng *r, float sigma) {
    size_t n = (size_t)im->w * im->h * im->c;
    for (size_t i = 0; i < n; i++) {
        float v = im->px[i] + sigma * sl_rng_normal(r);
        im->px[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrintf(v));
    }
}

static Image synth_frame(SlRng *r, int size) {
    SynthIdentity id;
    SynthFrame fr;
    synth_identity_random(&id, r);
    synth_frame_random(&fr, r);
    Image im;
    float lm[68][2];
    synth_render(&id, &id, &fr, size, &im, lm);
    return im;
}

/* ---- attacks -------------------------------------------------------------------------------- */
enum { A_NONE, A_JPEG90, A_JPEG75, A_JPEG50, A_DOWN, A_NOISE, A_JPEG50_DOWN, NA };
static const char *ANAME[NA] = {"none", "JPEG q90", "JPEG q75", "JPEG q50", "0.5x downscale",
                                "noise sigma=2", "JPEG q50 + 0.5x"};

static Image attack(const Image *im, int a, SlRng *r) {
    Image o;
    switch (a) {
    case A_JPEG90: o = image_clone(im); image_jpeg_roundtrip(&o, 90); return o;
    case A_JPEG75: o = image_clone(im); image_jpeg_roundtrip(&o, 75); return o;
    case A_JPEG50: o = image_clone(im); image_jpeg_roundtrip(&o, 50); return o;
    case A_DOWN: return image_resize(im, im->w / 2, im->h / 2);
    case A_NOISE: o = image_clone(im); add_noise(&o, r, 2.0f); return o;
    case A_JPEG50_DOWN: {
        Image j = image_clone(im);
        image_jpeg_roundtrip(&j, 50);
        o = image_resize(&j, im->w / 2, im->h / 2);
        image_free(&j);
        return o;
    }
    default: return image_clone(im);
    }
}

typedef struct {
    int n, ok[NA], found[NA];
    double zmin[NA], psnr_sum, psnr_min;
} SetStats;

static void stats_init(SetStats *s) {
    memset(s, 0, sizeof *s);
    for (int a = 0; a < NA; a++) s->zmin[a] = 1e9;
    s->psnr_min = 1e9;
}

static void mark_and_attack(const Image *clean, const WmKey *key, SlRng *r, SetStats *s, int verbose, const char *name) {
    Image m = image_clone(clean);
    uint32_t payload = (uint32_t)sl_rng_u64(r);
    SlErr err;
    if (wm_embed(&m, key, payload, &err)) SL_DIE("%s", err.msg);
    double p = wm_psnr(clean, &m);
    s->psnr_sum += p;
    if (p < s->psnr_min) s->psnr_min = p;
    for (int a = 0; a < NA; a++) {
        Image t = attack(&m, a, r);
        WmResult res;
        if (wm_detect(&t, key, &res, &err)) SL_DIE("%s", err.msg);
        int ok = res.found && res.payload_ok && res.payload == payload;
        s->ok[a] += ok;
        s->found[a] += res.found;
        if (res.z < s->zmin[a]) s->zmin[a] = res.z;
        if (verbose && !ok)
            fprintf(stderr, "  miss: %s %dx%d after %s: z=%.2f payload_ok=%d payload %08x vs %08x\n", name, clean->w,
                    clean->h, ANAME[a], res.z, res.payload_ok, res.payload, payload);
        image_free(&t);
    }
    s->n++;
    image_free(&m);
}

static void print_set(const char *name, const SetStats *s) {
    if (!s->n) return;
    printf("| %s | %d | %.1f (min %.1f) |", name, s->n, s->psnr_sum / s->n, s->psnr_min);
    for (int a = 0; a < NA; a++)
        printf(" %.1f%% (%.0f%%, z≥%.1f) |", 100.0 * s->ok[a] / s->n, 100.0 * s->found[a] / s->n, s->zmin[a]);
    printf("\n");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int n_marked = 300, n_clean = 10000, seed = 1, verbose = 0;
    SlArg spec[] = {
        {"--marked", SL_ARG_INT, &n_marked, "N", "procedural images to mark and attack (default 300)"},
        {"--clean", SL_ARG_INT, &n_clean, "N", "clean images for the false-positive count (default 10000)"},
        {"--seed", SL_ARG_INT, &seed, "S", "random seed (default 1)"},
        {"--verbose", SL_ARG_FLAG, &verbose, NULL, "print every miss"},
        {0},
    };
    int pr = sl_args_parse("bench_watermark", "[--marked N] [--clean N] [--seed S]",
                           "Measures the watermark: PSNR, robustness, false positives.", spec, argc - 1, argv + 1, NULL);
    if (pr) return pr == 1 ? 0 : 2;
    WmKey key;
    wm_key_from_string(&key, NULL);
    SlRng r;
    sl_rng_seed(&r, (uint64_t)seed);
    double t0 = sl_now();

    /* marked sets */
    static const int SZ[3][2] = {{256, 256}, {384, 320}, {512, 512}};
    SetStats proc[3];
    for (int k = 0; k < 3; k++) stats_init(&proc[k]);
    /* speed of one embed and one detect on a 256x256 frame (median of 15) */
    double te[15], td[15];
    for (int i = 0; i < 15; i++) {
        Image im = procedural(&r, 256, 256);
        SlErr err;
        WmResult res;
        double a = sl_now();
        if (wm_embed(&im, &key, (uint32_t)i, &err)) SL_DIE("%s", err.msg);
        double b = sl_now();
        if (wm_detect(&im, &key, &res, &err)) SL_DIE("%s", err.msg);
        te[i] = b - a, td[i] = sl_now() - b;
        image_free(&im);
    }
    qsort(te, 15, sizeof te[0], cmp_double);
    qsort(td, 15, sizeof td[0], cmp_double);
    for (int i = 0; i < n_marked; i++) {
        int k = i % 3;
        Image im = procedural(&r, SZ[k][0], SZ[k][1]);
        mark_and_attack(&im, &key, &r, &proc[k], verbose, "procedural");
        image_free(&im);
    }
    SetStats fx, neg, syn;
    stats_init(&fx);
    stats_init(&neg);
    stats_init(&syn);
    const char *fdir = "tests/fixtures/faces";
    static const char *const png[] = {".png", NULL};
    char **names = NULL;
    int nf = sl_is_dir(fdir) ? sl_list_dir(fdir, png, &names, NULL) : 0;
    if (nf < 0) nf = 0;
    Image *fixtures = xcalloc((size_t)(nf ? nf : 1), sizeof(Image));
    int nfix = 0;
    for (int i = 0; i < nf; i++) {
        char p[4096];
        sl_path_join(p, sizeof p, fdir, names[i]);
        SlErr err;
        if (image_load(p, 3, &fixtures[nfix], &err)) continue;
        for (int rep = 0; rep < 3; rep++)
            mark_and_attack(&fixtures[nfix], &key, &r, strncmp(names[i], "neg_", 4) ? &fx : &neg, verbose, names[i]);
        nfix++;
    }
    int have_synth = synth_render && synth_identity_random && synth_frame_random;
    for (int i = 0; have_synth && i < n_marked / 3; i++) {
        Image im = synth_frame(&r, i % 2 ? 256 : 384);
        mark_and_attack(&im, &key, &r, &syn, verbose, "synthetic");
        image_free(&im);
    }
    double t_marked = sl_now() - t0;

    /* clean images: procedural at three sizes, plus each fixture and its JPEG/rescaled variants */
    int fp = 0, nclean = 0;
    double zmax = -1e9;
    t0 = sl_now();
    for (int i = 0; i < n_clean; i++) {
        int k = i % 3;
        Image im = procedural(&r, SZ[k][0] / 2 + 64 * (i % 5), SZ[k][1] / 2 + 64 * ((i / 5) % 4));
        if (i % 4 == 1) image_jpeg_roundtrip(&im, 30 + sl_rng_int(&r, 70));
        WmResult res;
        SlErr err;
        if (wm_detect(&im, &key, &res, &err)) SL_DIE("%s", err.msg);
        fp += res.found;
        if (res.z > zmax) zmax = res.z;
        nclean++;
        image_free(&im);
    }
    for (int i = 0; have_synth && i < n_clean / 4; i++) {
        Image im = synth_frame(&r, 128 + 64 * (i % 6));
        if (i % 3 == 1) image_jpeg_roundtrip(&im, 30 + sl_rng_int(&r, 70));
        WmResult res;
        SlErr err;
        if (wm_detect(&im, &key, &res, &err)) SL_DIE("%s", err.msg);
        fp += res.found;
        if (res.z > zmax) zmax = res.z;
        nclean++;
        image_free(&im);
    }
    for (int i = 0; i < nfix; i++)
        for (int v = 0; v < 6; v++) {
            Image t = v == 0 ? image_clone(&fixtures[i])
                    : v < 4 ? image_clone(&fixtures[i])
                            : image_resize(&fixtures[i], fixtures[i].w * (v == 4 ? 1 : 3) / 2, fixtures[i].h * (v == 4 ? 1 : 3) / 2);
            if (v >= 1 && v <= 3) image_jpeg_roundtrip(&t, v == 1 ? 90 : v == 2 ? 75 : 50);
            WmResult res;
            SlErr err;
            if (wm_detect(&t, &key, &res, &err)) SL_DIE("%s", err.msg);
            fp += res.found;
            if (res.z > zmax) zmax = res.z;
            nclean++;
            image_free(&t);
        }
    double t_clean = sl_now() - t0;

    printf("Cells: payload recovered exactly (mark found, smallest pilot z). Found = p < %g.\n\n", WM_P_THRESHOLD);
    printf("| set | images | PSNR dB mean (min) |");
    for (int a = 0; a < NA; a++) printf(" %s |", ANAME[a]);
    printf("\n|---|---|---|");
    for (int a = 0; a < NA; a++) printf("---|");
    printf("\n");
    char nm[64];
    for (int k = 0; k < 3; k++) {
        snprintf(nm, sizeof nm, "procedural %dx%d", SZ[k][0], SZ[k][1]);
        print_set(nm, &proc[k]);
    }
    print_set("synthetic volunteers 256/384", &syn);
    print_set("fixture face photos 400x400 (x3 payloads)", &fx);
    print_set("fixture negatives: gradient, grey, noise (x3)", &neg);
    if (!have_synth) printf("\n(synthetic volunteers: renderer not linked in this build)\n");
    printf("\nclean images: %d, flagged: %d (rate %.2e), largest pilot z %.2f (threshold z %.2f)\n", nclean, fp,
           (double)fp / nclean, zmax, sqrt(-2 * log(WM_P_THRESHOLD)));
    printf("speed, 256x256, one thread: embed %.1f ms, detect %.1f ms (medians of 15)\n", 1000 * te[7], 1000 * td[7]);
    printf("time: marking+attacks %.1f s, clean detection %.1f s (%.2f ms per image incl. generation)\n", t_marked,
           t_clean, 1000 * t_clean / nclean);
    for (int i = 0; i < nfix; i++) image_free(&fixtures[i]);
    free(fixtures);
    sl_free_list(names, nf);
    return 0;
}
