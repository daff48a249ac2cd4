/* trainer.c — the face-swap training loop (see trainer.h). The model is the classic deepfakes
 * autoencoder (train/swap_model.h); losses are masked DSSIM + MSE with extra weight on eyes and
 * mouth; the optimizer is Adam with the original deepfakes defaults (lr 5e-5, betas 0.5, 0.999). */
#include "train/trainer.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/augment.h"
#include "data/consent.h"
#include "data/faceset.h"
#include "data/groundtruth.h"
#include "nn/checkpoint.h"
#include "nn/device.h"
#include "train/fidelity.h"
#include "train/pretrain.h"
#include "train/run.h"
#include "train/swap_model.h"
#include "util/fs.h"
#include "util/progress.h"
#include "util/rng.h"

void train_options_default(TrainOptions *o) {
    memset(o, 0, sizeof *o);
    o->batch = 16;
    o->seed = 1;
    o->lr = 5e-5f;
    o->beta1 = 0.5f;
    o->beta2 = 0.999f;
    o->w_dssim = 3.0f;
    o->w_mse = 1.0f;
    o->augment = 1;
    o->warp = 0.015f;
    o->jitter = 10.0f;
    o->loaders = 1;
    o->save_minutes = 10;
    o->holdout_every = 10;
    o->device = "auto";
}

/* ---- Ctrl-C ------------------------------------------------------------------------------------ */
static volatile sig_atomic_t g_stop; /* the only global: a signal handler cannot take a context */
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

/* ---- training data ------------------------------------------------------------------------------ */
typedef struct {
    FaceSet fs;
    ConsentInfo consent;
    int n;          /* faces */
    int ntrain;
    int *train_idx; /* faces used for training (not held out) */
    uint8_t *img;   /* n x 3 x S x S */
    float *wmap;    /* n x S x S loss weights (0 outside the face, 1 inside, 3 eyes/mouth) */
} IdData;

