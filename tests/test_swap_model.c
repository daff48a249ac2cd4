/* test_swap_model.c — the face-swap autoencoder presets (model/swap_model.h): parameter counts,
 * FLOPs, forward shapes, the architecture in model-file metadata (round trip and hostile JSON),
 * save/load, and a golden check against PyTorch (bench/torch_reference.py loads our model file
 * with load_state_dict(strict=True) and runs the same forward). */
#include <unistd.h>

#include "data/consent.h"
#include "nn/checkpoint.h"
#include "tests/test.h"
#include "tests/torch_golden.h"
#include "model/run.h"
#include "model/swap_model.h"
#include "train/pretrain.h"
#include "util/fs.h"

static SlRng rng;

static void t_param_counts(void) {
    /* Expected counts: the classic deepfakes model (82,062,470 with two decoders) and the PyTorch
     * modules of bench/torch_reference.py (sum of p.numel()). */
    const struct {
        const char *preset;
        size_t params;
        double gflop;
    } want[] = {
        {"original", 82062470, 3.800301568},
        {"lite", 20526662, 0.964820992},
        {"tiny", 5137190, 0.248578048},
        {"hd128", 82405446, 4.882694144},
        {"tiny128", 11440934, 0.994312192},
    };
    SlErr err;
    for (int i = 0; i < 5; i++) {
        SwapModel *m = swap_model_new(want[i].preset, 2, &err);
        CHECKF(m != NULL, "%s", err.msg);
        if (!m) continue;
        CHECKF(nn_model_param_count(&m->model) == want[i].params, "%s: %zu", want[i].preset,
               nn_model_param_count(&m->model));
        CHECK_NEAR(swap_model_forward_flops(m) / 1e9, want[i].gflop, 1e-6);
        /* every tensor is named like the PyTorch module */
        CHECK(nn_model_find(&m->model, "encoder.convs.0.weight") != NULL);
        CHECK(nn_model_find(&m->model, "encoder.up1.conv.bias") != NULL);
        CHECK(nn_model_find(&m->model, "decoders.1.out.weight") != NULL);
        swap_model_free(m);
    }
    /* a third identity adds one decoder */
    SwapModel *m3 = swap_model_new("original", 3, &err);
    CHECK(m3 && nn_model_param_count(&m3->model) == 82062470 + 6199747);
    swap_model_free(m3);
    CHECK(swap_model_new("huge", 2, &err) == NULL && strstr(err.msg, "huge") && strstr(err.msg, "tiny"));
    CHECK(swap_model_new("tiny", 1, &err) == NULL && strstr(err.msg, "identities"));
    CHECK(swap_model_new("tiny", SWAP_MAX_IDS + 1, &err) == NULL);
}

static void t_forward_shapes(void) {
    SlErr err;
    const char *presets[] = {"tiny", "lite", "original", "hd128", "tiny128"};
    for (int p = 0; p < 5; p++) {
        SwapModel *m = swap_model_new(presets[p], 2, &err);
        CHECKF(m != NULL, "%s", err.msg);
        if (!m) continue;
        nn_model_init_weights(&m->model, &rng);
        const SwapArch *a = &m->arch;
        int B = p < 2 ? 3 : 1, n = 3 * a->size * a->size;
        float *x = xmalloc(sizeof(float) * (size_t)B * n);
        for (int i = 0; i < B * n; i++) x[i] = sl_rng_uniform(&rng);
        NnCtx ctx;
        nn_ctx_init(&ctx, 2, 1);
        NnShape zs = nn_net_out_shape(m->encoder);
        int s = a->size >> a->nenc;
        CHECK(zs.c == a->enc_up && zs.h == 2 * s && zs.w == 2 * s);
        const float *z = nn_net_forward(m->encoder, &ctx, x, B);
        NnShape os = nn_net_out_shape(m->decoders[1]);
        CHECK(os.c == 3 && os.h == a->size && os.w == a->size);
        const float *y = nn_net_forward(m->decoders[1], &ctx, z, B);
        int in01 = 1;
        double sum = 0;
        for (int i = 0; i < B * n; i++) {
            in01 &= y[i] > 0.0f && y[i] < 1.0f;
            sum += y[i];
        }
        CHECKF(in01, "%s: sigmoid output outside (0, 1)", presets[p]);
        CHECK(sum / (B * n) > 0.2 && sum / (B * n) < 0.8);
        free(x);
        swap_model_free(m);
    }
}

