/* test_consent.c — the consent gate: one test per refusal reason (each asserting the message names
 * the file and the reason), tampered/added/removed images, signatures, revocation, drafts, the
 * synthetic manifest, hostile manifests. Face sets are a few tiny random PNGs made here. */
#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/consent.h"
#include "data/image.h"
#include "tests/test.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/rng.h"

static SlRng g_rng;
static int g_serial;

#define TODAY "2026-06-01"

static void write_random_png(const char *path) {
    Image im = image_new(4 + (int)(sl_rng_u64(&g_rng) % 5), 4 + (int)(sl_rng_u64(&g_rng) % 5), 3);
    for (size_t i = 0; i < (size_t)im.w * im.h * im.c; i++) im.px[i] = (uint8_t)sl_rng_u64(&g_rng);
    SlErr err;
    if (image_save_png(path, &im, NULL, 0, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    image_free(&im);
}

/* A fresh face set with n aligned faces and one frame; returns its path (static buffer per call). */
static const char *make_set(char *dir, size_t n, int naligned) {
    snprintf(dir, n, "%s/set%03d", test_tmpdir(), ++g_serial);
    char p[4096];
    SlErr err;
    snprintf(p, sizeof p, "%s/aligned", dir);
    SL_ASSERT(sl_mkdirs(p, &err) == 0);
    snprintf(p, sizeof p, "%s/frames", dir);
    SL_ASSERT(sl_mkdirs(p, &err) == 0);
    for (int i = 0; i < naligned; i++) {
        snprintf(p, sizeof p, "%s/aligned/%04d.png", dir, i);
        write_random_png(p);
    }
    snprintf(p, sizeof p, "%s/frames/0000.png", dir);
    write_random_png(p);
    return dir;
}

static ConsentFields fields(void) {
    ConsentFields f = {
        .subject = "vol-017",
        .kind = "volunteer",
        .scopes = CONSENT_SCOPE_TRAIN | CONSENT_SCOPE_SWAP,
        .granted = "2026-01-15",
        .expires = "2027-01-15",
        .coordinator = "Course TA",
        .statement = "The subject agreed to training and swapping for the lab course.",
    };
    return f;
}

#define EMPTY_LIST "{\"format\": \"swaplab-revocations/1\", \"revoked\": []}\n"
#define NO_SYSTEM_POLICY "/nonexistent/swaplab-policy.json"

/* Options with today fixed and a private, empty revocation list (a list named explicitly must exist). */
static ConsentOptions opts(char *rev, size_t n) {
    snprintf(rev, n, "%s/revoked-%03d.json", test_tmpdir(), ++g_serial);
    SlErr err;
    SL_ASSERT(sl_write_atomic(rev, EMPTY_LIST, strlen(EMPTY_LIST), &err) == 0);
    ConsentOptions o = {.revocations = rev, .today = TODAY, .system_policy = NO_SYSTEM_POLICY};
    return o;
}

static int any_reason(const ConsentReasons *r, const char *a, const char *b) {
    for (int i = 0; i < r->n; i++)
        if (strstr(r->v[i], a) && (!b || strstr(r->v[i], b))) return 1;
    return 0;
}

static void dump(const ConsentReasons *r) {
    for (int i = 0; i < r->n; i++) fprintf(stderr, "    reason: %s\n", r->v[i]);
}

/* Rewrites dir/consent.json after edit() changed the parsed manifest. */
static void edit_manifest(const char *dir, void (*edit)(json_t *)) {
    char p[4096];
    snprintf(p, sizeof p, "%s/consent.json", dir);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    SL_ASSERT(j);
    edit(j);
    SL_ASSERT(json_dump_file(j, p, JSON_INDENT(2)) == 0);
    json_decref(j);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    SlErr err;
    SL_ASSERT(sl_write_atomic(p, text, strlen(text), &err) == 0);
}

/* ---- acceptance ---------------------------------------------------------------------------- */
static void t_accepts_and_reports_digest(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 3);
    ConsentFields f = fields();
    SlErr err;
    CHECKF(consent_write(dir, &f, &err) == 0, "%s", err.msg);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentInfo info;
    ConsentReasons why;
    int rc = consent_check(dir, "train", &o, &info, &why, &err);
    CHECKF(rc == 0, "%s", err.msg);
    CHECK(why.n == 0);
    CHECK(strcmp(info.subject, "vol-017") == 0);
    CHECK(strcmp(info.kind, "volunteer") == 0);
    CHECK(info.nimages == 4);
    CHECK(info.scopes == (CONSENT_SCOPE_TRAIN | CONSENT_SCOPE_SWAP));
    CHECK(!info.is_signed);
    char p[4096], hex[65];
    snprintf(p, sizeof p, "%s/consent.json", dir);
    CHECK(sl_sha256_file(p, hex, &err) == 0);
    CHECK(strcmp(hex, info.digest) == 0);
    CHECK(consent_check(dir, "swap", &o, NULL, NULL, &err) == 0);
    CHECK(consent_check(dir, NULL, &o, NULL, NULL, &err) == 0);
    consent_reasons_free(&why);
}

static void t_synthetic_manifest(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 2);
    SlErr err;
    CHECKF(consent_write_synthetic(dir, "synth-0042", &err) == 0, "%s", err.msg);
    ConsentOptions o = opts(rev, sizeof rev);
    o.today = NULL; /* the real date: the synthetic manifest starts today */
    const char *uses[] = {"train", "swap", "dataset", "report"};
    for (int i = 0; i < 4; i++) {
        ConsentInfo info;
        CHECKF(consent_check(dir, uses[i], &o, &info, NULL, &err) == 0, "%s: %s", uses[i], err.msg);
        CHECK(strcmp(info.kind, "synthetic") == 0);
        CHECK(strcmp(info.coordinator, "swaplab synth") == 0);
        CHECK(strcmp(info.expires, "2100-01-01") > 0);
    }
    void *root;
    CHECK(consent_load(dir, &root, &err) == 0);
    const char *st = json_string_value(json_object_get(root, "statement"));
    CHECK(st && strstr(st, "does not exist"));
    json_decref(root);
}

