/* checkpoint.c — NnModel weights and Adam state to and from safetensors files (see checkpoint.h).
 * Names and layouts follow PyTorch's state_dict, so torch.nn modules load the weights directly:
 * https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.load_state_dict */
#include "nn/checkpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Joins the function's own keys (fixed, first) with the caller's, dropping caller keys that would
 * override the fixed ones. The returned array (not its strings) is malloc'ed. */
static const char **merge_meta(const char *const *fixed, const char *const *meta) {
    int nf = 0, nm = 0;
    while (fixed[nf]) nf += 2;
    while (meta && meta[nm]) nm += 2;
    const char **out = xmalloc(sizeof *out * (size_t)(nf + nm + 1));
    int k = 0;
    for (int i = 0; i < nf; i++) out[k++] = fixed[i];
    for (int i = 0; i < nm; i += 2) {
        int dup = 0;
        for (int j = 0; j < nf; j += 2) dup |= strcmp(meta[i], fixed[j]) == 0;
        if (dup) continue;
        out[k++] = meta[i];
        out[k++] = meta[i + 1];
    }
    out[k] = NULL;
    return out;
}

static void fill_shape(StTensor *t, const NnTensorInfo *ti) {
    t->ndim = ti->ndim;
    for (int d = 0; d < ti->ndim; d++) t->shape[d] = ti->shape[d];
}

int nn_save_model(const char *path, const NnModel *m, const char *const *meta, SlErr *err) {
    SL_ASSERT(m->finalized);
    StTensor *t = xcalloc(m->ntensors ? (size_t)m->ntensors : 1, sizeof *t);
    for (int i = 0; i < m->ntensors; i++) {
        const NnTensorInfo *ti = &m->tensors[i];
        t[i].name = ti->name;
        t[i].dtype = ST_F32;
        fill_shape(&t[i], ti);
        t[i].data = nn_tensor_data(m, ti);
        t[i].nbytes = ti->numel * sizeof(float);
    }
    const char *fixed[] = {"format", "pt", "swaplab.kind", "model", NULL};
    const char **all = merge_meta(fixed, meta);
    int rc = st_write(path, t, m->ntensors, all, err);
    free(all);
    free(t);
    return rc;
}

int nn_save_optimizer(const char *path, const NnModel *m, long step, const char *const *meta,
                      SlErr *err) {
    SL_ASSERT(m->finalized && step >= 0);
    int n = 0;
    for (int i = 0; i < m->ntensors; i++) n += m->tensors[i].trainable ? 2 : 0;
    StTensor *t = xcalloc(n ? (size_t)n : 1, sizeof *t);
    char (*names)[112] = xcalloc(n ? (size_t)n : 1, sizeof *names);
    int k = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const NnTensorInfo *ti = &m->tensors[i];
        if (!ti->trainable) continue;
        for (int j = 0; j < 2; j++, k++) {
            sl_snprintf(names[k], sizeof names[k], "%s.%s", ti->name, j ? "exp_avg_sq" : "exp_avg");
            t[k].name = names[k];
            t[k].dtype = ST_F32;
            fill_shape(&t[k], ti);
            t[k].data = (j ? m->adam_v : m->adam_m) + ti->offset;
            t[k].nbytes = ti->numel * sizeof(float);
        }
    }
    char steps[32];
    snprintf(steps, sizeof steps, "%ld", step);
    const char *fixed[] = {"swaplab.kind", "adam", "step", steps, NULL};
    const char **all = merge_meta(fixed, meta);
    int rc = st_write(path, t, n, all, err);
    free(all);
    free(names);
    free(t);
    return rc;
}

/* Checks that tensor x of file `path` can fill model tensor ti: name (given), F32 (or I64 for a
 * batch-norm step counter), same shape, finite values. */
static int check_tensor(const StTensor *x, const NnTensorInfo *ti, const char *name,
                        const char *path, SlErr *err) {
    int counter = sl_endswith(ti->name, "num_batches_tracked");
    if (x->dtype != ST_F32 && !(counter && x->dtype == ST_I64))
        return sl_fail(err, "%s: tensor \"%s\" has dtype %s, expected F32", path, name,
                       st_dtype_name(x->dtype));
    int same = x->ndim == ti->ndim;
    for (int d = 0; same && d < ti->ndim; d++) same = x->shape[d] == ti->shape[d];
    if (!same) {
        char want[96] = "", got[96] = "";
        size_t o = 0;
        for (int d = 0; d < ti->ndim; d++)
            o += (size_t)snprintf(want + o, sizeof want - o, "%s%d", d ? ", " : "", ti->shape[d]);
        o = 0;
        for (int d = 0; d < x->ndim && o < sizeof got - 24; d++)
            o += (size_t)snprintf(got + o, sizeof got - o, "%s%lld", d ? ", " : "",
                                  (long long)x->shape[d]);
        return sl_fail(err, "%s: tensor \"%s\" has shape [%s] but this model needs [%s] (a "
                            "checkpoint of another architecture?)", path, name, got, want);
    }
    if (x->dtype == ST_F32) {
        const float *v = x->data;
        for (size_t i = 0; i < ti->numel; i++)
            if (!isfinite(v[i]))
                return sl_fail(err, "%s: tensor \"%s\" contains NaN or infinite values (element "
                                    "%zu); the checkpoint is corrupt or training diverged", path,
                               name, i);
    }
    return 0;
}

