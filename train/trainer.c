/* trainer.c — the face-swap training loop (see trainer.h). The model is the classic deepfakes
 * autoencoder (model/swap_model.h); losses are masked DSSIM + MSE with extra weight on eyes and
 * mouth (and, with --learn-mask, the MSE of the decoder's mask channel against the landmark hull of
 * the target crop); the optimizer is Adam (betas 0.5, 0.999 as the original deepfakes) with the
 * learning-rate schedule of train/config.h. */
#include "train/trainer.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/augment.h"
#include "data/consent.h"
#include "data/faceset.h"
#include "data/groundtruth.h"
#include "nn/checkpoint.h"
#include "nn/device.h"
#include "nn/dist.h"
#include "train/facedata.h"
#include "train/fidelity.h"
#include "train/pretrain.h"
#include "model/run.h"
#include "model/swap_model.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/progress.h"
#include "util/rng.h"

void train_options_default(TrainOptions *o) {
    memset(o, 0, sizeof *o);
    train_config_default(&o->cfg, NULL);
    o->cfg.lr = 0; /* the preset's */
    o->loaders = 1;
    o->save_minutes = 10;
    o->device = NULL; /* auto; NULL: no message when it falls back to the CPU */
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
    FaceData fd;    /* every face at model size (train/facedata.h), shared with fidelity */
    int n;          /* faces */
    int ntrain;
    int *train_idx; /* faces used for training (not held out) */
} IdData;

static int load_identity(IdData *d, const char *dir, int S, int holdout_every, const char *revocations,
                         SlErr *err) {
    memset(d, 0, sizeof *d);
    ConsentOptions copt = {.revocations = revocations};
    if (consent_check(dir, "train", &copt, &d->consent, NULL, err))
        return sl_failctx(err, "consent refused for %s (nothing was trained)", dir);
    if (faceset_load(dir, &d->fs, err)) return -1;
    if (d->fs.n < 1) return sl_fail(err, "%s: the face set has no faces", dir);
    d->n = d->fs.n;
    if (facedata_load(&d->fd, &d->fs, S, err)) return -1;
    d->train_idx = xmalloc(sizeof(int) * (size_t)d->n);
    for (int i = 0; i < d->n; i++)
        if (!faceset_is_heldout(i, d->n, holdout_every)) d->train_idx[d->ntrain++] = i;
    return 0;
}

static void free_identity(IdData *d) {
    faceset_free(&d->fs);
    facedata_free(&d->fd);
    free(d->train_idx);
}

/* ---- loader threads ------------------------------------------------------------------------------ */
enum { SLOT_FREE, SLOT_FILLING, SLOT_READY };
#define QUEUE 4

typedef struct {
    long step;
    int state;
    float *in, *tgt, *w; /* [ids][this rank's share of the batch][...] */
} Slot;

