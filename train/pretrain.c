/* pretrain.c — a new run's weights from a pretrained swaplab model, with the consent record of the
 * start kept in the new model's metadata (pretrain.h). */
#include "train/pretrain.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "data/consent.h"
#include "model/run.h"

static int same_arch(const SwapArch *a, const SwapArch *b) {
    if (a->size != b->size || a->nenc != b->nenc || a->ndec != b->ndec || a->dense != b->dense ||
        a->bottleneck != b->bottleneck || a->enc_up != b->enc_up)
        return 0;
    for (int i = 0; i < a->nenc; i++)
        if (a->enc[i] != b->enc[i]) return 0;
    for (int i = 0; i < a->ndec; i++)
        if (a->dec[i] != b->dec[i]) return 0;
    return 1;
}

/* Copies tensor `name` of src into dst_name of dst (same shape, asserted by the architecture check). */
static void copy_tensor(SwapModel *dst, const char *dst_name, const SwapModel *src, const char *name) {
    const NnTensorInfo *t = nn_model_find(&src->model, name), *u = nn_model_find(&dst->model, dst_name);
    SL_ASSERT(t && u && t->numel == u->numel);
    memcpy(nn_tensor_data(&dst->model, u), nn_tensor_data(&src->model, t), sizeof(float) * t->numel);
    nn_model_touch(&dst->model);
}

int pretrain_init_model(SwapModel *m, const char *from, const char *revocations, SlErr *err) {
    RunInfo info;
    SwapModel *src = run_load_model(from, &info, err);
    if (!src) return sl_failctx(err, "--init %s", from);
    int rc = -1;
    if (info.n_ids < 1) {
        sl_fail(err, "--init %s: the model records no identities (swaplab.identities), so the consent of what it "
                     "was trained on cannot be established; pretrain with swaplab train", info.model_path);
        goto out;
    }
    if (!same_arch(&src->arch, &m->arch)) {
        sl_fail(err, "--init %s: the start is preset '%s' at %dx%d, this run is preset '%s' at %dx%d; pretrain with "
                     "the same --preset",
                info.model_path, src->arch.preset, src->arch.size, src->arch.size, m->arch.preset, m->arch.size,
                m->arch.size);
        goto out;
    }
    if (src->arch.mask != m->arch.mask) {
        sl_fail(err, "--init %s: %s", info.model_path,
                src->arch.mask ? "the start has a learned-mask channel and this run has none; start this run with --learn-mask too"
                               : "the start has no learned-mask channel and this run has one; pretrain with --learn-mask, or "
                                 "start this run without it");
        goto out;
    }
    for (int i = 0; i < info.n_ids; i++) {
        char reason[512] = "";
        SlErr e;
        int rv = consent_is_revoked(revocations, info.ids[i].subject, reason, sizeof reason, &e);
        if (rv < 0) {
            sl_fail(err, "--init %s: the revocation list cannot be read (%s); the gate fails closed", info.model_path,
                    e.msg);
            goto out;
        }
        if (rv > 0) {
            sl_fail(err, "--init %s: it was trained on subject '%s', whose consent was revoked%s%s; pretrain again "
                         "without them",
                    info.model_path, info.ids[i].subject, reason[0] ? ": " : "", reason);
            goto out;
        }
    }
    /* the record: FROM's file, digest, step, preset, identities, and FROM's own start */
    char *idj = run_identities_json(info.ids, info.n_ids);
    json_error_t je;
    json_t *ids = json_loads(idj, 0, &je);
    free(idj);
    SL_ASSERT(ids);
    json_t *rec = json_pack("{s:s, s:s, s:I, s:s, s:o}", "from", info.model_path, "sha256", info.sha256, "step",
                            (json_int_t)info.step, "preset", src->arch.preset, "identities", ids);
    SL_ASSERT(rec);
    if (src->init) {
        json_t *prev = json_loads(src->init, 0, &je);
        if (prev) json_object_set_new(rec, "init", prev);
    }
    char *js = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(rec);
    SL_ASSERT(js);
    /* the weights */
    for (int k = 0; k < m->model.ntensors; k++) {
        const char *name = m->model.tensors[k].name;
        if (strncmp(name, "encoder.", 8) == 0) {
            copy_tensor(m, name, src, name);
        } else {
            int d;
            char rest[96], sname[128];
            SL_ASSERT(sscanf(name, "decoders.%d.%95s", &d, rest) == 2);
            snprintf(sname, sizeof sname, "decoders.%d.%s", d % src->n_ids, rest);
            copy_tensor(m, name, src, sname);
        }
    }
    free(m->init);
    m->init = xstrdup(js);
    free(js);
    rc = 0;
out:
    swap_model_free(src);
    return rc;
}