/* ---- one test per refusal reason ------------------------------------------------------------ */
static void t_refuses_missing_manifest(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 2);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentReasons why;
    SlErr err;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(why.n == 1);
    CHECK(any_reason(&why, "consent.json", "missing consent manifest"));
    CHECK(strstr(err.msg, dir) != NULL);
    consent_reasons_free(&why);
}

static void t_refuses_malformed_json_with_position(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 1);
    write_text(dir, "consent.json", "{\n  \"format\": \"swaplab-consent/1\",\n  \"status\": complete\n}\n");
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentReasons why;
    SlErr err;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json:3:", "malformed JSON"));
    CHECK(strstr(err.msg, "consent.json:3:") != NULL);
    if (t_case_failed) dump(&why);
    consent_reasons_free(&why);
    /* not an object */
    write_text(dir, "consent.json", "[1, 2]");
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "JSON object"));
    consent_reasons_free(&why);
}

static void set_format_v2(json_t *j) { json_object_set_new(j, "format", json_string("swaplab-consent/2")); }

static void t_refuses_wrong_version(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 2);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    edit_manifest(dir, set_format_v2);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "wrong format version \"swaplab-consent/2\""));
    consent_reasons_free(&why);
}

static void drop_fields(json_t *j) {
    json_object_del(j, "coordinator");
    json_object_del(j, "expires");
    json_object_set_new(j, "statement", json_integer(3));
}

static void t_refuses_missing_fields(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 2);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    edit_manifest(dir, drop_fields);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "missing field \"coordinator\""));
    CHECK(any_reason(&why, "consent.json", "missing field \"expires\""));
    CHECK(any_reason(&why, "consent.json", "\"statement\" must be a non-empty string"));
    CHECK(why.n == 3);
    if (t_case_failed) dump(&why);
    consent_reasons_free(&why);
}

static void t_refuses_draft(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 3);
    SlErr err;
    CHECKF(consent_write_draft(dir, "photos/session1", &err) == 0, "%s", err.msg);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "draft"));
    CHECK(why.n == 1); /* the images still match the draft */
    CHECK(strstr(err.msg, "consent init") != NULL);
    if (t_case_failed) dump(&why);
    consent_reasons_free(&why);
    /* completing it (consent_write over the draft) is accepted */
    ConsentFields f = fields();
    f.source = "photos/session1";
    CHECK(consent_write(dir, &f, &err) == 0);
    CHECKF(consent_check(dir, "train", &o, NULL, NULL, &err) == 0, "%s", err.msg);
}

static void t_refuses_expired(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 2);
    ConsentFields f = fields();
    f.expires = "2026-05-31"; /* the day before TODAY */
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "expired on 2026-05-31"));
    consent_reasons_free(&why);
    o.today = "2026-05-31"; /* the last day is still valid */
    CHECKF(consent_check(dir, "train", &o, NULL, NULL, &err) == 0, "%s", err.msg);
}

static void t_refuses_granted_in_future(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 2);
    ConsentFields f = fields();
    f.granted = "2026-06-02";
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "in the future"));
    consent_reasons_free(&why);
}

static void t_refuses_scope_missing(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 2);
    ConsentFields f = fields();
    f.scopes = CONSENT_SCOPE_TRAIN;
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, NULL, &err) == 0);
    CHECK(consent_check(dir, "swap", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "scope \"swap\" is missing"));
    consent_reasons_free(&why);
    CHECK(consent_check(dir, "dataset", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "scope \"dataset\" is missing"));
    consent_reasons_free(&why);
}

static void t_refuses_revoked_subject(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 2);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    CHECK(consent_check(dir, "train", &o, NULL, NULL, &err) == 0);
    CHECK(consent_is_revoked(rev, "vol-017", NULL, 0, &err) == 0);
    int already = -1;
    CHECKF(consent_revoke(rev, "vol-003", NULL, "withdrew by email", "2026-05-01", NULL, &already, &err) == 0, "%s", err.msg);
    CHECK(consent_check(dir, "train", &o, NULL, NULL, &err) == 0); /* someone else */
    CHECK(consent_revoke(rev, "vol-017", NULL, "withdrew in person", NULL, NULL, &already, &err) == 0);
    CHECK(already == 0);
    CHECK(consent_revoke(rev, "vol-017", NULL, "again", NULL, NULL, &already, &err) == 0);
    CHECK(already == 1);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "vol-017", "revoked consent"));
    CHECK(any_reason(&why, "withdrew in person", NULL));
    consent_reasons_free(&why);
    char reason[128];
    CHECK(consent_is_revoked(rev, "vol-017", reason, sizeof reason, &err) == 1);
    CHECK(strcmp(reason, "withdrew in person") == 0);
    CHECK(consent_is_revoked(rev, "vol-018", NULL, 0, &err) == 0);
    ConsentRevocations list;
    CHECK(consent_revocations_load(rev, &list, &err) == 0);
    CHECK(list.n == 2);
    consent_revocations_free(&list);
    CHECK(consent_revoke(rev, "../etc", NULL, "x", NULL, NULL, &already, &err) == -1);
}