static void t_arch_metadata(void) {
    SlErr err;
    for (int i = 0; swap_preset_names[i]; i++) {
        SwapModel *m = swap_model_new(swap_preset_names[i], 2 + i, &err);
        char *js = swap_model_arch_json(m);
        SwapModel *r = swap_model_from_metadata(js, &err);
        CHECKF(r != NULL, "%s: %s", js, err.msg);
        if (r) {
            CHECK(memcmp(&r->arch, &m->arch, sizeof r->arch) == 0 && r->n_ids == 2 + i);
            CHECK(nn_model_param_count(&r->model) == nn_model_param_count(&m->model));
        }
        free(js);
        swap_model_free(r);
        swap_model_free(m);
    }
    const char *bad[] = {
        "not json",
        "[1,2]",
        "{\"size\":64}",
        "{\"preset\":\"x\",\"size\":64,\"enc\":[32,64,128,256],\"dense\":256,\"bottleneck\":256,\"enc_up\":128,\"dec\":[64,32],\"identities\":2}",
        "{\"preset\":\"x\",\"size\":60,\"enc\":[32,64,128,256],\"dense\":256,\"bottleneck\":256,\"enc_up\":128,\"dec\":[64,32,16],\"identities\":2}",
        "{\"preset\":\"x\",\"size\":64,\"enc\":[32,64,128,256],\"dense\":256,\"bottleneck\":256,\"enc_up\":128,\"dec\":[64,32,16],\"identities\":1}",
        "{\"preset\":\"x\",\"size\":64,\"enc\":[32,64,128,256],\"dense\":-5,\"bottleneck\":256,\"enc_up\":128,\"dec\":[64,32,16],\"identities\":2}",
        "{\"preset\":\"x\",\"size\":64,\"enc\":[32,64,128,99999],\"dense\":256,\"bottleneck\":256,\"enc_up\":128,\"dec\":[64,32,16],\"identities\":2}",
        "{\"preset\":\"x\",\"size\":64,\"enc\":[8192,8192,8192,8192],\"dense\":8192,\"bottleneck\":8192,\"enc_up\":8192,\"dec\":[64,32,16],\"identities\":2}",
        "{\"preset\":\"x\",\"size\":64,\"enc\":\"32\",\"dense\":256,\"bottleneck\":256,\"enc_up\":128,\"dec\":[64,32,16],\"identities\":2}",
        "{\"preset\":\"x\",\"size\":64.5,\"enc\":[32,64,128,256],\"dense\":256,\"bottleneck\":256,\"enc_up\":128,\"dec\":[64,32,16],\"identities\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.msg[0] = 0;
        SwapModel *m = swap_model_from_metadata(bad[i], &err);
        CHECKF(m == NULL && strstr(err.msg, "architecture"), "case %zu: %s", i, err.msg);
        swap_model_free(m);
    }
    CHECK(swap_model_from_metadata(NULL, &err) == NULL && strstr(err.msg, SWAP_ARCH_KEY));
}

static void t_save_load(void) {
    SlErr err;
    SwapModel *m = swap_model_new("tiny", 2, &err);
    nn_model_init_weights(&m->model, &rng);
    char path[600];
    sl_path_join(path, sizeof path, test_tmpdir(), "tiny.safetensors");
    const char *meta[] = {"identities", "[\"ann\",\"bob\"]", NULL};
    CHECKF(swap_model_save(m, path, meta, &err) == 0, "%s", err.msg);
    StFile *f = NULL;
    SwapModel *r = swap_model_load(path, &f, &err);
    CHECKF(r != NULL, "%s", err.msg);
    if (r) {
        CHECK(memcmp(r->model.params, m->model.params, m->model.nparams * sizeof(float)) == 0);
        CHECK(f && st_meta(f, "identities") && strcmp(st_meta(f, "identities"), meta[1]) == 0);
    }
    st_close(f);
    swap_model_free(r);
    /* a plain checkpoint without the architecture is refused with the reason */
    CHECK(nn_save_model(path, &m->model, NULL, &err) == 0);
    CHECK(swap_model_load(path, NULL, &err) == NULL && strstr(err.msg, SWAP_ARCH_KEY) &&
          strstr(err.msg, path));
    swap_model_free(m);
}

/* PyTorch loads our file into bench/torch_reference.py's module (strict: every name and shape),
 * runs encoder + decoder 1 on our input and writes its output; we compare with our forward. */
