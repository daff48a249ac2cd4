/* cmd_train.c — `swaplab train`: the shared encoder and one decoder per identity (train/trainer.h).
 * The hyperparameter flags come from the table in train/config.h, with their defaults in --help. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "train/config.h"
#include "train/swap_model.h"
#include "train/trainer.h"
#include "util/args.h"

enum { MAXSPEC = 48 };

int cmd_train(int argc, char **argv) {
    TrainOptions o;
    train_options_default(&o);
    TrainConfig def;
    train_config_default(&def, NULL);
    SlStrList sets = {0};
    int steps = 0;
    double minutes = 0;
    SlArg spec[MAXSPEC];
    const char *pval[32] = {0};
    int pflag[32] = {0};
    char helps[32][256];
    int n = 0;
    spec[n++] = (SlArg){"--facesets", SL_ARG_LIST, &sets, "DIR", "face sets, one per identity (2..16; order = decoder order)"};
    spec[n++] = (SlArg){"--out", SL_ARG_STR, &o.out, "RUN", "run directory (model, checkpoints, previews, logs)"};
    spec[n++] = (SlArg){"--steps", SL_ARG_INT, &steps, "N", "train until step N"};
    spec[n++] = (SlArg){"--minutes", SL_ARG_DOUBLE, &minutes, "M", "train for M minutes of wall time (this invocation)"};
    spec[n++] = (SlArg){"--resume", SL_ARG_FLAG, &o.resume, NULL, "continue the run in --out from its last checkpoint"};
    /* one flag per hyperparameter, from train/config.c */
    SL_ASSERT(train_nparams <= 32);
    for (int i = 0; i < train_nparams; i++) {
        const TrainParam *p = &train_params[i];
        char d[64];
        train_param_format(p, &def, d, sizeof d);
        if (p->type == TP_NOFLAG) snprintf(helps[i], sizeof helps[i], "%s", p->help);
        else if (!strcmp(p->key, "lr"))
            snprintf(helps[i], sizeof helps[i], "%s (default per preset: 5e-4 tiny and lite, 1e-4 original and hd128)",
                     p->help);
        else snprintf(helps[i], sizeof helps[i], "%s (%s)", p->help, d);
        if (p->type == TP_NOFLAG) spec[n++] = (SlArg){p->flag, SL_ARG_FLAG, &pflag[i], NULL, helps[i]};
        else spec[n++] = (SlArg){p->flag, SL_ARG_STR, &pval[i], p->metavar, helps[i]};
    }
    spec[n++] = (SlArg){"--preview-every", SL_ARG_INT, &o.preview_every, "N", "preview grid every N steps (default: every 20 s)"};
    spec[n++] = (SlArg){"--eval-every", SL_ARG_INT, &o.eval_every, "N", "fidelity evaluation every N steps (default: 8 per run)"};
    spec[n++] = (SlArg){"--save-every", SL_ARG_INT, &o.save_every, "N", "checkpoint every N steps (default: every 10 minutes)"};
    spec[n++] = (SlArg){"--save-minutes", SL_ARG_DOUBLE, &o.save_minutes, "M", "checkpoint every M minutes (10)"};
    spec[n++] = (SlArg){"--log-every", SL_ARG_INT, &o.log_every, "N", "log.jsonl line every N steps (default: every second)"};
    spec[n++] = (SlArg){"--timelapse", SL_ARG_FLAG, &o.timelapse, NULL, "keep every preview grid in previews/"};
    spec[n++] = (SlArg){"--loaders", SL_ARG_INT, &o.loaders, "N", "data loader threads (1)"};
    spec[n++] = (SlArg){"--threads", SL_ARG_INT, &o.threads, "N", "compute threads (default: all cores)"};
    spec[n++] = (SlArg){"--device", SL_ARG_STR, &o.device, "D", "cpu, cuda or auto (auto)"};
    spec[n++] = (SlArg){"--revocations", SL_ARG_STR, &o.revocations, "FILE", "consent revocation list (default: per-user list)"};
    spec[n] = (SlArg){0};
    SL_ASSERT(n < MAXSPEC);
    int r = sl_args_parse("train", "--facesets DIR... --out RUN [--preset P] [--steps N | --minutes M] [--batch B] [--resume]",
                          "Trains the classic deepfakes autoencoder: one shared encoder, one decoder per identity.\n"
                          "Every face set must carry a consent manifest with scope 'train'. The run directory gets\n"
                          "model.safetensors, checkpoints (every 10 minutes, at the end and on Ctrl-C), previews/latest.png,\n"
                          "log.jsonl and, for synthetic sets, fidelity.jsonl (swap fidelity against the ground truth).\n"
                          "Under mpirun (mpirun -np N swaplab train ...) the ranks share each step's batch; rank 0 writes\n"
                          "(docs/SCALE.md). On --resume the run keeps the hyperparameters in its state.json.",
                          spec, argc, argv, NULL);
    if (r) {
        free(sets.v);
        return r == 1 ? 0 : 2;
    }
    int rc = 2;
    SlErr e;
    /* the hyperparameters: the same parser and ranges as state.json */
    for (int i = 0; i < train_nparams; i++) {
        const TrainParam *p = &train_params[i];
        if (p->type == TP_NOFLAG) {
            if (pflag[i]) *(int *)((char *)&o.cfg + p->off) = 0, o.cfg_given |= 1u << i;
            continue;
        }
        if (!pval[i]) continue;
        o.cfg_given |= 1u << i;
        if (!strcmp(p->key, "preset")) {
            SwapArch a;
            if (swap_arch_preset(pval[i], &a, &e)) {
                rc = sl_usage_error("train", "%s", e.msg);
                goto out;
            }
            o.preset = pval[i];
            continue;
        }
        if (train_param_parse(p, pval[i], &o.cfg, &e)) {
            rc = sl_usage_error("train", "%s", e.msg);
            goto out;
        }
    }
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
    if (steps < 0 || !(minutes >= 0) || minutes > 1e7 || (steps == 0 && minutes == 0)) {
        rc = sl_usage_error("train", "say how long to train: --steps N or --minutes M (0 < M <= 1e7)");
        goto out;
    }
    if (o.cfg.w_dssim + o.cfg.w_mse <= 0) {
        rc = sl_usage_error("train", "--dssim-weight and --mse-weight cannot both be zero");
        goto out;
    }
    o.facesets = sets.v;
    o.n_facesets = sets.n;
    o.steps = steps;
    o.minutes = minutes;
    /* (the run-directory lock goes here, before anything is read or written in --out) */
    SlErr err;
    if (train_run(&o, &err)) {
        if (err.msg[0]) fprintf(stderr, "swaplab train: %s\n", err.msg);
        rc = 1;
    } else {
        rc = 0;
    }
out:
    free(sets.v);
    return rc;
}
