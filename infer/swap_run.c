/* swap_run.c — `swaplab swap` on a face set, in one process or over MPI ranks (swap_run.h). */
#include "infer/swap_run.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infer/ledger.h"
#include "infer/provenance.h"
#include "infer/staged.h"
#include "nn/device.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/lock.h"
#include "util/progress.h"

/* Batches per rank between two log-and-rename rounds (ranks > 1): bounds the entries rank 0 holds
 * and what a failing rank discards (the rounds before stay logged and in place, as the faces a
 * failing single process had written). $SWAPLAB_SWAP_ROUND overrides it (tests: 1). */
#define ROUND_BATCHES 32

static int round_batches(void) {
    const char *v = getenv("SWAPLAB_SWAP_ROUND");
    int k = v && *v ? atoi(v) : 0;
    return k >= 1 && k <= 1 << 20 ? k : ROUND_BATCHES;
}

/* What each composited face needs to be written (swap_faces' callback). */
typedef struct {
    const SwapRunArgs *a;
    const RunInfo *run;
    const SwapGate *g;
    SwapModel *m;
    const FaceSet *fs;
    const SlKeypair *key;
    const char *pdir, *rawdir, *maskdir;
    int stage;          /* ranks > 1: stage, rank 0 logs later (infer/staged.h) */
    StagedList staged;
    int *faces;         /* the faces this rank wrote, in order */
    int written;
    long iters;
    SlProgress *prog;
} SwapOut;

/* One provenance output: written at once (one process), or made, staged under a hidden name and
 * its log entry kept for rank 0 (ranks). */
static int put_output(SwapOut *so, const char *dir, const char *name, int face, int kind, const Image *im,
                      const ProvenanceInfo *pi, SlErr *err) {
    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, dir, name);
    if (!so->stage) return provenance_write_png(path, im, pi, so->key, err);
    ProvOutput po;
    if (provenance_make_png(path, im, pi, so->key, &po, err)) return -1;
    int r = staged_put(&so->staged, face, kind, path, &po, err);
    prov_output_free(&po);
    return r;
}

/* The blend mask (no provenance, not logged): written at once, or staged with the face's outputs
 * (ranks), so that a failed job moves nothing into place. */
static int put_mask(SwapOut *so, const char *name, int face, const Image *mask, SlErr *err) {
    char path[SL_PATH_MAX], staged[SL_PATH_MAX];
    PngText t = {"Description", "swaplab swap blend mask (not a face; 255 = swapped face)"};
    sl_path_join(path, sizeof path, so->maskdir, name);
    if (!so->stage) return image_save_png(path, mask, &t, 1, err);
    sl_snprintf(staged, sizeof staged, "%s/.%s" STAGED_SUFFIX, so->maskdir, name);
    if (image_save_png(staged, mask, &t, 1, err)) return -1;
    staged_add(&so->staged, face, 2, path, staged);
    return 0;
}

/* DIR/<pair>/NNNNNN.png with provenance, and with --raw the decoded face and the blend mask. */
static int write_output(int i, SwapResult *res, void *user, SlErr *err) {
    SwapOut *so = user;
    char name[32];
    so->iters += res->iters;
    ProvenanceInfo pi;
    swap_provenance(&pi, so->run, so->g, so->m, &so->a->o, so->fs->faces[i].source, so->a->with_label);
    snprintf(name, sizeof name, "%06d.png", i);
    int w = put_output(so, so->pdir, name, i, 0, &res->frame, &pi, err);
    if (!w && so->a->raw) w = put_output(so, so->rawdir, name, i, 1, &res->raw, &pi, err);
    if (!w && so->a->raw) w = put_mask(so, name, i, &res->mask, err);
    if (w) return -1;
    so->faces[so->written++] = i;
    sl_progress_update(so->prog, so->written, NULL);
    return 0;
}

/* The options (every flag that changes an output) and what the ranks read (the model, the face
 * sets' consent manifests and faces, the signing key) as "key=value" texts that every rank must
 * share with rank 0. Threads and device are left out: ranks on different machines may differ. */