static void t_torch_golden(void) {
    if (!have_torch()) SKIP("/usr/bin/python3 with torch and numpy is not installed (python3-torch)");
    CHECKF(sl_is_file("bench/torch_reference.py"), "run from the repository root");
    SlErr err;
    SwapModel *m = swap_model_new("tiny", 2, &err);
    nn_model_init_weights(&m->model, &rng);
    const int B = 2, n = 3 * 64 * 64;
    float *x = xmalloc(sizeof(float) * B * n);
    for (int i = 0; i < B * n; i++) x[i] = sl_rng_uniform(&rng);
    char mp[600], ip[600], op[600], py[600], cmd[3000];
    sl_path_join(mp, sizeof mp, test_tmpdir(), "golden.safetensors");
    sl_path_join(ip, sizeof ip, test_tmpdir(), "golden-in.safetensors");
    sl_path_join(op, sizeof op, test_tmpdir(), "golden-out.safetensors");
    sl_path_join(py, sizeof py, test_tmpdir(), "golden.py");
    CHECK(swap_model_save(m, mp, NULL, &err) == 0);
    StTensor tx = {"x", ST_F32, 4, {B, 3, 64, 64}, x, sizeof(float) * B * n};
    CHECK(st_write(ip, &tx, 1, NULL, &err) == 0);
    CHECK(sl_write_atomic(py, TORCH_GOLDEN_PY, strlen(TORCH_GOLDEN_PY), &err) == 0);
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=2 /usr/bin/python3 %s %s %s %s 1", py, mp, ip, op);
    int rc = system(cmd);
    CHECKF(rc == 0, "python golden script failed (exit %d)", rc);
    NnCtx ctx;
    nn_ctx_init(&ctx, 2, 1);
    const float *y = nn_net_forward(m->decoders[1], &ctx, nn_net_forward(m->encoder, &ctx, x, B), B);
    StFile *f = rc == 0 ? st_open(op, &err) : NULL;
    const StTensor *ty = f ? st_find(f, "y") : NULL;
    CHECK(ty && ty->nbytes == sizeof(float) * B * n);
    if (ty) {
        double maxd = 0, spread = 0;
        const float *yt = ty->data;
        for (int i = 0; i < B * n; i++) {
            double d = fabs((double)yt[i] - y[i]);
            if (d > maxd) maxd = d;
            spread += fabs((double)y[i] - y[(i + 4097) % (B * n)]);
        }
        CHECKF(maxd < 1e-4, "max |torch - swaplab| = %g", maxd);
        CHECK(spread / (B * n) > 1e-4); /* the outputs really vary (not a constant image) */
    }
    st_close(f);
    free(x);
    swap_model_free(m);
}

/* Saves a random model of preset p with n identities PREFIX-1..PREFIX-n recorded, as a trainer
 * would, started from the record init (NULL: none). */
static SwapModel *save_start(const char *p, int n, const char *path, const char *prefix, const char *init) {
    SlErr err;
    SwapModel *m = swap_model_new(p, n, &err);
    nn_model_init_weights(&m->model, &rng);
    if (init) m->init = xstrdup(init);
    RunIdentity ids[SWAP_MAX_IDS];
    memset(ids, 0, sizeof ids);
    for (int i = 0; i < n; i++) {
        snprintf(ids[i].subject, sizeof ids[i].subject, "%s-%d", prefix, i + 1);
        memset(ids[i].consent_digest, 'a' + i, 64);
        snprintf(ids[i].kind, sizeof ids[i].kind, "synthetic");
        snprintf(ids[i].faceset, sizeof ids[i].faceset, "sets/pre-%d", i + 1);
    }
    char *idj = run_identities_json(ids, n);
    const char *meta[] = {RUN_IDENTITIES_KEY, idj, RUN_STEP_KEY, "1234", NULL};
    CHECKF(swap_model_save(m, path, meta, &err) == 0, "%s", err.msg);
    free(idj);
    return m;
}

static int same_tensor(const SwapModel *a, const char *na, const SwapModel *b, const char *nb) {
    const NnTensorInfo *t = nn_model_find(&a->model, na), *u = nn_model_find(&b->model, nb);
    return t && u && t->numel == u->numel &&
           memcmp(nn_tensor_data(&a->model, t), nn_tensor_data(&b->model, u), sizeof(float) * t->numel) == 0;
}