static void t_revocation_list_unreadable_fails_closed(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 2);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    SL_ASSERT(sl_write_atomic(rev, "{\"format\": \"swaplab-revocations/1\", \"revoked\": [", 48, &err) == 0);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, rev, "refusing"));
    consent_reasons_free(&why);
    CHECK(consent_is_revoked(rev, "vol-017", NULL, 0, &err) == -1);
    int already;
    CHECK(consent_revoke(rev, "vol-017", NULL, "x", NULL, NULL, &already, &err) == -1); /* never overwrites it */
}

static void t_env_default_revocation_path(void) {
    char p[4096];
    setenv("SWAPLAB_REVOCATIONS", "/some/where/rev.json", 1);
    consent_revocations_default_path(p, sizeof p);
    CHECK(strcmp(p, "/some/where/rev.json") == 0);
    unsetenv("SWAPLAB_REVOCATIONS");
    setenv("XDG_CONFIG_HOME", "/cfg", 1);
    consent_revocations_default_path(p, sizeof p);
    CHECK(strcmp(p, "/cfg/swaplab/revoked.json") == 0);
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/home/u", 1);
    consent_revocations_default_path(p, sizeof p);
    CHECK(strcmp(p, "/home/u/.config/swaplab/revoked.json") == 0);
}

/* ---- images ------------------------------------------------------------------------------------ */
static void t_refuses_tampered_image(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 4);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    CHECK(consent_check(dir, "train", &o, NULL, NULL, &err) == 0);
    int victim = (int)(sl_rng_u64(&g_rng) % 4);
    char p[4096];
    snprintf(p, sizeof p, "%s/aligned/%04d.png", dir, victim);
    char *data;
    size_t len;
    SL_ASSERT(sl_read_file(p, 1 << 20, &data, &len, &err) == 0);
    size_t at = 8 + (size_t)(sl_rng_u64(&g_rng) % (len - 8));
    data[at] ^= (char)(1 + sl_rng_u64(&g_rng) % 255);
    SL_ASSERT(sl_write_atomic(p, data, len, &err) == 0);
    free(data);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(why.n == 1);
    CHECK(any_reason(&why, p, "changed since consent"));
    CHECK(strstr(err.msg, p) != NULL);
    if (t_case_failed) dump(&why);
    consent_reasons_free(&why);
}

static void t_refuses_added_image(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 2);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    char p[4096], q[4096];
    snprintf(p, sizeof p, "%s/aligned/0099.png", dir);
    write_random_png(p);
    /* an image under a misleading name in a new folder is still found by its content */
    snprintf(q, sizeof q, "%s/extra", dir);
    SL_ASSERT(sl_mkdirs(q, &err) == 0);
    snprintf(q, sizeof q, "%s/extra/notes.bin", dir);
    write_random_png(q);
    write_text(dir, "faces.jsonl", "{\"file\": \"aligned/0000.png\"}\n"); /* not an image: ignored */
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(why.n == 2);
    CHECK(any_reason(&why, p, "added since consent"));
    CHECK(any_reason(&why, q, "added since consent"));
    if (t_case_failed) dump(&why);
    consent_reasons_free(&why);
}

static void t_refuses_removed_image(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 3);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    char p[4096];
    snprintf(p, sizeof p, "%s/frames/0000.png", dir);
    SL_ASSERT(unlink(p) == 0);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(why.n == 1);
    CHECK(any_reason(&why, p, "removed since consent"));
    consent_reasons_free(&why);
}

/* ---- signatures ------------------------------------------------------------------------------ */
static void make_key(SlKeypair *kp, char *prefix, size_t n) {
    snprintf(prefix, n, "%s/key%03d", test_tmpdir(), ++g_serial);
    SlErr err;
    SL_ASSERT(sl_key_generate(prefix, kp, &err) == 0);
}

static void t_signature_valid(void) {
    char dir[512], rev[512], kpath[512];
    make_set(dir, sizeof dir, 2);
    SlKeypair kp, other;
    make_key(&kp, kpath, sizeof kpath);
    make_key(&other, kpath, sizeof kpath);
    ConsentFields f = fields();
    f.sign = &kp;
    f.statement = "Zustimmung erteilt — Ünïcödé statement";
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentInfo info;
    CHECKF(consent_check(dir, "train", &o, &info, NULL, &err) == 0, "%s", err.msg);
    CHECK(info.is_signed && info.signature_ok);
    char pkh[65];
    sl_hex(pkh, kp.pk, 32);
    CHECK(strcmp(info.signer_pk, pkh) == 0);
    o.trusted_pk = kp.pk;
    CHECK(consent_check(dir, "train", &o, NULL, NULL, &err) == 0);
    o.trusted_pk = other.pk;
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "not by the required coordinator key"));
    consent_reasons_free(&why);
}