static int ranks_agree(SlMpi *mpi, const SwapRunArgs *a, const RunInfo *run, const SwapGate *g, const FaceSet *fs,
                       const SlKeypair *key, SlErr *err) {
    if (mpi->size <= 1) return 0;
    char text[6 * SL_PATH_MAX], faces[65] = "", fj[SL_PATH_MAX], pk[65];
    const SwapOptions *o = &a->o;
    snprintf(text, sizeof text,
             "model=%s from=%s to=%s to-faceset=%s out=%s mask=%s colour=%s blend=%s detail=%.9g label=%d raw=%d "
             "limit=%d revocations=%s policy=%s key=%s",
             a->model, a->from, a->to, a->to_faceset ? a->to_faceset : "-", a->out, o->mask_str,
             o->colour_str, o->blend_str, (double)o->detail, a->with_label, a->raw, a->limit,
             a->revocations ? a->revocations : "-", a->policy ? a->policy : "-", a->key_path ? a->key_path : "-");
    if (sl_mpi_agree(mpi, "options", text, err)) goto refused;
    sl_path_join(fj, sizeof fj, fs->dir, "faces.jsonl");
    SlErr e;
    if (sl_sha256_file(fj, faces, &e)) snprintf(faces, sizeof faces, "unreadable");
    sl_hex(pk, key->pk, 32);
    snprintf(text, sizeof text,
             "model_sha256=%s from-faceset=%s|consent=%s|faces=%s|n=%d|crop=%d to-faceset=%s|consent=%s signing_key=%s",
             run->sha256, g->from_dir, g->from.digest, faces, fs->n, fs->crop, g->to_dir, g->to.digest, pk);
    if (sl_mpi_agree(mpi, "model, face sets, consent manifests or signing key", text, err)) goto refused;
    return 0;
refused:
    if (mpi->rank != 0) err->msg[0] = 0; /* every rank has the same verdict: rank 0 says it */
    return -1;
}

static json_t *side_json(const ConsentInfo *ci, const char *dir) {
    return json_pack("{s:s,s:s,s:s,s:s}", "subject", ci->subject, "kind", ci->kind, "consent_sha256", ci->digest,
                     "faceset", dir);
}