/* --init: the encoder and decoders (d mod n) come from the start, the start's identities are
 * recorded and survive a save and load; another architecture, a revoked subject or an unreadable
 * revocation list are refused. */
static void t_pretrain_init(void) {
    SlErr err;
    char from[600], from2[600], rev[600], badrev[600], out[600];
    sl_path_join(from, sizeof from, test_tmpdir(), "pre.safetensors");
    sl_path_join(from2, sizeof from2, test_tmpdir(), "pre2.safetensors");
    sl_path_join(rev, sizeof rev, test_tmpdir(), "revoked.json");
    static const char empty_list[] = "{\"format\": \"swaplab-revocations/1\", \"revoked\": []}";
    SL_ASSERT(sl_write_atomic(rev, empty_list, strlen(empty_list), &err) == 0);
    sl_path_join(badrev, sizeof badrev, test_tmpdir(), "badrev.json");
    sl_path_join(out, sizeof out, test_tmpdir(), "inited.safetensors");
    SwapModel *pre = save_start("tiny", 3, from, "pre", NULL);
    SwapModel *m = swap_model_new("tiny", 4, &err);
    nn_model_init_weights(&m->model, &rng);
    CHECK(!same_tensor(m, "encoder.dense1.weight", pre, "encoder.dense1.weight"));
    CHECKF(pretrain_init_model(m, from, rev, &err) == 0, "%s", err.msg);
    int enc_all = 1;
    for (int k = 0; k < pre->model.ntensors; k++)
        if (strncmp(pre->model.tensors[k].name, "encoder.", 8) == 0)
            enc_all &= same_tensor(m, pre->model.tensors[k].name, pre, pre->model.tensors[k].name);
    CHECK(enc_all);
    CHECK(same_tensor(m, "decoders.1.ups.0.conv.weight", pre, "decoders.1.ups.0.conv.weight"));
    CHECK(same_tensor(m, "decoders.2.out.bias", pre, "decoders.2.out.bias"));
    CHECK(same_tensor(m, "decoders.3.out.weight", pre, "decoders.0.out.weight")); /* 3 mod 3 */
    CHECK(m->init && strstr(m->init, "\"pre-3\"") && strstr(m->init, "\"step\":1234") &&
          strstr(m->init, "synthetic"));
    /* the record is saved with the model and read back; a start of a start keeps the chain */
    const char *meta[] = {RUN_STEP_KEY, "1", NULL};
    CHECK(swap_model_save(m, out, meta, &err) == 0);
    SwapModel *back = swap_model_load(out, NULL, &err);
    CHECK(back && back->init && strcmp(back->init, m->init) == 0);
    swap_model_free(back);
    SwapModel *pre2 = save_start("tiny", 2, from2, "second", m->init);
    SwapModel *m2 = swap_model_new("tiny", 2, &err);
    CHECKF(pretrain_init_model(m2, from2, rev, &err) == 0, "%s", err.msg);
    CHECK(m2->init && strstr(m2->init, "second-2") && strstr(m2->init, "\"init\":") && strstr(m2->init, "pre-3"));
    swap_model_free(m2);
    swap_model_free(pre2);
    /* another architecture: refused, naming both presets */
    SwapModel *lite = swap_model_new("lite", 2, &err);
    CHECK(pretrain_init_model(lite, from, rev, &err) == -1 && strstr(err.msg, "'tiny'") && strstr(err.msg, "'lite'"));
    CHECK(lite->init == NULL);
    swap_model_free(lite);
    /* a model file without recorded identities: refused */
    char bare[600];
    sl_path_join(bare, sizeof bare, test_tmpdir(), "bare.safetensors");
    CHECK(swap_model_save(pre, bare, NULL, &err) == 0);
    SwapModel *m3 = swap_model_new("tiny", 2, &err);
    CHECK(pretrain_init_model(m3, bare, rev, &err) == -1 && strstr(err.msg, "identities"));
    /* a revoked subject of the start: refused, naming them; an unreadable list: refused */
    int already;
    CHECK(consent_revoke(rev, "pre-2", NULL, "withdrew", NULL, NULL, &already, &err) == 0);
    CHECK(pretrain_init_model(m3, from, rev, &err) == -1 && strstr(err.msg, "pre-2") && strstr(err.msg, "revoked"));
    CHECK(sl_write_atomic(badrev, "{not json", 9, &err) == 0);
    CHECK(pretrain_init_model(m3, from, badrev, &err) == -1 && strstr(err.msg, "fails closed"));
    CHECK(m3->init == NULL);
    swap_model_free(m3);
    swap_model_free(m);
    swap_model_free(pre);
}

