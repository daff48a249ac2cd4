/* cmd_train.c — `swaplab train`: the shared encoder and one decoder per identity (train/trainer.h).
 * The hyperparameter flags come from the table in train/config.h, with their defaults in --help. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "data/consent.h"
#include "train/config.h"
#include "model/swap_model.h"
#include "train/trainer.h"
#include "util/args.h"
#include "util/fs.h"
#include "util/lock.h"
#include "util/mpi.h"

enum { MAXSPEC = 48 };

int cmd_train(int argc, char **argv) {
    TrainOptions o;
    train_options_default(&o);
    TrainConfig def;
    train_config_default(&def, NULL);
    SlStrList sets = {0};
    const char *policy = NULL;
    int steps = 0;
    double minutes = 0;
    SlArg spec[MAXSPEC];
    const char *pval[32] = {0};
    int pflag[32] = {0};
    char helps[32][256];
    int n = 0;
    spec[n++] = (SlArg){"--facesets", SL_ARG_LIST, &sets, "DIR", "face sets, one per identity (2..16; order = decoder order)"};
    spec[n++] = (SlArg){"--out", SL_ARG_STR, &o.out, "RUN", "run directory (model, checkpoints, previews, logs)"};
    spec[n++] = (SlArg){"--steps", SL_ARG_INT, &steps, "N", "train until step N", 1, 2147483647};
    spec[n++] = (SlArg){"--minutes", SL_ARG_DOUBLE, &minutes, "M", "train for M minutes of wall time (this invocation)", 0.001,
                        525600};
    spec[n++] = (SlArg){"--resume", SL_ARG_FLAG, &o.resume, NULL, "continue the run in --out from its last checkpoint"};
    spec[n++] = (SlArg){"--init", SL_ARG_STR, &o.init, "FROM",
                        "start a new run from a pretrained run or model of the same preset (default: random weights)"};
    /* one flag per hyperparameter, from train/config.c */
    SL_ASSERT(train_nparams <= 32);
    for (int i = 0; i < train_nparams; i++) {
        const TrainParam *p = &train_params[i];
        char d[64];
        train_param_format(p, &def, d, sizeof d);
        if (p->type == TP_NOFLAG || p->type == TP_FLAG) snprintf(helps[i], sizeof helps[i], "%s", p->help);
        else if (!strcmp(p->key, "lr"))
            snprintf(helps[i], sizeof helps[i], "%s (default per preset: 5e-4 tiny, tiny128 and lite, 1e-4 original and hd128)",
                     p->help);
        else snprintf(helps[i], sizeof helps[i], "%s (%s)", p->help, d);
        if (p->type == TP_NOFLAG || p->type == TP_FLAG) spec[n++] = (SlArg){p->flag, SL_ARG_FLAG, &pflag[i], NULL, helps[i]};
        else spec[n++] = (SlArg){p->flag, SL_ARG_STR, &pval[i], p->metavar, helps[i]};
    }
    spec[n++] = (SlArg){"--preview-every", SL_ARG_INT, &o.preview_every, "N", "preview grid every N steps (default: every 20 s)",
                        1, 2147483647};
    spec[n++] = (SlArg){"--eval-every", SL_ARG_INT, &o.eval_every, "N", "fidelity evaluation every N steps (default: 8 per run)",
                        1, 2147483647};
    spec[n++] = (SlArg){"--save-every", SL_ARG_INT, &o.save_every, "N", "checkpoint every N steps (default: every 10 minutes)",
                        1, 2147483647};
    spec[n++] = (SlArg){"--save-minutes", SL_ARG_DOUBLE, &o.save_minutes, "M", "checkpoint every M minutes (10)", 0.01, 525600};
    spec[n++] = (SlArg){"--log-every", SL_ARG_INT, &o.log_every, "N", "log.jsonl line every N steps (default: every second)",
                        1, 2147483647};
    spec[n++] = (SlArg){"--timelapse", SL_ARG_FLAG, &o.timelapse, NULL, "keep every preview grid in previews/"};
    spec[n++] = (SlArg){"--loaders", SL_ARG_INT, &o.loaders, "N", "data loader threads (1)", 1, SL_ARG_MAX_LOADERS};
    spec[n++] = (SlArg){"--threads", SL_ARG_INT, &o.threads, "N", "compute threads (default: all cores)", 1, SL_ARG_MAX_THREADS};
    spec[n++] = (SlArg){"--device", SL_ARG_STR, &o.device, "D", "cpu, cuda or auto (default auto; names a missing GPU only when given)"};
    spec[n++] = (SlArg){"--revocations", SL_ARG_STR, &o.revocations, "FILE", "consent revocation list (default: per-user list)"};
    spec[n++] = (SlArg){"--policy", SL_ARG_STR, &policy, "FILE",
                        "lab policy: coordinator-signed consent only (default: $SWAPLAB_POLICY, per-user or system policy)"};
    spec[n] = (SlArg){0};
    SL_ASSERT(n < MAXSPEC);
    int r = sl_args_parse("train", "--facesets DIR... --out RUN [--preset P] [--steps N | --minutes M] [--batch B] [--resume]",
                          "Trains the classic deepfakes autoencoder: one shared encoder, one decoder per identity.\n"
                          "Every face set must carry a consent manifest with scope 'train'. The run directory gets\n"
                          "model.safetensors, checkpoints (every 10 minutes, at the end and on Ctrl-C), previews/latest.png,\n"
                          "log.jsonl and, for synthetic sets, fidelity.jsonl (swap fidelity against the ground truth).\n"
                          "Under mpirun (mpirun -np N swaplab train ...) the ranks share each step's batch; rank 0 writes\n"
                          "(docs/SCALE.md). On --resume the run keeps the hyperparameters in its state.json.\n"
                          "--learn-mask: every decoder also draws the face mask (a 4th output channel, MSE against\n"
                          "the landmark hull of the target crop, weight --mask-weight), for swap --mask learned.",
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
        if (p->type == TP_NOFLAG || p->type == TP_FLAG) {
            if (pflag[i]) *(int *)((char *)&o.cfg + p->off) = p->type == TP_FLAG, o.cfg_given |= 1u << i;
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
    if (!o.resume && (sets.n < 2 || sets.n > SWAP_MAX_IDS)) {
        rc = sl_usage_error("train", "--facesets needs 2 to %d face sets (one per identity), got %d", SWAP_MAX_IDS, sets.n);
        goto out;
    }
    if (o.init && o.resume) {
        rc = sl_usage_error("train", "--init starts a new run; a resumed run keeps its own weights");
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
    /* the run-directory lock, taken before anything is read or written in --out (util/lock.h); under
     * mpirun rank 0 holds it for the job (only rank 0 writes there) */
    SlErr err;
    err.msg[0] = 0;
    SlLock lock = {.fd = -1};
    int created = !sl_is_dir(o.out), rank0 = sl_mpi_launched_rank() == 0;
    if (consent_policy_select(policy, &err) || (rank0 && sl_mkdirs(o.out, &err)) ||
        (rank0 && sl_lock_dir(&lock, o.out, "swaplab train", &err)) || train_run(&o, &err)) {
        if (err.msg[0]) fprintf(stderr, "swaplab train: %s\n", err.msg);
        rc = 1;
    } else {
        rc = 0;
    }
    sl_unlock(&lock);
    if (rc && created && rank0) rmdir(o.out); /* only when nothing else was written into it */
out:
    free(sets.v);
    return rc;
}
