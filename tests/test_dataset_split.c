/* test_dataset_split.c — dataset/export: identity splits (every identity in exactly one split, train
 * and test >= 2, shares as asked, deterministic in the seed), swap pairs only inside a split and in
 * both directions, the round-robin partner balance, the sample box and CSV quoting. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/export.h"
#include "tests/test.h"
#include "util/rng.h"

static void t_parse(void) {
    double f[3];
    SlErr err;
    CHECK(dsx_parse_splits("70/15/15", f, &err) == 0);
    CHECK_NEAR(f[0], 0.70, 1e-12);
    CHECK_NEAR(f[1], 0.15, 1e-12);
    CHECK_NEAR(f[2], 0.15, 1e-12);
    CHECK(dsx_parse_splits("2/1/1", f, &err) == 0);
    CHECK_NEAR(f[0], 0.5, 1e-12);
    CHECK_NEAR(f[1], 0.25, 1e-12);
    CHECK(dsx_parse_splits("0.8/0.1/0.1", f, &err) == 0);
    CHECK_NEAR(f[2], 0.1, 1e-12);
    const char *bad[] = {"", "70/30", "70/15/15/1", "a/b/c", "-1/50/51", "0/50/50", "50/50/0", "50/0/50", "0/0/0", "70/15/15x",
                         "70 15 15", "nan/1/1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.msg[0] = 0;
        CHECKF(dsx_parse_splits(bad[i], f, &err) == -1 && strstr(err.msg, "--splits"), "'%s' accepted", bad[i]);
    }
}

static void t_too_few(void) {
    double f[3] = {0.7, 0.15, 0.15};
    int split[6];
    SlErr err;
    for (int n = 0; n < 6; n++) {
        err.msg[0] = 0;
        CHECKF(dsx_assign_splits(n, f, 1, split, NULL, &err) == -1 && strstr(err.msg, "at least 6"), "n = %d", n);
    }
}

/* Random sizes, shares and seeds: the invariants of every assignment. */
static void t_assign_properties(void) {
    SlRng rng;
    sl_rng_seed(&rng, 0xda7a5e7);
    SlErr err;
    for (int trial = 0; trial < 400; trial++) {
        int n = 6 + sl_rng_int(&rng, 58);
        double f[3] = {0.05 + sl_rng_uniform(&rng), 0.02 + sl_rng_uniform(&rng), 0.05 + sl_rng_uniform(&rng)};
        double s = f[0] + f[1] + f[2];
        for (int k = 0; k < 3; k++) f[k] /= s;
        uint64_t seed = sl_rng_u64(&rng);
        int a[64], b[64], c[3], c2[3];
        CHECK(dsx_assign_splits(n, f, seed, a, c, &err) == 0);
        CHECK(dsx_assign_splits(n, f, seed, b, c2, &err) == 0);
        CHECKF(memcmp(a, b, sizeof(int) * (size_t)n) == 0, "not deterministic (n %d)", n);
        int cnt[3] = {0};
        for (int i = 0; i < n; i++) {
            CHECK(a[i] >= 0 && a[i] < 3);
            if (a[i] >= 0 && a[i] < 3) cnt[a[i]]++;
        }
        CHECK(cnt[0] == c[0] && cnt[1] == c[1] && cnt[2] == c[2]);
        CHECK(c[0] + c[1] + c[2] == n);
        CHECKF(c[DSX_TRAIN] >= 2 && c[DSX_VAL] >= 2 && c[DSX_TEST] >= 2, "n %d: %d/%d/%d", n, c[0], c[1], c[2]);
        /* shares as asked, within rounding, whenever the minimum of 2 does not bind */
        if (f[DSX_TEST] * n >= 2.5 && f[DSX_VAL] * n >= 2.5 && f[DSX_TRAIN] * n >= 3.5) {
            CHECKF(fabs(c[DSX_TEST] - f[DSX_TEST] * n) <= 1.0, "n %d test %d want %.2f", n, c[2], f[2] * n);
            CHECKF(fabs(c[DSX_VAL] - f[DSX_VAL] * n) <= 1.0, "n %d val %d want %.2f", n, c[1], f[1] * n);
        }
    }
}

/* Small demo sizes at 70/15/15: val and test get their minimum of 2 up to 13 identities; 20 give
 * 14/3/3; 6 give 2/2/2. */
static void t_small(void) {
    double f[3] = {0.7, 0.15, 0.15};
    SlErr err;
    int split[20], c[3];
    int want[][4] = {{6, 2, 2, 2}, {7, 3, 2, 2}, {8, 4, 2, 2}, {12, 8, 2, 2}, {14, 10, 2, 2}, {20, 14, 3, 3}};
    for (int k = 0; k < 6; k++) {
        int n = want[k][0];
        CHECK(dsx_assign_splits(n, f, 7, split, c, &err) == 0);
        CHECKF(c[0] == want[k][1] && c[1] == want[k][2] && c[2] == want[k][3], "n %d: %d/%d/%d", n, c[0], c[1], c[2]);
    }
}