/* swap_encoder_group, and the premise of the grouped step (train_step): the encoder is per sample,
 * so one pass over the faces of 3 identities gives the same codes, and the same gradients for every
 * tensor, as one pass per identity (up to the order of the float sums). */
static void t_encoder_group(void) {
    CHECK(swap_encoder_group(16, 2) == 2);
    CHECK(swap_encoder_group(32, 2) == 2);
    CHECK(swap_encoder_group(33, 2) == 1);
    CHECK(swap_encoder_group(64, 2) == 1);
    CHECK(swap_encoder_group(8, 15) == 8);
    CHECK(swap_encoder_group(4096, 16) == 1);
    CHECK(swap_encoder_group(1, 3) == 3);
    SlErr err;
    SwapModel *m = swap_model_new("tiny", 3, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (!m) return;
    nn_model_init_weights(&m->model, &rng);
    const int B = 2, ids = 3, S = m->arch.size, n = 3 * S * S;
    const NnShape zs = nn_net_out_shape(m->encoder);
    const size_t zn = (size_t)zs.c * zs.h * zs.w, np = m->model.nparams;
    float *x = xmalloc(sizeof(float) * (size_t)ids * B * n), *dy = xmalloc(sizeof(float) * (size_t)B * n);
    float *dz = xmalloc(sizeof(float) * ids * B * zn), *z1 = xmalloc(sizeof(float) * ids * B * zn);
    float *g1 = xmalloc(sizeof(float) * np);
    for (int i = 0; i < ids * B * n; i++) x[i] = sl_rng_uniform(&rng);
    NnCtx ctx;
    nn_ctx_init(&ctx, 2, 1);
    ctx.training = 1;
    nn_net_reserve(m->encoder, ids * B);
    for (int pass = 0; pass < 2; pass++) { /* 0: one encoder pass per identity; 1: one for all three */
        nn_model_zero_grad(&m->model);
        const float *z = NULL;
        for (int i = 0; i < ids; i++) {
            const float *zi;
            if (pass == 0) {
                zi = z = nn_net_forward(m->encoder, &ctx, x + (size_t)n * B * i, B);
                memcpy(z1 + zn * B * i, z, sizeof(float) * zn * B);
            } else {
                if (i == 0) z = nn_net_forward(m->encoder, &ctx, x, ids * B);
                zi = z + zn * B * i;
                double dmax = 0;
                for (size_t j = 0; j < zn * B; j++) dmax = fmax(dmax, fabs(zi[j] - z1[zn * B * i + j]));
                CHECKF(dmax < 1e-5, "identity %d: codes differ by %g", i, dmax);
            }
            const float *y = nn_net_forward(m->decoders[i], &ctx, zi, B);
            nn_loss_mse(y, x + (size_t)n * B * i, NULL, B, 3, S, S, dy);
            nn_net_backward(m->decoders[i], &ctx, dy, dz + (pass ? zn * B * i : 0));
            if (pass == 0) nn_net_backward(m->encoder, &ctx, dz, NULL);
        }
        if (pass == 1) nn_net_backward(m->encoder, &ctx, dz, NULL);
        if (pass == 0) {
            memcpy(g1, m->model.grads, sizeof(float) * np);
            continue;
        }
        double gmax = 0, dmax = 0;
        for (size_t j = 0; j < np; j++) gmax = fmax(gmax, fabs(g1[j])), dmax = fmax(dmax, fabs(m->model.grads[j] - g1[j]));
        CHECK(gmax > 0);
        CHECKF(dmax <= 1e-4 * gmax, "gradients differ by %g (largest %g)", dmax, gmax);
    }
    free(x), free(dy), free(dz), free(z1), free(g1);
    swap_model_free(m);
}

int main(void) {
    sl_rng_seed(&rng, (uint64_t)getpid() ^ (uint64_t)(sl_now() * 1e6));
    RUN(t_param_counts);
    RUN(t_forward_shapes);
    RUN(t_arch_metadata);
    RUN(t_save_load);
    RUN(t_torch_golden);
    RUN(t_pretrain_init);
    RUN(t_encoder_group);
    return test_summary("test_swap_model");
}
