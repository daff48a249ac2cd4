/* test_util.c — the util layer and image IO: flags, atomic files, RNG, keys, PNG text chunks. */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/image.h"
#include "tests/test.h"
#include "util/json.h"
#include "util/args.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/lock.h"
#include "util/mpi.h"
#include "util/rng.h"

static void t_args(void) {
    int steps = 5, flag = 0;
    double lr = 0;
    const char *out = NULL;
    SlStrList sets = {0};
    SlArg spec[] = {
        {"--steps", SL_ARG_INT, &steps, "N", "steps"},
        {"--lr", SL_ARG_DOUBLE, &lr, "X", "lr"},
        {"--out", SL_ARG_STR, &out, "DIR", "out"},
        {"--facesets", SL_ARG_LIST, &sets, "DIR", "sets"},
        {"--resume", SL_ARG_FLAG, &flag, NULL, "resume"},
        {0},
    };
    char *argv[] = {"--steps", "12", "--lr=0.5", "--facesets", "a", "b", "--resume", "--out", "x"};
    CHECK(sl_args_parse("t", NULL, NULL, spec, 9, argv, NULL) == 0);
    CHECK(steps == 12 && lr == 0.5 && flag == 1 && out && !strcmp(out, "x"));
    CHECK(sets.n == 2 && !strcmp(sets.v[1], "b"));
    free(sets.v);
    char *bad1[] = {"--steps", "12x"};
    CHECK(sl_args_parse("t", NULL, NULL, spec, 2, bad1, NULL) == 2);
    char *bad2[] = {"--nope"};
    CHECK(sl_args_parse("t", NULL, NULL, spec, 1, bad2, NULL) == 2);
    char *bad3[] = {"--out"};
    CHECK(sl_args_parse("t", NULL, NULL, spec, 1, bad3, NULL) == 2);
    char *bad4[] = {"stray"};
    CHECK(sl_args_parse("t", NULL, NULL, spec, 1, bad4, NULL) == 2);
    /* --quiet, which every help lists, is taken by the parser too (bench programs have no swaplab
     * main to take it first): it sets SL_QUIET=1 and the other flags still parse */
    char *old = getenv("SL_QUIET") ? strdup(getenv("SL_QUIET")) : NULL;
    unsetenv("SL_QUIET");
    char *q[] = {"--steps", "7", "--quiet"};
    CHECK(sl_args_parse("t", NULL, NULL, spec, 3, q, NULL) == 0 && steps == 7);
    CHECK(getenv("SL_QUIET") && !strcmp(getenv("SL_QUIET"), "1"));
    if (old) setenv("SL_QUIET", old, 1);
    else unsetenv("SL_QUIET");
    free(old);
}

/* sl_args_parse_some: -1 with the words to go on; otherwise an exit code, the list freed */
static void t_args_some(void) {
    int flag = 0;
    SlArg spec[] = {{"--x", SL_ARG_FLAG, &flag, NULL, "x"}, {0}};
    SlStrList pos;
    char *one[] = {"a.png", "--x"}, *none[] = {"--x"}, *bad[] = {"a.png", "--nope"}, *help[] = {"--help"};
    CHECK(sl_args_parse_some("t", "FILE...", "", spec, 2, one, &pos, "give a file") == -1);
    CHECK(pos.n == 1 && strcmp(pos.v[0], "a.png") == 0 && flag == 1);
    free(pos.v);
    CHECK(sl_args_parse_some("t", "FILE...", "", spec, 1, none, &pos, "give a file") == 2 && pos.v == NULL);
    CHECK(sl_args_parse_some("t", "FILE...", "", spec, 2, bad, &pos, "give a file") == 2 && pos.v == NULL);
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    int h = sl_args_parse_some("t", "FILE...", "", spec, 1, help, &pos, "give a file");
    fclose(stdout);
    stdout = saved;
    CHECK(h == 0 && pos.v == NULL);
}

