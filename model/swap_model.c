/* swap_model.c — the shared-encoder / per-identity-decoder face-swap autoencoder and its presets
 * (see swap_model.h). Architecture after the original deepfakes/faceswap model:
 * https://github.com/deepfakes/faceswap (plugins/train/model/original.py). */
#include "model/swap_model.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "nn/checkpoint.h"

const char *const swap_preset_names[] = {"original", "lite", "tiny", "hd128", "tiny128", NULL};

static const SwapArch PRESETS[] = {
    {"original", 64, 4, {128, 256, 512, 1024}, 1024, 1024, 512, 3, {256, 128, 64}},
    {"lite", 64, 4, {64, 128, 256, 512}, 512, 512, 256, 3, {128, 64, 32}},
    {"tiny", 64, 4, {32, 64, 128, 256}, 256, 256, 128, 3, {64, 32, 16}},
    {"hd128", 128, 5, {64, 128, 256, 512, 1024}, 1024, 1024, 512, 4, {256, 128, 64, 32}},
    /* tiny's widths at 128 px: four stride-2 stages leave an 8x8 bottleneck (4x4 in the others) */
    {"tiny128", 128, 4, {32, 64, 128, 256}, 256, 256, 128, 3, {64, 32, 16}},
};

int swap_arch_preset(const char *name, SwapArch *a, SlErr *err) {
    for (size_t i = 0; i < sizeof PRESETS / sizeof *PRESETS; i++)
        if (strcmp(name, PRESETS[i].preset) == 0) {
            *a = PRESETS[i];
            return 0;
        }
    return sl_fail(err, "unknown model preset \"%s\" (choose original, lite, tiny, hd128 or tiny128)", name);
}

/* Trainable floats of an architecture with n decoders, in double (for the size check). */
static double arch_params(const SwapArch *a, int n_ids) {
    double p = 0;
    int cin = 3;
    for (int i = 0; i < a->nenc; i++) {
        p += (double)cin * a->enc[i] * 25 + a->enc[i];
        cin = a->enc[i];
    }
    double s = a->size >> a->nenc;
    double flat = (double)cin * s * s, z = (double)a->bottleneck * s * s;
    p += flat * a->dense + a->dense + (double)a->dense * z + z;
    p += (double)a->bottleneck * 9 * 4 * a->enc_up + 4.0 * a->enc_up;
    double d = 0;
    cin = a->enc_up;
    for (int i = 0; i < a->ndec; i++) {
        d += (double)cin * 9 * 4 * a->dec[i] + 4.0 * a->dec[i];
        cin = a->dec[i];
    }
    const int out = a->mask ? 4 : 3;
    d += (double)cin * 25 * out + out;
    return p + d * n_ids;
}

int swap_arch_check(const SwapArch *a, SlErr *err) {
    if (a->nenc < 1 || a->nenc > SWAP_MAX_STAGES)
        return sl_fail(err, "model architecture: %d encoder stages (1..%d)", a->nenc, SWAP_MAX_STAGES);
    if (a->ndec != a->nenc - 1)
        return sl_fail(err, "model architecture: %d decoder stages, expected %d (one fewer than the "
                            "encoder's)", a->ndec, a->nenc - 1);
    if (a->size < 8 || a->size > 1024 || a->size % (1 << a->nenc) != 0)
        return sl_fail(err, "model architecture: size %d must be 8..1024 and a multiple of %d",
                       a->size, 1 << a->nenc);
    const int *w[] = {&a->dense, &a->bottleneck, &a->enc_up};
    for (int i = 0; i < 3; i++)
        if (*w[i] < 1 || *w[i] > 8192) return sl_fail(err, "model architecture: width %d out of 1..8192", *w[i]);
    for (int i = 0; i < a->nenc; i++)
        if (a->enc[i] < 1 || a->enc[i] > 8192)
            return sl_fail(err, "model architecture: encoder width %d out of 1..8192", a->enc[i]);
    for (int i = 0; i < a->ndec; i++)
        if (a->dec[i] < 1 || a->dec[i] > 8192)
            return sl_fail(err, "model architecture: decoder width %d out of 1..8192", a->dec[i]);
    if (arch_params(a, SWAP_MAX_IDS) > 2e9)
        return sl_fail(err, "model architecture: too many parameters (%.3g)", arch_params(a, SWAP_MAX_IDS));
    return 0;
}

static void upscale(NnNet *n, const char *name, int c) {
    nn_conv(n, name, 4 * c, 3, 1);
    nn_leaky_relu(n, 0.1f);
    nn_pixel_shuffle(n);
}