static int load_identity(IdData *d, const char *dir, int S, int holdout_every, const char *revocations,
                         SlErr *err) {
    memset(d, 0, sizeof *d);
    ConsentOptions copt = {revocations, NULL, NULL};
    if (consent_check(dir, "train", &copt, &d->consent, NULL, err))
        return sl_failctx(err, "consent refused for %s (nothing was trained)", dir);
    if (faceset_load(dir, &d->fs, err)) return -1;
    if (d->fs.n < 1) return sl_fail(err, "%s: the face set has no faces", dir);
    d->n = d->fs.n;
    int crop = d->fs.crop;
    const size_t img = 3 * (size_t)S * S;
    d->img = xmalloc(img * (size_t)d->n);
    d->wmap = xmalloc(sizeof(float) * (size_t)S * S * (size_t)d->n);
    d->train_idx = xmalloc(sizeof(int) * (size_t)d->n);
    float *tmp = xmalloc(sizeof(float) * 3 * (size_t)crop * crop);
    float *tmps = xmalloc(sizeof(float) * img);
    float *w = xmalloc(sizeof(float) * (size_t)crop * crop);
    SlProgress pr;
    char label[200];
    snprintf(label, sizeof label, "loading %s", d->fs.subject);
    sl_progress_begin(&pr, label, d->n);
    for (int i = 0; i < d->n; i++) {
        if (faceset_load_face(&d->fs, i, tmp, err)) {
            free(tmp), free(tmps), free(w);
            return -1;
        }
        fidelity_resize_planes(tmp, crop, 3, tmps, S);
        for (size_t j = 0; j < img; j++) {
            float v = tmps[j] * 255.0f + 0.5f;
            d->img[img * i + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        faceset_face_mask(&d->fs, i, NULL, w);
        fidelity_resize_planes(w, crop, 1, d->wmap + (size_t)S * S * i, S);
        if (!fidelity_is_heldout(i, d->n, holdout_every)) d->train_idx[d->ntrain++] = i;
        sl_progress_update(&pr, i + 1, NULL);
    }
    sl_progress_end(&pr, NULL);
    free(tmp), free(tmps), free(w);
    return 0;
}

static void free_identity(IdData *d) {
    faceset_free(&d->fs);
    free(d->img), free(d->wmap), free(d->train_idx);
}

/* ---- loader threads ------------------------------------------------------------------------------ */
enum { SLOT_FREE, SLOT_FILLING, SLOT_READY };
#define QUEUE 4

typedef struct {
    long step;
    int state;
    float *in, *tgt, *w; /* [ids][B][...] */
} Slot;

typedef struct {
    IdData *ids;
    int nids, B, S, augment;
    unsigned long long seed;
    AugmentOpts aopt;
    Slot slot[QUEUE];
    long next_step; /* next step a loader will fill */
    int quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t *th;
    int nth;
    double wait_s; /* time the training step spent waiting for data */
} Loader;

static SlRng batch_rng(unsigned long long seed, long step, int id) {
    SlRng r;
    sl_rng_seed(&r, seed ^ ((unsigned long long)step * 0x9e3779b97f4a7c15ULL) ^
                        ((unsigned long long)(id + 1) * 0xd1b54a32d192ed03ULL));
    return r;
}

/* Fills one slot for `step`: everything depends on (seed, step, identity) only. */
static void fill_slot(Loader *L, Augmenter *aug, Slot *s, long step) {
    const int S = L->S, B = L->B;
    const size_t img = 3 * (size_t)S * S, pl = (size_t)S * S;
    float *face = xmalloc(sizeof(float) * img);
    for (int i = 0; i < L->nids; i++) {
        IdData *d = &L->ids[i];
        SlRng r = batch_rng(L->seed, step, i);
        for (int b = 0; b < B; b++) {
            int k = d->train_idx[sl_rng_int(&r, d->ntrain)];
            const uint8_t *src = d->img + img * k;
            for (size_t j = 0; j < img; j++) face[j] = src[j] * (1.0f / 255.0f);
            size_t o = (size_t)i * B + b;
            if (L->augment) {
                augment_apply(aug, &r, face, d->wmap + pl * k, 1, s->in + img * o, s->tgt + img * o, s->w + pl * o);
            } else {
                memcpy(s->in + img * o, face, sizeof(float) * img);
                memcpy(s->tgt + img * o, face, sizeof(float) * img);
                memcpy(s->w + pl * o, d->wmap + pl * k, sizeof(float) * pl);
            }
        }
    }
    free(face);
}

static void *loader_main(void *arg) {
    Loader *L = arg;
    Augmenter aug;
    augment_init(&aug, &L->aopt, L->S);
    pthread_mutex_lock(&L->mu);
    for (;;) {
        long step = L->next_step;
        Slot *s = &L->slot[step % QUEUE];
        while (!L->quit && (s->state != SLOT_FREE || step != L->next_step)) {
            pthread_cond_wait(&L->cv, &L->mu);
            step = L->next_step;
            s = &L->slot[step % QUEUE];
        }
        if (L->quit) break;
        L->next_step++;
        s->state = SLOT_FILLING;
        s->step = step;
        pthread_mutex_unlock(&L->mu);
        fill_slot(L, &aug, s, step);
        pthread_mutex_lock(&L->mu);
        s->state = SLOT_READY;
        pthread_cond_broadcast(&L->cv);
    }
    pthread_mutex_unlock(&L->mu);
    augment_free(&aug);
    return NULL;
}

static void loader_start(Loader *L, IdData *ids, int nids, int B, int S, int augment, float warp, float jitter,
                         unsigned long long seed, long first_step, int nthreads) {
    memset(L, 0, sizeof *L);
    L->ids = ids, L->nids = nids, L->B = B, L->S = S, L->augment = augment, L->seed = seed;
    /* The input's colours are jittered and the target's are not: the code then cannot carry the
     * input's skin tone, and B's decoder paints B's own (identity transfer 66% -> 100% at step 800
     * of tiny, docs/PERFORMANCE.md). A mild warp keeps the decoded faces sharp (SSIM). */
    L->aopt = augment_defaults();
    L->aopt.warp = warp;
    L->aopt.jitter_l = L->aopt.jitter_ab = jitter;
    L->aopt.jitter_input_only = 1;
    L->next_step = first_step;
    const size_t img = 3 * (size_t)S * S * (size_t)B * nids, pl = (size_t)S * S * (size_t)B * nids;
    for (int q = 0; q < QUEUE; q++) {
        L->slot[q].in = xmalloc(sizeof(float) * img);
        L->slot[q].tgt = xmalloc(sizeof(float) * img);
        L->slot[q].w = xmalloc(sizeof(float) * pl);
        L->slot[q].step = -1;
    }
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    L->nth = nthreads < 1 ? 1 : nthreads;
    L->th = xmalloc(sizeof(pthread_t) * (size_t)L->nth);
    for (int t = 0; t < L->nth; t++)
        if (pthread_create(&L->th[t], NULL, loader_main, L)) SL_DIE("cannot start a loader thread");
}

static Slot *loader_get(Loader *L, long step) {
    Slot *s = &L->slot[step % QUEUE];
    double t0 = sl_now();
    pthread_mutex_lock(&L->mu);
    while (!(s->state == SLOT_READY && s->step == step)) pthread_cond_wait(&L->cv, &L->mu);
    pthread_mutex_unlock(&L->mu);
    L->wait_s += sl_now() - t0;
    return s;
}

static void loader_release(Loader *L, Slot *s) {
    pthread_mutex_lock(&L->mu);
    s->state = SLOT_FREE;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
}

static void loader_stop(Loader *L) {
    pthread_mutex_lock(&L->mu);
    L->quit = 1;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    for (int t = 0; t < L->nth; t++) pthread_join(L->th[t], NULL);
    for (int q = 0; q < QUEUE; q++) free(L->slot[q].in), free(L->slot[q].tgt), free(L->slot[q].w);
    free(L->th);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
}

/* ---- previews ------------------------------------------------------------------------------------ */
#define PREVIEW_FACES 4

/* A grid: for each identity, PREVIEW_FACES rows of [original | reconstruction | swap into every
 * other identity's decoder], evaluation faces (not trained on) where the set has them. */
static int write_preview(SwapModel *m, NnCtx *ctx, IdData *ids, int nids, int holdout_every, const char *path,
                         const char *latest, SlErr *err) {
    const int S = m->arch.size, up = S < 128 ? 2 : 1, T = S * up, gap = 2;
    const int cols = 1 + nids, rows = nids * PREVIEW_FACES;
    Image g = image_new(cols * T + (cols + 1) * gap, rows * T + (rows + 1) * gap + (nids - 1) * 4, 3);
    memset(g.px, 40, (size_t)g.w * g.h * 3);
    const size_t img = 3 * (size_t)S * S;
    float *x = xmalloc(sizeof(float) * img * PREVIEW_FACES);
    int was = ctx->training;
    ctx->training = 0;
    for (int i = 0; i < nids; i++) {
        IdData *d = &ids[i];
        int pick[PREVIEW_FACES], np = 0;
        for (int k = 0; k < d->n && np < PREVIEW_FACES; k++)
            if (fidelity_is_heldout(k, d->n, holdout_every)) pick[np++] = k;
        for (int k = 0; np < PREVIEW_FACES && k < d->n; k++) pick[np++] = k;
        for (int f = np; f < PREVIEW_FACES; f++) pick[f] = pick[f % (np ? np : 1)];
        for (int f = 0; f < PREVIEW_FACES; f++)
            for (size_t j = 0; j < img; j++) x[img * f + j] = d->img[img * pick[f] + j] * (1.0f / 255.0f);
        const float *z = nn_net_forward(m->encoder, ctx, x, PREVIEW_FACES);
        for (int c = 0; c < cols; c++) {
            const float *src = x;
            if (c > 0) {
                int dec = c - 1 == 0 ? i : (c - 1 <= i ? c - 2 : c - 1);
                src = nn_net_forward(m->decoders[dec], ctx, z, PREVIEW_FACES);
            }
            for (int f = 0; f < PREVIEW_FACES; f++) {
                int r = i * PREVIEW_FACES + f;
                int ox = gap + c * (T + gap), oy = gap + r * (T + gap) + i * 4;
                for (int yy = 0; yy < T; yy++)
                    for (int xx = 0; xx < T; xx++)
                        for (int ch = 0; ch < 3; ch++) {
                            float v = src[img * f + (size_t)ch * S * S + (size_t)(yy / up) * S + xx / up];
                            int q = (int)(v * 255.0f + 0.5f);
                            g.px[((size_t)(oy + yy) * g.w + ox + xx) * 3 + ch] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
                        }
            }
        }
    }
    ctx->training = was;
    free(x);
    PngText t[1] = {{"swaplab.preview",
                     "columns: original, reconstruction by its own decoder, swaps into the other identities' decoders "
                     "(in set order); rows: faces of each identity in set order"}};
    int r = path ? image_save_png(path, &g, t, 1, err) : 0;
    if (!r) r = image_save_png(latest, &g, t, 1, err);
    image_free(&g);
    return r;
}

/* ---- checkpoints ------------------------------------------------------------------------------- */
typedef struct {
    const TrainOptions *o;
    SwapModel *m;
    IdData *ids;
    int nids;
    long step;
    double train_seconds;
    char preset[32];
    int batch, augment, holdout_every;
    unsigned long long seed;
    float lr, beta1, beta2, w_dssim, w_mse, warp, jitter;
} Run;

static int write_state(const Run *R, const char *model_rel, const char *optim_rel, SlErr *err) {
    json_t *sets = json_array(), *subj = json_array();
    for (int i = 0; i < R->nids; i++) {
        json_array_append_new(sets, json_string(R->ids[i].fs.dir));
        json_array_append_new(subj, json_string(R->ids[i].consent.subject));
    }
    char now[32];
    sl_utc_iso8601(now);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", R->seed);
    json_t *cfg = json_pack("{s:s, s:i, s:s, s:f, s:f, s:f, s:f, s:f, s:b, s:i}", "preset", R->preset, "batch",
                            R->batch, "seed", seed, "lr", (double)R->lr, "beta1", (double)R->beta1, "beta2",
                            (double)R->beta2, "w_dssim", (double)R->w_dssim, "w_mse", (double)R->w_mse,
                            "augment", R->augment, "holdout_every", R->holdout_every);
    json_object_set_new(cfg, "warp", json_real(R->warp));
    json_object_set_new(cfg, "colour_jitter", json_real(R->jitter));
    json_t *st = json_pack("{s:s, s:I, s:s, s:s, s:o, s:o, s:o, s:f, s:s, s:s}", "format", "swaplab-run/1",
                           "step", (json_int_t)R->step, "model", model_rel, "optimizer", optim_rel, "config", cfg,
                           "facesets", sets, "subjects", subj, "train_seconds", R->train_seconds, "saved", now,
                           "version", SL_VERSION);
    char *s = json_dumps(st, JSON_INDENT(2));
    json_decref(st);
    char path[4096];
    sl_path_join(path, sizeof path, R->o->out, "state.json");
    int r = sl_write_atomic(path, s, strlen(s), err);
    free(s);
    return r;
}

static int save_checkpoint(Run *R, SlErr *err) {
    char dir[4096], mrel[128], orel[128], mpath[4096], opath[4096];
    sl_path_join(dir, sizeof dir, R->o->out, "ckpt");
    if (sl_mkdirs(dir, err)) return -1;
    snprintf(mrel, sizeof mrel, "ckpt/step-%09ld.model.safetensors", R->step);
    snprintf(orel, sizeof orel, "ckpt/step-%09ld.optim.safetensors", R->step);
    sl_path_join(mpath, sizeof mpath, R->o->out, mrel);
    sl_path_join(opath, sizeof opath, R->o->out, orel);
    RunIdentity rid[SWAP_MAX_IDS];
    for (int i = 0; i < R->nids; i++) {
        memset(&rid[i], 0, sizeof rid[i]);
        sl_snprintf(rid[i].subject, sizeof rid[i].subject, "%s", R->ids[i].consent.subject);
        sl_snprintf(rid[i].consent_digest, sizeof rid[i].consent_digest, "%s", R->ids[i].consent.digest);
        sl_snprintf(rid[i].kind, sizeof rid[i].kind, "%s", R->ids[i].consent.kind);
        snprintf(rid[i].faceset, sizeof rid[i].faceset, "%.1000s", R->ids[i].fs.dir);
    }
    char *idj = run_identities_json(rid, R->nids);
    char step[32];
    snprintf(step, sizeof step, "%ld", R->step);
    const char *meta[] = {RUN_IDENTITIES_KEY, idj, RUN_STEP_KEY, step, "swaplab.version", SL_VERSION, NULL};
    int r = swap_model_save(R->m, mpath, meta, err);
    if (!r) r = nn_save_optimizer(opath, &R->m->model, R->step, meta, err);
    free(idj);
    if (r) {
        unlink(mpath);
        return sl_failctx(err, "checkpoint at step %ld not written (the previous checkpoint is kept)", R->step);
    }
    if (write_state(R, mrel, orel, err)) {
        unlink(mpath), unlink(opath);
        return sl_failctx(err, "checkpoint at step %ld not written (the previous checkpoint is kept)", R->step);
    }
    /* RUN/model.safetensors: a hard link to the newest model file, swapped in atomically */
    char latest[4096], tmp[4200];
    sl_path_join(latest, sizeof latest, R->o->out, "model.safetensors");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", latest, (long)getpid());
    unlink(tmp);
    if (link(mpath, tmp) != 0 || rename(tmp, latest) != 0) {
        unlink(tmp);
        char *buf;
        size_t len;
        if (sl_read_file(mpath, (size_t)1 << 34, &buf, &len, err)) return -1;
        r = sl_write_atomic(latest, buf, len, err);
        free(buf);
        if (r) return -1;
    }
    return 0;
}

/* Removes checkpoint files older than the last two in RUN/ckpt. */
static void prune_checkpoints(const char *out) {
    char dir[4096];
    sl_path_join(dir, sizeof dir, out, "ckpt");
    char **names;
    static const char *const sfx[] = {".model.safetensors", NULL};
    int n = sl_list_dir(dir, sfx, &names, NULL);
    for (int i = 0; i < n - 2; i++) {
        char p[4096], q[4096];
        sl_path_join(p, sizeof p, dir, names[i]);
        sl_snprintf(q, sizeof q, "%.*s.optim.safetensors", (int)(strlen(p) - strlen(".model.safetensors")), p);
        unlink(p);
        unlink(q);
    }
    if (n > 0) sl_free_list(names, n);
}

static int json_get_str(json_t *o, const char *k, char *out, size_t n) {
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v) || strlen(json_string_value(v)) >= n) return -1;
    memcpy(out, json_string_value(v), strlen(json_string_value(v)) + 1);
    return 0;
}

