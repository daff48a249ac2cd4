/* config.c — the table of training hyperparameters (see config.h): flag, default, range, state.json. */
#include "train/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(TrainConfig, f)

/* Rows in the order --help lists them. Legacy values are what runs from before a key existed did:
 * the jitter on input and target alike at 0.05 warp / 5 jitter, and no learning-rate schedule. */
const TrainParam train_params[] = {
    {"preset", "--preset", TP_STR, OFF(preset), 0, 0, NAN, "P", "model: tiny, lite, original (64x64 classic), tiny128 or hd128 (128x128)"},
    {"batch", "--batch", TP_INT, OFF(batch), 1, 4096, NAN, "B",
     "faces per identity per step (the global batch: split across MPI ranks)"},
    {"seed", "--seed", TP_U64, OFF(seed), 0, 0, NAN, "S", "seed of initialisation, data order and augmentation"},
    {"lr", "--lr", TP_FLOAT, OFF(lr), 1e-9, 1, NAN, "X", "peak Adam learning rate"},
    {"lr_warmup", "--lr-warmup", TP_INT, OFF(lr_warmup), 0, 1e9, 0, "N", "steps of linear learning-rate warm-up"},
    {"lr_halflife", "--lr-halflife", TP_FLOAT, OFF(lr_halflife), 0, 1e12, 0, "N",
     "after warm-up the learning rate halves every N steps; 0: constant"},
    {"beta1", "--beta1", TP_FLOAT, OFF(beta1), 0, 0.99999, NAN, "X", "Adam beta1"},
    {"beta2", "--beta2", TP_FLOAT, OFF(beta2), 0, 0.99999, NAN, "X", "Adam beta2"},
    {"w_dssim", "--dssim-weight", TP_FLOAT, OFF(w_dssim), 0, 1000, NAN, "W", "weight of the masked DSSIM loss"},
    {"w_mse", "--mse-weight", TP_FLOAT, OFF(w_mse), 0, 1000, NAN, "W", "weight of the masked MSE loss"},
    {"augment", "--no-augment", TP_NOFLAG, OFF(augment), 0, 1, NAN, NULL,
     "no random warp, affine, flip or colour jitter"},
    {"warp", "--warp", TP_FLOAT, OFF(warp), 0, 0.2, 0.05, "F",
     "random warp of the input: grid displacement std, fraction of the side"},
    {"colour_jitter", "--colour-jitter", TP_FLOAT, OFF(jitter), 0, 50, 5.0, "J",
     "shift the input's L*, a*, b* by up to J; the target keeps its colours"},
    {"holdout_every", "--holdout-every", TP_INT, OFF(holdout_every), 0, 1e6, NAN, "K",
     "hold every K-th face out for evaluation; 0: none"},
};
const int train_nparams = (int)(sizeof train_params / sizeof *train_params);

float train_default_lr(const char *preset) {
    if (preset && (!strcmp(preset, "tiny") || !strcmp(preset, "lite") || !strcmp(preset, "tiny128"))) return 5e-4f;
    return 1e-4f;
}

void train_config_default(TrainConfig *c, const char *preset) {
    memset(c, 0, sizeof *c);
    sl_snprintf(c->preset, sizeof c->preset, "%s", preset ? preset : "tiny");
    c->batch = 16;
    c->seed = 1;
    c->lr = train_default_lr(c->preset);
    c->lr_warmup = 50;
    c->lr_halflife = 0;
    c->beta1 = 0.5f;
    c->beta2 = 0.999f;
    c->w_dssim = 3.0f;
    c->w_mse = 1.0f;
    c->augment = 1;
    c->warp = 0.015f;
    c->jitter = 10.0f;
    c->holdout_every = 10;
}

static void *field(const TrainParam *p, TrainConfig *c) { return (char *)c + p->off; }
static const void *cfield(const TrainParam *p, const TrainConfig *c) { return (const char *)c + p->off; }

static int set_number(const TrainParam *p, double v, TrainConfig *c, const char *where, SlErr *err) {
    const char *name = where ? where : p->flag;
    if (!isfinite(v) || v < p->lo || v > p->hi) return sl_fail(err, "%s must be %g..%g, got %g", name, p->lo, p->hi, v);
    switch (p->type) {
    case TP_INT:
    case TP_NOFLAG:
        if (v != floor(v)) return sl_fail(err, "%s must be a whole number, got %g", name, v);
        *(int *)field(p, c) = (int)v;
        return 0;
    case TP_FLOAT: *(float *)field(p, c) = (float)v; return 0;
    default: SL_DIE("not a number parameter: %s", p->key);
    }
}

static int parse_u64(const char *text, unsigned long long *v) {
    if (!text || !*text || *text < '0' || *text > '9') return -1;
    char *end;
    errno = 0;
    *v = strtoull(text, &end, 10);
    return *end || errno ? -1 : 0;
}

int train_param_parse(const TrainParam *p, const char *text, TrainConfig *c, SlErr *err) {
    if (p->type == TP_STR) {
        if (!*text || strlen(text) >= sizeof c->preset) return sl_fail(err, "%s: bad value '%s'", p->flag, text);
        sl_snprintf((char *)field(p, c), sizeof c->preset, "%s", text);
        return 0;
    }
    if (p->type == TP_U64) {
        if (parse_u64(text, (unsigned long long *)field(p, c)))
            return sl_fail(err, "%s expects a non-negative integer, got '%s'", p->flag, text);
        return 0;
    }
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end) return sl_fail(err, "%s expects a number, got '%s'", p->flag, text);
    return set_number(p, v, c, NULL, err);
}

