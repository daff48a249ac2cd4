/* cmd_info.c — `swaplab info FILE...`: what a model, optimizer or detector file (safetensors)
 * holds: its metadata, its tensors and, for a swap model, the architecture and the identities with
 * their consent digests; `--json` prints the same as one JSON array (one object per file). Reads
 * through nn/safetensors.h, so a damaged file gets that reader's
 * message, not a crash. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "nn/safetensors.h"
#include "model/run.h"
#include "model/swap_model.h"
#include "util/args.h"

static int info_one(const char *arg, int all) {
    char path[SL_PATH_MAX];
    run_model_path(arg, path, sizeof path);
    SlErr err;
    StFile *f = st_open(path, &err);
    if (!f) {
        fprintf(stderr, "swaplab info: %s\n", err.msg);
        return 1;
    }
    int n = st_count(f);
    double total = 0;
    for (int i = 0; i < n; i++) total += (double)st_numel(st_at(f, i));
    printf("%s: safetensors, %d tensors, %.0f values\n", path, n, total);
    const char *arch = st_meta(f, SWAP_ARCH_KEY), *ids = st_meta(f, RUN_IDENTITIES_KEY);
    if (arch) {
        SwapArch a;
        int nid;
        if (swap_arch_parse(arch, &a, &nid, &err) == 0)
            printf("  swap model: preset %s, %dx%d faces, %d identities; the code (latent vector) has %d numbers\n"
                   "    (the encoder's dense layer) for a %dx%dx3 face of %d numbers\n",
                   a.preset, a.size, a.size, nid, a.dense, a.size, a.size, 3 * a.size * a.size);
        if (swap_arch_parse(arch, &a, &nid, &err) == 0 && a.mask)
            printf("    its decoders also draw a learned face mask (4th channel; swap --mask learned)\n");
    }
    if (ids) {
        RunIdentity rid[SWAP_MAX_IDS];
        int k;
        if (run_identities_parse(ids, rid, SWAP_MAX_IDS, &k, &err) == 0)
            for (int i = 0; i < k; i++)
                printf("  identity %d: %s (%s), consent %.16s…\n", i + 1, rid[i].subject,
                       rid[i].kind[0] ? rid[i].kind : "?", rid[i].consent_digest);
    }
    printf("  metadata:\n");
    for (int i = 0; i < st_meta_count(f); i++) {
        const char *k, *v;
        if (st_meta_at(f, i, &k, &v)) break;
        if (!strcmp(k, SWAP_ARCH_KEY) || !strcmp(k, RUN_IDENTITIES_KEY)) continue;
        printf("    %s = %.200s%s\n", k, v, strlen(v) > 200 ? "…" : "");
    }
    int show = all ? n : (n < 12 ? n : 12);
    printf("  tensors%s:\n", show < n ? " (first 12; --all lists every one)" : "");
    for (int i = 0; i < show; i++) {
        const StTensor *t = st_at(f, i);
        char shape[128] = "";
        size_t k = 0;
        for (int d = 0; d < t->ndim && k < sizeof shape - 24; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", d ? "x" : "", (long long)t->shape[d]);
        printf("    %-48s %-5s %s\n", t->name, st_dtype_name(t->dtype), t->ndim ? shape : "scalar");
    }
    st_close(f);
    return 0;
}

/* The same facts as info_one as a JSON object (every tensor listed); on an unreadable file an
 * object {"path", "error"}, and *failed is set. */
static json_t *info_json(const char *arg, int *failed) {
    char path[SL_PATH_MAX];
    run_model_path(arg, path, sizeof path);
    SlErr err;
    StFile *f = st_open(path, &err);
    if (!f) {
        *failed = 1;
        return json_pack("{s:s, s:s}", "path", path, "error", err.msg);
    }
    int n = st_count(f);
    double total = 0;
    json_t *tl = json_array();
    for (int i = 0; i < n; i++) {
        const StTensor *t = st_at(f, i);
        total += (double)st_numel(t);
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer((json_int_t)t->shape[d]));
        json_array_append_new(tl, json_pack("{s:s, s:s, s:o}", "name", t->name, "dtype", st_dtype_name(t->dtype),
                                            "shape", shape));
    }
    json_t *o = json_pack("{s:s, s:s, s:i, s:I}", "path", path, "format", "safetensors", "tensor_count", n, "values",
                          (json_int_t)total);
    const char *arch = st_meta(f, SWAP_ARCH_KEY), *ids = st_meta(f, RUN_IDENTITIES_KEY);
    SwapArch a;
    int nid;
    if (arch && swap_arch_parse(arch, &a, &nid, &err) == 0)
        json_object_set_new(o, "swap_model", json_pack("{s:s, s:i, s:i, s:i, s:b}", "preset", a.preset, "size", a.size,
                                                        "identities", nid, "code_size", a.dense, "learned_mask", a.mask));
    RunIdentity rid[SWAP_MAX_IDS];
    int k;
    if (ids && run_identities_parse(ids, rid, SWAP_MAX_IDS, &k, &err) == 0) {
        json_t *ja = json_array();
        for (int i = 0; i < k; i++)
            json_array_append_new(ja, json_pack("{s:s, s:s, s:s}", "subject", rid[i].subject, "kind", rid[i].kind,
                                                "consent_digest", rid[i].consent_digest));
        json_object_set_new(o, "identities", ja);
    }
    json_t *meta = json_object();
    for (int i = 0; i < st_meta_count(f); i++) {
        const char *key, *v;
        if (st_meta_at(f, i, &key, &v)) break;
        json_object_set_new(meta, key, json_string(v));
    }
    json_object_set_new(o, "metadata", meta);
    json_object_set_new(o, "tensors", tl);
    st_close(f);
    return o;
}

int cmd_info(int argc, char **argv) {
    int all = 0, as_json = 0;
    SlStrList files = {0};
    SlArg spec[] = {
        {"--all", SL_ARG_FLAG, &all, NULL, "list every tensor (default: the first 12)"},
        {"--json", SL_ARG_FLAG, &as_json, NULL, "print a JSON array, one object per file, every tensor listed"},
        {0},
    };
    int r = sl_args_parse_some("info", "FILE|RUN...",
                               "Shows what a model, optimizer or detector file holds: metadata, tensors and, for a\n"
                               "swap model, its architecture and identities (with their consent digests).",
                               spec, argc, argv, &files,
                               "give at least one model file or run directory");
    if (r >= 0) return r;
    int rc = 0;
    if (as_json) {
        json_t *arr = json_array();
        for (int i = 0; i < files.n; i++) json_array_append_new(arr, info_json(files.v[i], &rc));
        char *js = json_dumps(arr, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        printf("%s\n", js);
        free(js);
        json_decref(arr);
        free(files.v);
        return rc ? 1 : 0;
    }
    for (int i = 0; i < files.n; i++) rc |= info_one(files.v[i], all);
    free(files.v);
    return rc;
}
