/* run.c — run directories and the identities recorded in model files (see run.h). */
#include "model/run.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"
#include "util/fs.h"

void run_model_path(const char *arg, char *out, size_t n) {
    if (sl_is_dir(arg)) sl_path_join(out, n, arg, "model.safetensors");
    else sl_snprintf(out, n, "%s", arg);
}

char *run_identities_json(const RunIdentity *ids, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "subject", ids[i].subject,
                                           "consent_digest", ids[i].consent_digest, "kind",
                                           ids[i].kind, "faceset", ids[i].faceset));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    SL_ASSERT(s);
    return s;
}

static int copy_str(char *dst, size_t n, json_t *o, const char *key, int required, SlErr *err) {
    json_t *v = json_object_get(o, key);
    if (!v) {
        dst[0] = 0;
        return required ? sl_fail(err, "identity entry lacks \"%s\"", key) : 0;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) >= n)
        return sl_fail(err, "identity field \"%s\" is not a string of at most %zu bytes", key, n - 1);
    memcpy(dst, json_string_value(v), strlen(json_string_value(v)) + 1);
    return 0;
}

int run_identities_parse(const char *json, RunIdentity *ids, int max, int *n, SlErr *err) {
    json_error_t je;
    json_t *a = json_loads(json, 0, &je);
    if (!a || !json_is_array(a)) {
        json_decref(a);
        return sl_fail(err, "metadata %s is not a JSON array", RUN_IDENTITIES_KEY);
    }
    int k = (int)json_array_size(a);
    if (k < 1 || k > max) {
        json_decref(a);
        return sl_fail(err, "metadata %s lists %d identities (1..%d allowed)", RUN_IDENTITIES_KEY, k, max);
    }
    for (int i = 0; i < k; i++) {
        json_t *o = json_array_get(a, (size_t)i);
        memset(&ids[i], 0, sizeof ids[i]);
        if (!json_is_object(o) ||
            copy_str(ids[i].subject, sizeof ids[i].subject, o, "subject", 1, err) ||
            copy_str(ids[i].consent_digest, sizeof ids[i].consent_digest, o, "consent_digest", 1, err) ||
            copy_str(ids[i].kind, sizeof ids[i].kind, o, "kind", 0, err) ||
            copy_str(ids[i].faceset, sizeof ids[i].faceset, o, "faceset", 0, err)) {
            int is_obj = json_is_object(o); /* o belongs to a: read it before a is freed */
            json_decref(a);
            return is_obj ? -1 : sl_fail(err, "identity %d is not a JSON object", i);
        }
    }
    json_decref(a);
    *n = k;
    return 0;
}

SwapModel *run_load_model(const char *arg, RunInfo *info, SlErr *err) {
    memset(info, 0, sizeof *info);
    run_model_path(arg, info->model_path, sizeof info->model_path);
    if (!sl_is_file(info->model_path)) {
        sl_fail(err, "%s: no model file (give a run directory from 'swaplab train' or a .safetensors model)",
                info->model_path);
        return NULL;
    }
    StFile *st = NULL;
    SwapModel *m = swap_model_load(info->model_path, &st, err);
    if (!m) return NULL;
    const char *ids = st_meta(st, RUN_IDENTITIES_KEY);
    const char *step = st_meta(st, RUN_STEP_KEY);
    if (!ids) {
        sl_fail(err, "%s: the model records no identities (metadata %s); it was not written by swaplab train",
                info->model_path, RUN_IDENTITIES_KEY);
        goto fail;
    }
    if (run_identities_parse(ids, info->ids, SWAP_MAX_IDS, &info->n_ids, err)) {
        sl_failctx(err, "%s", info->model_path);
        goto fail;
    }
    if (info->n_ids != m->n_ids) {
        sl_fail(err, "%s: metadata lists %d identities but the model has %d decoders", info->model_path,
                info->n_ids, m->n_ids);
        goto fail;
    }
    info->step = step ? strtol(step, NULL, 10) : 0;
    st_close(st);
    if (sl_sha256_file(info->model_path, info->sha256, err)) {
        swap_model_free(m);
        return NULL;
    }
    return m;
fail:
    st_close(st);
    swap_model_free(m);
    return NULL;
}

int run_find_identity(const RunInfo *info, const char *subject) {
    for (int i = 0; i < info->n_ids; i++)
        if (strcmp(info->ids[i].subject, subject) == 0) return i;
    return -1;
}
