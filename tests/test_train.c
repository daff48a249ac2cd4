/* test_train.c — the trainer: N steps equal N/2 steps + resume + N/2 steps byte for byte; the
 * consent gate refuses an unconsented set; --resume refuses another architecture; a diverging run
 * stops on NaN/Inf and keeps its last good checkpoint; previews and logs are written. */
#include <math.h>
#include <jansson.h>
#include <unistd.h>

#include "cli/commands.h"
#include "tests/test.h"
#include "train/config.h"
#include "train/trainer.h"
#include "util/fs.h"

static char sets_dir[600], set_a[700], set_b[700], set_c[700];

static void make_sets(void) {
    if (set_a[0]) return;
    sl_path_join(sets_dir, sizeof sets_dir, test_tmpdir(), "faces");
    char *argv[] = {"--out", sets_dir, "--identities", "3", "--frames", "12", "--size", "96", "--crop", "64",
                    "--seed", "7"};
    if (cmd_synth(12, argv) != 0) {
        fprintf(stderr, "swaplab synth failed\n");
        abort();
    }
    sl_path_join(set_a, sizeof set_a, sets_dir, "synth-0001");
    sl_path_join(set_b, sizeof set_b, sets_dir, "synth-0002");
    sl_path_join(set_c, sizeof set_c, sets_dir, "synth-0003");
}

static TrainOptions opts(const char *out, long steps) {
    static const char *sets[2];
    sets[0] = set_a, sets[1] = set_b;
    TrainOptions o;
    train_options_default(&o);
    o.facesets = sets;
    o.n_facesets = 2;
    o.out = out;
    o.preset = "tiny";
    o.steps = steps;
    o.cfg.batch = 2;
    o.threads = 2;
    o.cfg.seed = 11;
    o.cfg.lr = 1e-3f;
    o.eval_every = 1000000;
    o.preview_every = 1000000;
    return o;
}

static int same_file(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    SlErr err;
    if (sl_read_file(a, 1 << 30, &x, &nx, &err) || sl_read_file(b, 1 << 30, &y, &ny, &err)) return 0;
    int same = nx == ny && memcmp(x, y, nx) == 0;
    free(x), free(y);
    return same;
}

static void t_resume_bit_exact(void) {
    make_sets();
    char r1[700], r2[700], p1[800], p2[800];
    sl_path_join(r1, sizeof r1, test_tmpdir(), "run_full");
    sl_path_join(r2, sizeof r2, test_tmpdir(), "run_split");
    SlErr err;
    TrainOptions o = opts(r1, 4);
    CHECKF(train_run(&o, &err) == 0, "%s", err.msg);
    o = opts(r2, 2);
    CHECKF(train_run(&o, &err) == 0, "%s", err.msg);
    o = opts(r2, 4);
    o.resume = 1;
    o.preset = NULL;
    CHECKF(train_run(&o, &err) == 0, "%s", err.msg);
    sl_path_join(p1, sizeof p1, r1, "ckpt/step-000000004.model.safetensors");
    sl_path_join(p2, sizeof p2, r2, "ckpt/step-000000004.model.safetensors");
    CHECK(sl_is_file(p1) && sl_is_file(p2));
    CHECKF(same_file(p1, p2), "models after 4 steps and after 2+resume+2 differ");
    sl_path_join(p1, sizeof p1, r1, "ckpt/step-000000004.optim.safetensors");
    sl_path_join(p2, sizeof p2, r2, "ckpt/step-000000004.optim.safetensors");
    CHECKF(same_file(p1, p2), "optimizer states differ");
    /* and the run really changed the weights: step 2 differs from step 4 */
    sl_path_join(p1, sizeof p1, r2, "ckpt/step-000000002.model.safetensors");
    CHECK(sl_is_file(p1) && !same_file(p1, p2));
    sl_path_join(p1, sizeof p1, r1, "model.safetensors");
    sl_path_join(p2, sizeof p2, r1, "ckpt/step-000000004.model.safetensors");
    CHECK(same_file(p1, p2));
    sl_path_join(p1, sizeof p1, r1, "previews/latest.png");
    CHECK(sl_is_file(p1));
    sl_path_join(p1, sizeof p1, r1, "log.jsonl");
    char *log;
    size_t n;
    CHECK(sl_read_file(p1, 1 << 20, &log, &n, &err) == 0 && n > 0 && strstr(log, "\"loss\""));
    /* however fast the run, the first and the last step are logged */
    CHECKF(log && strstr(log, "{\"step\":1,") && strstr(log, "{\"step\":4,"), "%s", log ? log : "(no log)");
    free(log);
    /* starting again in the same directory without --resume is refused */
    o = opts(r1, 4);
    CHECK(train_run(&o, &err) == 1 && strstr(err.msg, "--resume"));
    /* --resume with another preset is refused, naming both */
    o = opts(r1, 6);
    o.resume = 1;
    o.preset = "lite";
    CHECK(train_run(&o, &err) == 1 && strstr(err.msg, "tiny") && strstr(err.msg, "lite"));
}

