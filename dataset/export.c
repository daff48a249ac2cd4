/* export.c — identity splits, swap pairs, the sample box and CSV helpers of `swaplab dataset`
 * (dataset/export.h). Splits by identity follow the FaceForensics++ protocol (Rössler et al. 2019,
 * https://arxiv.org/abs/1901.08971): no subject's frames on both sides of a split. */
#include "dataset/export.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"

const char *dsx_split_name(int split) {
    static const char *names[DSX_NSPLITS] = {"train", "val", "test"};
    SL_ASSERT(split >= 0 && split < DSX_NSPLITS);
    return names[split];
}

int dsx_parse_splits(const char *s, double frac[3], SlErr *err) {
    const char *p = s;
    double v[3], sum = 0;
    for (int k = 0; k < 3; k++) {
        char *end;
        v[k] = strtod(p, &end);
        if (end == p || !isfinite(v[k]) || v[k] < 0)
            return sl_fail(err, "--splits '%s': expected three non-negative numbers TRAIN/VAL/TEST, e.g. 70/15/15", s);
        p = end;
        if (k < 2) {
            if (*p != '/') return sl_fail(err, "--splits '%s': expected TRAIN/VAL/TEST, e.g. 70/15/15", s);
            p++;
        }
        sum += v[k];
    }
    if (*p) return sl_fail(err, "--splits '%s': unexpected '%s' after the third number", s, p);
    if (!(sum > 0)) return sl_fail(err, "--splits '%s': the shares sum to zero", s);
    if (v[DSX_TRAIN] == 0 || v[DSX_VAL] == 0 || v[DSX_TEST] == 0)
        return sl_fail(err, "--splits '%s': train, val and test each need a share (val calibrates the detector)", s);
    for (int k = 0; k < 3; k++) frac[k] = v[k] / sum;
    return 0;
}

int dsx_assign_splits(int n, const double frac[3], uint64_t seed, int *split, int counts[3], SlErr *err) {
    if (n < DSX_NSPLITS * DSX_MIN_PER_SPLIT)
        return sl_fail(err,
                       "%d identit%s given: a dataset split by identity needs at least %d (2 each for train, val and "
                       "test: val calibrates the detector's threshold, test measures it, and fakes are swaps between "
                       "identities of one split)",
                       n, n == 1 ? "y" : "ies", DSX_NSPLITS * DSX_MIN_PER_SPLIT);
    SL_ASSERT(frac[DSX_VAL] > 0 && frac[DSX_TEST] > 0 && frac[DSX_TRAIN] > 0);
    int test = (int)lround(frac[DSX_TEST] * n), val = (int)lround(frac[DSX_VAL] * n);
    if (test < DSX_MIN_PER_SPLIT) test = DSX_MIN_PER_SPLIT;
    if (val < DSX_MIN_PER_SPLIT) val = DSX_MIN_PER_SPLIT;
    int train = n - test - val;
    while (train < DSX_MIN_PER_SPLIT && val > DSX_MIN_PER_SPLIT) val--, train++;
    while (train < DSX_MIN_PER_SPLIT && test > DSX_MIN_PER_SPLIT) test--, train++;
    SL_ASSERT(train >= DSX_MIN_PER_SPLIT && test >= DSX_MIN_PER_SPLIT && val >= DSX_MIN_PER_SPLIT &&
              train + val + test == n);
    int *order = xmalloc((size_t)n * sizeof *order);
    for (int i = 0; i < n; i++) order[i] = i;
    SlRng rng;
    sl_rng_seed(&rng, seed ^ 0x5157a11d5e7ULL);
    for (int i = n - 1; i > 0; i--) {
        int j = sl_rng_int(&rng, i + 1), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (int r = 0; r < n; r++) split[order[r]] = r < test ? DSX_TEST : r < test + val ? DSX_VAL : DSX_TRAIN;
    free(order);
    if (counts) counts[DSX_TRAIN] = train, counts[DSX_VAL] = val, counts[DSX_TEST] = test;
    return 0;
}

DsxPair *dsx_pairs(int n_ids, const int *split, int *n) {
    DsxPair *p = NULL;
    int m = 0;
    for (int a = 0; a < n_ids; a++)
        for (int b = 0; b < n_ids; b++)
            if (a != b && split[a] == split[b]) {
                p = xrealloc(p, (size_t)(m + 1) * sizeof *p);
                p[m++] = (DsxPair){a, b};
            }
    *n = m;
    return p;
}

int dsx_partner(int id, int j, int k_others) {
    SL_ASSERT(k_others > 0 && id >= 0 && j >= 0);
    return (j + id) % k_others;
}

void dsx_face_box(const Affine *face, int crop, int size, Affine *box) {
    SL_ASSERT(crop > 0 && size > 0);
    double s = (double)size / crop;
    for (int k = 0; k < 6; k++) box->m[k] = face->m[k] * s;
}

void dsx_crop(const Image *frame, const Affine *box, int size, Image *out) {
    SL_ASSERT(frame->c == 3);
    align_warp(frame, box, size, size, ALIGN_BORDER_REPLICATE, NULL, out);
}

void dsx_csv_field(FILE *f, const char *s) {
    if (!s) s = "";
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void dsx_safe_name(char *out, size_t n, const char *s) {
    SL_ASSERT(n > 0);
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == '-';
        out[i] = ok ? c : '_';
    }
    out[i] = 0;
    if (out[0] == '.') out[0] = '_';
}

int dsx_sample_evenly(int n, int k, int *out) {
    if (n <= 0) return 0;
    if (k <= 0 || k >= n) {
        for (int i = 0; i < n; i++) out[i] = i;
        return n;
    }
    for (int j = 0; j < k; j++) out[j] = (int)(((2 * (long long)j + 1) * n) / (2 * (long long)k));
    return k;
}

int dsx_check_clip_splits(const DsxClip *clips, int n, const int *split, const char *const *subjects, SlErr *err) {
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (!strcmp(clips[a].sha256, clips[b].sha256) && split[clips[a].id] != split[clips[b].id])
                return sl_fail(err,
                               "clip %s (SHA-256 %.12s...) has faces of %s (split %s) and of %s (split %s): one video "
                               "would be on both sides of a split; leave one of the two face sets out or choose another "
                               "--seed",
                               clips[a].path, clips[a].sha256, subjects[clips[a].id], dsx_split_name(split[clips[a].id]),
                               subjects[clips[b].id], dsx_split_name(split[clips[b].id]));
    return 0;
}

int dsx_parse_versions(const char *s, int crf[DSX_MAX_VERSIONS], SlErr *err) {
    if (!s || !*s || !strcmp(s, "none")) return 0;
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        if ((*p != 'c' && *p != 'C') || p[1] < '0' || p[1] > '9')
            return sl_fail(err, "--video-versions: '%s' is not a list like c23,c40 (cN = H.264 at CRF N)", s);
        long v = strtol(p + 1, &end, 10);
        if (v < 0 || v > 51 || (*end && *end != ','))
            return sl_fail(err, "--video-versions: '%s': each version is cN with N a CRF 0..51", s);
        for (int i = 0; i < n; i++)
            if (crf[i] == v) return sl_fail(err, "--video-versions: c%ld given twice", v);
        if (n == DSX_MAX_VERSIONS) return sl_fail(err, "--video-versions: at most %d versions", DSX_MAX_VERSIONS);
        crf[n++] = (int)v;
        if (!*end) break;
        p = end + 1;
    }
    return n;
}
