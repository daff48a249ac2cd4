/* bench_swap.c — throughput of `swaplab swap` on the CPU: frames per second for 256x256 synthetic
 * frames through encode + decode (batched like the CLI), compositing (default mask blur:4, colour
 * avg) and provenance_write_png (label, watermark, signature, atomic PNG write with fsync), for
 * alpha and Poisson blending. Random weights (the speed does not depend on them).
 *
 *   build/bench/bench_swap [--preset original] [--frames 32] [--batch 8] [--threads N] [--size 256]
 *
 * Last lines: RESULT swap preset=P blend=B frames_s=F model_ms=M composite_ms=C provenance_ms=W */
#include <sodium.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/align.h"
#include "data/synth/synth.h"
#include "infer/provenance.h"
#include "infer/swap.h"
#include "nn/nn.h"
#include "model/swap_model.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/rng.h"

/* CPU seconds of the whole process (all threads): the machine may be shared, so wall time alone
 * can mislead. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* CPU seconds of the calling thread (compositing and provenance run on it alone). */
static double thread_cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct {
    Image frame;
    Affine a;
    float *crop, *mask; /* 3*S*S planar RGB, S*S */
} BenchFace;

int main(int argc, char **argv) {
    const char *preset = "original";
    int nframes = 32, batch = 8, threads = 0, size = 256;
    SlArg spec[] = {
        {"--preset", SL_ARG_STR, &preset, "P", "model preset (original)"},
        {"--frames", SL_ARG_INT, &nframes, "N", "frames per blend mode (32)"},
        {"--batch", SL_ARG_INT, &batch, "B", "faces per model call (8, as swaplab swap)"},
        {"--threads", SL_ARG_INT, &threads, "N", "compute threads (default: all cores)"},
        {"--size", SL_ARG_INT, &size, "S", "frame side in pixels (256)"},
        {0},
    };
    int r = sl_args_parse("bench_swap", NULL, "Swap throughput: model, compositing and provenance per frame.", spec,
                          argc - 1, argv + 1, NULL);
    if (r) return r == 1 ? 0 : 2;
    if (nframes < 1 || batch < 1 || size < 64 || size > 4096) {
        fprintf(stderr, "bench_swap: need --frames >= 1, --batch >= 1, --size 64..4096\n");
        return 2;
    }
    SlErr err;
    SwapModel *m = swap_model_new(preset, 2, &err);
    if (!m) {
        fprintf(stderr, "bench_swap: %s\n", err.msg);
        return 2;
    }
    SlRng rng;
    sl_rng_seed(&rng, 7);
    nn_model_init_weights(&m->model, &rng);
    NnCtx ctx;
    nn_ctx_init(&ctx, threads, 1);
    const int C = m->arch.size;
    const size_t cimg = 3 * (size_t)C * C;
    SwapOptions o;
    swap_options_default(&o);

    /* synthetic frames, aligned like a face set made by swaplab synth */
    BenchFace *f = xcalloc((size_t)nframes, sizeof *f);
    for (int i = 0; i < nframes; i++) {
        SynthIdentity id;
        SynthFrame fr;
        synth_identity_random(&id, &rng);
        synth_frame_random(&fr, &rng);
        float lm[68][2], lmc[68][2];
        synth_render(&id, &id, &fr, size, &f[i].frame, lm);
        Image crop;
        if (align_face(&f[i].frame, lm, C, ALIGN_DEFAULT_COVERAGE, &crop, lmc, &f[i].a, &err)) {
            fprintf(stderr, "bench_swap: %s\n", err.msg);
            return 1;
        }
        f[i].crop = xmalloc(sizeof(float) * cimg);
        for (int p = 0; p < C * C; p++)
            for (int c = 0; c < 3; c++) f[i].crop[(size_t)c * C * C + p] = crop.px[p * 3 + c] / 255.0f;
        image_free(&crop);
        f[i].mask = xmalloc(sizeof(float) * C * C);
        align_face_mask(lmc, C, f[i].mask);
        swap_mask_apply(&o, f[i].mask, C);
    }
    SlKeypair key;
    sl_crypto_init();
    crypto_sign_keypair(key.pk, key.sk);
    char dir[] = "/tmp/bench_swap-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench_swap: mkdtemp");
        return 1;
    }
    ProvenanceInfo pi;
    provenance_info_init(&pi);
    pi.model_sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    pi.source_subject = "synth-0002", pi.target_subject = "synth-0001", pi.preset = m->arch.preset;
    pi.mask = o.mask_str, pi.colour = o.colour_str;

    float *in = xmalloc(sizeof(float) * cimg * batch), *out = xmalloc(sizeof(float) * cimg * batch);
    /* warm-up: one model call (buffers, BLAS threads) */
    for (int k = 0; k < batch && k < nframes; k++) memcpy(in + cimg * k, f[k].crop, sizeof(float) * cimg);
    swap_run_model(m, &ctx, 1, in, batch < nframes ? batch : nframes, C, out);

    printf("== swap throughput: preset %s (%dx%d faces), %dx%d frames, %d frames per mode, batch %d, %d threads\n",
           preset, C, C, size, size, nframes, batch, ctx.nthreads);
    printf("   per frame: encode+decode (batched) | composite (mask %s, colour %s, blend) | provenance_write_png\n",
           o.mask_str, o.colour_str);
    printf("   wall-clock ms per frame, and CPU ms (model: all threads; composite and provenance: one thread)\n");
    printf("%-8s %9s %13s %13s %17s %13s %9s %8s\n", "blend", "frames/s", "frames/CPU-s", "model ms", "composite ms",
           "provenance ms", "wall/cpu", "CG its");
    const char *blends[2] = {"alpha", "poisson"};
    for (int bm = 0; bm < 2; bm++) {
        swap_options_set_blend(&o, blends[bm], NULL);
        pi.blend = o.blend_str;
        double t_model = 0, t_comp = 0, t_prov = 0, c_model = 0, c_comp = 0, c_prov = 0;
        long iters = 0;
        double t0 = sl_now(), c0 = cpu_now();
        for (int b0 = 0; b0 < nframes; b0 += batch) {
            int nb = nframes - b0 < batch ? nframes - b0 : batch;
            double t1 = sl_now(), c1 = cpu_now();
            for (int k = 0; k < nb; k++) memcpy(in + cimg * k, f[b0 + k].crop, sizeof(float) * cimg);
            swap_run_model(m, &ctx, 1, in, nb, C, out);
            t_model += sl_now() - t1;
            c_model += cpu_now() - c1;
            for (int k = 0; k < nb; k++) {
                BenchFace *b = &f[b0 + k];
                Image res;
                t1 = sl_now();
                double u1 = thread_cpu_now();
                iters += swap_composite(&b->frame, &b->a, C, b->crop, out + cimg * k, b->mask, &o, &res);
                double t2 = sl_now(), u2 = thread_cpu_now();
                char path[256], name[32];
                snprintf(name, sizeof name, "%06d.png", b0 + k);
                sl_path_join(path, sizeof path, dir, name);
                pi.input = name;
                if (provenance_write_png(path, &res, &pi, &key, &err)) {
                    fprintf(stderr, "bench_swap: %s\n", err.msg);
                    return 1;
                }
                t_prov += sl_now() - t2;
                t_comp += t2 - t1;
                c_prov += thread_cpu_now() - u2;
                c_comp += u2 - u1;
                image_free(&res);
            }
        }
        double total = sl_now() - t0, ctotal = cpu_now() - c0;
        char cm[40], cc[40], cp[40];
        snprintf(cm, sizeof cm, "%.1f/%.1f", 1e3 * t_model / nframes, 1e3 * c_model / nframes);
        snprintf(cc, sizeof cc, "%.1f/%.1f", 1e3 * t_comp / nframes, 1e3 * c_comp / nframes);
        snprintf(cp, sizeof cp, "%.1f/%.1f", 1e3 * t_prov / nframes, 1e3 * c_prov / nframes);
        printf("%-8s %9.2f %13.2f %13s %17s %13s %9.2f %8.1f\n", blends[bm], nframes / total, nframes / ctotal, cm, cc, cp,
               total / ctotal, (double)iters / nframes);
        printf("RESULT swap preset=%s blend=%s frames_s=%.3f frames_cpu_s=%.3f model_ms=%.2f composite_ms=%.3f "
               "composite_cpu_ms=%.3f provenance_ms=%.2f provenance_cpu_ms=%.2f cg_iters=%.1f\n",
               preset, blends[bm], nframes / total, nframes / ctotal, 1e3 * t_model / nframes, 1e3 * t_comp / nframes,
               1e3 * c_comp / nframes, 1e3 * t_prov / nframes, 1e3 * c_prov / nframes, (double)iters / nframes);
    }
    char **names;
    int n = sl_list_dir(dir, NULL, &names, &err);
    for (int i = 0; i < n; i++) {
        char path[256];
        sl_path_join(path, sizeof path, dir, names[i]);
        unlink(path);
    }
    if (n >= 0) sl_free_list(names, n);
    rmdir(dir);
    for (int i = 0; i < nframes; i++) image_free(&f[i].frame), free(f[i].crop), free(f[i].mask);
    free(f), free(in), free(out);
    swap_model_free(m);
    return 0;
}
