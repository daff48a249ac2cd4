/* cmd_train.c — `swaplab train`: the shared encoder and one decoder per identity (train/trainer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "data/consent.h"
#include "train/swap_model.h"
#include "train/trainer.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/lock.h"

int cmd_train(int argc, char **argv) {
    TrainOptions o;
    train_options_default(&o);
    SlStrList sets = {0};
    int steps = 0, no_aug = 0;
    double lr = o.lr, minutes = 0, wd = o.w_dssim, wm = o.w_mse, warp = o.warp, jitter = o.jitter;
    const char *policy = NULL;
    SlArg spec[] = {
        {"--facesets", SL_ARG_LIST, &sets, "DIR", "face sets, one per identity (2..16; order = decoder order)"},
        {"--out", SL_ARG_STR, &o.out, "RUN", "run directory (model, checkpoints, previews, logs)"},
        {"--preset", SL_ARG_STR, &o.preset, "P", "tiny (default), lite, original (64x64 classic) or hd128"},
        {"--steps", SL_ARG_INT, &steps, "N", "train until step N", 1, 2147483647},
        {"--minutes", SL_ARG_DOUBLE, &minutes, "M", "train for M minutes of wall time (this invocation)", 0.001, 525600},
        {"--batch", SL_ARG_INT, &o.batch, "B", "faces per identity per step (16)", 1, 4096},
        {"--resume", SL_ARG_FLAG, &o.resume, NULL, "continue the run in --out from its last checkpoint"},
        {"--seed", SL_ARG_U64, &o.seed, "S", "seed of initialisation, data order and augmentation (1)"},
        {"--lr", SL_ARG_DOUBLE, &lr, "X", "Adam learning rate (5e-5; betas 0.5, 0.999)", 1e-12, 1},
        {"--dssim-weight", SL_ARG_DOUBLE, &wd, "W", "weight of the masked DSSIM loss (3)", 0, 1000},
        {"--mse-weight", SL_ARG_DOUBLE, &wm, "W", "weight of the masked MSE loss (1)", 0, 1000},
        {"--warp", SL_ARG_DOUBLE, &warp, "F", "random warp of the input: grid displacement std, fraction of the side (0.015)", 0, 0.2},
        {"--colour-jitter", SL_ARG_DOUBLE, &jitter, "J", "shift the input's L*, a*, b* by up to J; the target keeps its colours (10)", 0, 50},
        {"--no-augment", SL_ARG_FLAG, &no_aug, NULL, "no random warp, affine, flip or colour jitter"},
        {"--preview-every", SL_ARG_INT, &o.preview_every, "N", "preview grid every N steps (default: every 20 s)", 1, 2147483647},
        {"--eval-every", SL_ARG_INT, &o.eval_every, "N", "fidelity evaluation every N steps (default: 8 per run)", 1, 2147483647},
        {"--save-every", SL_ARG_INT, &o.save_every, "N", "checkpoint every N steps (default: every 10 minutes)", 1, 2147483647},
        {"--save-minutes", SL_ARG_DOUBLE, &o.save_minutes, "M", "checkpoint every M minutes (10)", 0.01, 525600},
        {"--log-every", SL_ARG_INT, &o.log_every, "N", "log.jsonl line every N steps (default: every second)", 1, 2147483647},
        {"--timelapse", SL_ARG_FLAG, &o.timelapse, NULL, "keep every preview grid in previews/"},
        {"--holdout-every", SL_ARG_INT, &o.holdout_every, "K", "hold every K-th face out for evaluation (10; 0 = none)", 0, 1000000},
        {"--loaders", SL_ARG_INT, &o.loaders, "N", "data loader threads (1)", 1, SL_ARG_MAX_LOADERS},
        {"--threads", SL_ARG_INT, &o.threads, "N", "compute threads (default: all cores)", 1, SL_ARG_MAX_THREADS},
        {"--device", SL_ARG_STR, &o.device, "D", "cpu, cuda or auto (auto)"},
        {"--revocations", SL_ARG_STR, &o.revocations, "FILE", "consent revocation list (default: per-user list)"},
        {"--policy", SL_ARG_STR, &policy, "FILE", "lab policy: coordinator-signed consent only (default: $SWAPLAB_POLICY, per-user or system policy)"},
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
    SlLock lock = {.fd = -1};
    int created = !sl_is_dir(o.out);
    if (consent_policy_select(policy, &err) || sl_mkdirs(o.out, &err) || sl_lock_dir(&lock, o.out, "swaplab train", &err) ||
        train_run(&o, &err)) {
        fprintf(stderr, "swaplab train: %s\n", err.msg);
        rc = 1;
    } else {
        rc = 0;
    }
    sl_unlock(&lock);
    if (rc && created) rmdir(o.out); /* only when nothing else was written into it */
out:
    free(sets.v);
    return rc;
}