/* issue 14.5: ranges, NaN and infinities, unsigned seeds, the string length limit */
static void t_args_ranges(void) {
    int threads = 0;
    double minutes = 0;
    unsigned long long seed = 7;
    const char *out = NULL, *text = NULL;
    SlArg spec[] = {
        {"--threads", SL_ARG_INT, &threads, "N", "threads", 1, 256},
        {"--minutes", SL_ARG_DOUBLE, &minutes, "M", "minutes", 0.001, 525600},
        {"--seed", SL_ARG_U64, &seed, "S", "seed"},
        {"--out", SL_ARG_STR, &out, "DIR", "out"},
        {"--text", SL_ARG_STR, &text, "T", "text", 0, 8000},
        {0},
    };
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    const char *bad[][2] = {{"--threads", "0"}, {"--threads", "-1"}, {"--threads", "100000"}, {"--threads", "99999999999"},
                            {"--minutes", "nan"}, {"--minutes", "inf"}, {"--minutes", "-inf"}, {"--minutes", "0"},
                            {"--minutes", "1e400"}, {"--seed", "-1"}, {"--seed", "+1"}, {"--seed", "1x"},
                            {"--seed", "99999999999999999999999"}, {"--seed", ""}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {(char *)bad[i][0], (char *)bad[i][1]};
        CHECKF(sl_args_parse("t", NULL, NULL, spec, 2, argv, NULL) == 2, "%s %s", bad[i][0], bad[i][1]);
    }
    char *longv = xmalloc(SL_ARG_MAX_LEN + 2);
    memset(longv, 'x', SL_ARG_MAX_LEN + 1);
    longv[SL_ARG_MAX_LEN + 1] = 0;
    char *a1[] = {"--out", longv};
    CHECK(sl_args_parse("t", NULL, NULL, spec, 2, a1, NULL) == 2);
    char *a2[] = {"--text", longv};
    CHECK(sl_args_parse("t", NULL, NULL, spec, 2, a2, NULL) == 0 && text == longv); /* its own larger limit */
    SlStrList pos;
    char *a3[] = {longv};
    CHECK(sl_args_parse("t", NULL, NULL, spec, 1, a3, &pos) == 2);
    free(pos.v);
    longv[SL_ARG_MAX_LEN] = 0;
    CHECK(sl_args_parse("t", NULL, NULL, spec, 2, a1, NULL) == 0 && out == longv); /* exactly the limit */
    free(longv);
    fclose(stderr);
    stderr = saved;
    char *good[] = {"--threads", "256", "--minutes=0.5", "--seed", "18446744073709551615"};
    CHECK(sl_args_parse("t", NULL, NULL, spec, 5, good, NULL) == 0);
    CHECK(threads == 256 && minutes == 0.5 && seed == 18446744073709551615ull);
}