static int cmp_int(const void *x, const void *y) {
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* Rank 0: DIR/<pair>/swap.json (this pair for good, "directory": ".") and DIR/swap.json (the newest
 * swap into DIR, overwritten when another pair is swapped into the same DIR). */
static int write_summary(const SwapRunArgs *a, const RunInfo *run, const SwapModel *m, const SwapGate *g,
                         const FaceSet *fs, const char *pair, const char *pdir, const int *faces, int n, double secs,
                         long iters, int ranks, char *summary_path, SlErr *err) {
    const SwapOptions *o = &a->o;
    json_t *outputs = json_array();
    for (int k = 0; k < n; k++) {
        char name[32];
        snprintf(name, sizeof name, "%06d.png", faces[k]);
        json_array_append_new(outputs, json_pack("{s:i,s:s,s:s}", "face", faces[k], "input", fs->faces[faces[k]].source,
                                                 "output", name));
    }
    char when[32], path[SL_PATH_MAX];
    sl_utc_iso8601(when);
    json_t *j = json_object();
    json_object_set_new(j, "tool", json_string("swaplab swap"));
    json_object_set_new(j, "version", json_string(SL_VERSION));
    json_object_set_new(j, "created", json_string(when));
    json_object_set_new(j, "model", json_string(run->model_path));
    json_object_set_new(j, "model_sha256", json_string(run->sha256));
    json_object_set_new(j, "model_step", json_integer(run->step));
    json_object_set_new(j, "preset", json_string(m->arch.preset));
    json_object_set_new(j, "from", side_json(&g->from, g->from_dir));
    json_object_set_new(j, "to", side_json(&g->to, g->to_dir));
    json_object_set_new(j, "settings", json_pack("{s:s,s:s,s:s,s:f,s:s,s:b,s:i}", "mask", o->mask_str, "colour",
                                                 o->colour_str, "blend", o->blend_str, "detail",
                                                 (double)o->detail, "label", a->with_label ? "visible" : "none", "raw",
                                                 a->raw, "limit", a->limit));
    json_object_set_new(j, "directory", json_string(pair));
    json_object_set_new(j, "count", json_integer(n));
    json_object_set_new(j, "seconds", json_real(secs));
    json_object_set_new(j, "frames_per_s", json_real(secs > 0 ? n / secs : 0));
    if (ranks > 1) json_object_set_new(j, "ranks", json_integer(ranks)); /* only under an MPI launcher */
    if (o->blend == SWAP_BLEND_POISSON) json_object_set_new(j, "poisson_mean_iterations", json_real((double)iters / n));
    json_object_set_new(j, "outputs", outputs);
    json_object_set_new(j, "directory", json_string("."));
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    sl_path_join(path, sizeof path, pdir, "swap.json");
    int w = sl_write_atomic(path, s, strlen(s), err);
    free(s);
    json_object_set_new(j, "directory", json_string(pair));
    s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    sl_path_join(summary_path, SL_PATH_MAX, a->out, "swap.json");
    if (!w) w = sl_write_atomic(summary_path, s, strlen(s), err);
    free(s);
    return w;
}

int swap_run(SlMpi *mpi, const SwapRunArgs *a, SwapRunStats *st, SlErr *err) {
    memset(st, 0, sizeof *st);
    st->ranks = mpi->size;
    const int many = mpi->size > 1, rank0 = mpi->rank == 0;
    int rc = -1, fs_loaded = 0, dev = 0, ok = 0, n = 0;
    SlLock lock = {.fd = -1};
    FaceSet fs;
    RunInfo run;
    SwapGate g;
    NnCtx ctx;
    SlKeypair key;
    SwapModel *m = NULL;
    SlProgress prog;
    int prog_on = 0;
    SwapOut so = {0};
    int *idx = NULL, *all_faces = NULL;

    /* 1. every rank: the consent gate, the data, the key, the device. Under a launcher rank 0 loads
     * the key first: the default per-user key is made on first use, and every rank must sign with
     * the same one */
    SlErr key_err = {{0}};
    int key_ok = 1;
    if (many) {
        if (rank0) key_ok = provenance_load_key(a->key_path, &key, &key_err) == 0;
        sl_mpi_count_failed(mpi, 1); /* a barrier */
        if (!rank0) key_ok = provenance_load_key(a->key_path, &key, &key_err) == 0;
    }
    do {
        if (consent_policy_select(a->policy, err)) break;
        if (!(m = run_load_model(a->model, &run, err))) break;
        if (swap_gate(&run, a->from, a->to, a->to_faceset, a->revocations, &g, err)) break;
        if (faceset_load(a->from, &fs, err)) break;
        fs_loaded = 1;
        if (swap_check_sizes(m, &fs, err) || swap_check_mask(m, &a->o, run.model_path, err)) break;
        n = a->limit > 0 && a->limit < fs.n ? a->limit : fs.n;
        if (n == 0) {
            sl_fail(err, "%s: the face set has no faces", a->from);
            break;
        }
        if (swap_check_frames(&fs, n, err)) break;
        if (many && !key_ok) {
            *err = key_err;
            break;
        }
        if (!many && provenance_load_key(a->key_path, &key, err)) break;
        nn_ctx_init(&ctx, a->threads, 1);
        if (nn_device_select(&ctx, a->device, err)) break;
        dev = 1;
        ok = 1;
    } while (0);
    if (sl_mpi_all_ok(mpi, ok, err)) goto done;
    if (ranks_agree(mpi, a, &run, &g, &fs, &key, err)) goto done;

    /* 2. the output folder: every rank makes it and checks it can write there; rank 0 locks it */
    char pair[300], pdir[SL_PATH_MAX], rawdir[SL_PATH_MAX], maskdir[SL_PATH_MAX], probe[SL_PATH_MAX];
    snprintf(pair, sizeof pair, "%s_to_%s", g.from.subject, g.to.subject);
    sl_path_join(pdir, sizeof pdir, a->out, pair);
    sl_path_join(rawdir, sizeof rawdir, pdir, "raw");
    sl_path_join(maskdir, sizeof maskdir, pdir, "mask");
    ok = 0;
    do {
        if (sl_mkdirs(pdir, err) || (a->raw && (sl_mkdirs(rawdir, err) || sl_mkdirs(maskdir, err)))) {
            sl_failctx(err, "cannot create the output directory");
            break;
        }
        if (rank0 && sl_lock_dir(&lock, pdir, "swaplab swap", err)) break;
        sl_snprintf(probe, sizeof probe, "%s/.swaplab-write-test.%ld", pdir, (long)getpid());
        if (sl_write_atomic(probe, "", 0, err)) {
            sl_failctx(err, "the output directory is not writable");
            break;
        }
        unlink(probe);
        if (rank0 && many) staged_remove_stale(pdir), staged_remove_stale(rawdir), staged_remove_stale(maskdir);
        ok = 1;
    } while (0);
    if (sl_mpi_all_ok(mpi, ok, err)) goto done;

    /* 3. this rank's batches, k % size == rank, in rounds of ROUND_BATCHES batches per rank; after each
     * round rank 0 logs the round's outputs in the one-process order and every rank moves its own
     * into place (one round, and no staging, in one process) */
    char title[320];
    snprintf(title, sizeof title, "swap %s -> %s%s", g.from.subject, g.to.subject, many ? " (this rank)" : "");
    const int nbatch = (n + SWAP_BATCH - 1) / SWAP_BATCH, per_round = many ? round_batches() * mpi->size : nbatch;
    int mine = 0;
    for (int b = mpi->rank; b < nbatch; b += mpi->size) mine += (b + 1) * SWAP_BATCH <= n ? SWAP_BATCH : n - b * SWAP_BATCH;
    idx = xmalloc(sizeof(int) * (size_t)(mine ? mine : 1));
    sl_progress_begin(&prog, title, mine);
    prog_on = 1;
    double t0 = sl_now();
    so = (SwapOut){.a = a, .run = &run, .g = &g, .m = m, .fs = &fs, .key = &key, .pdir = pdir, .rawdir = rawdir,
                   .maskdir = maskdir, .stage = many, .faces = xmalloc(sizeof(int) * (size_t)(mine ? mine : 1)),
                   .prog = &prog};
    for (int r0 = 0; r0 < nbatch; r0 += per_round) {
        int k = 0;
        for (int b = r0 + mpi->rank; b < r0 + per_round && b < nbatch; b += mpi->size)
            for (int i = b * SWAP_BATCH; i < n && i < (b + 1) * SWAP_BATCH; i++) idx[k++] = i;
        ok = k == 0 || swap_faces(m, &ctx, g.target, &fs, idx, k, &a->o, write_output, NULL, &so, err) == 0;
        if (sl_mpi_all_ok(mpi, ok, err)) goto done;
        if (!many) continue;
        if (staged_log(mpi, &so.staged, &key, err)) goto done;
        ok = staged_commit(&so.staged, err) == 0;
        if (sl_mpi_all_ok(mpi, ok, err)) goto done;
    }
    {
        double secs = sl_now() - t0;
        char done_text[400];
        snprintf(done_text, sizeof done_text, "%d faces in %.1f s (%.2f frames/s)%s", mine, secs,
                 secs > 0 ? mine / secs : 0, many ? " on this rank" : "");
        sl_progress_end(&prog, done_text);
        prog_on = 0;
    }

    /* 5. rank 0: the summary, from every rank's faces and Poisson iterations */
    double iters = (double)so.iters;
    sl_mpi_sum_f64(mpi, &iters, 1);
    size_t *lens = xcalloc((size_t)mpi->size, sizeof *lens);
    void *gathered = NULL;
    sl_mpi_gatherv(mpi, so.faces, sizeof(int) * (size_t)so.written, &gathered, lens);
    double secs = sl_now() - t0;
    ok = 1;
    if (rank0) {
        size_t total = 0;
        for (int r = 0; r < mpi->size; r++) total += lens[r];
        all_faces = gathered, gathered = NULL;
        int nw = (int)(total / sizeof(int));
        qsort(all_faces, (size_t)nw, sizeof(int), cmp_int);
        SL_ASSERT(nw == n);
        st->count = nw;
        st->seconds = secs;
        snprintf(st->from_subject, sizeof st->from_subject, "%s", g.from.subject);
        snprintf(st->to_subject, sizeof st->to_subject, "%s", g.to.subject);
        snprintf(st->pair_dir, sizeof st->pair_dir, "%s", pdir);
        ok = write_summary(a, &run, m, &g, &fs, pair, pdir, all_faces, nw, secs, (long)iters, mpi->size, st->summary,
                           err) == 0;
    }
    free(gathered), free(lens);
    if (sl_mpi_all_ok(mpi, ok, err)) goto done;
    rc = 0;
done:
    if (prog_on) sl_progress_end(&prog, "stopped");
    staged_free(&so.staged, 1); /* what was not moved into place (a failed job) */
    free(so.faces), free(idx), free(all_faces);
    sl_unlock(&lock);
    if (dev) {
        if (m) nn_model_release_device(&m->model, &ctx);
        nn_device_release(&ctx);
    }
    if (fs_loaded) faceset_free(&fs);
    swap_model_free(m);
    return rc;
}