static void copy_tensor(float *dst, const StTensor *x, size_t numel) {
    if (x->dtype == ST_F32) {
        memcpy(dst, x->data, numel * sizeof(float));
    } else {
        const int64_t *v = x->data;
        for (size_t i = 0; i < numel; i++) dst[i] = (float)v[i];
    }
}

/* A file tensor that the model does not have (another architecture). */
static int check_no_extra(const StFile *f, int expected, const char *path,
                          int (*known)(const NnModel *, const char *), const NnModel *m, SlErr *err) {
    if (st_count(f) == expected) return 0;
    for (int i = 0; i < st_count(f); i++)
        if (!known(m, st_at(f, i)->name))
            return sl_fail(err, "%s: tensor \"%s\" is not part of this model (a checkpoint of "
                                "another architecture?)", path, st_at(f, i)->name);
    return sl_fail(err, "%s: %d tensors, expected %d", path, st_count(f), expected);
}

static int model_knows(const NnModel *m, const char *name) { return nn_model_find(m, name) != NULL; }

int nn_load_model_st(const StFile *f, const char *path, NnModel *m, SlErr *err) {
    SL_ASSERT(m->finalized);
    const char *kind = st_meta(f, "swaplab.kind");
    if (kind && strcmp(kind, "model") != 0)
        return sl_fail(err, "%s: this is a \"%s\" file, not model weights", path, kind);
    for (int i = 0; i < m->ntensors; i++) {
        const NnTensorInfo *ti = &m->tensors[i];
        const StTensor *x = st_find(f, ti->name);
        if (!x)
            return sl_fail(err, "%s: tensor \"%s\" is missing (a checkpoint of another "
                                "architecture?)", path, ti->name);
        if (check_tensor(x, ti, ti->name, path, err)) return -1;
    }
    if (check_no_extra(f, m->ntensors, path, model_knows, m, err)) return -1;
    for (int i = 0; i < m->ntensors; i++) {
        const NnTensorInfo *ti = &m->tensors[i];
        copy_tensor(nn_tensor_data(m, ti), st_find(f, ti->name), ti->numel);
    }
    nn_model_touch(m);
    return 0;
}

int nn_load_model(const char *path, NnModel *m, SlErr *err) {
    StFile *f = st_open(path, err);
    if (!f) return -1;
    int rc = nn_load_model_st(f, path, m, err);
    st_close(f);
    return rc;
}

/* "<trainable tensor>.exp_avg" or ".exp_avg_sq" */
static int optim_knows(const NnModel *m, const char *name) {
    char base[112];
    size_t n = strlen(name);
    const char *suf[] = {".exp_avg", ".exp_avg_sq"};
    for (int j = 0; j < 2; j++) {
        size_t s = strlen(suf[j]);
        if (n <= s || n - s >= sizeof base || strcmp(name + n - s, suf[j]) != 0) continue;
        memcpy(base, name, n - s);
        base[n - s] = 0;
        const NnTensorInfo *ti = nn_model_find(m, base);
        if (ti && ti->trainable) return 1;
    }
    return 0;
}

int nn_load_optimizer(const char *path, NnModel *m, long *step, SlErr *err) {
    SL_ASSERT(m->finalized);
    StFile *f = st_open(path, err);
    if (!f) return -1;
    int rc = -1, expected = 0;
    const char *kind = st_meta(f, "swaplab.kind"), *st = st_meta(f, "step");
    char *end = NULL;
    long s = st ? strtol(st, &end, 10) : -1;
    if (!kind || strcmp(kind, "adam") != 0) {
        sl_fail(err, "%s: not a swaplab optimizer state file (metadata swaplab.kind is %s, "
                     "expected \"adam\")", path, kind ? kind : "missing");
        goto out;
    }
    if (!st || !*st || *end || s < 0) {
        sl_fail(err, "%s: metadata \"step\" must be a non-negative integer", path);
        goto out;
    }
    char name[112];
    for (int pass = 0; pass < 2; pass++) { /* check everything, then copy */
        for (int i = 0; i < m->ntensors; i++) {
            const NnTensorInfo *ti = &m->tensors[i];
            if (!ti->trainable) continue;
            for (int j = 0; j < 2; j++) {
                sl_snprintf(name, sizeof name, "%s.%s", ti->name, j ? "exp_avg_sq" : "exp_avg");
                const StTensor *x = st_find(f, name);
                if (pass == 1) {
                    copy_tensor((j ? m->adam_v : m->adam_m) + ti->offset, x, ti->numel);
                    continue;
                }
                expected++;
                if (!x) {
                    sl_fail(err, "%s: tensor \"%s\" is missing (optimizer state of another "
                                 "architecture?)", path, name);
                    goto out;
                }
                if (check_tensor(x, ti, name, path, err)) goto out;
                if (x->dtype != ST_F32) {
                    sl_fail(err, "%s: tensor \"%s\" must be F32", path, name);
                    goto out;
                }
                if (j == 1)
                    for (size_t e = 0; e < ti->numel; e++)
                        if (((const float *)x->data)[e] < 0) {
                            sl_fail(err, "%s: tensor \"%s\" has negative second moments", path,
                                    name);
                            goto out;
                        }
            }
        }
        if (pass == 0 && check_no_extra(f, expected, path, optim_knows, m, err)) goto out;
    }
    if (step) *step = s;
    rc = 0;
out:
    st_close(f);
    return rc;
}
