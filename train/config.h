/* config.h — a training run's hyperparameters, one table row each: the state.json key, the
 * command-line flag, the default, the allowed range, and the value an older state.json without
 * the key stands for. `swaplab train` builds its flags and --help from the table, the trainer
 * writes and reads state.json through it, and a value from either place passes the same range
 * check. A new hyperparameter is one field in TrainConfig and one row in train/config.c.
 *
 * Learning rate: the default depends on the preset (train_default_lr); the step's rate is
 * lr * min(1, s / lr_warmup) * 0.5^(max(0, s - lr_warmup) / lr_halflife) — linear warm-up, then an
 * exponential decay with the given half-life in steps (0 = none). It depends on the step alone, so a
 * resumed run follows the same schedule. */
#ifndef SL_TRAIN_CONFIG_H
#define SL_TRAIN_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "util/util.h"

/* state.json's format; a run written by a newer format is refused, not guessed at. */
#define TRAIN_STATE_FORMAT "swaplab-run/2"
#define TRAIN_STATE_FORMAT_VERSION 2

typedef struct {
    char preset[32];    /* model architecture (model/swap_model.h) */
    int batch;          /* faces per identity per step: the GLOBAL batch, split across MPI ranks */
    unsigned long long seed;
    float lr;           /* peak Adam learning rate */
    int lr_warmup;      /* steps of linear warm-up (0 = none) */
    float lr_halflife;  /* steps for the rate to halve after warm-up (0 = constant) */
    float beta1, beta2;
    float w_dssim, w_mse; /* loss weights */
    int augment;        /* 0: no augmentation (input == target) */
    float warp;         /* random-warp strength: std of the 5x5 grid displacements, fraction of the side */
    float jitter;       /* colour jitter of the input only: L*, a*, b* shifts uniform in +-jitter */
    int holdout_every;  /* face i with i % k == k-1 is held out for evaluation (0 = none) */
} TrainConfig;

typedef enum { TP_STR, TP_INT, TP_FLOAT, TP_U64, TP_NOFLAG } TrainParamType;

typedef struct {
    const char *key;     /* state.json "config" key */
    const char *flag;    /* command-line flag ("--lr"); for TP_NOFLAG a flag that sets the value to 0 */
    TrainParamType type;
    size_t off;          /* offset in TrainConfig */
    double lo, hi;       /* allowed range (numbers) */
    double legacy;       /* value when an older state.json lacks the key; NAN: the key is required */
    const char *metavar, *help; /* --help without the default (added from train_config_default) */
} TrainParam;

extern const TrainParam train_params[];
extern const int train_nparams;

/* Peak learning rate of a preset: 5e-4 for tiny and lite, 1e-4 for original and hd128 (82 M
 * parameters are unstable at 5e-4, docs/PERFORMANCE.md); 1e-4 for a preset it does not know. */
float train_default_lr(const char *preset);
/* Defaults of a new run with the given preset (NULL: tiny). */
void train_config_default(TrainConfig *c, const char *preset);

/* Parses the text of parameter p (a flag's value) into c. Returns -1 with a message naming the
 * flag and its range when the text is not a number or out of range. */
int train_param_parse(const TrainParam *p, const char *text, TrainConfig *c, SlErr *err);
/* The parameter's value as text (the default shown by --help). */
void train_param_format(const TrainParam *p, const TrainConfig *c, char *out, size_t n);

/* The "config" object of state.json. */
json_t *train_config_to_json(const TrainConfig *c);
/* Reads and range-checks a "config" object (from `path`, named in messages). Keys an older
 * format lacks take their legacy values. Returns -1 with err naming the file and the key. */
int train_config_from_json(json_t *cfg, TrainConfig *c, const char *path, SlErr *err);
/* Checks a state.json "format" string: "swaplab-run/N" with N <= TRAIN_STATE_FORMAT_VERSION. */
int train_state_format_check(json_t *st, const char *path, SlErr *err);

/* One line "key=value key=value ..." of every parameter: the same text on every MPI rank when
 * the configurations agree. */
void train_config_text(const TrainConfig *c, char *out, size_t n);

/* The learning rate of step s (1-based) under the schedule above. */
float train_lr_at(const TrainConfig *c, long s);

#endif
