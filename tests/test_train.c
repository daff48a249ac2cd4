/* test_train.c — the trainer: N steps equal N/2 steps + resume + N/2 steps byte for byte; the
 * consent gate refuses an unconsented set; --resume refuses another architecture; a diverging run
 * stops on NaN/Inf and keeps its last good checkpoint; previews and logs are written. */
#include <jansson.h>
#include <unistd.h>

#include "cli/commands.h"
#include "tests/test.h"
#include "train/trainer.h"
#include "util/fs.h"

static char sets_dir[600], set_a[700], set_b[700];

static void make_sets(void) {
    if (set_a[0]) return;
    sl_path_join(sets_dir, sizeof sets_dir, test_tmpdir(), "faces");
    char *argv[] = {"--out", sets_dir, "--identities", "2", "--frames", "12", "--size", "96", "--crop", "64",
                    "--seed", "7"};
    if (cmd_synth(12, argv) != 0) {
        fprintf(stderr, "swaplab synth failed\n");
        abort();
    }
    sl_path_join(set_a, sizeof set_a, sets_dir, "synth-0001");
    sl_path_join(set_b, sizeof set_b, sets_dir, "synth-0002");
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
    o.batch = 2;
    o.threads = 2;
    o.seed = 11;
    o.lr = 1e-3f;
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
    o.lr = 1e30f;
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

int main(void) {
    setenv("SL_QUIET", "1", 1);
    RUN(t_resume_bit_exact);
    RUN(t_consent_refused);
    RUN(t_nan_keeps_checkpoint);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmpdir());
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", test_tmpdir());
    return test_summary("test_train");
}