static void t_consent_refused(void) {
    make_sets();
    char bad[700], cmd[2400], out[700];
    sl_path_join(bad, sizeof bad, test_tmpdir(), "unconsented");
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && rm '%s/consent.json'", set_b, bad, bad);
    CHECK(system(cmd) == 0);
    sl_path_join(out, sizeof out, test_tmpdir(), "run_refused");
    const char *sets[2] = {set_a, bad};
    TrainOptions o = opts(out, 2);
    o.facesets = sets;
    SlErr err;
    CHECK(train_run(&o, &err) == 1);
    CHECKF(strstr(err.msg, "unconsented") && strstr(err.msg, "consent"), "%s", err.msg);
    char model[800];
    sl_path_join(model, sizeof model, out, "model.safetensors");
    CHECK(!sl_is_file(model));
}

static void t_nan_keeps_checkpoint(void) {
    make_sets();
    char out[700], st[800];
    sl_path_join(out, sizeof out, test_tmpdir(), "run_nan");
    TrainOptions o = opts(out, 50);
    o.cfg.lr = 1e30f;
    o.save_every = 1;
    SlErr err;
    CHECK(train_run(&o, &err) == 1);
    CHECKF(strstr(err.msg, "loss became"), "%s", err.msg);
    sl_path_join(st, sizeof st, out, "state.json");
    json_error_t je;
    json_t *j = json_load_file(st, 0, &je);
    CHECK(j != NULL);
    long step = j ? (long)json_integer_value(json_object_get(j, "step")) : -1;
    CHECKF(step >= 1 && step < 50, "last good checkpoint at step %ld", step);
    json_decref(j);
    char model[800];
    sl_path_join(model, sizeof model, out, "model.safetensors");
    CHECK(sl_is_file(model));
}

/* Edits one top-level or config value of RUN/state.json with python (a string of JSON). */
static void edit_state(const char *run, const char *where, const char *json) {
    char cmd[6000];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import json,sys; p=sys.argv[1]+\"/state.json\"; s=json.load(open(p)); "
             "w=sys.argv[2].split(\".\"); d=s[w[0]] if len(w)>1 else s; d[w[-1]]=json.loads(sys.argv[3]); "
             "json.dump(s,open(p,\"w\"))' '%s' '%s' '%s'", run, where, json);
    CHECKF(system(cmd) == 0, "%s", cmd);
}

/* 14.2: a run resumes only from its own checkpoint, with state values in the command line's ranges. */
static void t_resume_refuses_laundering(void) {
    make_sets();
    char base[700], other[700], r[700], p[900];
    sl_path_join(base, sizeof base, test_tmpdir(), "launder_base");
    sl_path_join(other, sizeof other, test_tmpdir(), "launder_other");
    sl_path_join(r, sizeof r, test_tmpdir(), "launder");
    SlErr err;
    TrainOptions o = opts(base, 2);
    CHECKF(train_run(&o, &err) == 0, "%s", err.msg);
    const char *sets2[2] = {set_a, set_c};
    o = opts(other, 2);
    o.facesets = sets2;
    CHECKF(train_run(&o, &err) == 0, "%s", err.msg);
    struct {
        const char *where, *json, *want;
    } bad[] = {
        {"model", "\"../launder_other/ckpt/step-000000002.model.safetensors\"", "this run's own"},
        {"model", "\"/etc/passwd\"", "this run's own"},
        {"config.lr", "-1", "lr"},
        {"config.warp", "1e30", "warp"},
        {"config.batch", "0", "batch"},
        {"config.seed", "\"-1\"", "seed"},
        {"format", "\"swaplab-run/3\"", "newer swaplab"},
        {"step", "1", "step"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char cmd[6000];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", r, base, r);
        CHECK(system(cmd) == 0);
        edit_state(r, bad[i].where, bad[i].json);
        o = opts(r, 3);
        o.resume = 1;
        o.preset = NULL;
        CHECKF(train_run(&o, &err) == 1 && strstr(err.msg, bad[i].want), "%s=%s: %s", bad[i].where, bad[i].json,
               err.msg);
    }
    /* another run's checkpoint copied under this run's name: its identities give it away */
    char cmd[6000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s' && cp '%s'/ckpt/step-000000002.* '%s'/ckpt/", r, base, r,
             other, r);
    CHECK(system(cmd) == 0);
    o = opts(r, 3);
    o.resume = 1;
    o.preset = NULL;
    CHECKF(train_run(&o, &err) == 1 && strstr(err.msg, "not this run's model") && strstr(err.msg, "synth-0003"), "%s",
           err.msg);
    /* a link to a file elsewhere is refused too */
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s' && ln -sf '%s'/ckpt/step-000000002.model.safetensors "
             "'%s'/ckpt/step-000000002.model.safetensors", r, base, r, other, r);
    CHECK(system(cmd) == 0);
    CHECKF(train_run(&o, &err) == 1 && strstr(err.msg, "link"), "%s", err.msg);
    /* the untouched copy resumes */
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", r, base, r);
    CHECK(system(cmd) == 0);
    CHECKF(train_run(&o, &err) == 0, "%s", err.msg);
    sl_path_join(p, sizeof p, r, "ckpt/step-000000003.model.safetensors");
    CHECK(sl_is_file(p));
}