/* Reads RUN/state.json for --resume. */
static int read_state(const char *out, json_t **st, SlErr *err) {
    char path[4096];
    sl_path_join(path, sizeof path, out, "state.json");
    if (!sl_is_file(path))
        return sl_fail(err, "%s: nothing to resume (no state.json); drop --resume to start a new run", out);
    json_error_t je;
    *st = json_load_file(path, 0, &je);
    if (!*st || !json_is_object(*st)) {
        json_decref(*st);
        return sl_fail(err, "%s: line %d, column %d: %s", path, je.line, je.column, je.text);
    }
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------------------ */
static int nonfinite(float x) { return !isfinite(x); }

int train_run(const TrainOptions *o, SlErr *err) {
    sl_crypto_init();
    g_stop = 0;
    Run R;
    memset(&R, 0, sizeof R);
    R.o = o;
    json_t *state = NULL;
    const char **sets = o->facesets;
    int nsets = o->n_facesets;
    const char **state_sets = NULL;
    char statepath[4096];
    sl_path_join(statepath, sizeof statepath, o->out, "state.json");
    if (o->resume) {
        if (read_state(o->out, &state, err)) return 1;
        json_t *cfg = json_object_get(state, "config"), *fs = json_object_get(state, "facesets");
        char seed[32];
        if (!json_is_object(cfg) || json_get_str(cfg, "preset", R.preset, sizeof R.preset) ||
            json_get_str(cfg, "seed", seed, sizeof seed) || !json_is_integer(json_object_get(cfg, "batch")) ||
            !json_is_array(fs) || !json_is_integer(json_object_get(state, "step"))) {
            json_decref(state);
            return sl_fail(err, "%s: not a swaplab run state (fields missing)", statepath), 1;
        }
        R.batch = (int)json_integer_value(json_object_get(cfg, "batch"));
        R.seed = strtoull(seed, NULL, 10);
        R.lr = (float)json_number_value(json_object_get(cfg, "lr"));
        R.beta1 = (float)json_number_value(json_object_get(cfg, "beta1"));
        R.beta2 = (float)json_number_value(json_object_get(cfg, "beta2"));
        R.w_dssim = (float)json_number_value(json_object_get(cfg, "w_dssim"));
        R.w_mse = (float)json_number_value(json_object_get(cfg, "w_mse"));
        R.augment = json_is_true(json_object_get(cfg, "augment"));
        /* runs from before these options had the colour jitter on input and target alike; they go
         * on with today's augmentation at the old strengths (0.05 warp, 5 jitter) */
        json_t *wj = json_object_get(cfg, "warp"), *cj = json_object_get(cfg, "colour_jitter");
        R.warp = json_is_number(wj) ? (float)json_number_value(wj) : 0.05f;
        R.jitter = json_is_number(cj) ? (float)json_number_value(cj) : 5.0f;
        R.holdout_every = (int)json_integer_value(json_object_get(cfg, "holdout_every"));
        R.train_seconds = json_number_value(json_object_get(state, "train_seconds"));
        if (o->preset && strcmp(o->preset, R.preset) != 0) {
            json_decref(state);
            return sl_fail(err, "%s: this run trains preset '%s'; --preset %s does not match it (start a new run "
                           "with another --out to change the architecture)", o->out, R.preset, o->preset), 1;
        }
        if (nsets == 0) {
            nsets = (int)json_array_size(fs);
            state_sets = xcalloc((size_t)nsets, sizeof *state_sets);
            for (int i = 0; i < nsets; i++) state_sets[i] = json_string_value(json_array_get(fs, (size_t)i));
            sets = state_sets;
        }
    } else {
        if (sl_is_file(statepath))
            return sl_fail(err, "%s already holds a training run; add --resume to continue it, or choose another --out",
                           o->out), 1;
        sl_snprintf(R.preset, sizeof R.preset, "%s", o->preset ? o->preset : "tiny");
        R.batch = o->batch, R.seed = o->seed, R.lr = o->lr, R.beta1 = o->beta1, R.beta2 = o->beta2;
        R.w_dssim = o->w_dssim, R.w_mse = o->w_mse, R.augment = o->augment, R.holdout_every = o->holdout_every;
        R.warp = o->warp, R.jitter = o->jitter;
    }
    int rc = 1;
    NnCtx ctx;
    nn_ctx_init(&ctx, o->threads, R.seed);
    IdData *ids = NULL;
    SwapModel *m = NULL;
    Fidelity *fid = NULL;
    FILE *logf = NULL, *fidf = NULL;
    if (nsets < 2 || nsets > SWAP_MAX_IDS) {
        sl_fail(err, "train needs 2 to %d face sets (one per identity), got %d", SWAP_MAX_IDS, nsets);
        goto done;
    }
    if (R.batch < 1 || R.batch > 4096) {
        sl_fail(err, "--batch must be 1..4096, got %d", R.batch);
        goto done;
    }
    if (nn_device_select(&ctx, o->device ? o->device : "auto", err)) goto done;

    /* the model: new, or rebuilt from the run's last checkpoint */
    char model_rel[512] = "", optim_rel[512] = "";
    if (o->resume) {
        if (json_get_str(state, "model", model_rel, sizeof model_rel) ||
            json_get_str(state, "optimizer", optim_rel, sizeof optim_rel)) {
            sl_fail(err, "%s: state names no checkpoint files", statepath);
            goto done;
        }
        char mp[4096], op[4096];
        sl_path_join(mp, sizeof mp, o->out, model_rel);
        sl_path_join(op, sizeof op, o->out, optim_rel);
        m = swap_model_load(mp, NULL, err);
        if (!m) goto done;
        if (strcmp(m->arch.preset, R.preset) != 0 || m->n_ids != nsets) {
            sl_fail(err, "%s: the checkpoint holds preset '%s' with %d identities, the run says '%s' with %d face sets",
                    mp, m->arch.preset, m->n_ids, R.preset, nsets);
            goto done;
        }
        long ostep = 0;
        if (nn_load_optimizer(op, &m->model, &ostep, err)) goto done;
        R.step = (long)json_integer_value(json_object_get(state, "step"));
        if (ostep != R.step) {
            sl_fail(err, "%s: optimizer state is at step %ld but the run state says %ld", op, ostep, R.step);
            goto done;
        }
    } else {
        m = swap_model_new(R.preset, nsets, err);
        if (!m) goto done;
        SlRng init;
        sl_rng_seed(&init, R.seed ^ 0x5eed1417ULL);
        nn_model_init_weights(&m->model, &init);
        if (o->init && pretrain_init_model(m, o->init, o->revocations, err)) goto done;
    }
    R.m = m;
    const int S = m->arch.size;

    /* the consent gate and the data */
    ids = xcalloc((size_t)nsets, sizeof *ids);
    R.ids = ids;
    int crop0 = 0;
    for (int i = 0; i < nsets; i++) {
        if (load_identity(&ids[i], sets[i], S, R.holdout_every, o->revocations, err)) {
            R.nids = i + 1;
            goto done;
        }
        R.nids = i + 1;
        if (i == 0) crop0 = ids[i].fs.crop;
        else if (ids[i].fs.crop != crop0) {
            sl_fail(err, "%s has %dx%d crops but %s has %dx%d; extract or synthesise every set at one --crop size",
                    sets[i], ids[i].fs.crop, ids[i].fs.crop, sets[0], crop0, crop0);
            goto done;
        }
        if (ids[i].ntrain < 1) {
            sl_fail(err, "%s: no faces left for training after holding out evaluation faces", sets[i]);
            goto done;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(ids[j].consent.subject, ids[i].consent.subject) == 0) {
                sl_fail(err, "%s and %s are the same subject '%s'; give each identity once", sets[j], sets[i],
                        ids[i].consent.subject);
                goto done;
            }
        if (o->resume) {
            json_t *subj = json_array_get(json_object_get(state, "subjects"), (size_t)i);
            if (!json_is_string(subj) || strcmp(json_string_value(subj), ids[i].consent.subject) != 0) {
                sl_fail(err, "%s: subject '%s' is not identity %d of this run (%s); give the run's face sets in order",
                        sets[i], ids[i].consent.subject, i + 1, json_is_string(subj) ? json_string_value(subj) : "?");
                goto done;
            }
        }
    }
    if (crop0 < S) {
        sl_fail(err, "%s: its crops are %dx%d but the '%s' model takes %dx%d faces; make the face sets with --crop %d or "
                     "more (swaplab synth/extract), or choose a preset of at most %d px", sets[0], crop0, crop0, R.preset,
                S, S, S, crop0);
        goto done;
    }
    if (crop0 != S)
        sl_info("face crops are %dx%d; the '%s' model works at %dx%d, so crops are resized", crop0, crop0, R.preset, S, S);

    if (sl_mkdirs(o->out, err)) goto done;
    char path[4096];
    sl_path_join(path, sizeof path, o->out, "previews");
    if (sl_mkdirs(path, err)) goto done;
    sl_path_join(path, sizeof path, o->out, "log.jsonl");
    logf = fopen(path, "a");
    if (!logf) {
        sl_fail(err, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    int have_gt = 1;
    for (int i = 0; i < nsets; i++) have_gt &= groundtruth_available(&ids[i].fs);
    if (have_gt) {
        FaceSet fsets[SWAP_MAX_IDS];
        for (int i = 0; i < nsets; i++) fsets[i] = ids[i].fs;
        fid = fidelity_prepare(fsets, nsets, S, R.holdout_every, 16, err);
        if (!fid) goto done;
        sl_path_join(path, sizeof path, o->out, "fidelity.jsonl");
        fidf = fopen(path, "a");
        if (!fidf) {
            sl_fail(err, "%s: cannot open: %s", path, strerror(errno));
            goto done;
        }
    }

    /* the loop */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    const int B = R.batch;
    const size_t img = 3 * (size_t)S * S, pl = (size_t)S * S;
    NnShape zs = nn_net_out_shape(m->encoder);
    /* On a GPU the model, the batch and every gradient buffer live on the device; previews,
     * evaluation and checkpoints run on host copies (nn_model_to_host) with a CPU context. */
    NnCtx host_ctx;
    nn_ctx_init(&host_ctx, o->threads, R.seed);
    const int on_gpu = ctx.device == NN_CUDA;
    if (on_gpu) sl_info("training on %s", nn_device_name(&ctx));
    nn_model_to_device(&m->model, &ctx);
    float *dy = nn_dev_alloc(&ctx, img * B), *dy2 = nn_dev_alloc(&ctx, img * B);
    float *dz = nn_dev_alloc(&ctx, (size_t)zs.c * zs.h * zs.w * B);
    float *d_in = on_gpu ? nn_dev_alloc(&ctx, img * B) : NULL, *d_tg = on_gpu ? nn_dev_alloc(&ctx, img * B) : NULL;
    float *d_w = on_gpu ? nn_dev_alloc(&ctx, pl * B) : NULL;
    nn_net_reserve(m->encoder, B);
    for (int i = 0; i < nsets; i++) nn_net_reserve(m->decoders[i], B);
    Loader L;
    loader_start(&L, ids, nsets, B, S, R.augment, R.warp, R.jitter, R.seed, R.step + 1, o->loaders);
    NnAdam adam = {R.lr, R.beta1, R.beta2, 1e-8f, 0.0f, 1};
    const long start = R.step;
    const double t0 = sl_now(), budget = o->minutes * 60.0;
    double last_log = t0, last_prev = t0, last_eval = t0, last_save = t0, compute_s = 0;
    double ema[SWAP_MAX_IDS] = {0};
    float loss[SWAP_MAX_IDS] = {0};
    SlProgress pr;
    sl_progress_begin(&pr, "train", o->steps > 0 ? o->steps : 0);
    pr.done = R.step;
    sl_info("training %s: %d identities, batch %d per identity, %s, %s; Ctrl-C saves and stops", R.preset, nsets, B,
            o->steps > 0 ? "until step target" : "for a time budget", R.augment ? "augmentation on" : "augmentation off");
    int failed = 0, interrupted = 0;
    long since = 0;
    double since_t = t0;
    for (;;) {
        double now = sl_now();
        if (o->steps > 0 && R.step >= o->steps) break;
        if (o->steps <= 0 && now - t0 >= budget) break;
        if (g_stop) {
            interrupted = 1;
            break;
        }
        long s = R.step + 1;
        Slot *slot = loader_get(&L, s);
        double c0 = sl_now();
        ctx.training = 1;
        ctx.rng = batch_rng(R.seed ^ 0xd20f0f, s, -1);
        int bad = -1;
        for (int i = 0; i < nsets; i++) {
            const float *in = slot->in + img * B * i, *tg = slot->tgt + img * B * i, *w = slot->w + pl * B * i;
            if (on_gpu) {
                nn_dev_upload(&ctx, d_in, in, img * B);
                nn_dev_upload(&ctx, d_tg, tg, img * B);
                nn_dev_upload(&ctx, d_w, w, pl * B);
                in = d_in, tg = d_tg, w = d_w;
            }
            const float *z = nn_net_forward(m->encoder, &ctx, in, B);
            const float *y = nn_net_forward(m->decoders[i], &ctx, z, B);
            float ld = R.w_dssim > 0 ? nn_dev_loss_dssim(&ctx, y, tg, w, B, 3, S, S, dy) : 0;
            float lm = R.w_mse > 0 ? nn_dev_loss_mse(&ctx, y, tg, w, B, 3, S, S, R.w_dssim > 0 ? dy2 : dy) : 0;
            if (R.w_dssim > 0 && R.w_mse > 0) nn_dev_axpby(&ctx, dy, R.w_dssim, dy, R.w_mse, dy2, img * B);
            else nn_dev_axpby(&ctx, dy, R.w_dssim > 0 ? R.w_dssim : R.w_mse, dy, 0, NULL, img * B);
            loss[i] = R.w_dssim * ld + R.w_mse * lm;
            if (nonfinite(loss[i])) {
                bad = i;
                break;
            }
            nn_net_backward(m->decoders[i], &ctx, dy, dz);
            nn_net_backward(m->encoder, &ctx, dz, NULL);
        }
        loader_release(&L, slot);
        if (bad >= 0) {
            sl_fail(err, "loss became %s at step %ld (identity %s); training stopped. The last good checkpoint "
                    "is kept in %s; try a lower learning rate (--lr) or check the face sets",
                    isnan(loss[bad]) ? "NaN" : "infinite", s, ids[bad].consent.subject, o->out);
            failed = 1;
            break;
        }
        nn_adam_step_ctx(&m->model, &ctx, &adam, s);
        R.step = s;
        compute_s += sl_now() - c0;
        since++;
        for (int i = 0; i < nsets; i++) ema[i] = s == start + 1 ? loss[i] : 0.9 * ema[i] + 0.1 * loss[i];
        now = sl_now();
        /* progress line */
        char extra[512];
        int k = 0;
        k += snprintf(extra + k, sizeof extra - (size_t)k, "step %ld", R.step);
        for (int i = 0; i < nsets && k < 400; i++)
            k += snprintf(extra + k, sizeof extra - (size_t)k, " %s %.4f", ids[i].consent.subject, ema[i]);
        double ips = (double)(R.step - start) * B * nsets / (now - t0);
        k += snprintf(extra + k, sizeof extra - (size_t)k, " %.1f img/s", ips);
        if (o->steps <= 0) {
            char left[32];
            sl_format_duration(left, sizeof left, budget - (now - t0));
            snprintf(extra + k, sizeof extra - (size_t)k, " %s left", left);
        }
        if (o->steps > 0) sl_progress_update(&pr, R.step, extra);
        else if (now - pr.last_draw > 1.0 || !pr.tty) {
            sl_progress_update(&pr, R.step, extra);
        }
        /* log */
        /* every log_every steps (or every second), and always the first and the last step of this
         * invocation, so even a run shorter than a second leaves a loss curve */
        int last = (o->steps > 0 && R.step >= o->steps) || (o->steps <= 0 && now - t0 >= budget) || g_stop;
        int log_now = R.step == start + 1 || last ||
                      (o->log_every > 0 ? R.step % o->log_every == 0 : now - last_log >= 1.0);
        if (log_now) {
            json_t *ls = json_array();
            for (int i = 0; i < nsets; i++) json_array_append_new(ls, json_real(loss[i]));
            json_t *e = json_pack("{s:I, s:f, s:o, s:f, s:f}", "step", (json_int_t)R.step, "seconds",
                                  R.train_seconds + (now - t0), "loss", ls, "img_per_s",
                                  since * B * nsets / (now > since_t ? now - since_t : 1e-9), "data_wait_s", L.wait_s);
            char *line = json_dumps(e, JSON_COMPACT);
            fprintf(logf, "%s\n", line);
            fflush(logf);
            free(line);
            json_decref(e);
            last_log = now;
            since = 0;
            since_t = now;
        }
        /* previews */
        int prev_now = o->preview_every > 0 ? R.step % o->preview_every == 0 : now - last_prev >= 20.0;
        if (prev_now) {
            char p1[4096], lat[4096], nm[64];
            snprintf(nm, sizeof nm, "previews/step-%09ld.png", R.step);
            sl_path_join(p1, sizeof p1, o->out, nm);
            sl_path_join(lat, sizeof lat, o->out, "previews/latest.png");
            nn_model_to_host(&m->model, &ctx);
            if (write_preview(m, &host_ctx, ids, nsets, R.holdout_every, o->timelapse ? p1 : NULL, lat, err)) {
                failed = 1;
                break;
            }
            last_prev = now;
        }
        /* fidelity */
        int eval_now = fid && (o->eval_every > 0 ? R.step % o->eval_every == 0
                                                 : now - last_eval >= (budget > 0 ? fmax(30.0, budget / 8) : 60.0));
        if (eval_now) {
            FidelityReport rep;
            FaceSet fsets[SWAP_MAX_IDS];
            for (int i = 0; i < nsets; i++) fsets[i] = ids[i].fs;
            nn_model_to_host(&m->model, &ctx);
            if (fidelity_run(fid, m, &host_ctx, &rep, err)) {
                failed = 1;
                break;
            }
            rep.step = R.step;
            json_t *j = fidelity_to_json(&rep, fsets);
            json_object_set_new(j, "seconds", json_real(R.train_seconds + (now - t0)));
            char *line = json_dumps(j, JSON_COMPACT);
            fprintf(fidf, "%s\n", line);
            fflush(fidf);
            free(line);
            json_decref(j);
            last_eval = sl_now();
        }
        /* checkpoint */
        int save_now = o->save_every > 0 ? R.step % o->save_every == 0
                                         : now - last_save >= (o->save_minutes > 0 ? o->save_minutes * 60 : 600);
        if (save_now) {
            R.train_seconds += sl_now() - t0;
            nn_model_to_host(&m->model, &ctx);
            int r = save_checkpoint(&R, err);
            R.train_seconds -= sl_now() - t0;
            if (r) {
                failed = 1;
                break;
            }
            prune_checkpoints(o->out);
            last_save = sl_now();
        }
    }
    loader_stop(&L);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    double wall = sl_now() - t0;
    R.train_seconds += wall;
    char summary[256];
    snprintf(summary, sizeof summary, "step %ld, %.1f img/s, data wait %.1f%% of the time", R.step,
             wall > 0 ? (double)(R.step - start) * B * nsets / wall : 0, wall > 0 ? 100 * L.wait_s / wall : 0);
    sl_progress_end(&pr, summary);
    nn_dev_free(&ctx, dy), nn_dev_free(&ctx, dy2), nn_dev_free(&ctx, dz);
    if (on_gpu) nn_dev_free(&ctx, d_in), nn_dev_free(&ctx, d_tg), nn_dev_free(&ctx, d_w);
    nn_model_to_host(&m->model, &ctx);
    if (!failed) {
        if (R.step > start || !o->resume) {
            char lat[4096];
            sl_path_join(lat, sizeof lat, o->out, "previews/latest.png");
            if (write_preview(m, &host_ctx, ids, nsets, R.holdout_every, NULL, lat, err)) goto done;
            if (save_checkpoint(&R, err)) goto done;
            prune_checkpoints(o->out);
        }
        if (fid) {
            FidelityReport rep;
            FaceSet fsets[SWAP_MAX_IDS];
            for (int i = 0; i < nsets; i++) fsets[i] = ids[i].fs;
            if (fidelity_run(fid, m, &host_ctx, &rep, err)) goto done;
            rep.step = R.step;
            json_t *j = fidelity_to_json(&rep, fsets);
            json_object_set_new(j, "seconds", json_real(R.train_seconds));
            char *line = json_dumps(j, JSON_COMPACT);
            fprintf(fidf, "%s\n", line);
            free(line);
            json_decref(j);
            if (!getenv("SL_QUIET") || !strcmp(getenv("SL_QUIET"), "0")) fidelity_print(stderr, &rep, fsets);
        }
        if (interrupted)
            fprintf(stderr, "swaplab train: interrupted; checkpoint saved at step %ld. Continue with: swaplab train "
                            "--out %s --resume\n", R.step, o->out);
        sl_info("model: %s/model.safetensors  previews: %s/previews/latest.png  log: %s/log.jsonl", o->out, o->out,
                o->out);
        rc = 0;
    }
done:
    if (logf) fclose(logf);
    if (fidf) fclose(fidf);
    fidelity_free(fid);
    for (int i = 0; ids && i < R.nids; i++) free_identity(&ids[i]);
    free(ids);
    if (m) nn_model_release_device(&m->model, &ctx);
    nn_device_release(&ctx);
    swap_model_free(m);
    free(state_sets);
    json_decref(state);
    return rc;
}