static void change_statement(json_t *j) {
    json_object_set_new(j, "statement", json_string("The subject agreed to everything."));
}
static void widen_scopes(json_t *j) {
    json_array_append_new(json_object_get(j, "scopes"), json_string("dataset"));
}
static void garble_signature(json_t *j) {
    json_object_set_new(json_object_get(j, "signature"), "value", json_string("zz"));
}

static void t_signature_invalid(void) {
    void (*edits[])(json_t *) = {change_statement, widen_scopes, garble_signature};
    const char *expect[] = {"changed after key", "changed after key", "bad signature"};
    for (int k = 0; k < 3; k++) {
        char dir[512], rev[512], kpath[512];
        make_set(dir, sizeof dir, 2);
        SlKeypair kp;
        make_key(&kp, kpath, sizeof kpath);
        ConsentFields f = fields();
        f.sign = &kp;
        SlErr err;
        SL_ASSERT(consent_write(dir, &f, &err) == 0);
        edit_manifest(dir, edits[k]);
        ConsentOptions o = opts(rev, sizeof rev);
        ConsentInfo info;
        ConsentReasons why;
        CHECK(consent_check(dir, "train", &o, &info, &why, &err) == -1);
        CHECKF(any_reason(&why, "consent.json", expect[k]), "edit %d", k);
        CHECK(info.is_signed && !info.signature_ok);
        consent_reasons_free(&why);
    }
    /* an unsigned manifest where a signature is required */
    char dir[512], rev[512], kpath[512];
    make_set(dir, sizeof dir, 1);
    SlKeypair kp;
    make_key(&kp, kpath, sizeof kpath);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    o.trusted_pk = kp.pk;
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "not signed"));
    consent_reasons_free(&why);
}

/* The canonical form is what an independent checker recomputes: keys sorted, compact, no
 * signature member. */
static void t_canonical_form(void) {
    json_error_t je;
    json_t *j = json_loads("{\"b\": 1, \"a\": [\"x\", {\"d\": \"é\\\\uABCD\\n\", \"c\": null}], \"signature\": {\"v\": 1}}", 0, &je);
    SL_ASSERT(j);
    char *c = consent_canonical(j);
    CHECKF(strcmp(c, "{\"a\":[\"x\",{\"c\":null,\"d\":\"\\u00e9\\\\uABCD\\n\"}],\"b\":1}") == 0, "%s", c);
    CHECK(json_object_get(j, "signature") != NULL); /* the input is not modified */
    free(c);
    json_decref(j);
}

/* An independent checker in Python (json.dumps with sorted keys, compact, ASCII) reproduces the
 * signed bytes exactly, also for non-ASCII text, quotes, control characters and emoji. */
static void t_canonical_matches_python(void) {
    if (access("/usr/bin/python3", X_OK) != 0) SKIP("/usr/bin/python3 not installed");
    char dir[512];
    make_set(dir, sizeof dir, 2);
    ConsentFields f = fields();
    f.coordinator = "Zo\xc3\xab \xc3\x9cnal";
    f.statement = "tab\there \"quoted\" \\ back \xf0\x9f\x98\x80 \xc3\xbc\nline2 \x01 /";
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    void *root;
    SL_ASSERT(consent_load(dir, &root, &err) == 0);
    char *c = consent_canonical(root);
    json_decref(root);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); m.pop(\"signature\", None); "
             "sys.stdout.write(json.dumps(m, sort_keys=True, separators=(\",\", \":\"), ensure_ascii=True))' "
             "'%s/consent.json'", dir);
    FILE *p = popen(cmd, "r");
    SL_ASSERT(p);
    char *py = xcalloc(1 << 16, 1);
    size_t n = fread(py, 1, (1 << 16) - 1, p);
    int rc = pclose(p);
    CHECK(rc == 0 && n > 0);
    CHECKF(strcmp(py, c) == 0, "\n  C:      %s\n  Python: %s", c, py);
    free(py);
    free(c);
}

/* ---- several problems at once, hostile manifests ------------------------------------------------ */
static void break_many(json_t *j) {
    json_object_set_new(j, "expires", json_string("2026-02-01"));
    json_object_set_new(j, "kind", json_string("celebrity"));
}

static void t_lists_all_reasons(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 3);
    ConsentFields f = fields();
    f.scopes = CONSENT_SCOPE_SWAP;
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    edit_manifest(dir, break_many);
    char p[4096];
    snprintf(p, sizeof p, "%s/aligned/0001.png", dir);
    SL_ASSERT(unlink(p) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    int already;
    SL_ASSERT(consent_revoke(rev, "vol-017", NULL, "withdrew", "2026-03-01", NULL, &already, &err) == 0);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "expired"));
    CHECK(any_reason(&why, "consent.json", "\"kind\""));
    CHECK(any_reason(&why, "consent.json", "scope \"train\""));
    CHECK(any_reason(&why, "consent.json", "revoked"));
    CHECK(any_reason(&why, p, "removed"));
    CHECK(why.n == 5);
    CHECK(strstr(err.msg, "5 reasons") != NULL);
    if (t_case_failed) dump(&why);
    consent_reasons_free(&why);
}