static int count_steps(const char *log, long step) {
    char key[64];
    snprintf(key, sizeof key, "{\"step\":%ld,", step);
    int n = 0;
    for (const char *q = log; (q = strstr(q, key)); q++) n++;
    return n;
}

/* 14.7: what a killed run leaves (temp files, an orphan checkpoint newer than state.json, log lines
 * after the checkpoint, a torn line) is cleaned up, and the resumed log has each step once. */
static void t_resume_cleans_crash_leftovers(void) {
    make_sets();
    char r[700], p[900];
    sl_path_join(r, sizeof r, test_tmpdir(), "crashed");
    SlErr err;
    TrainOptions o = opts(r, 3);
    o.log_every = 1;
    CHECKF(train_run(&o, &err) == 0, "%s", err.msg);
    char cmd[6000];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && echo x > model.safetensors.tmp.999999999 && echo x > ckpt/step-000000005.model.safetensors.tmp.999999998 "
             "&& cp ckpt/step-000000003.model.safetensors ckpt/step-000000005.model.safetensors && "
             "printf '{\"step\":4,\"loss\":[1,1]}\\n{\"step\":5,\"loss\":[1,1]}\\n{\"step\":6,\"lo' >> log.jsonl",
             r);
    CHECK(system(cmd) == 0);
    o = opts(r, 6);
    o.resume = 1;
    o.preset = NULL;
    o.log_every = 1;
    CHECKF(train_run(&o, &err) == 0, "%s", err.msg);
    sl_path_join(p, sizeof p, r, "model.safetensors.tmp.999999999");
    CHECK(!sl_is_file(p));
    sl_path_join(p, sizeof p, r, "ckpt/step-000000005.model.safetensors.tmp.999999998");
    CHECK(!sl_is_file(p));
    sl_path_join(p, sizeof p, r, "log.jsonl");
    char *log = NULL;
    size_t n;
    CHECK(sl_read_file(p, 1 << 20, &log, &n, &err) == 0);
    for (long s = 1; log && s <= 6; s++) CHECKF(count_steps(log, s) == 1, "step %ld logged %d times:\n%s", s, count_steps(log, s), log);
    CHECK(log && !strstr(log, "\"lo\n") && log[n - 1] == '\n');
    free(log);
    /* the orphan step 5 was removed before it could be mistaken for a checkpoint; the kept pair is 3 and 6 */
    sl_path_join(p, sizeof p, r, "ckpt/step-000000005.model.safetensors");
    CHECK(!sl_is_file(p));
}

/* The configuration table: defaults per preset, the schedule, and a state.json round trip. */
static void t_config_table(void) {
    TrainConfig c, d;
    train_config_default(&c, "original");
    CHECK(c.lr == 1e-4f);
    train_config_default(&c, "tiny");
    CHECK(c.lr == 5e-4f);
    c.lr_warmup = 10;
    c.lr_halflife = 100;
    CHECK(fabsf(train_lr_at(&c, 5) - 2.5e-4f) < 1e-9f);
    CHECK(train_lr_at(&c, 10) == c.lr);
    CHECK(fabsf(train_lr_at(&c, 110) - 2.5e-4f) < 1e-8f);
    json_t *j = train_config_to_json(&c);
    SlErr err;
    CHECK(train_config_from_json(j, &d, "x", &err) == 0);
    CHECK(memcmp(&c, &d, sizeof c) == 0);
    json_object_set_new(j, "w_mse", json_real(-2));
    CHECK(train_config_from_json(j, &d, "x", &err) == -1 && strstr(err.msg, "w_mse"));
    /* an old state without the schedule keys continues without a schedule */
    json_object_set_new(j, "w_mse", json_real(1));
    json_object_del(j, "lr_warmup");
    CHECK(train_config_from_json(j, &d, "x", &err) == 0 && d.lr_warmup == 0);
    json_object_del(j, "lr");
    CHECK(train_config_from_json(j, &d, "x", &err) == -1 && strstr(err.msg, "lr"));
    json_decref(j);
    CHECK(train_param_parse(&train_params[1], "2.5", &c, &err) == -1); /* batch */
    CHECK(train_param_parse(&train_params[2], "-1", &c, &err) == -1);  /* seed */
}

int main(void) {
    setenv("SL_QUIET", "1", 1);
    RUN(t_resume_bit_exact);
    RUN(t_consent_refused);
    RUN(t_nan_keeps_checkpoint);
    RUN(t_resume_refuses_laundering);
    RUN(t_resume_cleans_crash_leftovers);
    RUN(t_config_table);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmpdir());
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", test_tmpdir());
    return test_summary("test_train");
}