typedef struct {
    IdData *ids;
    int nids, b0, b1, S, augment; /* samples [b0, b1) of each identity's global batch */
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

static SlRng step_rng(unsigned long long seed, long step, int id) {
    SlRng r;
    sl_rng_seed(&r, seed ^ ((unsigned long long)step * 0x9e3779b97f4a7c15ULL) ^
                        ((unsigned long long)(id + 1) * 0xd1b54a32d192ed03ULL));
    return r;
}

/* The RNG of sample b of identity id's global batch at step: whichever rank draws it. */
static SlRng sample_rng(unsigned long long seed, long step, int id, int b) {
    SlRng r = step_rng(seed ^ ((unsigned long long)(b + 1) * 0x94d049bb133111ebULL), step, id);
    return r;
}

/* Fills one slot for `step`: everything depends on (seed, step, identity, sample) only. */
static void fill_slot(Loader *L, Augmenter *aug, Slot *s, long step) {
    const int S = L->S, Bl = L->b1 - L->b0;
    const size_t img = 3 * (size_t)S * S, pl = (size_t)S * S;
    float *face = xmalloc(sizeof(float) * img);
    for (int i = 0; i < L->nids; i++) {
        IdData *d = &L->ids[i];
        for (int b = L->b0; b < L->b1; b++) {
            SlRng r = sample_rng(L->seed, step, i, b);
            int k = d->train_idx[sl_rng_int(&r, d->ntrain)];
            facedata_face(&d->fd, k, face);
            const float *wk = d->fd.wmap + pl * k;
            size_t o = (size_t)i * Bl + (size_t)(b - L->b0);
            if (L->augment) {
                augment_apply(aug, &r, face, wk, 1, s->in + img * o, s->tgt + img * o, s->w + pl * o);
            } else {
                memcpy(s->in + img * o, face, sizeof(float) * img);
                memcpy(s->tgt + img * o, face, sizeof(float) * img);
                memcpy(s->w + pl * o, wk, sizeof(float) * pl);
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

static void loader_start(Loader *L, IdData *ids, int nids, int b0, int b1, int S, const TrainConfig *c,
                         long first_step, int nthreads) {
    memset(L, 0, sizeof *L);
    L->ids = ids, L->nids = nids, L->b0 = b0, L->b1 = b1, L->S = S, L->augment = c->augment, L->seed = c->seed;
    /* The input's colours are jittered and the target's are not: the code then cannot carry the
     * input's skin tone, and B's decoder paints B's own (identity transfer 66% -> 100% at step 800
     * of tiny, docs/PERFORMANCE.md). A mild warp keeps the decoded faces sharp (SSIM). */
    L->aopt = augment_defaults();
    L->aopt.warp = c->warp;
    L->aopt.jitter_l = L->aopt.jitter_ab = c->jitter;
    L->aopt.jitter_input_only = 1;
    L->next_step = first_step;
    const size_t Bl = (size_t)(b1 - b0);
    const size_t img = 3 * (size_t)S * S * Bl * nids, pl = (size_t)S * S * Bl * nids;
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
    const size_t img = 3 * (size_t)S * S, dimg = (size_t)swap_model_out_channels(m) * S * S;
    float *x = xmalloc(sizeof(float) * img * PREVIEW_FACES);
    int was = ctx->training;
    ctx->training = 0;
    for (int i = 0; i < nids; i++) {
        IdData *d = &ids[i];
        int pick[PREVIEW_FACES], np = 0;
        for (int k = 0; k < d->n && np < PREVIEW_FACES; k++)
            if (faceset_is_heldout(k, d->n, holdout_every)) pick[np++] = k;
        for (int k = 0; np < PREVIEW_FACES && k < d->n; k++) pick[np++] = k;
        for (int f = np; f < PREVIEW_FACES; f++) pick[f] = pick[f % (np ? np : 1)];
        for (int f = 0; f < PREVIEW_FACES; f++)
            for (size_t j = 0; j < img; j++) x[img * f + j] = d->fd.img[img * pick[f] + j] * (1.0f / 255.0f);
        const float *z = nn_net_forward(m->encoder, ctx, x, PREVIEW_FACES);
        for (int c = 0; c < cols; c++) {
            const float *src = x;
            size_t stride = img; /* a decoder's output may have a 4th channel, the mask (not shown) */
            if (c > 0) {
                int dec = c - 1 == 0 ? i : (c - 1 <= i ? c - 2 : c - 1);
                src = nn_net_forward(m->decoders[dec], ctx, z, PREVIEW_FACES);
                stride = dimg;
            }
            for (int f = 0; f < PREVIEW_FACES; f++) {
                int r = i * PREVIEW_FACES + f;
                int ox = gap + c * (T + gap), oy = gap + r * (T + gap) + i * 4;
                for (int yy = 0; yy < T; yy++)
                    for (int xx = 0; xx < T; xx++)
                        for (int ch = 0; ch < 3; ch++) {
                            float v = src[stride * f + (size_t)ch * S * S + (size_t)(yy / up) * S + xx / up];
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

/* ---- the trainer's state ------------------------------------------------------------------------ */
typedef struct {
    const TrainOptions *o;
    TrainConfig cfg;
    NnDist dist;
    int b0, b1;            /* this rank's samples of each identity's global batch */
    SwapModel *m;
    IdData *ids;
    int nids;
    long step, start;      /* current step; the step this invocation started from */
    double train_seconds;  /* training time of earlier invocations */
    NnCtx ctx, host_ctx;   /* the training device; a CPU context for previews and evaluation */
    int on_gpu;
    float *dy, *dy2, *dz, *d_in, *d_tg, *d_w; /* step buffers on the training device */
    /* with a learned mask (cfg.learn_mask): the decoder's RGB and mask apart, the mask's gradient,
     * the 4-channel output gradient and the target mask (device), and the target mask on the host */
    float *y3, *ym, *dym, *dy4, *d_tm, *tm_host;
    float loss[SWAP_MAX_IDS];                 /* the last step's loss per identity (all ranks) */
    float mloss[SWAP_MAX_IDS];                /* the last step's mask loss (MSE) per identity */
    double ema[SWAP_MAX_IDS];
    Fidelity *fid;
    FILE *logf, *fidf;     /* rank 0 only */
    Loader L;
    double t0, budget, last_log, last_prev, last_eval, last_save, since_t, compute_s;
    long since;
} Trainer;

static int is_writer(const Trainer *T) { return T->dist.rank == 0; }

/* ---- state.json and checkpoints ------------------------------------------------------------------ */
static int write_state(const Trainer *T, const char *model_rel, const char *optim_rel, SlErr *err) {
    TrainState *st = xcalloc(1, sizeof *st);
    st->format = TRAIN_STATE_FORMAT_VERSION;
    st->step = T->step;
    sl_snprintf(st->model, sizeof st->model, "%s", model_rel);
    sl_snprintf(st->optimizer, sizeof st->optimizer, "%s", optim_rel);
    st->cfg = T->cfg;
    st->nids = T->nids;
    st->has_digests = 1;
    for (int i = 0; i < T->nids; i++) {
        sl_snprintf(st->facesets[i], sizeof st->facesets[i], "%s", T->ids[i].fs.dir);
        sl_snprintf(st->subjects[i], sizeof st->subjects[i], "%s", T->ids[i].consent.subject);
        sl_snprintf(st->digests[i], sizeof st->digests[i], "%s", T->ids[i].consent.digest);
    }
    st->train_seconds = T->train_seconds;
    st->ranks = T->dist.size;
    sl_utc_iso8601(st->saved);
    sl_snprintf(st->version, sizeof st->version, "%s", SL_VERSION);
    char *text = train_state_dump(st);
    free(st);
    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, T->o->out, "state.json");
    int r = sl_write_atomic(path, text, strlen(text), err);
    free(text);
    return r;
}

/* What a failed checkpoint leaves: said truthfully (a run's first checkpoint has none before it). */
static const char *kept_note(const Trainer *T) {
    char p[SL_PATH_MAX];
    sl_path_join(p, sizeof p, T->o->out, "state.json");
    return sl_is_file(p) ? "the previous checkpoint is kept" : "there is no earlier checkpoint: nothing of this run is saved";
}

static int save_checkpoint(Trainer *T, SlErr *err) {
    char dir[SL_PATH_MAX], mrel[128], orel[128], mpath[SL_PATH_MAX], opath[SL_PATH_MAX];
    sl_path_join(dir, sizeof dir, T->o->out, "ckpt");
    if (sl_mkdirs(dir, err)) return -1;
    train_state_ckpt_names(T->step, mrel, orel, sizeof mrel);
    sl_path_join(mpath, sizeof mpath, T->o->out, mrel);
    sl_path_join(opath, sizeof opath, T->o->out, orel);
    RunIdentity rid[SWAP_MAX_IDS];
    for (int i = 0; i < T->nids; i++) {
        memset(&rid[i], 0, sizeof rid[i]);
        sl_snprintf(rid[i].subject, sizeof rid[i].subject, "%s", T->ids[i].consent.subject);
        sl_snprintf(rid[i].consent_digest, sizeof rid[i].consent_digest, "%s", T->ids[i].consent.digest);
        sl_snprintf(rid[i].kind, sizeof rid[i].kind, "%s", T->ids[i].consent.kind);
        snprintf(rid[i].faceset, sizeof rid[i].faceset, "%.1000s", T->ids[i].fs.dir);
    }
    char *idj = run_identities_json(rid, T->nids);
    char step[32];
    snprintf(step, sizeof step, "%ld", T->step);
    const char *meta[] = {RUN_IDENTITIES_KEY, idj, RUN_STEP_KEY, step, "swaplab.version", SL_VERSION, NULL};
    int r = swap_model_save(T->m, mpath, meta, err);
    if (!r) r = nn_save_optimizer(opath, &T->m->model, T->step, meta, err);
    free(idj);
    if (r) {
        unlink(mpath);
        return sl_failctx(err, "checkpoint at step %ld not written (%s)", T->step, kept_note(T));
    }
    if (write_state(T, mrel, orel, err)) {
        unlink(mpath), unlink(opath);
        return sl_failctx(err, "checkpoint at step %ld not written (%s)", T->step, kept_note(T));
    }
    /* RUN/model.safetensors: a hard link to the newest model file, swapped in atomically */
    char latest[SL_PATH_MAX], tmp[SL_PATH_MAX];
    sl_path_join(latest, sizeof latest, T->o->out, "model.safetensors");
    sl_snprintf(tmp, sizeof tmp, "%s.tmp.%ld", latest, (long)getpid());
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

static long ckpt_step(const char *name) {
    long s;
    int k = 0;
    if (sscanf(name, "step-%ld.%n", &s, &k) != 1 || k == 0 || s < 0) return -1;
    return s;
}

/* Removes checkpoint files older than the last two in RUN/ckpt, and (keep_upto >= 0) every one newer
 * than keep_upto: an orphan a crash left between writing a checkpoint and state.json naming it. */
static void prune_checkpoints(const char *out, long keep_upto) {
    char dir[SL_PATH_MAX];
    sl_path_join(dir, sizeof dir, out, "ckpt");
    char **names;
    static const char *const sfx[] = {".model.safetensors", ".optim.safetensors", NULL};
    int n = sl_list_dir(dir, sfx, &names, NULL);
    long keep[2] = {-1, -1}; /* the two newest steps not beyond keep_upto that have a model file */
    for (int i = 0; i < n; i++) {
        long s = ckpt_step(names[i]);
        if (s < 0 || (keep_upto >= 0 && s > keep_upto) || !strstr(names[i], ".model.")) continue;
        if (s > keep[0]) keep[1] = keep[0], keep[0] = s;
        else if (s > keep[1] && s != keep[0]) keep[1] = s;
    }
    for (int i = 0; i < n; i++) {
        long s = ckpt_step(names[i]);
        if (s < 0 || s == keep[0] || s == keep[1]) continue;
        char p[SL_PATH_MAX];
        sl_path_join(p, sizeof p, dir, names[i]);
        unlink(p);
    }
    if (n > 0) sl_free_list(names, n);
}

/* Removes NAME.tmp.PID files a killed process left in dir (PID no longer running). */
static void remove_stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t) continue;
        char *end;
        long pid = strtol(t + 5, &end, 10);
        if (*end || pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno == EPERM)) continue;
        char p[SL_PATH_MAX];
        sl_path_join(p, sizeof p, dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode)) unlink(p);
    }
    closedir(d);
}

/* A resumed log keeps each step once: drops the lines of steps after the checkpoint (logged before a
 * crash, logged again now) and a torn last line. */
static int trim_jsonl(const char *path, long upto, SlErr *err) {
    if (!sl_is_file(path)) return 0;
    char *buf;
    size_t len;
    if (sl_read_file(path, (size_t)1 << 30, &buf, &len, err)) return -1;
    char *outb = xmalloc(len + 1);
    size_t k = 0;
    int dropped = 0;
    for (char *p = buf; p < buf + len;) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        if (!nl) {
            dropped = 1; /* torn */
            break;
        }
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
        json_t *s = j ? json_object_get(j, "step") : NULL;
        if (json_is_integer(s) && json_integer_value(s) <= upto) {
            memcpy(outb + k, p, (size_t)(nl - p) + 1);
            k += (size_t)(nl - p) + 1;
        } else {
            dropped = 1;
        }
        json_decref(j);
        p = nl + 1;
    }
    int r = dropped ? sl_write_atomic(path, outb, k, err) : 0;
    free(buf), free(outb);
    return r;
}

/* Reads RUN/state.json for --resume (train_state_read: the format, every value in the command line's
 * ranges, and the checkpoint named as the run's own of its step: a model from another run must not
 * continue under this one), then checks that the checkpoint files are regular files in the run. */
static int read_state(Trainer *T, TrainState *st, SlErr *err) {
    const char *out = T->o->out;
    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, out, "state.json");
    if (!sl_is_file(path))
        return sl_fail(err, "%s: nothing to resume (no state.json); drop --resume to start a new run", out);
    if (train_state_read(path, st, err)) return -1;
    T->cfg = st->cfg;
    T->step = st->step;
    T->train_seconds = st->train_seconds;
    char p[SL_PATH_MAX];
    struct stat sb;
    for (int k = 0; k < 2; k++) {
        sl_path_join(p, sizeof p, out, k ? st->optimizer : st->model);
        if (lstat(p, &sb) != 0 || !S_ISREG(sb.st_mode))
            return sl_fail(err, "%s: missing or not a regular file (a link to elsewhere is refused)", p);
    }
    return 0;
}

/* The model file's metadata must name the run's identities and step (state.json). */
static int check_model_meta(const Trainer *T, const TrainState *state, StFile *meta, const char *path, SlErr *err) {
    const char *idj = meta ? st_meta(meta, RUN_IDENTITIES_KEY) : NULL, *st = meta ? st_meta(meta, RUN_STEP_KEY) : NULL;
    RunIdentity ids[SWAP_MAX_IDS];
    int n = 0;
    if (!idj || !st || run_identities_parse(idj, ids, SWAP_MAX_IDS, &n, err))
        return sl_fail(err, "%s: the checkpoint records no identities or step: not this run's model", path);
    if (strtol(st, NULL, 10) != T->step)
        return sl_fail(err, "%s: the checkpoint is of step %s but state.json says %ld", path, st, T->step);
    if (n != state->nids)
        return sl_fail(err, "%s: the checkpoint has %d identities, state.json %d", path, n, state->nids);
    for (int i = 0; i < n; i++) {
        const char *s = state->subjects[i];
        if (strcmp(ids[i].subject, s))
            return sl_fail(err, "%s: identity %d of the checkpoint is '%s' but this run's is '%s': not this run's model",
                           path, i + 1, ids[i].subject, s);
        if (state->has_digests && strcmp(state->digests[i], ids[i].consent_digest))
            return sl_fail(err, "%s: identity %d ('%s') was trained under consent digest %.12s, state.json records "
                           "%.12s: not this run's model", path, i + 1, s, ids[i].consent_digest, state->digests[i]);
    }
    return 0;
}

/* ---- one step -------------------------------------------------------------------------------------- */
/* Weighted loss normalisers of this rank's samples of identity i (as nn/loss.c computes them for
 * the whole batch): [0] MSE (sum of the weights), [1] DSSIM (weights at the window centres). */
static void local_norms(const float *w, int Bl, int S, double out[2]) {
    const int WIN = 11, So = S - WIN + 1;
    double a = 0, c = 0;
    for (int n = 0; n < Bl; n++) {
        const float *m = w + (size_t)n * S * S;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                a += m[(size_t)y * S + x];
                if (y >= WIN / 2 && y < WIN / 2 + So && x >= WIN / 2 && x < WIN / 2 + So) c += m[(size_t)y * S + x];
            }
    }
    out[0] = a, out[1] = c;
}

/* One step s on this rank's samples: forward, loss, backward for every identity, then the gradient
 * all-reduce and Adam. Losses (T->loss, and T->mloss with a learned mask) are the whole global
 * batch's. Returns the index of an identity whose loss is not finite (the step is then not
 * applied), else -1.
 *
 * A learned mask: the decoder's output [Bl,4,S,S] is split (per sample, channels 0-2 and 3 are
 * contiguous) into RGB [Bl,3,S,S], which takes the reconstruction losses exactly as a model without
 * a mask, and the mask [Bl,1,S,S], which takes w_mask * MSE against the hull of the target crop:
 * min(1, loss-weight map), the weight map being 0 outside the hull and >= 1 inside it (it follows
 * the target's geometry through the augmentation). Both gradients go back into one [Bl,4,S,S]. */
static int train_step(Trainer *T, const Slot *slot, long s) {
    const TrainConfig *c = &T->cfg;
    const int S = T->m->arch.size, Bl = T->b1 - T->b0, nids = T->nids, dist = T->dist.size > 1;
    const size_t img = 3 * (size_t)S * S, pl = (size_t)S * S;
    NnCtx *ctx = &T->ctx;
    /* Under data parallelism each rank's loss is scaled by its share of the global normaliser, so the
     * summed gradients are those of the loss over the global batch. */
    float scale_mse[SWAP_MAX_IDS], scale_dssim[SWAP_MAX_IDS];
    for (int i = 0; i < nids; i++) scale_mse[i] = scale_dssim[i] = 1.0f;
    const int learn_mask = T->m->arch.mask;
    const float scale_mask = dist ? (float)Bl / (float)c->batch : 1.0f; /* unweighted mean: share of the pixels */
    if (dist) {
        double loc[2 * SWAP_MAX_IDS], glob[2 * SWAP_MAX_IDS];
        for (int i = 0; i < nids; i++) local_norms(slot->w + pl * Bl * i, Bl, S, loc + 2 * i);
        memcpy(glob, loc, sizeof(double) * 2 * nids);
        nn_dist_allreduce_f64(&T->dist, glob, 2 * (size_t)nids);
        for (int i = 0; i < nids; i++) {
            scale_mse[i] = glob[2 * i] > 0 ? (float)(loc[2 * i] / glob[2 * i]) : 0;
            scale_dssim[i] = glob[2 * i + 1] > 0 ? (float)(loc[2 * i + 1] / glob[2 * i + 1]) : 0;
        }
    }
    ctx->training = 1;
    ctx->rng = step_rng(c->seed ^ 0xd20f0f, s, -1);
    /* the shared encoder takes `group` identities' faces in one pass (swap_encoder_group): their
     * codes go to each identity's decoder, and the codes' gradients back through one encoder pass */
    const int group = swap_encoder_group(Bl, nids);
    const NnShape zs = nn_net_out_shape(T->m->encoder);
    const size_t zn = (size_t)zs.c * zs.h * zs.w;
    const float *z = NULL;
    for (int i = 0; i < nids; i++) {
        const int g0 = i - i % group, gn = nids - g0 < group ? nids - g0 : group;
        const float *tg = slot->tgt + img * Bl * i, *w = slot->w + pl * Bl * i;
        const float *w_host = w;
        if (i == g0) {
            const float *in = slot->in + img * Bl * g0;
            if (T->on_gpu) nn_dev_upload(ctx, T->d_in, in, img * Bl * gn), in = T->d_in;
            z = nn_net_forward(T->m->encoder, ctx, in, Bl * gn);
        }
        if (T->on_gpu) {
            nn_dev_upload(ctx, T->d_tg, tg, img * Bl);
            nn_dev_upload(ctx, T->d_w, w, pl * Bl);
            tg = T->d_tg, w = T->d_w;
        }
        const float *y = nn_net_forward(T->m->decoders[i], ctx, z + zn * Bl * (i - g0), Bl);
        T->mloss[i] = 0;
        if (learn_mask) {
            for (int b = 0; b < Bl; b++) {
                nn_dev_axpby(ctx, T->y3 + img * b, 1.0f, y + (img + pl) * b, 0, NULL, img);
                nn_dev_axpby(ctx, T->ym + pl * b, 1.0f, y + (img + pl) * b + img, 0, NULL, pl);
            }
            y = T->y3;
            for (size_t j = 0; j < pl * Bl; j++) T->tm_host[j] = w_host[j] < 1.0f ? w_host[j] : 1.0f;
            const float *tm = T->tm_host;
            if (T->on_gpu) nn_dev_upload(ctx, T->d_tm, T->tm_host, pl * Bl), tm = T->d_tm;
            T->mloss[i] = scale_mask * nn_dev_loss_mse(ctx, T->ym, tm, NULL, Bl, 1, S, S, T->dym);
        }
        const float wd = c->w_dssim * scale_dssim[i], wm = c->w_mse * scale_mse[i];
        float ld = c->w_dssim > 0 ? nn_dev_loss_dssim(ctx, y, tg, w, Bl, 3, S, S, T->dy) : 0;
        float lm = c->w_mse > 0 ? nn_dev_loss_mse(ctx, y, tg, w, Bl, 3, S, S, c->w_dssim > 0 ? T->dy2 : T->dy) : 0;
        if (c->w_dssim > 0 && c->w_mse > 0) nn_dev_axpby(ctx, T->dy, wd, T->dy, wm, T->dy2, img * Bl);
        else nn_dev_axpby(ctx, T->dy, c->w_dssim > 0 ? wd : wm, T->dy, 0, NULL, img * Bl);
        T->loss[i] = wd * ld + wm * lm;
        if (!dist && !isfinite(T->loss[i] + T->mloss[i])) return i;
        const float *dy = T->dy;
        if (learn_mask) {
            const float km = c->w_mask * scale_mask;
            for (int b = 0; b < Bl; b++) {
                nn_dev_axpby(ctx, T->dy4 + (img + pl) * b, 1.0f, T->dy + img * b, 0, NULL, img);
                nn_dev_axpby(ctx, T->dy4 + (img + pl) * b + img, km, T->dym + pl * b, 0, NULL, pl);
            }
            dy = T->dy4;
        }
        nn_net_backward(T->m->decoders[i], ctx, dy, T->dz + zn * Bl * (i - g0));
        if (i == g0 + gn - 1) nn_net_backward(T->m->encoder, ctx, T->dz, NULL);
    }
    if (dist) {
        double l[2 * SWAP_MAX_IDS];
        for (int i = 0; i < nids; i++) l[i] = T->loss[i], l[nids + i] = T->mloss[i];
        nn_dist_allreduce_f64(&T->dist, l, (size_t)(learn_mask ? 2 * nids : nids));
        for (int i = 0; i < nids; i++) T->loss[i] = (float)l[i], T->mloss[i] = (float)l[nids + i];
        for (int i = 0; i < nids; i++)
            if (!isfinite(T->loss[i] + T->mloss[i])) {
                nn_dev_zero_grad(&T->m->model, ctx);
                return i;
            }
        nn_dist_allreduce_grads(&T->dist, &T->m->model, ctx);
    }
    NnAdam adam = {train_lr_at(c, s), c->beta1, c->beta2, 1e-8f, 0.0f, 1};
    nn_adam_step_ctx(&T->m->model, ctx, &adam, s);
    return -1;
}

/* ---- hooks of the loop (rank 0 writes) ---------------------------------------------------------- */
static void hook_progress(Trainer *T, SlProgress *pr, double now) {
    const TrainOptions *o = T->o;
    char extra[512];
    int k = 0;
    k += snprintf(extra + k, sizeof extra - (size_t)k, "step %ld", T->step);
    for (int i = 0; i < T->nids && k < 400; i++)
        k += snprintf(extra + k, sizeof extra - (size_t)k, " %s %.4f", T->ids[i].consent.subject, T->ema[i]);
    if (T->m->arch.mask && k < 400) {
        double ml = 0;
        for (int i = 0; i < T->nids; i++) ml += T->mloss[i] / T->nids;
        k += snprintf(extra + k, sizeof extra - (size_t)k, " mask %.4f", ml);
    }
    double ips = (double)(T->step - T->start) * T->cfg.batch * T->nids / (now - T->t0);
    k += snprintf(extra + k, sizeof extra - (size_t)k, " %.1f img/s", ips);
    if (o->steps <= 0) {
        char left[32];
        sl_format_duration(left, sizeof left, T->budget - (now - T->t0));
        snprintf(extra + k, sizeof extra - (size_t)k, " %s left", left);
    }
    if (o->steps > 0 || now - pr->last_draw > 1.0 || !pr->tty) sl_progress_update(pr, T->step, extra);
}

/* every log_every steps (or every second), and always the first and the last step of this
 * invocation, so even a run shorter than a second leaves a loss curve */
static void hook_log(Trainer *T, double now, int last) {
    const TrainOptions *o = T->o;
    int log_now = T->step == T->start + 1 || last ||
                  (o->log_every > 0 ? T->step % o->log_every == 0 : now - T->last_log >= 1.0);
    if (!log_now) return;
    json_t *ls = json_array();
    for (int i = 0; i < T->nids; i++) json_array_append_new(ls, json_real(T->loss[i]));
    json_t *e = json_pack("{s:I, s:f, s:o, s:f, s:f, s:f}", "step", (json_int_t)T->step, "seconds",
                          T->train_seconds + (now - T->t0), "loss", ls, "lr", (double)train_lr_at(&T->cfg, T->step),
                          "img_per_s", T->since * T->cfg.batch * T->nids / (now > T->since_t ? now - T->since_t : 1e-9),
                          "data_wait_s", T->L.wait_s);
    if (T->m->arch.mask) {
        json_t *ml = json_array();
        for (int i = 0; i < T->nids; i++) json_array_append_new(ml, json_real(T->mloss[i]));
        json_object_set_new(e, "mask_loss", ml);
    }
    if (T->dist.size > 1) {
        json_object_set_new(e, "ranks", json_integer(T->dist.size));
        json_object_set_new(e, "allreduce_s", json_real(T->dist.reduce_s));
    }
    char *line = json_dumps(e, JSON_COMPACT);
    fprintf(T->logf, "%s\n", line);
    fflush(T->logf);
    free(line);
    json_decref(e);
    T->last_log = now;
    T->since = 0;
    T->since_t = now;
}

static int hook_preview(Trainer *T, double now, int force, SlErr *err) {
    const TrainOptions *o = T->o;
    if (!force && !(o->preview_every > 0 ? T->step % o->preview_every == 0 : now - T->last_prev >= 20.0)) return 0;
    char p1[SL_PATH_MAX], lat[SL_PATH_MAX], nm[64];
    snprintf(nm, sizeof nm, "previews/step-%09ld.png", T->step);
    sl_path_join(p1, sizeof p1, o->out, nm);
    sl_path_join(lat, sizeof lat, o->out, "previews/latest.png");
    nn_model_to_host(&T->m->model, &T->ctx);
    T->last_prev = now;
    return write_preview(T->m, &T->host_ctx, T->ids, T->nids, T->cfg.holdout_every,
                         o->timelapse && !force ? p1 : NULL, lat, err);
}

static int hook_eval(Trainer *T, double now, int force, SlErr *err) {
    const TrainOptions *o = T->o;
    if (!T->fid) return 0;
    if (!force && !(o->eval_every > 0 ? T->step % o->eval_every == 0
                                      : now - T->last_eval >= (T->budget > 0 ? fmax(30.0, T->budget / 8) : 60.0)))
        return 0;
    FidelityReport rep;
    FaceSet fsets[SWAP_MAX_IDS];
    for (int i = 0; i < T->nids; i++) fsets[i] = T->ids[i].fs;
    nn_model_to_host(&T->m->model, &T->ctx);
    if (fidelity_run(T->fid, T->m, &T->host_ctx, &rep, err)) return -1;
    rep.step = T->step;
    json_t *j = fidelity_to_json(&rep, fsets);
    json_object_set_new(j, "seconds", json_real(T->train_seconds + (force ? 0 : now - T->t0)));
    char *line = json_dumps(j, JSON_COMPACT);
    fprintf(T->fidf, "%s\n", line);
    fflush(T->fidf);
    free(line);
    json_decref(j);
    if (force && (!getenv("SL_QUIET") || !strcmp(getenv("SL_QUIET"), "0"))) fidelity_print(stderr, &rep, fsets);
    T->last_eval = sl_now();
    return 0;
}

static int hook_checkpoint(Trainer *T, double now, int force, SlErr *err) {
    const TrainOptions *o = T->o;
    if (!force && !(o->save_every > 0 ? T->step % o->save_every == 0
                                      : now - T->last_save >= (o->save_minutes > 0 ? o->save_minutes * 60 : 600)))
        return 0;
    double extra = force ? 0 : sl_now() - T->t0; /* train_seconds holds earlier time + this invocation's so far */
    T->train_seconds += extra;
    nn_model_to_host(&T->m->model, &T->ctx);
    int r = save_checkpoint(T, err);
    T->train_seconds -= extra;
    if (!r) prune_checkpoints(o->out, -1);
    T->last_save = sl_now();
    return r;
}

/* ---- setup ------------------------------------------------------------------------------------------- */
/* Every rank must train the same configuration on the same face sets under the same consent: each
 * rank's options and, per identity, (subject, consent digest, faces, crop) are compared with rank
 * 0's. The refusal names the first rank and item that differ. */
#define FP_CFG 1536
typedef struct {
    char cfg[FP_CFG];
    char set[SWAP_MAX_IDS][65];
    char dir[SWAP_MAX_IDS][200];
} Fingerprint;

static int check_ranks_agree(Trainer *T, SlErr *err) {
    if (T->dist.size <= 1) return 0;
    Fingerprint *me = xcalloc(1, sizeof *me);
    char cfg[1200];
    train_config_text(&T->cfg, cfg, sizeof cfg);
    snprintf(me->cfg, sizeof me->cfg, "%s identities=%d steps=%ld minutes=%g resume=%d", cfg, T->nids, T->o->steps,
             T->o->minutes, T->o->resume);
    for (int i = 0; i < T->nids; i++) {
        char text[512];
        const IdData *d = &T->ids[i];
        snprintf(text, sizeof text, "%s|%s|%d|%d", d->consent.subject, d->consent.digest, d->n, d->fs.crop);
        sl_sha256_hex(text, strlen(text), me->set[i]);
        snprintf(me->dir[i], sizeof me->dir[i], "%.199s", d->fs.dir);
    }
    Fingerprint *all = xcalloc((size_t)T->dist.size, sizeof *all);
    nn_dist_allgather(&T->dist, me, sizeof *me, all);
    int rc = 0;
    for (int r = 1; r < T->dist.size && !rc; r++) {
        if (strcmp(all[r].cfg, all[0].cfg)) {
            /* name the first differing key=value */
            const char *a = all[0].cfg, *b = all[r].cfg;
            size_t k = 0;
            while (a[k] && a[k] == b[k]) k++;
            while (k > 0 && a[k - 1] != ' ') k--;
            rc = sl_fail(err, "rank %d's options differ from rank 0's: '%.60s' against '%.60s'; give every rank the "
                         "same command line", r, b + k, a + k);
        }
        for (int i = 0; i < T->nids && !rc; i++)
            if (strcmp(all[r].set[i], all[0].set[i]))
                rc = sl_fail(err, "rank %d sees another face set or consent state for identity %d: %s differs from rank "
                             "0's %s (subject, consent.json or faces); every rank needs the same face sets and "
                             "revocation list", r, i + 1, all[r].dir[i], all[0].dir[i]);
    }
    free(me), free(all);
    return rc;
}

/* Removes what a killed run left behind: NAME.tmp.PID files, checkpoints newer than state.json's
 * step, and log lines of steps after it. */
static int clean_run_dir(const char *out, long step, SlErr *err) {
    char p[SL_PATH_MAX];
    remove_stale_tmp(out);
    sl_path_join(p, sizeof p, out, "ckpt");
    remove_stale_tmp(p);
    sl_path_join(p, sizeof p, out, "previews");
    remove_stale_tmp(p);
    prune_checkpoints(out, step);
    sl_path_join(p, sizeof p, out, "log.jsonl");
    if (trim_jsonl(p, step, err)) return -1;
    sl_path_join(p, sizeof p, out, "fidelity.jsonl");
    return trim_jsonl(p, step, err);
}

/* The model (new, or the run's last checkpoint, checked against state.json), the consent gate and
 * the data, then the log files (rank 0). */
static int setup(Trainer *T, TrainState *state, SlErr *err) {
    const TrainOptions *o = T->o;
    const char **sets = o->facesets;
    int nsets = o->n_facesets;
    char statepath[SL_PATH_MAX];
    const char *state_sets[SWAP_MAX_IDS];
    sl_path_join(statepath, sizeof statepath, o->out, "state.json");
    if (o->resume) {
        if (read_state(T, state, err)) return -1;
        if (o->preset && strcmp(o->preset, T->cfg.preset) != 0)
            return sl_fail(err, "%s: this run trains preset '%s'; --preset %s does not match it (start a new run "
                           "with another --out to change the architecture)", o->out, T->cfg.preset, o->preset);
        for (int i = 0; i < train_nparams && is_writer(T); i++) {
            char given[64], kept[64];
            if (!(o->cfg_given >> i & 1) || !strcmp(train_params[i].key, "preset")) continue;
            train_param_format(&train_params[i], &o->cfg, given, sizeof given);
            train_param_format(&train_params[i], &T->cfg, kept, sizeof kept);
            if (strcmp(given, kept))
                sl_warn("%s %s is ignored: this run keeps %s (its state.json); start a new run to change it",
                        train_params[i].flag, given, kept);
        }
        if (nsets == 0) {
            nsets = state->nids;
            for (int i = 0; i < nsets; i++) state_sets[i] = state->facesets[i];
            sets = state_sets;
        }
    } else {
        if (sl_is_file(statepath))
            return sl_fail(err, "%s already holds a training run; add --resume to continue it, or choose another --out",
                           o->out);
        T->cfg = o->cfg;
        sl_snprintf(T->cfg.preset, sizeof T->cfg.preset, "%s", o->preset ? o->preset : "tiny");
        if (T->cfg.lr <= 0) T->cfg.lr = train_default_lr(T->cfg.preset);
    }
    if (nsets < 2 || nsets > SWAP_MAX_IDS)
        return sl_fail(err, "train needs 2 to %d face sets (one per identity), got %d", SWAP_MAX_IDS, nsets);
    if (T->cfg.batch < 1 || T->cfg.batch > 4096) return sl_fail(err, "--batch must be 1..4096, got %d", T->cfg.batch);
    if (T->cfg.batch < T->dist.size)
        return sl_fail(err, "--batch %d is smaller than the %d ranks: each rank needs at least one face per identity",
                       T->cfg.batch, T->dist.size);
    T->b0 = (int)((long)T->cfg.batch * T->dist.rank / T->dist.size);
    T->b1 = (int)((long)T->cfg.batch * (T->dist.rank + 1) / T->dist.size);
    nn_ctx_init(&T->ctx, o->threads, T->cfg.seed);
    nn_ctx_init(&T->host_ctx, o->threads, T->cfg.seed);
    if (nn_device_select(&T->ctx, o->device, err)) return -1;
    /* what a killed run left: on resume everything after its checkpoint, on a new run (a first
     * checkpoint that never completed) everything */
    if (is_writer(T) && sl_is_dir(o->out) && clean_run_dir(o->out, o->resume ? T->step : 0, err)) return -1;

    if (o->resume) {
        char mp[SL_PATH_MAX], op[SL_PATH_MAX];
        sl_path_join(mp, sizeof mp, o->out, state->model);
        sl_path_join(op, sizeof op, o->out, state->optimizer);
        StFile *meta = NULL;
        T->m = swap_model_load(mp, &meta, err);
        if (!T->m) return -1;
        int bad = check_model_meta(T, state, meta, mp, err);
        st_close(meta);
        if (bad) return -1;
        if (strcmp(T->m->arch.preset, T->cfg.preset) != 0 || T->m->n_ids != nsets)
            return sl_fail(err, "%s: the checkpoint holds preset '%s' with %d identities, the run says '%s' with %d face "
                           "sets", mp, T->m->arch.preset, T->m->n_ids, T->cfg.preset, nsets);
        if (T->m->arch.mask != T->cfg.learn_mask)
            return sl_fail(err, "%s: the checkpoint %s a mask channel but state.json says learn_mask %s", mp,
                           T->m->arch.mask ? "has" : "has no", T->cfg.learn_mask ? "true" : "false");
        long ostep = 0;
        if (nn_load_optimizer(op, &T->m->model, &ostep, err)) return -1;
        if (ostep != T->step)
            return sl_fail(err, "%s: optimizer state is at step %ld but the run state says %ld", op, ostep, T->step);
    } else {
        SwapArch arch;
        if (swap_arch_preset(T->cfg.preset, &arch, err)) return -1;
        arch.mask = T->cfg.learn_mask; /* the 4th decoder channel: a learned mask */
        T->m = swap_model_new_arch(&arch, nsets, err);
        if (!T->m) return -1;
        SlRng init;
        sl_rng_seed(&init, T->cfg.seed ^ 0x5eed1417ULL);
        nn_model_init_weights(&T->m->model, &init);
        if (o->init && pretrain_init_model(T->m, o->init, o->revocations, err)) return -1;
    }
    const int S = T->m->arch.size;

    /* the consent gate and the data */
    T->ids = xcalloc((size_t)nsets, sizeof *T->ids);
    int crop0 = 0;
    for (int i = 0; i < nsets; i++) {
        T->nids = i + 1;
        IdData *d = &T->ids[i];
        if (load_identity(d, sets[i], S, T->cfg.holdout_every, o->revocations, err)) return -1;
        if (i == 0) crop0 = d->fs.crop;
        else if (d->fs.crop != crop0)
            return sl_fail(err, "%s has %dx%d crops but %s has %dx%d; extract or synthesise every set at one --crop size",
                           sets[i], d->fs.crop, d->fs.crop, sets[0], crop0, crop0);
        if (d->ntrain < 1)
            return sl_fail(err, "%s: no faces left for training after holding out evaluation faces", sets[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(T->ids[j].consent.subject, d->consent.subject) == 0)
                return sl_fail(err, "%s and %s are the same subject '%s'; give each identity once", sets[j], sets[i],
                               d->consent.subject);
        if (o->resume) {
            if (i >= state->nids || strcmp(state->subjects[i], d->consent.subject) != 0)
                return sl_fail(err, "%s: subject '%s' is not identity %d of this run (%s); give the run's face sets in "
                               "order", sets[i], d->consent.subject, i + 1, i < state->nids ? state->subjects[i] : "?");
        }
    }
    if (crop0 < S)
        return sl_fail(err, "%s: its crops are %dx%d but the '%s' model takes %dx%d faces; make the face sets with --crop "
                            "%d or more (swaplab synth/extract), or choose a preset of at most %d px",
                       sets[0], crop0, crop0, T->cfg.preset, S, S, S, crop0);
    if (crop0 != S && is_writer(T))
        sl_info("face crops are %dx%d; the '%s' model works at %dx%d, so crops are resized", crop0, crop0,
                T->cfg.preset, S, S);
    if (!is_writer(T)) return 0;

    if (sl_mkdirs(o->out, err)) return -1;
    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, o->out, "previews");
    if (sl_mkdirs(path, err)) return -1;
    sl_path_join(path, sizeof path, o->out, "log.jsonl");
    T->logf = fopen(path, "a");
    if (!T->logf) return sl_fail(err, "%s: cannot open: %s", path, strerror(errno));
    int have_gt = 1;
    for (int i = 0; i < nsets; i++) have_gt &= groundtruth_available(&T->ids[i].fs);
    if (have_gt) {
        FaceSet fsets[SWAP_MAX_IDS];
        FaceData fdata[SWAP_MAX_IDS];
        for (int i = 0; i < nsets; i++) fsets[i] = T->ids[i].fs, fdata[i] = T->ids[i].fd;
        T->fid = fidelity_prepare_data(fsets, fdata, nsets, S, T->cfg.holdout_every, 16, err);
        if (!T->fid) return -1;
        sl_path_join(path, sizeof path, o->out, "fidelity.jsonl");
        T->fidf = fopen(path, "a");
        if (!T->fidf) return sl_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------------------ */
static int train_loop(Trainer *T, SlErr *err) {
    const TrainOptions *o = T->o;
    const int S = T->m->arch.size, Bl = T->b1 - T->b0, nids = T->nids, writer = is_writer(T);
    const size_t img = 3 * (size_t)S * S, pl = (size_t)S * S;
    NnCtx *ctx = &T->ctx;
    NnShape zs = nn_net_out_shape(T->m->encoder);
    /* On a GPU the model, the batch and every gradient buffer live on the device; previews,
     * evaluation and checkpoints run on host copies (nn_model_to_host) with a CPU context. */
    T->on_gpu = ctx->device == NN_CUDA;
    if (T->on_gpu && writer) sl_info("training on %s", nn_device_name(ctx));
    nn_model_to_device(&T->m->model, ctx);
    T->dy = nn_dev_alloc(ctx, img * Bl), T->dy2 = nn_dev_alloc(ctx, img * Bl);
    const int group = swap_encoder_group(Bl, nids); /* identities per encoder pass (train_step) */
    T->dz = nn_dev_alloc(ctx, (size_t)zs.c * zs.h * zs.w * Bl * group);
    if (T->on_gpu) T->d_in = nn_dev_alloc(ctx, img * Bl * group), T->d_tg = nn_dev_alloc(ctx, img * Bl), T->d_w = nn_dev_alloc(ctx, pl * Bl);
    if (T->m->arch.mask) {
        T->y3 = nn_dev_alloc(ctx, img * Bl), T->ym = nn_dev_alloc(ctx, pl * Bl), T->dym = nn_dev_alloc(ctx, pl * Bl);
        T->dy4 = nn_dev_alloc(ctx, (img + pl) * Bl);
        T->tm_host = xmalloc(sizeof(float) * pl * Bl);
        if (T->on_gpu) T->d_tm = nn_dev_alloc(ctx, pl * Bl);
    }
    nn_net_reserve(T->m->encoder, Bl * group);
    for (int i = 0; i < nids; i++) nn_net_reserve(T->m->decoders[i], Bl);
    loader_start(&T->L, T->ids, nids, T->b0, T->b1, S, &T->cfg, T->step + 1, o->loaders);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    T->start = T->step;
    T->t0 = T->last_log = T->last_prev = T->last_eval = T->last_save = T->since_t = sl_now();
    T->budget = o->minutes * 60.0;
    SlProgress pr;
    memset(&pr, 0, sizeof pr);
    if (writer) sl_progress_begin(&pr, "train", o->steps > 0 ? o->steps : 0);
    pr.done = T->step;
    if (writer) {
        sl_info("training %s: %d identities, batch %d per identity%s, lr %g (warm-up %d steps%s), %s, %s; Ctrl-C saves "
                "and stops", T->cfg.preset, nids, T->cfg.batch, T->dist.size > 1 ? " over all ranks" : "",
                (double)T->cfg.lr, T->cfg.lr_warmup, T->cfg.lr_halflife > 0 ? ", then decaying" : "",
                o->steps > 0 ? "until step target" : "for a time budget",
                T->cfg.augment ? "augmentation on" : "augmentation off");
        if (T->dist.size > 1) sl_info("%d ranks, %d faces per identity each", T->dist.size, Bl);
    }
    int failed = 0, interrupted = 0;
    for (;;) {
        double now = sl_now();
        /* every rank takes the same decision: a rank out of time, interrupted or failed stops all */
        double why[3] = {(o->steps > 0 && T->step >= o->steps) || (o->steps <= 0 && now - T->t0 >= T->budget),
                         g_stop != 0, failed};
        nn_dist_allreduce_f64(&T->dist, why, 3);
        if (why[2] > 0) {
            failed = 1;
            break;
        }
        if (why[1] > 0) interrupted = 1;
        if (why[0] > 0 || why[1] > 0) break;
        long s = T->step + 1;
        Slot *slot = loader_get(&T->L, s);
        double c0 = sl_now();
        int bad = train_step(T, slot, s);
        loader_release(&T->L, slot);
        if (bad >= 0) {
            sl_fail(err, "loss became %s at step %ld (identity %s); training stopped. The last good checkpoint "
                    "is kept in %s; try a lower learning rate (--lr) or check the face sets",
                    isnan(T->loss[bad]) ? "NaN" : "infinite", s, T->ids[bad].consent.subject, o->out);
            failed = 2; /* the same on every rank */
            break;
        }
        T->step = s;
        T->compute_s += sl_now() - c0;
        T->since++;
        for (int i = 0; i < nids; i++) T->ema[i] = s == T->start + 1 ? T->loss[i] : 0.9 * T->ema[i] + 0.1 * T->loss[i];
        if (!writer) continue;
        now = sl_now();
        hook_progress(T, &pr, now);
        int last = (o->steps > 0 && T->step >= o->steps) || (o->steps <= 0 && now - T->t0 >= T->budget) || g_stop;
        hook_log(T, now, last);
        /* a failed hook stops every rank at the next step's agreement */
        if (hook_preview(T, now, 0, err) || hook_eval(T, now, 0, err) || hook_checkpoint(T, now, 0, err)) failed = 1;
    }
    loader_stop(&T->L);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    double wall = sl_now() - T->t0;
    T->train_seconds += wall;
    char summary[256];
    snprintf(summary, sizeof summary, "step %ld, %.1f img/s, data wait %.1f%% of the time", T->step,
             wall > 0 ? (double)(T->step - T->start) * T->cfg.batch * nids / wall : 0,
             wall > 0 ? 100 * T->L.wait_s / wall : 0);
    if (writer) sl_progress_end(&pr, summary);
    nn_dev_free(ctx, T->dy), nn_dev_free(ctx, T->dy2), nn_dev_free(ctx, T->dz);
    if (T->on_gpu) nn_dev_free(ctx, T->d_in), nn_dev_free(ctx, T->d_tg), nn_dev_free(ctx, T->d_w);
    if (T->m->arch.mask) {
        nn_dev_free(ctx, T->y3), nn_dev_free(ctx, T->ym), nn_dev_free(ctx, T->dym), nn_dev_free(ctx, T->dy4);
        free(T->tm_host);
        if (T->on_gpu) nn_dev_free(ctx, T->d_tm);
    }
    nn_model_to_host(&T->m->model, ctx);
    if (failed) {
        if (failed == 1 && !writer) err->msg[0] = 0; /* rank 0 failed and says why */
        return -1;
    }
    if (!writer) return 0;
    if (T->step > T->start || !o->resume) {
        if (hook_preview(T, 0, 1, err) || hook_checkpoint(T, 0, 1, err)) return -1;
        if (hook_eval(T, 0, 1, err)) return -1;
    }
    if (interrupted)
        fprintf(stderr, "swaplab train: interrupted; checkpoint saved at step %ld. Continue with: swaplab train "
                        "--out %s --resume\n", T->step, o->out);
    sl_info("model: %s/model.safetensors  previews: %s/previews/latest.png  log: %s/log.jsonl", o->out, o->out,
            o->out);
    return 0;
}

int train_run(const TrainOptions *o, SlErr *err) {
    sl_crypto_init();
    g_stop = 0;
    Trainer *T = xcalloc(1, sizeof *T);
    T->o = o;
    err->msg[0] = 0;
    if (nn_dist_init(&T->dist, err)) {
        free(T);
        return 1;
    }
    TrainState *state = xcalloc(1, sizeof *state); /* state.json of a resumed run */
    int rc = 1;
    /* a refusal on any rank (consent, files) stops every rank; each names itself */
    int ok = setup(T, state, err) == 0;
    int nfailed = nn_dist_count_failed(&T->dist, ok);
    if (nfailed) {
        if (T->dist.size > 1) {
            if (!ok) sl_failctx(err, "rank %d of %d", T->dist.rank, T->dist.size);
            else if (T->dist.rank == 0) sl_fail(err, "%d rank(s) refused to start (see above); nothing was trained", nfailed);
            else err->msg[0] = 0;
        }
        goto done;
    }
    if (check_ranks_agree(T, err)) {
        if (T->dist.rank != 0) err->msg[0] = 0;
        goto done;
    }
    if (train_loop(T, err) == 0) rc = 0;
    else if (T->dist.size > 1 && err->msg[0]) {
        if (T->dist.rank != 0) err->msg[0] = 0; /* the same message on every rank: rank 0 says it */
    }
done:
    if (T->dist.size > 1) {
        /* say it before any rank exits: the launcher ends the job when a rank exits non-zero, and
         * the barrier keeps every rank here until each has printed */
        if (rc && err->msg[0]) {
            fprintf(stderr, "swaplab train: %s\n", err->msg);
            fflush(stderr);
            err->msg[0] = 0;
        }
        nn_dist_count_failed(&T->dist, rc == 0);
    }
    if (T->logf) fclose(T->logf);
    if (T->fidf) fclose(T->fidf);
    fidelity_free(T->fid);
    for (int i = 0; T->ids && i < T->nids; i++) free_identity(&T->ids[i]);
    free(T->ids);
    if (T->m) nn_model_release_device(&T->m->model, &T->ctx);
    nn_device_release(&T->ctx);
    swap_model_free(T->m);
    free(state);
    nn_dist_finalize(&T->dist);
    free(T);
    return rc;
}