/* Many reasons: all of them in ConsentReasons, and err says how many it had to leave out. */
static void t_many_reasons_are_summarised(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 1);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    int extra = 30 + (int)(sl_rng_u64(&g_rng) % 20);
    for (int i = 0; i < extra; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/aligned/added-with-a-long-file-name-%03d.png", dir, i);
        write_random_png(p);
    }
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(why.n == extra);
    CHECKF(strstr(err.msg, "more (run 'swaplab consent verify") != NULL, "%s", err.msg);
    CHECK(strlen(err.msg) < sizeof err.msg - 1);
    consent_reasons_free(&why);
}

static void t_hostile_manifests(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 1);
    ConsentOptions o = opts(rev, sizeof rev);
    const char *head = "{\"format\":\"swaplab-consent/1\",\"status\":\"complete\",\"subject\":\"s1\","
                       "\"kind\":\"volunteer\",\"scopes\":[\"train\"],\"granted\":\"2026-01-01\","
                       "\"expires\":\"2026-12-31\",\"coordinator\":\"c\",\"statement\":\"s\",";
    struct {
        const char *tail, *expect;
    } cases[] = {
        {"\"images\":[{\"path\":\"../../etc/passwd\",\"sha256\":\"00\"}]}", "stay inside"},
        {"\"images\":[{\"path\":\"/etc/passwd\",\"sha256\":\"00\"}]}", "stay inside"},
        {"\"images\":[{\"path\":\"aligned/0000.png\",\"sha256\":\"XYZ\"}]}", "64 lower-case hex"},
        {"\"images\":[17]}", "images[0]"},
        {"\"images\":{}}", "must be an array"},
        {"\"images\":[], \"images\":[]}", "malformed JSON"},
        {"\"images\":[], \"signature\": 5}", "bad signature"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char text[1024];
        snprintf(text, sizeof text, "%s%s", head, cases[k].tail);
        write_text(dir, "consent.json", text);
        ConsentReasons why;
        SlErr err;
        CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
        CHECKF(any_reason(&why, "consent.json", cases[k].expect), "case %zu", k);
        if (t_case_failed) dump(&why);
        consent_reasons_free(&why);
    }
    /* a subject that is a path or a real-looking name with spaces is refused */
    write_text(dir, "consent.json", "{\"format\":\"swaplab-consent/1\",\"status\":\"complete\",\"subject\":\"../x y\"}");
    ConsentReasons why;
    SlErr err;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "pseudonym"));
    consent_reasons_free(&why);
    /* random bytes never crash the parser */
    for (int k = 0; k < 50; k++) {
        char junk[257];
        size_t n = 1 + sl_rng_u64(&g_rng) % 256;
        for (size_t i = 0; i < n; i++) junk[i] = (char)(1 + sl_rng_u64(&g_rng) % 255);
        junk[n] = 0;
        write_text(dir, "consent.json", junk);
        CHECK(consent_check(dir, "train", &o, NULL, NULL, &err) == -1);
    }
}

static void t_write_refuses_bad_fields(void) {
    char dir[512];
    make_set(dir, sizeof dir, 1);
    SlErr err;
    ConsentFields f = fields();
    f.subject = NULL;
    CHECK(consent_write(dir, &f, &err) == -1 && strstr(err.msg, "subject"));
    f = fields();
    f.expires = "2025-13-01";
    CHECK(consent_write(dir, &f, &err) == -1 && strstr(err.msg, "expiry"));
    f = fields();
    f.expires = "2025-12-01"; /* before granted */
    CHECK(consent_write(dir, &f, &err) == -1 && strstr(err.msg, "before"));
    f = fields();
    f.scopes = 0;
    CHECK(consent_write(dir, &f, &err) == -1 && strstr(err.msg, "scopes"));
    f = fields();
    f.coordinator = "";
    CHECK(consent_write(dir, &f, &err) == -1 && strstr(err.msg, "coordinator"));
    f = fields();
    f.kind = "celebrity";
    CHECK(consent_write(dir, &f, &err) == -1 && strstr(err.msg, "kind"));
    char p[4096];
    snprintf(p, sizeof p, "%s/consent.json", dir);
    CHECK(!sl_is_file(p));
}

static void t_dates_and_scopes(void) {
    CHECK(consent_date_valid("2024-02-29"));
    CHECK(!consent_date_valid("2023-02-29"));
    CHECK(!consent_date_valid("2023-04-31"));
    CHECK(!consent_date_valid("2023-4-30"));
    CHECK(!consent_date_valid("2023-04-30x"));
    CHECK(consent_date_valid("2000-02-29"));
    CHECK(!consent_date_valid("1900-02-29"));
    char out[16];
    consent_date_add_days("2024-02-28", 1, out);
    CHECK(strcmp(out, "2024-02-29") == 0);
    consent_date_add_days("2024-12-31", 1, out);
    CHECK(strcmp(out, "2025-01-01") == 0);
    int d = (int)(sl_rng_u64(&g_rng) % 4000);
    char back[16];
    consent_date_add_days("2026-06-01", d, out);
    consent_date_add_days(out, -d, back);
    CHECK(strcmp(back, "2026-06-01") == 0);
    unsigned m;
    SlErr err;
    CHECK(consent_scopes_parse("train,report", &m, &err) == 0 && m == (CONSENT_SCOPE_TRAIN | CONSENT_SCOPE_REPORT));
    CHECK(consent_scopes_parse("all", &m, &err) == 0 && m == CONSENT_SCOPE_ALL);
    CHECK(consent_scopes_parse("train,impersonate", &m, &err) == -1 && strstr(err.msg, "impersonate"));
    CHECK(consent_scopes_parse("", &m, &err) == -1);
    CHECK(consent_scopes_parse("train,,swap", &m, &err) == -1);
    char s[64];
    consent_scopes_format(CONSENT_SCOPE_SWAP | CONSENT_SCOPE_DATASET, s, sizeof s);
    CHECK(strcmp(s, "swap,dataset") == 0);
}

