/* bench_train.c — training-step throughput of a swap-model preset on the CPU: one step is, for each
 * of the two identities, a batch of B faces through the shared encoder and that identity's decoder,
 * MSE against the input, backward; then one Adam step over all parameters (as bench/torch_reference.py
 * does in PyTorch). Images/s counts both sides (2B per step); warm-up steps are not timed.
 *
 *   build/bench/bench_train --preset original --batch 16 --steps 4 --warmup 1 --threads 2
 * Last line: RESULT train preset=P batch=B threads=T steps=S img_s=I (median step) best_img_s=I
 *            mean_img_s=I cpu_img_s=I loss=L
 * With --infer 1 it times inference as `swaplab swap` runs it instead (infer/swap.c: nn_infer of a
 * batch of B faces through the encoder and one decoder, training off; img/s counts B per step):
 *            RESULT infer preset=P batch=B threads=T steps=S img_s=I best_img_s=I mean_img_s=I cpu_img_s=I
 * cpu_img_s divides by the process CPU time per thread (CPU seconds / T): on a machine shared with
 * other work it estimates the idle-machine figure (run with OMP_WAIT_POLICY=passive so waiting
 * threads do not burn CPU). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/device.h"
#include "nn/nn.h"
#include "model/swap_model.h"
#include "util/args.h"
#include "util/rng.h"

/* CPU seconds of the whole process (all threads). */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *preset = "original";
    int batch = 16, steps = 4, warmup = 1, threads = 2, infer = 0, winograd = 1;
    SlArg spec[] = {
        {"--preset", SL_ARG_STR, &preset, "NAME", "original, lite, tiny or hd128 (original)"},
        {"--batch", SL_ARG_INT, &batch, "B", "faces per side per step (16)", 1, 4096},
        {"--steps", SL_ARG_INT, &steps, "N", "timed steps (4)", 1, 1000000},
        {"--warmup", SL_ARG_INT, &warmup, "N", "untimed steps first (1)", 0, 1000000},
        {"--threads", SL_ARG_INT, &threads, "T", "OpenMP and OpenBLAS threads (2)", 1, 1024},
        {"--winograd", SL_ARG_INT, &winograd, "0|1|2",
         "Winograd where it pays (1, the engine's default), F(2x2,3x3) only (2), or off (0)", 0, 2},
        {"--infer", SL_ARG_INT, &infer, "0|1", "1: time inference (encoder + one decoder, as swap runs it) instead of training (0)", 0, 1},
        {0},
    };
    int rc = sl_args_parse("bench_train", NULL, "Training-step (or, with --infer 1, inference) throughput of a swap model.", spec,
                           argc - 1, argv + 1, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (batch < 1 || steps < 1 || warmup < 0 || threads < 1) {
        fprintf(stderr, "bench_train: --batch, --steps, --threads must be >= 1\n");
        return 2;
    }
    SlErr err;
    SwapModel *m = swap_model_new(preset, 2, &err);
    if (!m) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 2;
    }
    SlRng rng;
    sl_rng_seed(&rng, 42);
    nn_model_init_weights(&m->model, &rng);
    NnCtx ctx;
    nn_ctx_init(&ctx, threads, 7);
    ctx.training = !infer;
    ctx.winograd = winograd;
    int S = m->arch.size;
    NnShape zs = nn_net_out_shape(m->encoder);
    size_t n_img = (size_t)3 * S * S, n_z = (size_t)zs.c * zs.h * zs.w;
    /* as train_step: both sides through the encoder in one pass when swap_encoder_group says so */
    const int group = swap_encoder_group(batch, 2);
    float *x[2], *dy = xmalloc(sizeof(float) * batch * n_img), *dz = xmalloc(sizeof(float) * batch * group * n_z);
    x[0] = xmalloc(sizeof(float) * 2 * batch * n_img); /* the two sides back to back, as a loader slot */
    x[1] = x[0] + batch * n_img;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < batch * n_img; i++) x[s][i] = sl_rng_uniform(&rng);
    nn_net_reserve(m->encoder, batch * group);
    nn_net_reserve(m->decoders[0], batch);
    nn_net_reserve(m->decoders[1], batch);
    NnAdam adam = {5e-5f, 0.5f, 0.999f, 1e-8f, 0.0f, 1};
    double *dt = xmalloc(sizeof(double) * steps), sum = 0, cpu = 0;
    float loss = 0;
    if (infer) { /* as swap_run_model: nn_infer of encoder + decoder 1 (the other identity) */
        NnNet *nets[2] = {m->encoder, m->decoders[1]};
        float *y = xmalloc(sizeof(float) * batch * n_img);
        for (int it = 0; it < warmup + steps; it++) {
            double t0 = sl_now(), c0 = cpu_now();
            nn_infer(&ctx, nets, 2, x[0], batch, y);
            double t = sl_now() - t0;
            if (it >= warmup) dt[it - warmup] = t, sum += t, cpu += cpu_now() - c0;
        }
        qsort(dt, (size_t)steps, sizeof *dt, cmp_double);
        double med = steps % 2 ? dt[steps / 2] : 0.5 * (dt[steps / 2 - 1] + dt[steps / 2]);
        printf("RESULT infer preset=%s batch=%d threads=%d steps=%d img_s=%.3f best_img_s=%.3f mean_img_s=%.3f "
               "cpu_img_s=%.3f\n",
               preset, batch, threads, steps, batch / med, batch / dt[0], batch * steps / sum,
               batch * steps / (cpu / threads));
        free(y);
        steps = 0; /* skip training */
    }
    for (int it = 0; it < warmup + steps && steps > 0; it++) {
        double t0 = sl_now(), c0 = cpu_now();
        loss = 0;
        const float *z = NULL;
        for (int s = 0; s < 2; s++) {
            const int g0 = s - s % group;
            if (s == g0) z = nn_net_forward(m->encoder, &ctx, x[s], batch * (2 - g0 < group ? 2 - g0 : group));
            const float *y = nn_net_forward(m->decoders[s], &ctx, z + n_z * batch * (s - g0), batch);
            loss += nn_loss_mse(y, x[s], NULL, batch, 3, S, S, dy);
            nn_net_backward(m->decoders[s], &ctx, dy, dz + n_z * batch * (s - g0));
            if (s == 1 || s == g0 + group - 1) nn_net_backward(m->encoder, &ctx, dz, NULL);
        }
        nn_adam_step_ctx(&m->model, &ctx, &adam, it + 1);
        double t = sl_now() - t0;
        if (it >= warmup) {
            dt[it - warmup] = t;
            sum += t;
            cpu += cpu_now() - c0;
        }
    }
    if (steps == 0) goto done;
    qsort(dt, (size_t)steps, sizeof *dt, cmp_double);
    double med = steps % 2 ? dt[steps / 2] : 0.5 * (dt[steps / 2 - 1] + dt[steps / 2]);
    double imgs = 2.0 * batch;
    printf("RESULT train preset=%s batch=%d threads=%d steps=%d img_s=%.3f best_img_s=%.3f "
           "mean_img_s=%.3f cpu_img_s=%.3f loss=%.6f\n",
           preset, batch, threads, steps, imgs / med, imgs / dt[0], imgs * steps / sum,
           imgs * steps / (cpu / threads), loss);
done:
    free(dt);
    free(dy);
    free(dz);
    free(x[0]);
    swap_model_free(m);
    return 0;
}
