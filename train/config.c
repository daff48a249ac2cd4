/* config.c — the table of training hyperparameters (see config.h): flag, default, range, state.json. */
#include "train/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

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
    {"learn_mask", "--learn-mask", TP_FLAG, OFF(learn_mask), 0, 1, 0, NULL,
     "learn a mask: a 4th decoder channel trained against the landmark hull (for swap --mask learned)"},
    {"w_mask", "--mask-weight", TP_FLOAT, OFF(w_mask), 0, 1000, 1.0, "W",
     "weight of the learned mask's loss (MSE against the hull) beside the reconstruction loss; with --learn-mask"},
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
    c->learn_mask = 0;
    c->w_mask = 1.0f;
}

static void *field(const TrainParam *p, TrainConfig *c) { return (char *)c + p->off; }
static const void *cfield(const TrainParam *p, const TrainConfig *c) { return (const char *)c + p->off; }

static int set_number(const TrainParam *p, double v, TrainConfig *c, const char *where, SlErr *err) {
    const char *name = where ? where : p->flag;
    if (!isfinite(v) || v < p->lo || v > p->hi) return sl_fail(err, "%s must be %g..%g, got %g", name, p->lo, p->hi, v);
    switch (p->type) {
    case TP_INT:
    case TP_NOFLAG:
    case TP_FLAG:
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
    case TP_NOFLAG:
    case TP_FLAG: snprintf(out, n, "%d", *(const int *)cfield(p, c)); break;
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
        case TP_NOFLAG:
        case TP_FLAG: v = json_boolean(*(const int *)cfield(p, c)); break;
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
        case TP_FLAG:
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

/* "swaplab-run/N" -> N (1..INT_MAX), else 0: digits only, no sign, no overflow. */
static int format_version(const char *f) {
    static const char pre[] = "swaplab-run/";
    if (strncmp(f, pre, sizeof pre - 1)) return 0;
    const char *d = f + sizeof pre - 1;
    long v = 0;
    if (*d < '1' || *d > '9') return 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || v > 100000000) return 0;
        v = v * 10 + (*d - '0');
    }
    return (int)v;
}

int train_state_format_check(json_t *st, const char *path, SlErr *err) {
    json_t *f = json_object_get(st, "format");
    int v = json_is_string(f) ? format_version(json_string_value(f)) : 0;
    if (v < 1) return sl_fail(err, "%s: not a swaplab run state (format missing or unknown)", path);
    if (v > TRAIN_STATE_FORMAT_VERSION)
        return sl_fail(err, "%s: written in run format %d by a newer swaplab; this one reads up to %d (update swaplab)",
                       path, v, TRAIN_STATE_FORMAT_VERSION);
    return 0;
}

/* ---- state.json ------------------------------------------------------------------------------------ */
void train_state_ckpt_names(long step, char *model, char *optimizer, size_t n) {
    snprintf(model, n, "ckpt/step-%09ld.model.safetensors", step);
    snprintf(optimizer, n, "ckpt/step-%09ld.optim.safetensors", step);
}

/* A string value of at most n-1 bytes, non-empty unless may_be_empty, without control characters
 * (jansson has already refused invalid UTF-8 and NUL), copied into out. */
static int get_text(json_t *v, char *out, size_t n, int may_be_empty) {
    if (!json_is_string(v)) return -1;
    const char *t = json_string_value(v);
    size_t k = json_string_length(v);
    if (k >= n || (!k && !may_be_empty) || strlen(t) != k) return -1;
    for (size_t i = 0; i < k; i++)
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f) return -1;
    memcpy(out, t, k + 1);
    return 0;
}