SwapModel *swap_model_new_arch(const SwapArch *a, int n_ids, SlErr *err) {
    if (swap_arch_check(a, err)) return NULL;
    if (n_ids < 2 || n_ids > SWAP_MAX_IDS) {
        sl_fail(err, "a swap model needs 2..%d identities, got %d", SWAP_MAX_IDS, n_ids);
        return NULL;
    }
    SwapModel *m = xcalloc(1, sizeof *m);
    m->arch = *a;
    m->n_ids = n_ids;
    nn_model_init(&m->model);
    char name[64];
    int s = a->size >> a->nenc;
    NnNet *e = nn_net_new(&m->model, "encoder", (NnShape){3, a->size, a->size});
    for (int i = 0; i < a->nenc; i++) {
        sl_snprintf(name, sizeof name, "convs.%d", i);
        nn_conv(e, name, a->enc[i], 5, 2);
        nn_leaky_relu(e, 0.1f);
    }
    nn_dense(e, "dense1", a->dense);
    nn_dense(e, "dense2", a->bottleneck * s * s);
    nn_reshape(e, (NnShape){a->bottleneck, s, s});
    upscale(e, "up1.conv", a->enc_up);
    m->encoder = e;
    NnShape z = nn_net_out_shape(e);
    SL_ASSERT(z.c == a->enc_up && z.h == 2 * s && z.w == 2 * s);
    for (int d = 0; d < n_ids; d++) {
        char prefix[32];
        sl_snprintf(prefix, sizeof prefix, "decoders.%d", d);
        NnNet *n = nn_net_new(&m->model, prefix, z);
        for (int i = 0; i < a->ndec; i++) {
            sl_snprintf(name, sizeof name, "ups.%d.conv", i);
            upscale(n, name, a->dec[i]);
        }
        /* RGB (and the mask) in [0,1]: one sigmoid over every channel */
        nn_conv(n, "out", a->mask ? 4 : 3, 5, 1);
        nn_sigmoid(n);
        NnShape o = nn_net_out_shape(n);
        SL_ASSERT(o.c == (a->mask ? 4 : 3) && o.h == a->size && o.w == a->size);
        m->decoders[d] = n;
    }
    nn_model_finalize(&m->model);
    SL_ASSERT((double)nn_model_param_count(&m->model) == arch_params(a, n_ids));
    return m;
}

SwapModel *swap_model_new(const char *preset, int n_ids, SlErr *err) {
    SwapArch a;
    if (swap_arch_preset(preset, &a, err)) return NULL;
    return swap_model_new_arch(&a, n_ids, err);
}

void swap_model_free(SwapModel *m) {
    if (!m) return;
    nn_model_free(&m->model);
    free(m->init);
    free(m);
}

int swap_model_out_channels(const SwapModel *m) { return m->arch.mask ? 4 : 3; }

void swap_model_split_output(const SwapModel *m, float *y, int n, float *mask) {
    SL_ASSERT(n >= 0 && (m->arch.mask || !mask));
    if (!m->arch.mask) return;
    const size_t pl = (size_t)m->arch.size * m->arch.size;
    /* forward in k: RGB of sample k moves down from 4*pl*k to 3*pl*k (memmove: the ranges overlap) */
    for (int k = 0; k < n; k++) {
        if (mask) memcpy(mask + pl * k, y + 4 * pl * k + 3 * pl, sizeof(float) * pl);
        memmove(y + 3 * pl * k, y + 4 * pl * k, sizeof(float) * 3 * pl);
    }
}

double swap_model_forward_flops(const SwapModel *m) {
    return nn_net_forward_flops(m->encoder) + nn_net_forward_flops(m->decoders[0]);
}

static json_t *int_array(const int *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(v[i]));
    return a;
}

char *swap_model_arch_json(const SwapModel *m) {
    const SwapArch *a = &m->arch;
    json_t *o = json_pack("{s:s, s:i, s:o, s:i, s:i, s:i, s:o, s:i}", "preset", a->preset, "size",
                          a->size, "enc", int_array(a->enc, a->nenc), "dense", a->dense,
                          "bottleneck", a->bottleneck, "enc_up", a->enc_up, "dec",
                          int_array(a->dec, a->ndec), "identities", m->n_ids);
    SL_ASSERT(o);
    if (a->mask) json_object_set_new(o, "mask", json_true());
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    SL_ASSERT(s);
    char *r = xstrdup(s); /* callers free() it; jansson may use its own allocator */
    free(s);
    return r;
}

static int get_int(json_t *o, const char *key, int *out, SlErr *err) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1 << 20)
        return sl_fail(err, "model architecture: \"%s\" missing or not a small integer", key);
    *out = (int)json_integer_value(v);
    return 0;
}