void train_param_format(const TrainParam *p, const TrainConfig *c, char *out, size_t n) {
    switch (p->type) {
    case TP_STR: snprintf(out, n, "%s", (const char *)cfield(p, c)); break;
    case TP_U64: snprintf(out, n, "%llu", *(const unsigned long long *)cfield(p, c)); break;
    case TP_INT:
    case TP_NOFLAG: snprintf(out, n, "%d", *(const int *)cfield(p, c)); break;
    case TP_FLOAT: snprintf(out, n, "%g", (double)*(const float *)cfield(p, c)); break;
    }
}

json_t *train_config_to_json(const TrainConfig *c) {
    json_t *o = json_object();
    for (int i = 0; i < train_nparams; i++) {
        const TrainParam *p = &train_params[i];
        json_t *v = NULL;
        char s[64];
        switch (p->type) {
        case TP_STR: v = json_string((const char *)cfield(p, c)); break;
        case TP_U64: /* as a string: JSON readers lose integers above 2^53 */
            train_param_format(p, c, s, sizeof s);
            v = json_string(s);
            break;
        case TP_INT: v = json_integer(*(const int *)cfield(p, c)); break;
        case TP_NOFLAG: v = json_boolean(*(const int *)cfield(p, c)); break;
        case TP_FLOAT: v = json_real(*(const float *)cfield(p, c)); break;
        }
        json_object_set_new(o, p->key, v);
    }
    return o;
}

int train_config_from_json(json_t *cfg, TrainConfig *c, const char *path, SlErr *err) {
    if (!json_is_object(cfg)) return sl_fail(err, "%s: not a swaplab run state (no \"config\" object)", path);
    train_config_default(c, NULL);
    for (int i = 0; i < train_nparams; i++) {
        const TrainParam *p = &train_params[i];
        json_t *v = json_object_get(cfg, p->key);
        char where[SL_PATH_MAX];
        snprintf(where, sizeof where, "%s: config \"%s\"", path, p->key);
        if (!v) {
            if (isnan(p->legacy)) return sl_fail(err, "%s: not a swaplab run state (config \"%s\" missing)", path, p->key);
            if (set_number(p, p->legacy, c, where, err)) return -1;
            continue;
        }
        switch (p->type) {
        case TP_STR:
            if (!json_is_string(v) || !*json_string_value(v) || strlen(json_string_value(v)) >= sizeof c->preset)
                return sl_fail(err, "%s is not a name", where);
            sl_snprintf((char *)field(p, c), sizeof c->preset, "%s", json_string_value(v));
            break;
        case TP_U64:
            if (!json_is_string(v) || parse_u64(json_string_value(v), (unsigned long long *)field(p, c)))
                return sl_fail(err, "%s is not a non-negative integer in a string", where);
            break;
        case TP_NOFLAG:
            if (!json_is_boolean(v)) return sl_fail(err, "%s is not true or false", where);
            *(int *)field(p, c) = json_is_true(v);
            break;
        default:
            if (!json_is_number(v) || (p->type == TP_INT && !json_is_integer(v)))
                return sl_fail(err, "%s is not a %s", where, p->type == TP_INT ? "whole number" : "number");
            if (set_number(p, json_number_value(v), c, where, err)) return -1;
        }
    }
    if (c->w_dssim + c->w_mse <= 0) return sl_fail(err, "%s: both loss weights are zero", path);
    return 0;
}

int train_state_format_check(json_t *st, const char *path, SlErr *err) {
    json_t *f = json_object_get(st, "format");
    int v = 0, k = 0;
    if (!json_is_string(f) || sscanf(json_string_value(f), "swaplab-run/%d%n", &v, &k) != 1 ||
        json_string_value(f)[k] || v < 1)
        return sl_fail(err, "%s: not a swaplab run state (format missing or unknown)", path);
    if (v > TRAIN_STATE_FORMAT_VERSION)
        return sl_fail(err, "%s: written in run format %d by a newer swaplab; this one reads up to %d (update swaplab)",
                       path, v, TRAIN_STATE_FORMAT_VERSION);
    return 0;
}

void train_config_text(const TrainConfig *c, char *out, size_t n) {
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < train_nparams && k < n; i++) {
        char v[64];
        if (train_params[i].type == TP_FLOAT) /* exact: ranks compare these texts */
            snprintf(v, sizeof v, "%.9g", (double)*(const float *)cfield(&train_params[i], c));
        else train_param_format(&train_params[i], c, v, sizeof v);
        k += (size_t)snprintf(out + k, n - k, "%s%s=%s", i ? " " : "", train_params[i].key, v);
    }
}

float train_lr_at(const TrainConfig *c, long s) {
    double lr = c->lr;
    if (c->lr_warmup > 0 && s < c->lr_warmup) lr *= (double)s / c->lr_warmup;
    if (c->lr_halflife > 0 && s > c->lr_warmup) lr *= pow(0.5, (double)(s - c->lr_warmup) / c->lr_halflife);
    return (float)lr;
}
