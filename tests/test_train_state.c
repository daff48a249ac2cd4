/* test_train_state.c — state.json's parser and writer (train/config.h train_state_*): real files
 * written by `swaplab train` (the fuzz seeds tests/fuzz/corpus/state/) read, round-trip through
 * train_state_dump unchanged, and every class of malformed input is refused with a message naming
 * the file and the field. */
#include <jansson.h>

#include "tests/test.h"
#include "train/config.h"
#include "util/fs.h"

#define CORPUS "tests/fuzz/corpus/state/"

static TrainState st, back; /* large: not on the stack */

static int roundtrips(const TrainState *s) {
    char *text = train_state_dump(s);
    SlErr err;
    int ok = train_state_parse(text, strlen(text), "dumped", &back, &err) == 0 && memcmp(s, &back, sizeof *s) == 0;
    free(text);
    return ok;
}

/* A state.json that two steps of `swaplab train` wrote and one `--resume --steps 3` continued. */
static void t_real_file_roundtrip(void) {
    SlErr err;
    CHECKF(train_state_read(CORPUS "run-2ids-resumed.json", &st, &err) == 0, "%s", err.msg);
    CHECK(st.format == 2 && st.step == 3 && st.nids == 2);
    CHECK(!strcmp(st.model, "ckpt/step-000000003.model.safetensors"));
    CHECK(!strcmp(st.optimizer, "ckpt/step-000000003.optim.safetensors"));
    CHECK(!strcmp(st.cfg.preset, "tiny") && st.cfg.batch == 2 && st.cfg.seed == 1 && st.cfg.augment == 1);
    CHECK(!strcmp(st.subjects[0], "synth-0001") && !strcmp(st.subjects[1], "synth-0002"));
    CHECK(!strcmp(st.facesets[1], "sets/synth-0002"));
    CHECK(st.has_digests && strlen(st.digests[0]) == 64 && st.ranks == 1 && st.train_seconds > 0);
    CHECK(roundtrips(&st));
    /* three identities, a seed above 2^63, no augmentation, a decaying rate */
    CHECKF(train_state_read(CORPUS "run-3ids-noaugment.json", &st, &err) == 0, "%s", err.msg);
    CHECK(st.nids == 3 && st.step == 1 && st.cfg.seed == 18446744073709551615ULL && st.cfg.augment == 0);
    CHECK(st.cfg.lr_halflife == 100 && st.cfg.holdout_every == 0);
    CHECK(roundtrips(&st));
    /* the largest step and longest subject the parser allows */
    CHECKF(train_state_read(CORPUS "edge-limits.json", &st, &err) == 0, "%s", err.msg);
    CHECK(st.step == TRAIN_STATE_MAX_STEP && strlen(st.subjects[0]) == TRAIN_STATE_SUBJECT_MAX - 1);
    CHECK(roundtrips(&st));
}

/* A format-1 state (before the schedule, warp, jitter and consent digests): the legacy values. */
static void t_legacy_format(void) {
    SlErr err;
    CHECKF(train_state_read(CORPUS "legacy-format1.json", &st, &err) == 0, "%s", err.msg);
    CHECK(st.format == 1 && !st.has_digests && st.cfg.lr_warmup == 0 && st.cfg.lr_halflife == 0);
    CHECK(st.cfg.warp == 0.05f && st.cfg.jitter == 5.0f && st.ranks == 1 && st.train_seconds == 0);
    CHECK(roundtrips(&st));
}

/* The good file with one value replaced ("key" or "config.key"; value NULL deletes it) must be
 * refused with a message containing want. */
static void refuse_edit(const char *where, json_t *value, const char *want) {
    json_error_t je;
    json_t *j = json_load_file(CORPUS "run-2ids-resumed.json", 0, &je);
    CHECK(j != NULL);
    if (!j) return;
    json_t *o = j;
    const char *k = where;
    if (!strncmp(where, "config.", 7)) o = json_object_get(j, "config"), k = where + 7;
    if (value) json_object_set_new(o, k, value);
    else json_object_del(o, k);
    char *text = json_dumps(j, 0);
    SlErr err;
    err.msg[0] = 0;
    int rc = train_state_parse(text, strlen(text), "RUN/state.json", &st, &err);
    if (getenv("TEST_VERBOSE")) fprintf(stderr, "%s: %s\n", where, err.msg);
    CHECKF(rc == -1 && strstr(err.msg, want) && strstr(err.msg, "RUN/state.json"), "%s: rc %d, '%s'", where, rc,
           err.msg);
    CHECK(st.nids == 0 && st.step == 0); /* nothing half-filled */
    free(text);
    json_decref(j);
}