/* The seed decides which identities land where: across seeds the test set changes. */
static void t_seed_matters(void) {
    double f[3] = {0.6, 0.2, 0.2};
    SlErr err;
    int first[20], other[20], differs = 0;
    CHECK(dsx_assign_splits(20, f, 1, first, NULL, &err) == 0);
    for (uint64_t s = 2; s < 12; s++) {
        CHECK(dsx_assign_splits(20, f, s, other, NULL, &err) == 0);
        if (memcmp(first, other, sizeof first)) differs++;
    }
    CHECK(differs >= 9);
}

static void t_pairs(void) {
    SlRng rng;
    sl_rng_seed(&rng, 4242);
    SlErr err;
    for (int trial = 0; trial < 100; trial++) {
        int n = 6 + sl_rng_int(&rng, 18), split[24], c[3];
        double f[3] = {0.6, 0.2, 0.2};
        CHECK(dsx_assign_splits(n, f, sl_rng_u64(&rng), split, c, &err) == 0);
        int np;
        DsxPair *p = dsx_pairs(n, split, &np);
        CHECK(np == c[0] * (c[0] - 1) + c[1] * (c[1] - 1) + c[2] * (c[2] - 1));
        for (int k = 0; k < np; k++) {
            CHECK(p[k].from != p[k].to && split[p[k].from] == split[p[k].to]);
            int back = 0;
            for (int q = 0; q < np; q++) back += p[q].from == p[k].to && p[q].to == p[k].from;
            CHECK(back == 1);
            if (k) CHECK(p[k - 1].from < p[k].from || (p[k - 1].from == p[k].from && p[k - 1].to < p[k].to));
        }
        free(p);
    }
}

/* Each of k partners gets floor(N/k) or ceil(N/k) of N faces. */
static void t_partner_balance(void) {
    for (int k = 1; k <= 7; k++)
        for (int id = 0; id < 9; id++)
            for (int N = 0; N < 30; N += 7) {
                int got[8] = {0};
                for (int j = 0; j < N; j++) {
                    int p = dsx_partner(id, j, k);
                    CHECK(p >= 0 && p < k);
                    if (p >= 0 && p < k) got[p]++;
                }
                for (int p = 0; p < k; p++) CHECK(got[p] == N / k || got[p] == (N + k - 1) / k);
            }
}

/* The box at size = crop is the face affine; at another size it is scaled about the origin, and the
 * crop it gives equals align_warp with that affine. */
static void t_box(void) {
    SlRng rng;
    sl_rng_seed(&rng, 99);
    Affine a = {{0}};
    double ang = sl_rng_range(&rng, -0.5f, 0.5f), sc = sl_rng_range(&rng, 0.3f, 0.8f);
    a.m[0] = sc * cos(ang), a.m[1] = -sc * sin(ang), a.m[2] = sl_rng_range(&rng, -20, 0);
    a.m[3] = sc * sin(ang), a.m[4] = sc * cos(ang), a.m[5] = sl_rng_range(&rng, -20, 0);
    Affine b;
    dsx_face_box(&a, 64, 64, &b);
    for (int k = 0; k < 6; k++) CHECK(b.m[k] == a.m[k]);
    dsx_face_box(&a, 64, 128, &b);
    float x = sl_rng_range(&rng, 0, 100), y = sl_rng_range(&rng, 0, 100), ax, ay, bx, by;
    affine_apply(&a, x, y, &ax, &ay);
    affine_apply(&b, x, y, &bx, &by);
    CHECK_NEAR(bx, 2 * ax, 1e-3);
    CHECK_NEAR(by, 2 * ay, 1e-3);
    Image fr = image_new(90, 70, 3), c1, c2;
    for (size_t i = 0; i < (size_t)fr.w * fr.h * 3; i++) fr.px[i] = (uint8_t)(sl_rng_u64(&rng) >> 56);
    dsx_crop(&fr, &b, 128, &c1);
    align_warp(&fr, &b, 128, 128, ALIGN_BORDER_REPLICATE, NULL, &c2);
    CHECK(c1.w == 128 && c1.h == 128 && c1.c == 3);
    CHECK(memcmp(c1.px, c2.px, (size_t)128 * 128 * 3) == 0);
    image_free(&fr), image_free(&c1), image_free(&c2);
}