static void t_list_images(void) {
    char dir[512];
    make_set(dir, sizeof dir, 3);
    write_text(dir, "faces.jsonl", "{}\n");
    write_text(dir, "consent.json", "{}");
    char **v;
    SlErr err;
    int n = consent_list_images(dir, &v, &err);
    CHECK(n == 4);
    if (n == 4) {
        CHECK(strcmp(v[0], "aligned/0000.png") == 0);
        CHECK(strcmp(v[3], "frames/0000.png") == 0);
    }
    sl_free_list(v, n);
    char link[4096];
    snprintf(link, sizeof link, "%s/aligned/loop", dir);
    SL_ASSERT(symlink("..", link) == 0); /* a folder link loop terminates */
    n = consent_list_images(dir, &v, &err);
    CHECKF(n == 4, "%d: %s", n, n < 0 ? err.msg : "");
    sl_free_list(v, n > 0 ? n : 0);
}

/* ---- issue 14: revocations that are never lost, revocation by digest, the lab policy ---------- */
/* 14.1: a reason that is not UTF-8 used to make jansson drop the entry ("revoked": []). */
static void t_revoke_non_utf8_reason_is_kept(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 1);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    int already = -1;
    CHECKF(consent_revoke(rev, "vol-017", NULL, "withdrew \xff\xfe by l\xe9tter \xe2\x82", NULL, NULL, &already, &err) == 0,
           "%s", err.msg);
    ConsentRevocations list;
    CHECKF(consent_revocations_load(rev, &list, &err) == 0, "%s", err.msg);
    CHECK(list.n == 1);
    if (list.n == 1) {
        CHECK(strcmp(list.v[0].subject, "vol-017") == 0);
        CHECKF(strcmp(list.v[0].reason, "withdrew \xEF\xBF\xBD\xEF\xBF\xBD by l\xEF\xBF\xBDtter \xEF\xBF\xBD\xEF\xBF\xBD") == 0,
               "%s", list.v[0].reason);
    }
    consent_revocations_free(&list);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "vol-017", "revoked consent"));
    consent_reasons_free(&why);
}

/* 14.4: --revocations naming a missing file was taken as an empty list. */
static void t_explicit_missing_list_refused(void) {
    char dir[512], rev[512];
    make_set(dir, sizeof dir, 1);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    SL_ASSERT(unlink(rev) == 0);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, rev, "no revocation list there"));
    consent_reasons_free(&why);
    CHECK(consent_is_revoked(rev, "vol-017", NULL, 0, &err) == -1);
    int already;
    CHECKF(consent_revoke(rev, "vol-001", NULL, "x", NULL, NULL, &already, &err) == 0, "%s", err.msg); /* creates it */
    CHECKF(consent_check(dir, "train", &o, NULL, NULL, &err) == 0, "%s", err.msg);
}