static json_t *strings(int n, const char *s) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_string(s));
    return a;
}

static json_t *long_string(size_t n) {
    char *s = xmalloc(n + 1);
    memset(s, 'a', n);
    s[n] = 0;
    json_t *v = json_string(s);
    free(s);
    return v;
}

static void t_malformed_fields_refused(void) {
    /* format */
    refuse_edit("format", NULL, "format");
    refuse_edit("format", json_string("swaplab-run/3"), "newer swaplab");
    refuse_edit("format", json_string("swaplab-run/99999999999999999999"), "format");
    refuse_edit("format", json_string("swaplab-run/-1"), "format");
    refuse_edit("format", json_string("swaplab-run/02"), "format");
    refuse_edit("format", json_integer(2), "format");
    /* step */
    refuse_edit("step", NULL, "step");
    refuse_edit("step", json_integer(-1), "step");
    refuse_edit("step", json_real(3.5), "step");
    refuse_edit("step", json_string("3"), "step");
    refuse_edit("step", json_integer(TRAIN_STATE_MAX_STEP + 1), "step");
    refuse_edit("step", json_integer(2), "step 2"); /* the files name step 3 */
    /* checkpoint files: the run's own of its step, nothing else */
    refuse_edit("model", json_string("../other/ckpt/step-000000003.model.safetensors"), "this run's own");
    refuse_edit("model", json_string("/etc/passwd"), "this run's own");
    refuse_edit("optimizer", json_integer(3), "this run's own");
    refuse_edit("model", long_string(5000), "this run's own");
    /* configuration values: the command line's ranges */
    refuse_edit("config", NULL, "config");
    refuse_edit("config", json_array(), "config");
    refuse_edit("config.lr", json_real(-1), "lr");
    refuse_edit("config.batch", json_integer(0), "batch");
    refuse_edit("config.batch", json_real(2.5), "batch");
    refuse_edit("config.warp", json_real(1e30), "warp");
    refuse_edit("config.seed", json_string("-1"), "seed");
    refuse_edit("config.seed", json_integer(1), "seed");
    refuse_edit("config.augment", json_integer(1), "augment");
    refuse_edit("config.preset", json_string("nosuch"), "preset");
    refuse_edit("config.preset", long_string(300), "preset");
    /* identities */
    refuse_edit("facesets", strings(1, "a"), "facesets");
    refuse_edit("subjects", strings(3, "a"), "facesets");
    refuse_edit("facesets", strings(SWAP_MAX_IDS + 1, "a"), "facesets");
    refuse_edit("facesets", json_string("a"), "facesets");
    refuse_edit("facesets", strings(2, ""), "face set 1");
    refuse_edit("facesets", strings(2, "a\nb"), "face set 1");
    json_t *a = json_array();
    json_array_append_new(a, json_string("x"));
    json_array_append_new(a, long_string(SL_PATH_MAX));
    refuse_edit("facesets", a, "face set 2");
    a = json_array();
    json_array_append_new(a, json_string("x"));
    json_array_append_new(a, json_integer(7));
    refuse_edit("subjects", a, "subject 2");
    refuse_edit("subjects", strings(2, "\x1b[31mred"), "subject 1");
    a = json_array();
    json_array_append_new(a, long_string(TRAIN_STATE_SUBJECT_MAX));
    json_array_append_new(a, json_string("x"));
    refuse_edit("subjects", a, "subject 1");
    refuse_edit("consent_digests", strings(1, "00"), "consent_digests");
    refuse_edit("consent_digests", json_object(), "consent_digests");
    refuse_edit("consent_digests", strings(2, "xyz"), "consent digest 1");
    refuse_edit("consent_digests",
                strings(2, "A19D282F5748AC275408EB84852CD2CC9D4A1747965CAAB8DB3E643B90429F28"), "consent digest 1");
    /* bookkeeping */
    refuse_edit("train_seconds", json_real(-1), "train_seconds");
    refuse_edit("train_seconds", json_real(1e300), "train_seconds");
    refuse_edit("train_seconds", json_string("1"), "train_seconds");
    refuse_edit("ranks", json_integer(0), "ranks");
    refuse_edit("ranks", json_integer(1000000), "ranks");
    refuse_edit("saved", json_integer(5), "saved");
    refuse_edit("version", long_string(100), "saved");
}