static void t_csv(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/f.csv", test_tmpdir());
    FILE *f = fopen(path, "w");
    SL_ASSERT(f);
    const char *v[] = {"plain", "a,b", "say \"hi\"", "line\nbreak", "", NULL};
    for (int i = 0; i < 6; i++) dsx_csv_field(f, v[i]), fputc('|', f);
    fclose(f);
    char buf[256] = {0};
    f = fopen(path, "r");
    SL_ASSERT(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    CHECKF(!strcmp(buf, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"line\nbreak\"|||"), "got %s", buf);
    char s[16];
    dsx_safe_name(s, sizeof s, "ok-Name_1.x");
    CHECK(!strcmp(s, "ok-Name_1.x"));
    dsx_safe_name(s, sizeof s, "../a b/é");
    CHECK(!strchr(s, '/') && !strchr(s, ' ') && s[0] != '.');
    dsx_safe_name(s, 4, "abcdef");
    CHECK(!strcmp(s, "abc"));
}

/* Video: k of n frames evenly spaced, every clip on one side of the splits, c23/c40 parsed. */
static void t_sample_evenly(void) {
    int out[64];
    CHECK(dsx_sample_evenly(0, 4, out) == 0);
    CHECK(dsx_sample_evenly(5, 0, out) == 5 && out[0] == 0 && out[4] == 4);
    CHECK(dsx_sample_evenly(3, 8, out) == 3 && out[2] == 2);
    CHECK(dsx_sample_evenly(10, 2, out) == 2 && out[0] == 2 && out[1] == 7);
    for (int n = 1; n <= 40; n++)
        for (int k = 1; k <= n; k++) {
            int m = dsx_sample_evenly(n, k, out), ok = m == k;
            for (int j = 0; j < m; j++) ok &= out[j] >= 0 && out[j] < n && (j == 0 || out[j] > out[j - 1]);
            /* evenly: consecutive gaps differ by at most 1, and the ends leave about half a gap */
            int gmin = n, gmax = 0;
            for (int j = 1; j < m; j++) gmin = out[j] - out[j - 1] < gmin ? out[j] - out[j - 1] : gmin,
                                    gmax = out[j] - out[j - 1] > gmax ? out[j] - out[j - 1] : gmax;
            ok &= m < 2 || gmax - gmin <= 1;
            ok &= out[0] <= n / k && n - 1 - out[m - 1] <= n / k;
            CHECKF(ok, "n %d k %d", n, k);
        }
}

static void t_clip_splits(void) {
    SlErr err;
    int split[3] = {DSX_TRAIN, DSX_TEST, DSX_TRAIN};
    const char *subj[3] = {"a", "b", "c"};
    DsxClip same_split[] = {{"aaaa", "x.mp4", 0}, {"bbbb", "y.mp4", 1}, {"aaaa", "x.mp4", 2}};
    CHECK(dsx_check_clip_splits(same_split, 3, split, subj, &err) == 0);
    DsxClip across[] = {{"aaaa", "x.mp4", 0}, {"cccc", "z.mp4", 2}, {"aaaa", "x.mp4", 1}};
    CHECK(dsx_check_clip_splits(across, 3, split, subj, &err) == -1);
    CHECKF(strstr(err.msg, "x.mp4") && strstr(err.msg, "a (split train)") && strstr(err.msg, "b (split test)"), "%s",
           err.msg);
    CHECK(dsx_check_clip_splits(across, 0, split, subj, &err) == 0);
}

static void t_versions(void) {
    SlErr err;
    int crf[DSX_MAX_VERSIONS];
    CHECK(dsx_parse_versions("c23,c40", crf, &err) == 2 && crf[0] == 23 && crf[1] == 40);
    CHECK(dsx_parse_versions("none", crf, &err) == 0 && dsx_parse_versions("", crf, &err) == 0);
    CHECK(dsx_parse_versions("c0", crf, &err) == 1 && crf[0] == 0);
    const char *bad[] = {"23", "c52", "c23,", "c23,c23", "c-1", "c23;c40", "c1,c2,c3,c4,c5", "x23"};
    for (int i = 0; i < (int)(sizeof bad / sizeof *bad); i++)
        CHECKF(dsx_parse_versions(bad[i], crf, &err) == -1 && strstr(err.msg, "--video-versions"), "'%s' accepted",
               bad[i]);
}

int main(void) {
    RUN(t_parse);
    RUN(t_too_few);
    RUN(t_assign_properties);
    RUN(t_small);
    RUN(t_seed_matters);
    RUN(t_pairs);
    RUN(t_partner_balance);
    RUN(t_box);
    RUN(t_csv);
    RUN(t_sample_evenly);
    RUN(t_clip_splits);
    RUN(t_versions);
    return test_summary("test_dataset_split");
}