/* issue 14.6: one holder per output; the second is told who holds it; a dead holder's lock is taken over */
static void t_lock(void) {
    char dir[700];
    SlErr err;
    snprintf(dir, sizeof dir, "%s/locked", test_tmpdir());
    SL_ASSERT(sl_mkdirs(dir, &err) == 0);
    SlLock a, b;
    CHECKF(sl_lock_dir(&a, dir, "swaplab train", &err) == 0, "%s", err.msg);
    char lf[800];
    snprintf(lf, sizeof lf, "%s/%s", dir, SL_LOCK_NAME);
    CHECK(sl_is_file(lf));
    CHECK(sl_lock_dir(&b, dir, "swaplab swap", &err) == -1 && b.fd == -1);
    char want[64];
    snprintf(want, sizeof want, "in use by swaplab train (pid %ld on host", (long)getpid());
    CHECKF(strstr(err.msg, want) && strstr(err.msg, dir), "%s", err.msg);
    sl_unlock(&a);
    CHECK(!sl_is_file(lf));
    sl_unlock(&a); /* harmless twice */
    /* a holder killed with SIGKILL: the kernel drops its lock, its record stays, the next run takes over */
    pid_t pid = fork();
    SL_ASSERT(pid >= 0);
    if (pid == 0) {
        SlLock c;
        SlErr e;
        if (sl_lock_dir(&c, dir, "swaplab dataset", &e) == 0) raise(SIGKILL);
        _exit(3);
    }
    int status;
    SL_ASSERT(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(sl_is_file(lf)); /* the stale record */
    CHECKF(sl_lock_dir(&b, dir, "swaplab swap", &err) == 0, "%s", err.msg);
    char *rec;
    size_t len;
    SL_ASSERT(sl_read_file(lf, 4096, &rec, &len, &err) == 0);
    char mine[64];
    snprintf(mine, sizeof mine, "pid %ld\n", (long)getpid());
    CHECKF(strncmp(rec, mine, strlen(mine)) == 0 && strstr(rec, "command swaplab swap\n"), "%s", rec);
    free(rec);
    sl_unlock(&b);
    /* a lock path that is a directory is refused, not followed */
    char ld[800];
    snprintf(ld, sizeof ld, "%s/ledger.lock", dir);
    SL_ASSERT(mkdir(ld, 0755) == 0);
    CHECK(sl_lock_file(&b, ld, "ledger", &err) == -1);
}

/* issue 14.8: a directory, FIFO or device where a file is expected is named as such (it was "no
 * such file"), and a FIFO never blocks the read */
static void t_not_a_regular_file(void) {
    char d[700], fifo[700];
    SlErr err;
    char *data;
    size_t len;
    snprintf(d, sizeof d, "%s/a-dir.png", test_tmpdir());
    SL_ASSERT(sl_mkdirs(d, &err) == 0);
    CHECK(sl_read_file(d, 100, &data, &len, &err) == -1);
    CHECKF(strstr(err.msg, "is a directory"), "%s", err.msg);
    snprintf(fifo, sizeof fifo, "%s/a-fifo.png", test_tmpdir());
    SL_ASSERT(mkfifo(fifo, 0600) == 0);
    CHECK(sl_read_file(fifo, 100, &data, &len, &err) == -1); /* returns: no writer needed */
    CHECKF(strstr(err.msg, "FIFO"), "%s", err.msg);
    Image im;
    CHECK(image_load(fifo, 3, &im, &err) == -1 && strstr(err.msg, "FIFO"));
    CHECK(sl_read_file("/dev/null", 100, &data, &len, &err) == -1);
    CHECKF(strstr(err.msg, "is a device"), "%s", err.msg);
    snprintf(d, sizeof d, "%s/nothing-here.png", test_tmpdir());
    CHECK(sl_read_file(d, 100, &data, &len, &err) == -1 && strstr(err.msg, "no such file"));
}

/* issue 14.8: a corrupt JPEG is reported as a JPEG (stb's last reason was "bad png sig"); a PNG
 * whose text chunk comes before a corrupt image leaks nothing (run under SANITIZE) and a chunk
 * claiming more bytes than the file holds is refused before libpng allocates it */
static void t_corrupt_images(void) {
    SlErr err;
    Image im = image_new(16, 16, 3), out;
    for (int i = 0; i < 16 * 16 * 3; i++) im.px[i] = (uint8_t)(i * 7);
    char p[700];
    snprintf(p, sizeof p, "%s/c.jpg", test_tmpdir());
    SL_ASSERT(image_save_jpeg(p, &im, 80, &err) == 0);
    char *data;
    size_t len;
    SL_ASSERT(sl_read_file(p, 1 << 20, &data, &len, &err) == 0);
    CHECK(image_load_mem((uint8_t *)data, len, 3, &out, "ok.jpg", &err) == 0);
    image_free(&out);
    CHECK(image_load_mem((uint8_t *)data, 40, 3, &out, "cut.jpg", &err) == -1);
    CHECKF(strstr(err.msg, "JPEG") && !strstr(err.msg, "png"), "%s", err.msg);
    free(data);
    PngText t = {"swaplab", "{\"a\": 1}"};
    snprintf(p, sizeof p, "%s/t.png", test_tmpdir());
    SL_ASSERT(image_save_png(p, &im, &t, 1, &err) == 0);
    SL_ASSERT(sl_read_file(p, 1 << 20, &data, &len, &err) == 0);
    char **k, **v;
    int n;
    CHECK(image_read_png_texts(p, &k, &v, &n, &err) == 0 && n == 1 && strcmp(k[0], "swaplab") == 0);
    image_free_texts(k, v, n);
    /* flip a byte inside the IDAT data: libpng longjmps while reading rows */
    uint8_t *idat = memmem(data, len, "IDAT", 4);
    SL_ASSERT(idat);
    idat[8] ^= 0xFF;
    idat[9] ^= 0x55;
    SL_ASSERT(sl_write_atomic(p, data, len, &err) == 0);
    CHECK(image_read_png_texts(p, &k, &v, &n, &err) == -1 && strstr(err.msg, "corrupt PNG"));
    /* a 1.1 GB chunk length in a small file */
    uint8_t *ihdr_end = (uint8_t *)data + 8 + 25;
    ihdr_end[0] = 0x46, ihdr_end[1] = 0x38, ihdr_end[2] = 0x39, ihdr_end[3] = 0x61;
    double t0 = sl_now();
    CHECK(image_load_mem((uint8_t *)data, len, 3, &out, "huge-chunk.png", &err) == -1);
    CHECKF(strstr(err.msg, "claims 1178089825 bytes"), "%s", err.msg);
    CHECK(sl_now() - t0 < 0.5);
    free(data);
    image_free(&im);
}

static void t_atomic(void) {
    char path[600];
    SlErr err;
    sl_path_join(path, sizeof path, test_tmpdir(), "a.bin");
    CHECK(sl_write_atomic(path, "hello", 5, &err) == 0);
    char *d;
    size_t n;
    CHECK(sl_read_file(path, 100, &d, &n, &err) == 0 && n == 5 && !memcmp(d, "hello", 5));
    free(d);
    CHECK(sl_read_file(path, 3, &d, &n, &err) == -1 && strstr(err.msg, "too large"));
    /* A write into a missing directory fails and names the path. */
    CHECK(sl_write_atomic("/nonexistent-dir/x", "a", 1, &err) == -1 && strstr(err.msg, "/nonexistent-dir/x"));
    char deep[600];
    sl_path_join(deep, sizeof deep, test_tmpdir(), "x/y/z");
    CHECK(sl_mkdirs(deep, &err) == 0 && sl_is_dir(deep));
}

/* The one bounded JSON reader: good object, malformed (line and column), not an object, too large,
 * duplicate keys refused when asked, missing file. */
static void t_json_read(void) {
    char path[600];
    SlErr err;
    sl_path_join(path, sizeof path, test_tmpdir(), "j.json");
    const char *good = "{\"a\": 1, \"b\": \"x\"}";
    CHECK(sl_write_atomic(path, good, strlen(good), &err) == 0);
    json_t *j = sl_json_read(path, 0, JSON_REJECT_DUPLICATES, 1, &err);
    CHECK(j && json_integer_value(json_object_get(j, "a")) == 1);
    json_decref(j);
    CHECK(!sl_json_read(path, 5, 0, 1, &err) && strstr(err.msg, "too large"));
    const char *bad = "{\"a\": 1,\n \"b\": }";
    CHECK(sl_write_atomic(path, bad, strlen(bad), &err) == 0);
    CHECK(!sl_json_read(path, 0, 0, 1, &err) && strstr(err.msg, "line 2") && strstr(err.msg, path));
    CHECK(sl_write_atomic(path, "[1, 2]", 6, &err) == 0);
    CHECK(!sl_json_read(path, 0, 0, 1, &err) && strstr(err.msg, "not a JSON object"));
    j = sl_json_read(path, 0, 0, 0, &err);
    CHECK(j && json_array_size(j) == 2);
    json_decref(j);
    const char *dup = "{\"a\": 1, \"a\": 2}";
    CHECK(sl_write_atomic(path, dup, strlen(dup), &err) == 0);
    CHECK(!sl_json_read(path, 0, JSON_REJECT_DUPLICATES, 1, &err));
    CHECK(!sl_json_read("/nonexistent-dir/j.json", 0, 0, 1, &err) && strstr(err.msg, "/nonexistent-dir/j.json"));
}

static void t_rng(void) {
    SlRng a, b;
    sl_rng_seed(&a, 42);
    sl_rng_seed(&b, 42);
    double sum = 0, sq = 0;
    int same = 1;
    for (int i = 0; i < 100000; i++) {
        float x = sl_rng_normal(&a);
        same &= x == sl_rng_normal(&b);
        sum += x, sq += (double)x * x;
    }
    CHECK(same);
    CHECK_NEAR(sum / 1e5, 0, 0.02);
    CHECK_NEAR(sq / 1e5, 1, 0.02);
    float u = sl_rng_uniform(&a);
    CHECK(u >= 0 && u < 1);
    int k = sl_rng_int(&a, 7);
    CHECK(k >= 0 && k < 7);
}

static void t_keys(void) {
    char prefix[600], kpath[700], ppath[700];
    SlErr err;
    sl_path_join(prefix, sizeof prefix, test_tmpdir(), "lab");
    SlKeypair kp, kp2;
    CHECK(sl_key_generate(prefix, &kp, &err) == 0);
    CHECK(sl_key_generate(prefix, &kp, &err) == -1); /* never overwrite */
    snprintf(kpath, sizeof kpath, "%s.key", prefix);
    snprintf(ppath, sizeof ppath, "%s.pub", prefix);
    CHECK(sl_key_load_secret(kpath, &kp2, &err) == 0 && !memcmp(kp.pk, kp2.pk, 32));
    uint8_t pk[32], sig[64];
    CHECK(sl_key_load_public(ppath, pk, &err) == 0 && !memcmp(pk, kp.pk, 32));
    sl_sign(&kp, "msg", 3, sig);
    CHECK(sl_verify_sig(pk, "msg", 3, sig));
    CHECK(!sl_verify_sig(pk, "msh", 3, sig));
    CHECK(sl_key_load_public(kpath, pk, &err) == -1); /* a secret file is not a public one */
    char h[65];
    sl_sha256_hex("abc", 3, h);
    CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

static void t_png_text(void) {
    Image im = image_new(37, 21, 3);
    for (int i = 0; i < 37 * 21 * 3; i++) im.px[i] = (uint8_t)(i * 7);
    char path[600];
    SlErr err;
    sl_path_join(path, sizeof path, test_tmpdir(), "t.png");
    PngText t[2] = {{"swaplab.provenance", "{\"a\":\"é\"}"}, {"XML:com.adobe.xmp", "<x/>"}};
    CHECK(image_save_png(path, &im, t, 2, &err) == 0);
    Image back;
    CHECK(image_load(path, 0, &back, &err) == 0);
    CHECK(back.w == 37 && back.h == 21 && back.c == 3 && !memcmp(back.px, im.px, 37 * 21 * 3));
    char **k, **v;
    int n;
    CHECK(image_read_png_texts(path, &k, &v, &n, &err) == 0 && n == 2);
    if (n == 2) CHECK(!strcmp(k[0], "swaplab.provenance") && !strcmp(v[0], "{\"a\":\"é\"}"));
    image_free_texts(k, v, n);
    image_free(&back);
    /* truncated file: a clear error, no crash */
    char *d;
    size_t len;
    CHECK(sl_read_file(path, 1 << 20, &d, &len, &err) == 0);
    CHECK(image_load_mem((uint8_t *)d, len / 2, 3, &back, "half.png", &err) == -1 && strstr(err.msg, "half.png"));
    CHECK(image_load_mem((uint8_t *)"not an image", 12, 3, &back, "junk", &err) == -1);
    free(d);
    /* JPEG round trip keeps size and roughly the pixels */
    Image j = image_clone(&im);
    image_jpeg_roundtrip(&j, 90);
    CHECK(j.w == 37 && j.h == 21);
    image_free(&j);
    image_free(&im);
}

/* util/mpi.h without a launcher (the tests run as one process): rank 0 of 1, the collectives are
 * copies and every text agrees. */
static void t_mpi_one_process(void) {
    SlMpi m;
    SlErr err;
    CHECK(sl_mpi_init(&m, &err) == 0 && m.rank == 0 && m.size == 1 && !m.on);
    const char mine[] = "face 3";
    void *all = NULL;
    size_t lens[1] = {0};
    sl_mpi_gatherv(&m, mine, sizeof mine, &all, lens);
    CHECK(all && lens[0] == sizeof mine && !memcmp(all, mine, sizeof mine));
    free(all);
    sl_mpi_gatherv(&m, NULL, 0, &all, lens);
    CHECK(all && lens[0] == 0);
    free(all);
    CHECK(sl_mpi_agree(&m, "options", "a=1 b=2", &err) == 0);
    CHECK(sl_mpi_count_failed(&m, 1) == 0 && sl_mpi_count_failed(&m, 0) == 1);
    sl_mpi_finalize(&m);
}

int main(void) {
    RUN(t_args);
    RUN(t_mpi_one_process);
    RUN(t_args_some);
    RUN(t_args_ranges);
    RUN(t_lock);
    RUN(t_not_a_regular_file);
    RUN(t_corrupt_images);
    RUN(t_atomic);
    RUN(t_json_read);
    RUN(t_rng);
    RUN(t_keys);
    RUN(t_png_text);
    return test_summary("test_util");
}
