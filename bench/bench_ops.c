/* bench_ops.c — timing of the engine on a face-swap preset (shared encoder, two decoders): each
 * conv/dense layer's forward and backward at the training batch, then full training steps (both
 * sides forward, MSE, backward, fused Adam), reported as images/s and as GFLOP/s (3x forward FLOPs
 * per image: forward, dinput, dweight). With --peak (the machine's FMA peak from bench_peak), the
 * three layers with the most FLOPs are listed with their share of that peak (issue 21). FLOPs are
 * those of a direct convolution: Winograd does fewer multiplies, so a share can pass what the
 * arithmetic alone would allow.
 *
 *   build/bench/bench_ops --preset tiny --batch 16 --threads 2 --steps 4 [--winograd 0] [--peak 450]
 * Lines "TOP3 preset=P layer=NAME gflop=G fwd_ms=F bwd_ms=B gflops=R peak_share=S" (with --peak);
 * last line: RESULT engine model=P batch=B threads=T img_s=X gflops=G cpu_img_s=C
 * (cpu_img_s: images per second if the step's CPU time ran on T idle cores — for loaded machines). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/net_internal.h"
#include "nn/nn.h"
#include "nn/ops/ops.h"
#include "model/swap_model.h"
#include "util/args.h"
#include "util/rng.h"
#include "util/util.h"

/* CPU seconds of this process (all threads). Under a loaded machine wall time measures the load;
 * CPU time (which also counts OpenMP spin-waiting, so it errs high) estimates the quiet cost. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double op_time(NnLayer *L, int B, float *x, float *y, float *dy, float *dx, float *work, int wmode, int T,
                      int bwd) {
    double t0 = sl_now();
    if (L->kind == NN_L_CONV) {
        if (!bwd)
            conv2d_forward(y, x, L->w, L->b, B, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride, work, wmode, T);
        else
            conv2d_backward(dx, L->dw, L->db, dy, x, L->w, B, L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride, work, wmode, T);
    } else {
        int I = (int)nn_shape_numel(L->in);
        if (!bwd)
            dense_forward(y, x, L->w, L->b, B, I, L->out.c, work, T);
        else
            dense_backward(dx, L->dw, L->db, dy, x, L->w, B, I, L->out.c, T);
    }
    return sl_now() - t0;
}

int main(int argc, char **argv) {
    const char *preset = "original";
    int batch = 16, threads = 2, steps = 4, layers = 1, batching = 0, winograd = 1;
    double peak = 0;
    SlArg spec[] = {
        {"--preset", SL_ARG_STR, &preset, "NAME", "tiny, lite, original, tiny128 or hd128 (default original)"},
        {"--batch", SL_ARG_INT, &batch, "B", "faces per side per step (default 16)", 1, 4096},
        {"--threads", SL_ARG_INT, &threads, "T", "OpenMP/OpenBLAS threads (default 2)", 1, 1024},
        {"--steps", SL_ARG_INT, &steps, "N", "timed training steps after one warm-up (default 4)", 1, 100000},
        {"--layers", SL_ARG_INT, &layers, "0|1", "also time each conv/dense layer (default 1)", 0, 1},
        {"--winograd", SL_ARG_INT, &winograd, "0|1|2",
         "Winograd where it pays (1, the engine's default), F(2x2,3x3) only (2), or off (0)", 0, 2},
        {"--batching", SL_ARG_INT, &batching, "0|1",
         "also compare one im2col+GEMM over the batch with one per sample, per conv (default 0)", 0, 1},
        {"--peak", SL_ARG_DOUBLE, &peak, "GFLOPS",
         "the machine's FMA peak (bench_peak's RESULT gflops); lists the 3 largest layers' share of it (default 0: off)",
         0, 1e7},
        {0},
    };
    int rc = sl_args_parse("bench_ops", NULL, "Engine timing of a face-swap preset, layer by layer and per training step.",
                           spec, argc - 1, argv + 1, NULL);
    if (rc) return rc == 1 ? 0 : rc;

    SlErr err = {0};
    SwapModel *sm = swap_model_new(preset, 2, &err);
    if (!sm) return sl_usage_error("bench_ops", err.msg);
    NnModel *mp = &sm->model;
    NnNet *enc = sm->encoder, *da = sm->decoders[0], *db = sm->decoders[1];
    const int S = sm->arch.size;
    SlRng rng;
    sl_rng_seed(&rng, 1);
    nn_model_init_weights(mp, &rng);
    double fwd = nn_net_forward_flops(enc) + nn_net_forward_flops(da);
    printf("%s: %zu parameters, %.3f GFLOP forward per image, BLAS %s, batch %d, threads %d\n",
           preset, nn_model_param_count(mp), fwd / 1e9, nn_gemm_name(), batch, threads);

    NnCtx ctx;
    nn_ctx_init(&ctx, threads, 2);
    ctx.winograd = winograd;
    ctx.training = 1;
    int B = batch;
    size_t in_n = (size_t)B * 3 * S * S;
    float *xa = xmalloc(4 * in_n), *xb = xmalloc(4 * in_n), *dy = xmalloc(4 * in_n);
    for (size_t i = 0; i < in_n; i++) xa[i] = sl_rng_uniform(&rng), xb[i] = sl_rng_uniform(&rng);
    size_t zn = (size_t)B * nn_shape_numel(nn_net_out_shape(enc));
    float *dz = xmalloc(4 * zn);
    nn_net_reserve(enc, B);
    nn_net_reserve(da, B);
    nn_net_reserve(db, B);

    if (layers) {
        /* per layer: inputs from a real forward, one warm-up call, then the timed call */
        nn_net_forward(da, &ctx, nn_net_forward(enc, &ctx, xa, B), B);
        NnNet *nets[2] = {enc, da};
        double tot_f = 0, tot_b = 0;
        struct { char desc[128]; double fl, tf, tb; int mult; } rec[64];
        int nrec = 0;
        printf("%-34s %9s %9s %8s %8s\n", "layer", "fwd ms", "bwd ms", "fwd GF/s", "bwd GF/s");
        for (int k = 0; k < 2; k++) {
            NnNet *n = nets[k];
            for (int i = 0; i < n->nl; i++) {
                NnLayer *L = &n->L[i];
                if (L->kind != NN_L_CONV && L->kind != NN_L_DENSE) continue;
                size_t on = (size_t)B * nn_shape_numel(L->out), inn = (size_t)B * nn_shape_numel(L->in);
                float *y = xmalloc(4 * on), *g = xmalloc(4 * on), *dx = xcalloc(inn, 4);
                for (size_t j = 0; j < on; j++) g[j] = sl_rng_range(&rng, -1, 1);
                float *x = (float *)L->x;
                float *dxp = (k == 0 && i == 0) ? NULL : dx;
                double tf = 1e30, tb = 1e30; /* best of 3 after a warm-up call */
                for (int rep = 0; rep < 4; rep++) {
                    double f = op_time(L, B, x, y, g, dxp, n->work, winograd, threads, 0);
                    double b = op_time(L, B, x, y, g, dxp, n->work, winograd, threads, 1);
                    if (rep && f < tf) tf = f;
                    if (rep && b < tb) tb = b;
                }
                double fl = L->kind == NN_L_CONV ? 2.0 * L->out.c * L->in.c * L->k * L->k * L->out.h * L->out.w
                                                 : 2.0 * (double)nn_shape_numel(L->in) * L->out.c;
                char desc[128];
                nn_net_describe_layer(n, i, desc, sizeof desc);
                printf("%-34.34s %9.2f %9.2f %8.1f %8.1f\n", desc, tf * 1e3, tb * 1e3, fl * B / tf / 1e9,
                       (dxp ? 2 : 1) * fl * B / tb / 1e9);
                tot_f += tf, tot_b += tb;
                if (nrec < 64) {
                    snprintf(rec[nrec].desc, sizeof rec[nrec].desc, "%s", desc);
                    rec[nrec].fl = fl * B, rec[nrec].tf = tf, rec[nrec].tb = tb, rec[nrec].mult = dxp ? 3 : 2;
                    nrec++;
                }
                free(y), free(g), free(dx);
            }
        }
        printf("conv+dense of encoder+one decoder: fwd %.1f ms, bwd %.1f ms per %d images\n", tot_f * 1e3, tot_b * 1e3, B);
        if (peak > 0) {
            /* the three layers with the most FLOPs: forward + backward (dinput where there is one,
             * dweight) FLOPs over their time, as a share of the FMA peak */
            printf("the 3 largest layers (direct-convolution FLOPs, fwd + bwd) against the FMA peak %.1f GFLOP/s:\n", peak);
            for (int t = 0; t < 3 && t < nrec; t++) {
                int best = t;
                for (int j = t + 1; j < nrec; j++)
                    if (rec[j].fl > rec[best].fl) best = j;
                if (best != t) {
                    __typeof__(rec[0]) tmp = rec[t];
                    rec[t] = rec[best], rec[best] = tmp;
                }
                double gf = rec[t].mult * rec[t].fl / (rec[t].tf + rec[t].tb) / 1e9;
                /* "conv 3x3/1 ups.0.conv (128,8,8)->(256,8,8)": kind, kernel, name, shapes */
                char kind[16] = "", kern[16] = "", name[64] = "", shapes[64] = "";
                sscanf(rec[t].desc, "%15s %15s %63s %63s", kind, kern, name, shapes);
                if (strcmp(kind, "conv")) snprintf(shapes, sizeof shapes, "%s", kern), kern[0] = 0; /* dense: no kernel */
                printf("TOP3 preset=%s layer=%s kind=%s%s%s shape=%s gflop=%.3f fwd_ms=%.2f bwd_ms=%.2f gflops=%.1f peak_share=%.1f%%\n", preset, name, kind,
                       kern[0] ? "_" : "", kern, shapes,
                       rec[t].mult * rec[t].fl / 1e9, rec[t].tf * 1e3, rec[t].tb * 1e3, gf, 100 * gf / peak);
            }
        }
    }

    if (batching) {
        /* the engine's choice (one GEMM over the whole batch) against B calls of batch 1, forward
         * and backward; best of 3 each, interleaved so a load change hits both */
        nn_net_forward(da, &ctx, nn_net_forward(enc, &ctx, xa, B), B);
        NnNet *nets[2] = {enc, da};
        printf("%-34s %12s %12s\n", "conv (fwd+bwd ms)", "whole batch", "per sample");
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < nets[k]->nl; i++) {
                NnLayer *L = &nets[k]->L[i];
                if (L->kind != NN_L_CONV || conv2d_use_direct(L->in.c, L->out.c, L->k, L->stride)) continue;
                size_t on1 = nn_shape_numel(L->out), in1 = nn_shape_numel(L->in);
                float *y = xmalloc(4 * on1 * B), *g = xmalloc(4 * on1 * B), *dx = xcalloc(in1 * B, 4);
                for (size_t j = 0; j < on1 * B; j++) g[j] = sl_rng_range(&rng, -1, 1);
                const float *x = L->x;
                double best[2] = {1e30, 1e30};
                for (int rep = 0; rep < 3; rep++)
                    for (int mode = 0; mode < 2; mode++) {
                        double t0 = sl_now();
                        int nb = mode ? B : 1, bs = mode ? 1 : B;
                        for (int s = 0; s < nb; s++) {
                            conv2d_forward(y + s * on1 * bs, x + s * in1 * bs, L->w, L->b, bs, L->in.c, L->in.h, L->in.w,
                                           L->out.c, L->k, L->stride, nets[k]->work, winograd, threads);
                            conv2d_backward(dx + s * in1 * bs, L->dw, L->db, g + s * on1 * bs, x + s * in1 * bs, L->w, bs,
                                            L->in.c, L->in.h, L->in.w, L->out.c, L->k, L->stride, nets[k]->work, winograd, threads);
                        }
                        double t = sl_now() - t0;
                        if (t < best[mode]) best[mode] = t;
                    }
                char desc[128];
                nn_net_describe_layer(nets[k], i, desc, sizeof desc);
                desc[34] = 0;
                printf("%-34s %12.1f %12.1f\n", desc, best[0] * 1e3, best[1] * 1e3);
                free(y), free(g), free(dx);
            }
    }

    NnAdam adam = {5e-5f, 0.5f, 0.999f, 1e-8f, 0.0f, 1};
    nn_model_zero_grad(mp);
    double best = 1e30, sum = 0, tsum[4] = {0}, cpu_sum = 0;
    for (int s = 0; s <= steps; s++) {
        double t0 = sl_now(), c0 = cpu_now(), tf = 0, tb = 0;
        for (int side = 0; side < 2; side++) {
            const float *x = side ? xb : xa;
            NnNet *dec = side ? db : da;
            double a = sl_now();
            const float *y = nn_net_forward(dec, &ctx, nn_net_forward(enc, &ctx, x, B), B);
            double b = sl_now();
            nn_loss_mse(y, x, NULL, B, 3, S, S, dy);
            nn_net_backward(dec, &ctx, dy, dz);
            nn_net_backward(enc, &ctx, dz, NULL);
            tf += b - a, tb += sl_now() - b;
        }
        double ta = sl_now();
        nn_adam_step_ctx(mp, &ctx, &adam, s + 1);
        double t = sl_now() - t0;
        if (s == 0) continue; /* warm-up */
        sum += t;
        cpu_sum += cpu_now() - c0;
        tsum[0] += tf, tsum[1] += tb, tsum[2] += sl_now() - ta;
        if (t < best) best = t;
    }
    double mean = sum / steps;
    printf("step (2 x %d images): mean %.3f s, best %.3f s; per step forward %.3f s, backward+loss %.3f s, adam %.3f s\n",
           B, mean, best, tsum[0] / steps, tsum[1] / steps, tsum[2] / steps);
    double img_s = 2.0 * B / mean, cpu_step = cpu_sum / steps;
    printf("CPU time per step %.3f s; if all of it ran on %d otherwise idle cores: %.2f img/s\n", cpu_step, threads,
           2.0 * B * threads / cpu_step);
    printf("RESULT engine model=%s batch=%d threads=%d img_s=%.2f gflops=%.1f cpu_img_s=%.2f\n", preset, B, threads,
           img_s, img_s * 3 * fwd / 1e9, 2.0 * B * threads / cpu_step);
    free(xa), free(xb), free(dy), free(dz);
    swap_model_free(sm);
    return 0;
}