static void t_revoke_by_manifest_digest(void) {
    char dir[512], dir2[512], rev[512];
    make_set(dir, sizeof dir, 2);
    make_set(dir2, sizeof dir2, 2);
    ConsentFields f = fields();
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    SL_ASSERT(consent_write(dir2, &f, &err) == 0);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentInfo info;
    SL_ASSERT(consent_check(dir, "train", &o, &info, NULL, &err) == 0);
    char upper[65];
    for (int i = 0; i < 65; i++) upper[i] = (char)(info.digest[i] >= 'a' && info.digest[i] <= 'f' ? info.digest[i] - 32 : info.digest[i]);
    int already = -1;
    CHECKF(consent_revoke(rev, NULL, upper, "manifest recorded in error", NULL, NULL, &already, &err) == 0, "%s", err.msg);
    CHECK(already == 0);
    CHECK(consent_revoke(rev, NULL, info.digest, "again", NULL, NULL, &already, &err) == 0 && already == 1);
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "this manifest", "recorded in error"));
    consent_reasons_free(&why);
    /* the same subject under another manifest is not revoked by it */
    CHECKF(consent_check(dir2, "train", &o, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK(consent_is_revoked_digest(rev, "vol-017", info.digest, NULL, 0, &err) == 1);
    CHECK(consent_is_revoked_digest(rev, "vol-017", NULL, NULL, 0, &err) == 0);
    CHECK(consent_revoke(rev, NULL, "abc", "x", NULL, NULL, &already, &err) == -1);
    CHECK(consent_revoke(rev, NULL, NULL, "x", NULL, NULL, &already, &err) == -1);
    /* entries are checked when read: a digest that is not 64 hex digits is malformed */
    const char *bad = "{\"format\": \"swaplab-revocations/1\", \"revoked\": [{\"sha256\": \"xyz\"}]}";
    SL_ASSERT(sl_write_atomic(rev, bad, strlen(bad), &err) == 0);
    CHECK(consent_check(dir2, "train", &o, NULL, NULL, &err) == -1);
}

static void write_policy(const char *path, const uint8_t *pk, const char *revocations) {
    char hex[65], text[8192];
    sl_hex(hex, pk, 32);
    snprintf(text, sizeof text,
             "{\"format\": \"swaplab-policy/1\", \"course\": \"test\", \"coordinators\": [{\"name\": \"TA\", "
             "\"public_key\": \"%s\"}]%s%s%s}\n", hex, revocations ? ", \"revocations\": \"" : "",
             revocations ? revocations : "", revocations ? "\"" : "");
    SlErr err;
    SL_ASSERT(sl_write_atomic(path, text, strlen(text), &err) == 0);
}

static void keypair(const char *name, SlKeypair *kp) {
    char prefix[4096];
    snprintf(prefix, sizeof prefix, "%s/%s-%03d", test_tmpdir(), name, ++g_serial);
    SlErr err;
    SL_ASSERT(sl_key_generate(prefix, kp, &err) == 0);
}

static void t_policy_requires_coordinator_signatures(void) {
    SlKeypair coord, other;
    keypair("coord", &coord);
    keypair("other", &other);
    char dir[512], rev[512], pol[4096];
    make_set(dir, sizeof dir, 2);
    ConsentOptions o = opts(rev, sizeof rev);
    SL_ASSERT(unlink(rev) == 0);
    snprintf(pol, sizeof pol, "%s/policy-%03d.json", test_tmpdir(), ++g_serial);
    write_policy(pol, coord.pk, NULL);
    o.policy = pol;
    ConsentFields f = fields();
    SlErr err;
    ConsentReasons why;
    /* unsigned manifest */
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "not signed, but the lab policy"));
    CHECK(any_reason(&why, rev, "no revocation list there")); /* and the list is missing */
    consent_reasons_free(&why);
    /* signed by a key the policy does not name */
    f.sign = &other;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, "consent.json", "not a coordinator key"));
    consent_reasons_free(&why);
    /* signed by the coordinator; the list exists but is unsigned */
    f.sign = &coord;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    SL_ASSERT(sl_write_atomic(rev, EMPTY_LIST, strlen(EMPTY_LIST), &err) == 0);
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, rev, "revocation list is not signed"));
    consent_reasons_free(&why);
    /* revoking under the policy needs a coordinator's key */
    setenv("SWAPLAB_POLICY", pol, 1);
    SL_ASSERT(unlink(rev) == 0);
    int already;
    CHECK(consent_revoke(rev, "vol-001", NULL, "x", NULL, NULL, &already, &err) == -1);
    CHECK(strstr(err.msg, "--sign") != NULL);
    CHECK(consent_revoke(rev, "vol-001", NULL, "x", NULL, &other, &already, &err) == -1);
    CHECKF(consent_revoke(rev, "vol-001", NULL, "withdrew", NULL, &coord, &already, &err) == 0, "%s", err.msg);
    unsetenv("SWAPLAB_POLICY");
    CHECKF(consent_check(dir, "train", &o, NULL, NULL, &err) == 0, "%s", err.msg);
    /* a signed list cannot be edited (a revoked subject renamed) or rewritten unsigned */
    CHECK(consent_revoke(rev, "vol-002", NULL, "x", NULL, NULL, &already, &err) == -1);
    char *data;
    size_t len;
    SL_ASSERT(sl_read_file(rev, 1 << 20, &data, &len, &err) == 0);
    char *at = strstr(data, "vol-001");
    SL_ASSERT(at);
    at[6] = '9';
    SL_ASSERT(sl_write_atomic(rev, data, len, &err) == 0);
    free(data);
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, rev, "bad signature"));
    consent_reasons_free(&why);
    /* a list signed by another key */
    SL_ASSERT(unlink(rev) == 0);
    CHECK(consent_revoke(rev, "vol-001", NULL, "x", NULL, &other, &already, &err) == 0); /* no policy now */
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, rev, "not a coordinator key"));
    consent_reasons_free(&why);
}