static int is_hex64(const char *t) {
    if (strlen(t) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f'))) return 0;
    return 1;
}

static int state_from_json(json_t *st, const char *name, TrainState *s, SlErr *err) {
    if (!json_is_object(st)) return sl_fail(err, "%s: not a swaplab run state (not a JSON object)", name);
    if (train_state_format_check(st, name, err)) return -1;
    s->format = format_version(json_string_value(json_object_get(st, "format")));
    if (train_config_from_json(json_object_get(st, "config"), &s->cfg, name, err)) return -1;
    SwapArch arch;
    SlErr perr;
    if (swap_arch_preset(s->cfg.preset, &arch, &perr))
        return sl_fail(err, "%s: config \"preset\" '%s' is not a preset of this swaplab", name, s->cfg.preset);

    json_t *step = json_object_get(st, "step");
    if (!json_is_integer(step) || json_integer_value(step) < 0 || json_integer_value(step) > TRAIN_STATE_MAX_STEP)
        return sl_fail(err, "%s: \"step\" must be a whole number 0..%ld", name, TRAIN_STATE_MAX_STEP);
    s->step = (long)json_integer_value(step);

    char want_m[TRAIN_STATE_CKPT_MAX], want_o[TRAIN_STATE_CKPT_MAX];
    train_state_ckpt_names(s->step, want_m, want_o, sizeof want_m);
    if (get_text(json_object_get(st, "model"), s->model, sizeof s->model, 0) ||
        get_text(json_object_get(st, "optimizer"), s->optimizer, sizeof s->optimizer, 0) ||
        strcmp(s->model, want_m) || strcmp(s->optimizer, want_o))
        return sl_fail(err, "%s: \"model\" and \"optimizer\" must be this run's own checkpoint of step %ld, %s and %s",
                       name, s->step, want_m, want_o);

    json_t *fs = json_object_get(st, "facesets"), *subj = json_object_get(st, "subjects"),
           *dig = json_object_get(st, "consent_digests");
    if (!json_is_array(fs) || !json_is_array(subj) || json_array_size(fs) != json_array_size(subj) ||
        json_array_size(fs) < 2 || json_array_size(fs) > SWAP_MAX_IDS)
        return sl_fail(err, "%s: \"facesets\" and \"subjects\" must be lists of 2 to %d entries, one per identity, "
                       "in equal number", name, SWAP_MAX_IDS);
    s->nids = (int)json_array_size(fs);
    if (dig && (!json_is_array(dig) || json_array_size(dig) != (size_t)s->nids))
        return sl_fail(err, "%s: \"consent_digests\" must list one digest per identity (%d)", name, s->nids);
    s->has_digests = dig != NULL;
    for (int i = 0; i < s->nids; i++) {
        if (get_text(json_array_get(fs, (size_t)i), s->facesets[i], sizeof s->facesets[i], 0))
            return sl_fail(err, "%s: face set %d is not a folder name (a non-empty string under %d bytes without "
                           "control characters)", name, i + 1, SL_PATH_MAX);
        if (get_text(json_array_get(subj, (size_t)i), s->subjects[i], sizeof s->subjects[i], 0))
            return sl_fail(err, "%s: subject %d is not a pseudonym (a non-empty string under %d bytes without control "
                           "characters)", name, i + 1, TRAIN_STATE_SUBJECT_MAX);
        if (s->has_digests &&
            (get_text(json_array_get(dig, (size_t)i), s->digests[i], sizeof s->digests[i], 0) || !is_hex64(s->digests[i])))
            return sl_fail(err, "%s: consent digest %d is not a SHA-256 (64 lower-case hex digits)", name, i + 1);
    }

    json_t *ts = json_object_get(st, "train_seconds"), *rk = json_object_get(st, "ranks");
    if (ts && (!json_is_number(ts) || !isfinite(json_number_value(ts)) || json_number_value(ts) < 0 ||
               json_number_value(ts) > 1e12))
        return sl_fail(err, "%s: \"train_seconds\" must be a number of seconds 0..1e12", name);
    s->train_seconds = ts ? json_number_value(ts) : 0;
    if (rk && (!json_is_integer(rk) || json_integer_value(rk) < 1 || json_integer_value(rk) > 65536))
        return sl_fail(err, "%s: \"ranks\" must be a whole number 1..65536", name);
    s->ranks = rk ? (int)json_integer_value(rk) : 1;
    json_t *sv = json_object_get(st, "saved"), *ver = json_object_get(st, "version");
    if ((sv && get_text(sv, s->saved, sizeof s->saved, 1)) || (ver && get_text(ver, s->version, sizeof s->version, 1)))
        return sl_fail(err, "%s: \"saved\" and \"version\" must be short strings", name);
    return 0;
}

int train_state_parse(const char *json, size_t len, const char *name, TrainState *out, SlErr *err) {
    memset(out, 0, sizeof *out);
    if (!name) name = "state.json";
    if (len > TRAIN_STATE_MAX_BYTES)
        return sl_fail(err, "%s: too large for a run state (%zu bytes, limit %zu)", name, len, TRAIN_STATE_MAX_BYTES);
    json_error_t je;
    json_t *st = json_loadb(json ? json : "", json ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (!st) return sl_fail(err, "%s: line %d, column %d: not a swaplab run state: %s", name, je.line, je.column, je.text);
    int r = state_from_json(st, name, out, err);
    json_decref(st);
    if (r) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

int train_state_read(const char *path, TrainState *out, SlErr *err) {
    char *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    if (sl_read_file(path, TRAIN_STATE_MAX_BYTES, &buf, &len, err)) return -1;
    int r = train_state_parse(buf, len, path, out, err);
    free(buf);
    return r;
}

char *train_state_dump(const TrainState *s) {
    json_t *sets = json_array(), *subj = json_array(), *dig = json_array();
    for (int i = 0; i < s->nids; i++) {
        json_array_append_new(sets, json_string(s->facesets[i]));
        json_array_append_new(subj, json_string(s->subjects[i]));
        json_array_append_new(dig, json_string(s->digests[i]));
    }
    char fmt[32];
    snprintf(fmt, sizeof fmt, "swaplab-run/%d", s->format ? s->format : TRAIN_STATE_FORMAT_VERSION);
    json_t *st = json_pack("{s:s, s:I, s:s, s:s, s:o, s:o, s:o}", "format", fmt, "step", (json_int_t)s->step, "model",
                           s->model, "optimizer", s->optimizer, "config", train_config_to_json(&s->cfg), "facesets",
                           sets, "subjects", subj);
    SL_ASSERT(st);
    if (s->has_digests) json_object_set_new(st, "consent_digests", dig);
    else json_decref(dig);
    json_object_set_new(st, "train_seconds", json_real(s->train_seconds));
    json_object_set_new(st, "ranks", json_integer(s->ranks));
    if (s->saved[0]) json_object_set_new(st, "saved", json_string(s->saved));
    if (s->version[0]) json_object_set_new(st, "version", json_string(s->version));
    char *text = json_dumps(st, JSON_INDENT(2));
    json_decref(st);
    SL_ASSERT(text);
    size_t n = strlen(text);
    char *out = xmalloc(n + 2);
    memcpy(out, text, n);
    out[n] = '\n', out[n + 1] = 0;
    free(text);
    return out;
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
