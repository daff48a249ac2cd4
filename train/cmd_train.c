/* cmd_train.c — `swaplab train`: the shared encoder and one decoder per identity (train/trainer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "train/swap_model.h"
#include "train/trainer.h"
#include "util/args.h"

int cmd_train(int argc, char **argv) {
    TrainOptions o;
    train_options_default(&o);
    SlStrList sets = {0};
    int steps = 0, no_aug = 0;
    double lr = o.lr, minutes = 0, wd = o.w_dssim, wm = o.w_mse, warp = o.warp, jitter = o.jitter;
    const char *seed = NULL;
    SlArg spec[] = {
        {"--facesets", SL_ARG_LIST, &sets, "DIR", "face sets, one per identity (2..16; order = decoder order)"},
        {"--out", SL_ARG_STR, &o.out, "RUN", "run directory (model, checkpoints, previews, logs)"},
        {"--preset", SL_ARG_STR, &o.preset, "P", "tiny (default), lite, original (64x64 classic) or hd128"},
        {"--steps", SL_ARG_INT, &steps, "N", "train until step N"},
        {"--minutes", SL_ARG_DOUBLE, &minutes, "M", "train for M minutes of wall time (this invocation)"},
        {"--batch", SL_ARG_INT, &o.batch, "B", "faces per identity per step (16)"},
        {"--resume", SL_ARG_FLAG, &o.resume, NULL, "continue the run in --out from its last checkpoint"},
        {"--seed", SL_ARG_STR, &seed, "S", "seed of initialisation, data order and augmentation (1)"},
        {"--lr", SL_ARG_DOUBLE, &lr, "X", "Adam learning rate (5e-5; betas 0.5, 0.999)"},
        {"--dssim-weight", SL_ARG_DOUBLE, &wd, "W", "weight of the masked DSSIM loss (3)"},
        {"--mse-weight", SL_ARG_DOUBLE, &wm, "W", "weight of the masked MSE loss (1)"},
        {"--warp", SL_ARG_DOUBLE, &warp, "F", "random warp of the input: grid displacement std, fraction of the side (0.015)"},
        {"--colour-jitter", SL_ARG_DOUBLE, &jitter, "J", "shift the input's L*, a*, b* by up to J; the target keeps its colours (10)"},
        {"--no-augment", SL_ARG_FLAG, &no_aug, NULL, "no random warp, affine, flip or colour jitter"},
        {"--preview-every", SL_ARG_INT, &o.preview_every, "N", "preview grid every N steps (default: every 20 s)"},
        {"--eval-every", SL_ARG_INT, &o.eval_every, "N", "fidelity evaluation every N steps (default: 8 per run)"},
        {"--save-every", SL_ARG_INT, &o.save_every, "N", "checkpoint every N steps (default: every 10 minutes)"},
        {"--save-minutes", SL_ARG_DOUBLE, &o.save_minutes, "M", "checkpoint every M minutes (10)"},
        {"--log-every", SL_ARG_INT, &o.log_every, "N", "log.jsonl line every N steps (default: every second)"},
        {"--timelapse", SL_ARG_FLAG, &o.timelapse, NULL, "keep every preview grid in previews/"},
        {"--holdout-every", SL_ARG_INT, &o.holdout_every, "K", "hold every K-th face out for evaluation (10; 0 = none)"},
        {"--loaders", SL_ARG_INT, &o.loaders, "N", "data loader threads (1)"},
        {"--threads", SL_ARG_INT, &o.threads, "N", "compute threads (default: all cores)"},
        {"--device", SL_ARG_STR, &o.device, "D", "cpu, cuda or auto (default auto; names a missing GPU only when given)"},
        {"--revocations", SL_ARG_STR, &o.revocations, "FILE", "consent revocation list (default: per-user list)"},
        {0},
    };
    int r = sl_args_parse("train", "--facesets DIR... --out RUN [--preset P] [--steps N | --minutes M] [--batch B] [--resume]",
                          "Trains the classic deepfakes autoencoder: one shared encoder, one decoder per identity.\n"
                          "Every face set must carry a consent manifest with scope 'train'. The run directory gets\n"
                          "model.safetensors, checkpoints (every 10 minutes, at the end and on Ctrl-C), previews/latest.png,\n"
                          "log.jsonl and, for synthetic sets, fidelity.jsonl (swap fidelity against the ground truth).",
                          spec, argc, argv, NULL);
    if (r) {
        free(sets.v);
        return r == 1 ? 0 : 2;
    }
    int rc = 2;
    if (!o.out) {
        rc = sl_usage_error("train", "--out RUN is required");
        goto out;
    }
    if (!o.resume && sets.n == 0) {
        rc = sl_usage_error("train", "--facesets is required (one face set per identity)");
        goto out;
    }
    if (steps > 0 && minutes > 0) {
        rc = sl_usage_error("train", "give --steps or --minutes, not both");
        goto out;
    }
    if (steps < 0 || minutes < 0 || (steps == 0 && minutes == 0)) {
        rc = sl_usage_error("train", "say how long to train: --steps N or --minutes M");
        goto out;
    }
    if (o.preset) {
        SwapArch a;
        SlErr e;
        if (swap_arch_preset(o.preset, &a, &e)) {
            rc = sl_usage_error("train", "%s", e.msg);
            goto out;
        }
    }
    if (lr <= 0 || lr > 1 || wd < 0 || wm < 0 || wd + wm <= 0) {
        rc = sl_usage_error("train", "need 0 < --lr <= 1 and non-negative loss weights, not both zero");
        goto out;
    }
    if (warp < 0 || warp > 0.2 || jitter < 0 || jitter > 50) {
        rc = sl_usage_error("train", "need 0 <= --warp <= 0.2 and 0 <= --colour-jitter <= 50");
        goto out;
    }
    if (seed) {
        char *end;
        o.seed = strtoull(seed, &end, 10);
        if (*end || !*seed) {
            rc = sl_usage_error("train", "--seed expects a non-negative integer, got '%s'", seed);
            goto out;
        }
    }
    /* last, so that the checks of the other values above answer first */
    if (!o.resume && (sets.n < 2 || sets.n > SWAP_MAX_IDS)) {
        rc = sl_usage_error("train", "--facesets needs 2 to %d face sets (one per identity), got %d", SWAP_MAX_IDS, sets.n);
        goto out;
    }
    o.facesets = sets.v;
    o.n_facesets = sets.n;
    o.steps = steps;
    o.minutes = minutes;
    o.lr = (float)lr;
    o.w_dssim = (float)wd;
    o.w_mse = (float)wm;
    o.augment = !no_aug;
    o.warp = (float)warp;
    o.jitter = (float)jitter;
    SlErr err;
    if (train_run(&o, &err)) {
        fprintf(stderr, "swaplab train: %s\n", err.msg);
        rc = 1;
    } else {
        rc = 0;
    }
out:
    free(sets.v);
    return rc;
}