static void refuse_text(const char *text, size_t len, const char *want) {
    SlErr err;
    err.msg[0] = 0;
    int rc = train_state_parse(text, len, "S", &st, &err);
    if (getenv("TEST_VERBOSE") && len < 80) fprintf(stderr, "%.*s: %s\n", (int)len, text ? text : "", err.msg);
    CHECKF(rc == -1 && strstr(err.msg, want), "'%.40s': rc %d, '%s'", text ? text : "(null)", rc, err.msg);
}

/* Text that is not one well-formed JSON object. */
static void t_malformed_text_refused(void) {
    char *buf;
    size_t len;
    SlErr err;
    CHECK(sl_read_file(CORPUS "truncated.json", 1 << 20, &buf, &len, &err) == 0);
    refuse_text(buf, len, "line");
    free(buf);
    CHECK(sl_read_file(CORPUS "run-2ids-resumed.json", 1 << 20, &buf, &len, &err) == 0);
    for (size_t cut = 0; cut + 2 < len; cut += 7) refuse_text(buf, cut, "S"); /* truncations before the closing "}\n" */
    refuse_text(buf, len - 2, "S");
    free(buf);
    refuse_text(NULL, 0, "S");
    refuse_text("", 0, "line");
    refuse_text("[]", 2, "not a swaplab run state");
    refuse_text("{}", 2, "format");
    refuse_text("{\"format\": \"swaplab-run/2\", \"format\": \"swaplab-run/2\"}", 52, "duplicate");
    refuse_text("{\"format\": \"swaplab-run/\xff\"}", 26, "line");          /* not UTF-8 */
    refuse_text("{\"format\": \"swaplab-run/2\\u0000\"}", 33, "line");      /* NUL in a string */
    refuse_text("{\"step\": 1e400}", 15, "line");                           /* overflow */
    refuse_text("{\"step\": NaN}", 13, "line");
    refuse_text("{\"a\": 1} trailing", 17, "line");
    /* deep nesting: refused, not a stack overflow */
    size_t n = 100000;
    char *deep = xmalloc(2 * n + 16);
    size_t k = (size_t)sprintf(deep, "{\"x\":");
    for (size_t i = 0; i < n; i++) deep[k++] = '[';
    for (size_t i = 0; i < n; i++) deep[k++] = ']';
    deep[k++] = '}';
    refuse_text(deep, k, "S");
    free(deep);
    /* larger than any state.json */
    char *big = xcalloc(1, TRAIN_STATE_MAX_BYTES + 2);
    memset(big, ' ', TRAIN_STATE_MAX_BYTES + 1);
    big[0] = '{', big[TRAIN_STATE_MAX_BYTES] = '}';
    refuse_text(big, TRAIN_STATE_MAX_BYTES + 1, "too large");
    free(big);
}

static void t_read_missing_or_not_file(void) {
    SlErr err;
    CHECK(train_state_read("/nonexistent/state.json", &st, &err) == -1 && strstr(err.msg, "/nonexistent/state.json"));
    CHECK(train_state_read("tests", &st, &err) == -1 && strstr(err.msg, "tests"));
}

int main(void) {
    RUN(t_real_file_roundtrip);
    RUN(t_legacy_format);
    RUN(t_malformed_fields_refused);
    RUN(t_malformed_text_refused);
    RUN(t_read_missing_or_not_file);
    return test_summary("test_train_state");
}
