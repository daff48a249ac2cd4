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

#include "model/swap_model.h"
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
    int learn_mask;     /* 1: the decoders get a 4th output channel, the face mask, trained against the
                           landmark hull of the target crop (model/swap_model.h arch.mask) */
    float w_mask;       /* weight of the mask loss (MSE of the mask channel against the hull) */
} TrainConfig;

/* TP_NOFLAG: a flag that sets the value to 0 (--no-augment); TP_FLAG: one that sets it to 1
 * (--learn-mask). Both are booleans in state.json. */
typedef enum { TP_STR, TP_INT, TP_FLOAT, TP_U64, TP_NOFLAG, TP_FLAG } TrainParamType;

typedef struct {
    const char *key;     /* state.json "config" key */
    const char *flag;    /* command-line flag ("--lr"); for TP_NOFLAG / TP_FLAG a flag that sets the value
                            to 0 / 1 */
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

/* ---- state.json: what --resume continues from ------------------------------------------------------
 * {"format": "swaplab-run/2", "step": N, "model": "ckpt/step-N.model.safetensors",
 *  "optimizer": "ckpt/step-N.optim.safetensors", "config": {...the table above...},
 *  "facesets": [DIR, ...], "subjects": [PSEUDONYM, ...], "consent_digests": [SHA256, ...],
 *  "train_seconds": T, "ranks": R, "saved": UTC, "version": SWAPLAB}
 * (docs/FORMATS.md). The parser below is the only reader: it takes untrusted bytes (a user can edit
 * the file) and either fills a TrainState whose every field is in range or refuses with a sentence
 * naming the file and the field. */
#define TRAIN_STATE_MAX_BYTES ((size_t)1 << 20) /* a real state.json is about 2 KB */
#define TRAIN_STATE_MAX_STEP 1000000000000L      /* 10^12 steps: beyond any run */
#define TRAIN_STATE_CKPT_MAX 64                  /* "ckpt/step-N.model.safetensors" */
#define TRAIN_STATE_SUBJECT_MAX 128              /* as data/consent.h's subject */

typedef struct {
    int format;                                   /* N of "swaplab-run/N", 1..TRAIN_STATE_FORMAT_VERSION */
    long step;                                    /* steps done: 0..TRAIN_STATE_MAX_STEP */
    char model[TRAIN_STATE_CKPT_MAX];             /* the checkpoint of `step`, relative to the run: */
    char optimizer[TRAIN_STATE_CKPT_MAX];         /* always train_state_ckpt_names(step) */
    TrainConfig cfg;                              /* range-checked as the command line's */
    int nids;                                     /* identities: 2..SWAP_MAX_IDS */
    char facesets[SWAP_MAX_IDS][SL_PATH_MAX];     /* face set folders, decoder order (non-empty) */
    char subjects[SWAP_MAX_IDS][TRAIN_STATE_SUBJECT_MAX]; /* consent pseudonyms (non-empty) */
    int has_digests;                              /* 0: a state from before consent digests */
    char digests[SWAP_MAX_IDS][65];               /* SHA-256 of each consent.json (64 hex digits) */
    double train_seconds;                         /* training time so far: finite, >= 0 (0 when absent) */
    int ranks;                                    /* processes that trained it: 1..65536 (1 when absent) */
    char saved[40], version[40];                  /* when and by which swaplab ("" when absent) */
} TrainState;

/* The run's checkpoint files of a step, relative to the run directory (n >= TRAIN_STATE_CKPT_MAX):
 * ckpt/step-%09ld.model.safetensors and ckpt/step-%09ld.optim.safetensors. */
void train_state_ckpt_names(long step, char *model, char *optimizer, size_t n);

/* Parses len bytes of state.json text (need not be NUL-terminated; `name`, the file, is named in
 * messages). Refuses with -1 and err: text that is not one JSON object (or over
 * TRAIN_STATE_MAX_BYTES, or with a repeated key), a format that is unknown or newer than this
 * swaplab's, a config value out of the command line's range, a step that is not a whole number in
 * 0..TRAIN_STATE_MAX_STEP, checkpoint files other than the run's own for that step (a model from
 * elsewhere must not continue under this run's identities), facesets and subjects that are not two
 * to SWAP_MAX_IDS non-empty strings of bounded length without control characters, in equal number,
 * consent digests that are not 64 hex digits each, and a train_seconds or ranks that is not a
 * finite number in range. Unknown keys are ignored. On success *out is fully written (zeroed first). */
int train_state_parse(const char *json, size_t len, const char *name, TrainState *out, SlErr *err);
/* Reads RUN/state.json (a regular file of at most TRAIN_STATE_MAX_BYTES) and parses it. */
int train_state_read(const char *path, TrainState *out, SlErr *err);
/* The state as state.json text (malloc'ed, indented, ending in a newline): what train_state_parse
 * reads back to an identical TrainState. */
char *train_state_dump(const TrainState *s);

/* One line "key=value key=value ..." of every parameter: the same text on every MPI rank when
 * the configurations agree. */
void train_config_text(const TrainConfig *c, char *out, size_t n);

/* The learning rate of step s (1-based) under the schedule above. */
float train_lr_at(const TrainConfig *c, long s);

#endif