static int get_list(json_t *o, const char *key, int *v, int *n, SlErr *err) {
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > SWAP_MAX_STAGES)
        return sl_fail(err, "model architecture: \"%s\" must be a list of 1..%d widths", key,
                       SWAP_MAX_STAGES);
    *n = (int)json_array_size(a);
    for (int i = 0; i < *n; i++) {
        json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 8192)
            return sl_fail(err, "model architecture: \"%s\" entry %d is not a width 1..8192", key, i);
        v[i] = (int)json_integer_value(x);
    }
    return 0;
}

int swap_arch_parse(const char *js, SwapArch *a, int *n_ids, SlErr *err) {
    json_error_t je;
    json_t *o = json_loads(js, JSON_REJECT_DUPLICATES, &je);
    if (!o) return sl_fail(err, "model architecture is not valid JSON (%s)", je.text);
    memset(a, 0, sizeof *a);
    int rc = -1;
    json_t *p = json_object_get(o, "preset");
    if (!json_is_object(o) || !json_is_string(p) || strlen(json_string_value(p)) >= sizeof a->preset) {
        sl_fail(err, "model architecture: needs a JSON object with a \"preset\" name");
        goto out;
    }
    strcpy(a->preset, json_string_value(p));
    if (get_int(o, "size", &a->size, err) || get_int(o, "dense", &a->dense, err) ||
        get_int(o, "bottleneck", &a->bottleneck, err) || get_int(o, "enc_up", &a->enc_up, err) ||
        get_int(o, "identities", n_ids, err) || get_list(o, "enc", a->enc, &a->nenc, err))
        goto out;
    if (a->nenc > 1 && get_list(o, "dec", a->dec, &a->ndec, err)) goto out;
    if (a->nenc == 1 && json_array_size(json_object_get(o, "dec")) != 0) {
        sl_fail(err, "model architecture: \"dec\" must be empty with one encoder stage");
        goto out;
    }
    json_t *mk = json_object_get(o, "mask");
    if (mk && !json_is_boolean(mk)) {
        sl_fail(err, "model architecture: \"mask\" must be true or false");
        goto out;
    }
    a->mask = json_is_true(mk);
    if (swap_arch_check(a, err)) goto out;
    if (*n_ids < 2 || *n_ids > SWAP_MAX_IDS) {
        sl_fail(err, "model architecture: %d identities (2..%d)", *n_ids, SWAP_MAX_IDS);
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

SwapModel *swap_model_from_metadata(const char *arch_json, SlErr *err) {
    SwapArch a;
    int n;
    if (!arch_json) {
        sl_fail(err, "no model architecture recorded (metadata \"%s\" missing)", SWAP_ARCH_KEY);
        return NULL;
    }
    if (swap_arch_parse(arch_json, &a, &n, err)) return NULL;
    return swap_model_new_arch(&a, n, err);
}

int swap_model_save(const SwapModel *m, const char *path, const char *const *meta, SlErr *err) {
    int nm = 0;
    while (meta && meta[nm]) nm += 2;
    const char **all = xmalloc(sizeof *all * (size_t)(nm + 5));
    char *arch = swap_model_arch_json(m);
    all[0] = SWAP_ARCH_KEY;
    all[1] = arch;
    int k = 2;
    if (m->init) all[k++] = SWAP_INIT_KEY, all[k++] = m->init;
    for (int i = 0; i < nm; i += 2) {
        if (strcmp(meta[i], SWAP_ARCH_KEY) == 0 || (m->init && strcmp(meta[i], SWAP_INIT_KEY) == 0)) continue;
        all[k++] = meta[i];
        all[k++] = meta[i + 1];
    }
    all[k] = NULL;
    int rc = nn_save_model(path, &m->model, all, err);
    free(arch);
    free(all);
    return rc;
}

SwapModel *swap_model_load(const char *path, StFile **meta_out, SlErr *err) {
    if (meta_out) *meta_out = NULL;
    StFile *f = st_open(path, err);
    if (!f) return NULL;
    SwapModel *m = swap_model_from_metadata(st_meta(f, SWAP_ARCH_KEY), err);
    if (!m) {
        sl_failctx(err, "%s", path);
        st_close(f);
        return NULL;
    }
    if (nn_load_model_st(f, path, &m->model, err)) {
        swap_model_free(m);
        st_close(f);
        return NULL;
    }
    const char *init = st_meta(f, SWAP_INIT_KEY);
    if (init) m->init = xstrdup(init);
    if (meta_out) *meta_out = f;
    else st_close(f);
    return m;
}

int swap_encoder_group(int batch, int nids) {
    int k = batch > 0 ? SWAP_ENCODER_FACES / batch : 1;
    return k < 1 ? 1 : k > nids ? nids : k;
}