static void t_policy_names_the_list_and_system_policy_wins(void) {
    SlKeypair coord;
    keypair("coord", &coord);
    char dir[512], rev[512], pol[4096], other_pol[4096], listed[256];
    make_set(dir, sizeof dir, 1);
    ConsentOptions o = opts(rev, sizeof rev);
    ConsentFields f = fields();
    f.sign = &coord;
    SlErr err;
    SL_ASSERT(consent_write(dir, &f, &err) == 0);
    snprintf(pol, sizeof pol, "%s/policy-%03d.json", test_tmpdir(), ++g_serial);
    snprintf(listed, sizeof listed, "course-revoked-%03d.json", g_serial);
    write_policy(pol, coord.pk, listed); /* relative to the policy's folder */
    char listpath[4096];
    snprintf(listpath, sizeof listpath, "%s/%s", test_tmpdir(), listed);
    setenv("SWAPLAB_POLICY", pol, 1);
    int already;
    CHECKF(consent_revoke(NULL, "vol-001", NULL, "withdrew", NULL, &coord, &already, &err) == 0, "%s", err.msg);
    CHECK(sl_is_file(listpath));
    CHECK(consent_revoke(rev, "vol-001", NULL, "withdrew", NULL, &coord, &already, &err) == -1); /* another list */
    unsetenv("SWAPLAB_POLICY");
    o.policy = pol;
    ConsentReasons why;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1); /* --revocations names another list */
    CHECK(any_reason(&why, rev, "names the revocation list"));
    consent_reasons_free(&why);
    o.revocations = NULL;
    CHECKF(consent_check(dir, "train", &o, NULL, NULL, &err) == 0, "%s", err.msg);
    /* a system policy cannot be replaced by another file */
    snprintf(other_pol, sizeof other_pol, "%s/policy-%03d.json", test_tmpdir(), ++g_serial);
    write_policy(other_pol, coord.pk, listed);
    ConsentPolicy p;
    CHECK(consent_policy_find(other_pol, pol, &p, &err) == -1);
    CHECK(strstr(err.msg, "system-wide lab policy") != NULL);
    CHECK(consent_policy_find(NULL, pol, &p, &err) == 1);
    CHECK(consent_policy_find(pol, pol, &p, &err) == 1);
    CHECK(consent_policy_find(NULL, NO_SYSTEM_POLICY, &p, &err) == 0);
    /* a policy that is named but unusable fails closed */
    CHECK(consent_policy_find("/nonexistent/p.json", NO_SYSTEM_POLICY, &p, &err) == -1);
    SL_ASSERT(sl_write_atomic(other_pol, "{\"format\": \"swaplab-policy/1\", \"coordinators\": []}", 50, &err) == 0);
    o.policy = other_pol;
    CHECK(consent_check(dir, "train", &o, NULL, &why, &err) == -1);
    CHECK(any_reason(&why, other_pol, "coordinators"));
    consent_reasons_free(&why);
}

/* issue 14.6: revocations written at the same moment are all kept (the list is locked while it is
 * read and rewritten) */
static void t_concurrent_revocations_all_kept(void) {
    char rev[512];
    ConsentOptions o = opts(rev, sizeof rev);
    (void)o;
    enum { N = 12 };
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        SL_ASSERT(kids[i] >= 0);
        if (kids[i] == 0) {
            char subj[32];
            snprintf(subj, sizeof subj, "vol-%03d", i);
            SlErr e;
            int already;
            for (int tries = 0; tries < 200; tries++) { /* a busy lock is an error: try again */
                if (consent_revoke(rev, subj, NULL, "withdrew", NULL, NULL, &already, &e) == 0) _exit(0);
                usleep(5000);
            }
            _exit(1);
        }
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        int st;
        SL_ASSERT(waitpid(kids[i], &st, 0) == kids[i]);
        ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK(ok == N);
    ConsentRevocations list;
    SlErr err;
    CHECKF(consent_revocations_load(rev, &list, &err) == 0, "%s", err.msg);
    CHECKF(list.n == N, "%d of %d revocations kept", list.n, N);
    consent_revocations_free(&list);
}

int main(void) {
    setenv("SL_QUIET", "1", 0);
    setenv("XDG_CONFIG_HOME", test_tmpdir(), 1); /* no per-user policy */
    unsetenv("SWAPLAB_POLICY");
    sl_crypto_init();
    uint8_t seed[8];
    FILE *f = fopen("/dev/urandom", "rb");
    SL_ASSERT(f && fread(seed, 1, 8, f) == 8);
    fclose(f);
    uint64_t s;
    memcpy(&s, seed, 8);
    sl_rng_seed(&g_rng, s);
    RUN(t_accepts_and_reports_digest);
    RUN(t_synthetic_manifest);
    RUN(t_refuses_missing_manifest);
    RUN(t_refuses_malformed_json_with_position);
    RUN(t_refuses_wrong_version);
    RUN(t_refuses_missing_fields);
    RUN(t_refuses_draft);
    RUN(t_refuses_expired);
    RUN(t_refuses_granted_in_future);
    RUN(t_refuses_scope_missing);
    RUN(t_refuses_revoked_subject);
    RUN(t_revocation_list_unreadable_fails_closed);
    RUN(t_refuses_tampered_image);
    RUN(t_refuses_added_image);
    RUN(t_refuses_removed_image);
    RUN(t_signature_valid);
    RUN(t_signature_invalid);
    RUN(t_canonical_form);
    RUN(t_canonical_matches_python);
    RUN(t_lists_all_reasons);
    RUN(t_many_reasons_are_summarised);
    RUN(t_hostile_manifests);
    RUN(t_write_refuses_bad_fields);
    RUN(t_dates_and_scopes);
    RUN(t_list_images);
    RUN(t_revoke_non_utf8_reason_is_kept);
    RUN(t_explicit_missing_list_refused);
    RUN(t_revoke_by_manifest_digest);
    RUN(t_policy_requires_coordinator_signatures);
    RUN(t_policy_names_the_list_and_system_policy_wins);
    RUN(t_concurrent_revocations_all_kept);
    RUN(t_env_default_revocation_path);
    return test_summary("test_consent");
}
