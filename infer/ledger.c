/* ledger.c — the transparency log (ledger.h): RFC 9162 section 2.1 Merkle tree hashes, inclusion
 * and consistency proofs and their verification, signed tree heads, and the append-only folder with
 * flock(2) between writers and fsync before an append is acknowledged. */
#include "infer/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

#define STH_DOMAIN "swaplab-sth-v1\n"

/* ---- the tree ----------------------------------------------------------------------------------- */
void ledger_leaf_hash(const void *entry, size_t len, uint8_t out[32]) {
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    const uint8_t z = 0;
    crypto_hash_sha256_update(&s, &z, 1);
    crypto_hash_sha256_update(&s, entry, len);
    crypto_hash_sha256_final(&s, out);
}

static void node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32]) {
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    const uint8_t one = 1;
    crypto_hash_sha256_update(&s, &one, 1);
    crypto_hash_sha256_update(&s, l, 32);
    crypto_hash_sha256_update(&s, r, 32);
    crypto_hash_sha256_final(&s, out);
}

static uint64_t split_point(uint64_t n) { /* the largest power of two < n (n >= 2) */
    uint64_t k = 1;
    while (k << 1 < n) k <<= 1;
    return k;
}

void ledger_root(const uint8_t (*leaf)[32], uint64_t n, uint8_t out[32]) {
    if (n == 0) {
        crypto_hash_sha256(out, (const uint8_t *)"", 0);
    } else if (n == 1) {
        memcpy(out, leaf[0], 32);
    } else {
        uint64_t k = split_point(n);
        uint8_t l[32], r[32];
        ledger_root(leaf, k, l);
        ledger_root(leaf + k, n - k, r);
        node_hash(l, r, out);
    }
}

static int path_rec(const uint8_t (*leaf)[32], uint64_t n, uint64_t m, uint8_t path[][32], int len) {
    if (n <= 1) return len;
    uint64_t k = split_point(n);
    if (m < k) {
        len = path_rec(leaf, k, m, path, len);
        ledger_root(leaf + k, n - k, path[len]);
    } else {
        len = path_rec(leaf + k, n - k, m - k, path, len);
        ledger_root(leaf, k, path[len]);
    }
    return len + 1;
}

int ledger_inclusion_proof(const uint8_t (*leaf)[32], uint64_t n, uint64_t m, uint8_t path[][32]) {
    SL_ASSERT(m < n);
    return path_rec(leaf, n, m, path, 0);
}

int ledger_verify_inclusion(const uint8_t leaf_hash[32], uint64_t m, uint64_t n, const uint8_t path[][32], int len,
                            const uint8_t root[32]) {
    if (m >= n || len < 0 || len > LEDGER_MAX_PROOF) return 0;
    uint64_t fn = m, sn = n - 1;
    uint8_t r[32];
    memcpy(r, leaf_hash, 32);
    for (int i = 0; i < len; i++) {
        if (sn == 0) return 0;
        if ((fn & 1) || fn == sn) {
            node_hash(path[i], r, r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) fn >>= 1, sn >>= 1;
        } else {
            node_hash(r, path[i], r);
        }
        fn >>= 1, sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(r, root, 32) == 0;
}

static int subproof(const uint8_t (*leaf)[32], uint64_t m, uint64_t n, int whole, uint8_t path[][32], int len) {
    if (m == n) {
        if (!whole) ledger_root(leaf, n, path[len++]);
        return len;
    }
    uint64_t k = split_point(n);
    if (m <= k) {
        len = subproof(leaf, m, k, whole, path, len);
        ledger_root(leaf + k, n - k, path[len++]);
    } else {
        len = subproof(leaf + k, m - k, n - k, 0, path, len);
        ledger_root(leaf, k, path[len++]);
    }
    return len;
}

int ledger_consistency_proof(const uint8_t (*leaf)[32], uint64_t n1, uint64_t n2, uint8_t path[][32]) {
    SL_ASSERT(n1 > 0 && n1 <= n2);
    return subproof(leaf, n1, n2, 1, path, 0);
}

int ledger_verify_consistency(uint64_t n1, uint64_t n2, const uint8_t root1[32], const uint8_t root2[32],
                              const uint8_t path[][32], int len) {
    if (n1 == 0 || n1 > n2 || len < 0 || len > LEDGER_MAX_PROOF) return 0;
    if (n1 == n2) return len == 0 && sodium_memcmp(root1, root2, 32) == 0;
    uint8_t p[LEDGER_MAX_PROOF + 1][32];
    int np = 0;
    if ((n1 & (n1 - 1)) == 0) memcpy(p[np++], root1, 32); /* a power of two: the old root is a node */
    if (len + np > LEDGER_MAX_PROOF + 1 || len + np == 0) return 0;
    memcpy(p + np, path, (size_t)len * 32);
    np += len;
    uint64_t fn = n1 - 1, sn = n2 - 1;
    while (fn & 1) fn >>= 1, sn >>= 1;
    uint8_t fr[32], sr[32];
    memcpy(fr, p[0], 32);
    memcpy(sr, p[0], 32);
    for (int i = 1; i < np; i++) {
        if (sn == 0) return 0;
        if ((fn & 1) || fn == sn) {
            node_hash(p[i], fr, fr);
            node_hash(p[i], sr, sr);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) fn >>= 1, sn >>= 1;
        } else {
            node_hash(sr, p[i], sr);
        }
        fn >>= 1, sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(fr, root1, 32) == 0 && sodium_memcmp(sr, root2, 32) == 0;
}

/* ---- heads -------------------------------------------------------------------------------------- */
static size_t sth_message(const LedgerSth *s, char *buf, size_t n) {
    char root[65];
    sl_hex(root, s->root, 32);
    int k = snprintf(buf, n, STH_DOMAIN "%llu\n%s\n%s", (unsigned long long)s->tree_size, root, s->timestamp);
    SL_ASSERT(k > 0 && (size_t)k < n);
    return (size_t)k;
}

void ledger_sth_sign(LedgerSth *s, const SlKeypair *key) {
    char msg[256];
    size_t n = sth_message(s, msg, sizeof msg);
    memcpy(s->pk, key->pk, 32);
    sl_sign(key, msg, n, s->sig);
}

int ledger_sth_valid(const LedgerSth *s) {
    char msg[256];
    size_t n = sth_message(s, msg, sizeof msg);
    return sl_verify_sig(s->pk, msg, n, s->sig);
}

char *ledger_sth_json(const LedgerSth *s) {
    char root[65], pk[65], sig[129];
    sl_hex(root, s->root, 32), sl_hex(pk, s->pk, 32), sl_hex(sig, s->sig, 64);
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s}", "tree_size", (json_int_t)s->tree_size, "root", root, "timestamp",
                          s->timestamp, "public_key", pk, "signature", sig);
    char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return t;
}

int ledger_sth_parse(const char *text, LedgerSth *s) {
    memset(s, 0, sizeof *s);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    json_t *ts = json_object_get(o, "tree_size");
    const char *root = json_string_value(json_object_get(o, "root")), *t = json_string_value(json_object_get(o, "timestamp")),
               *pk = json_string_value(json_object_get(o, "public_key")), *sig = json_string_value(json_object_get(o, "signature"));
    int ok = json_is_object(o) && json_is_integer(ts) && json_integer_value(ts) >= 0 && root && t && pk && sig &&
             strlen(t) < sizeof s->timestamp && strlen(root) == 64 && !sl_unhex(s->root, 32, root) && strlen(pk) == 64 &&
             !sl_unhex(s->pk, 32, pk) && strlen(sig) == 128 && !sl_unhex(s->sig, 64, sig);
    if (ok) {
        s->tree_size = (uint64_t)json_integer_value(ts);
        snprintf(s->timestamp, sizeof s->timestamp, "%s", t);
    }
    json_decref(o);
    return ok ? 0 : -1;
}

/* ---- the folder --------------------------------------------------------------------------------- */
void ledger_default_dir(char *out, size_t n) {
    const char *e = getenv("SWAPLAB_LEDGER");
    if (e && *e) {
        sl_snprintf(out, n, "%s", e);
        return;
    }
    char key[SL_PATH_MAX];
    sl_key_default_path(key, sizeof key);
    char *slash = strrchr(key, '/');
    if (slash) *slash = 0;
    sl_snprintf(out, n, "%s/ledger", slash ? key : ".");
}

/* Splits data[0..len) into complete lines (the torn tail, if any, is left out). */
static int split_lines(char *data, size_t len, char ***lines, uint64_t *n, size_t *complete) {
    uint64_t m = 0;
    char **v = NULL;
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n') {
            if (m >= LEDGER_MAX_ENTRIES) {
                free(v);
                return -1;
            }
            if (!(m & (m - 1))) v = xrealloc(v, (size_t)(m ? 2 * m : 1) * sizeof *v);
            data[i] = 0;
            v[m++] = data + start;
            start = i + 1;
        }
    *lines = v;
    *n = m;
    *complete = start;
    return 0;
}

static int read_lines(const char *path, char **buf, char ***lines, uint64_t *n, size_t *complete, SlErr *err) {
    *buf = NULL, *lines = NULL, *n = 0, *complete = 0;
    if (!sl_is_file(path)) return 0;
    size_t len;
    if (sl_read_file(path, (size_t)4 << 30, buf, &len, err)) return -1;
    if (split_lines(*buf, len, lines, n, complete)) return sl_fail(err, "%s: more than %u lines", path, LEDGER_MAX_ENTRIES);
    return 0;
}

int ledger_load(const char *dir, Ledger *lg, SlErr *err) {
    memset(lg, 0, sizeof *lg);
    char p[SL_PATH_MAX];
    sl_path_join(p, sizeof p, dir, "entries.log");
    if (!sl_is_file(p)) return sl_fail(err, "%s: not a swaplab ledger (no entries.log)", dir);
    char *eb, *sb, **el, **sl;
    uint64_t ne, ns;
    size_t c;
    if (read_lines(p, &eb, &el, &ne, &c, err)) return -1;
    sl_path_join(p, sizeof p, dir, "sth.log");
    if (read_lines(p, &sb, &sl, &ns, &c, err)) {
        free(eb), free(el);
        return -1;
    }
    lg->n = ne;
    lg->leaf = xmalloc((size_t)(ne ? ne : 1) * 32);
    lg->entry = xmalloc((size_t)(ne ? ne : 1) * sizeof *lg->entry);
    for (uint64_t i = 0; i < ne; i++) {
        lg->entry[i] = xstrdup(el[i]);
        ledger_leaf_hash(el[i], strlen(el[i]), lg->leaf[i]);
    }
    lg->sth = xmalloc((size_t)(ns ? ns : 1) * sizeof *lg->sth);
    int bad = 0;
    for (uint64_t i = 0; i < ns; i++)
        if (ledger_sth_parse(sl[i], &lg->sth[lg->n_sth]) == 0) lg->n_sth++;
        else bad = 1;
    free(eb), free(el), free(sb), free(sl);
    if (bad) {
        ledger_free(lg);
        return sl_fail(err, "%s/sth.log: a tree head is not valid JSON with tree_size, root, timestamp, key, signature", dir);
    }
    return 0;
}

void ledger_free(Ledger *lg) {
    for (uint64_t i = 0; i < lg->n; i++) free(lg->entry[i]);
    free(lg->entry), free(lg->leaf), free(lg->sth);
    memset(lg, 0, sizeof *lg);
}

int64_t ledger_find(const Ledger *lg, const char *sha) {
    for (uint64_t i = lg->n; i-- > 0;) {
        json_error_t je;
        json_t *o = json_loads(lg->entry[i], 0, &je);
        const char *s = json_string_value(json_object_get(o, "sha256"));
        int hit = s && !strcmp(s, sha);
        json_decref(o);
        if (hit) return (int64_t)i;
    }
    return -1;
}

/* Cuts a torn last line (an append that crashed before its fsync) and returns the complete size. */
static int cut_torn(int fd, const char *path, off_t *size, SlErr *err) {
    struct stat st;
    if (fstat(fd, &st)) return sl_fail(err, "%s: %s", path, strerror(errno));
    off_t end = st.st_size;
    char c;
    while (end > 0) {
        if (pread(fd, &c, 1, end - 1) != 1) return sl_fail(err, "%s: read failed", path);
        if (c == '\n') break;
        end--;
    }
    if (end != st.st_size && ftruncate(fd, end)) return sl_fail(err, "%s: cannot cut a torn line: %s", path, strerror(errno));
    *size = end;
    return 0;
}

static int append_line(int fd, const char *path, const char *text, SlErr *err) {
    size_t n = strlen(text);
    char *line = xmalloc(n + 1);
    memcpy(line, text, n);
    line[n] = '\n';
    size_t done = 0;
    while (done < n + 1) {
        ssize_t w = write(fd, line + done, n + 1 - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            free(line);
            return sl_fail(err, "%s: write failed: %s", path, strerror(errno));
        }
        done += (size_t)w;
    }
    free(line);
    if (fsync(fd)) return sl_fail(err, "%s: fsync failed: %s", path, strerror(errno));
    return 0;
}

/* The compact range of a tree of n leaves: the roots of its perfect subtrees, largest first (one per
 * set bit of n). Appending a leaf merges equal-height neighbours; folding them from the right gives
 * the RFC 9162 root. It rides unsigned on each sth.log line ("frontier", with "entries_bytes": the
 * size of entries.log it covers), so an append costs O(log n), not a reread of the whole log. */
typedef struct {
    int n;
    uint8_t h[64][32];
    int height[64];
} Frontier;

static void frontier_push(Frontier *f, const uint8_t leaf[32]) {
    SL_ASSERT(f->n < 64);
    memcpy(f->h[f->n], leaf, 32);
    f->height[f->n++] = 0;
    while (f->n >= 2 && f->height[f->n - 1] == f->height[f->n - 2]) {
        node_hash(f->h[f->n - 2], f->h[f->n - 1], f->h[f->n - 2]);
        f->height[f->n - 2]++;
        f->n--;
    }
}

static void frontier_root(const Frontier *f, uint8_t out[32]) {
    if (!f->n) {
        crypto_hash_sha256(out, (const uint8_t *)"", 0);
        return;
    }
    memcpy(out, f->h[f->n - 1], 32);
    for (int i = f->n - 2; i >= 0; i--) node_hash(f->h[i], out, out);
}

/* Reads the frontier from the last line of sth.log if it covers exactly es bytes of entries.log. */
static int frontier_read(int sfd, off_t ss, off_t es, Frontier *f, uint64_t *n) {
    char buf[8192];
    off_t from = ss > (off_t)sizeof buf - 1 ? ss - (off_t)sizeof buf + 1 : 0;
    ssize_t got = ss > 0 ? pread(sfd, buf, (size_t)(ss - from), from) : 0;
    if (got <= 1) return -1;
    buf[got - 1] = 0; /* the last "\n" */
    char *line = strrchr(buf, '\n');
    line = line ? line + 1 : (from == 0 ? buf : NULL);
    if (!line) return -1;
    json_error_t je;
    json_t *o = json_loads(line, 0, &je), *fr = json_object_get(o, "frontier"), *eb = json_object_get(o, "entries_bytes"),
           *ts = json_object_get(o, "tree_size");
    int ok = json_is_array(fr) && json_is_integer(eb) && json_is_integer(ts) && json_integer_value(eb) == (json_int_t)es &&
             json_integer_value(ts) >= 0 && json_array_size(fr) == (size_t)__builtin_popcountll((unsigned long long)json_integer_value(ts));
    if (ok) {
        *n = (uint64_t)json_integer_value(ts);
        f->n = 0;
        for (int b = 63; b >= 0; b--)
            if (*n >> b & 1) {
                const char *h = json_string_value(json_array_get(fr, (size_t)f->n));
                if (!h || strlen(h) != 64 || sl_unhex(f->h[f->n], 32, h)) ok = 0;
                f->height[f->n++] = b;
                if (!ok) break;
            }
    }
    json_decref(o);
    return ok ? 0 : -1;
}

int ledger_append(const char *dir, const char *entry, const SlKeypair *key, uint64_t *index, SlErr *err) {
    if (strchr(entry, '\n')) return sl_fail(err, "ledger entry contains a newline");
    if (sl_mkdirs(dir, err)) return sl_failctx(err, "ledger %s", dir);
    char lp[SL_PATH_MAX], ep[SL_PATH_MAX], sp[SL_PATH_MAX];
    sl_path_join(lp, sizeof lp, dir, "lock");
    sl_path_join(ep, sizeof ep, dir, "entries.log");
    sl_path_join(sp, sizeof sp, dir, "sth.log");
    int lfd = open(lp, O_RDWR | O_CREAT, 0644);
    if (lfd < 0) return sl_fail(err, "%s: %s", lp, strerror(errno));
    while (flock(lfd, LOCK_EX) != 0)
        if (errno != EINTR) {
            close(lfd);
            return sl_fail(err, "%s: cannot lock: %s", lp, strerror(errno));
        }
    int efd = open(ep, O_RDWR | O_CREAT | O_APPEND, 0644), sfd = open(sp, O_RDWR | O_CREAT | O_APPEND, 0644), r = -1;
    off_t es, ss;
    Ledger lg = {0};
    if (efd < 0 || sfd < 0) {
        sl_fail(err, "%s: cannot open the log: %s", dir, strerror(errno));
        goto done;
    }
    if (cut_torn(efd, ep, &es, err) || cut_torn(sfd, sp, &ss, err)) goto done;
    if (es == 0) { /* a new log: make the folder entry durable too */
        int dfd = open(dir, O_RDONLY);
        if (dfd >= 0) fsync(dfd), close(dfd);
    }
    Frontier f;
    uint64_t n;
    if (frontier_read(sfd, ss, es, &f, &n)) { /* no head yet, or the last append died between its two lines */
        if (ledger_load(dir, &lg, err)) goto done;
        f.n = 0;
        for (uint64_t i = 0; i < lg.n; i++) frontier_push(&f, lg.leaf[i]);
        n = lg.n;
    }
    if (append_line(efd, ep, entry, err)) goto done;
    uint8_t leaf[32];
    ledger_leaf_hash(entry, strlen(entry), leaf);
    frontier_push(&f, leaf);
    LedgerSth s = {.tree_size = n + 1};
    frontier_root(&f, s.root);
    sl_utc_iso8601(s.timestamp);
    ledger_sth_sign(&s, key);
    char *t = ledger_sth_json(&s);
    json_error_t je;
    json_t *o = json_loads(t, JSON_PRESERVE_ORDER, &je), *fr = json_array();
    free(t);
    for (int i = 0; i < f.n; i++) {
        char h[65];
        sl_hex(h, f.h[i], 32);
        json_array_append_new(fr, json_string(h));
    }
    json_object_set_new(o, "entries_bytes", json_integer((json_int_t)(es + (off_t)strlen(entry) + 1)));
    json_object_set_new(o, "frontier", fr);
    t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    r = append_line(sfd, sp, t, err);
    free(t);
    if (!r && index) *index = n;
done:
    ledger_free(&lg);
    if (efd >= 0) close(efd);
    if (sfd >= 0) close(sfd);
    flock(lfd, LOCK_UN);
    close(lfd);
    return r;
}

int ledger_audit(const Ledger *lg, const uint8_t *trusted_pk, char *why, size_t n) {
    why[0] = 0;
    /* every head's root is recomputed from the same entries, in one pass (a frontier grows with the
     * leaves): heads that are all roots of prefixes of one list are consistent with each other */
    Frontier f = {0};
    uint64_t done = 0;
    uint8_t root[32];
    for (uint64_t i = 0; i < lg->n_sth; i++) {
        const LedgerSth *s = &lg->sth[i];
        if (!ledger_sth_valid(s)) return snprintf(why, n, "tree head %llu (size %llu): the signature does not verify",
                                                  (unsigned long long)i, (unsigned long long)s->tree_size), -1;
        if (trusted_pk && sodium_memcmp(s->pk, trusted_pk, 32))
            return snprintf(why, n, "tree head %llu is signed by a key that is not the trusted one", (unsigned long long)i), -1;
        if (s->tree_size > lg->n)
            return snprintf(why, n, "tree head %llu covers %llu entries but the log holds %llu: entries were deleted",
                            (unsigned long long)i, (unsigned long long)s->tree_size, (unsigned long long)lg->n), -1;
        if (s->tree_size < done)
            return snprintf(why, n, "tree head %llu is smaller than the one before it", (unsigned long long)i), -1;
        while (done < s->tree_size) frontier_push(&f, lg->leaf[done++]);
        frontier_root(&f, root);
        if (sodium_memcmp(root, s->root, 32))
            return snprintf(why, n, "tree head %llu (size %llu): its root is not the root of the log's first %llu entries: "
                                    "an entry was rewritten or removed", (unsigned long long)i,
                            (unsigned long long)s->tree_size, (unsigned long long)s->tree_size), -1;
    }
    return 0;
}

/* ---- pipelines ---------------------------------------------------------------------------------- */
int ledger_add_file(const char *dir, const char *path, const SlKeypair *key, uint64_t *index, SlErr *err) {
    char sha[65], when[32];
    if (sl_sha256_file(path, sha, err)) return -1;
    sl_utc_iso8601(when);
    const char *base = strrchr(path, '/');
    json_t *e = json_pack("{s:s,s:s,s:s,s:b}", "sha256", sha, "file", base ? base + 1 : path, "logged", when, "added", 1);
    char *t = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(e);
    int r = ledger_append(dir, t, key, index, err);
    free(t);
    return r;
}

static json_t *hex_path(const uint8_t path[][32], int len) {
    json_t *a = json_array();
    for (int i = 0; i < len; i++) {
        char h[65];
        sl_hex(h, path[i], 32);
        json_array_append_new(a, json_string(h));
    }
    return a;
}

static char *proof_text(const Ledger *lg, uint64_t i) {
    const LedgerSth *s = &lg->sth[lg->n_sth - 1];
    uint8_t path[LEDGER_MAX_PROOF][32];
    int len = ledger_inclusion_proof((const uint8_t(*)[32])lg->leaf, s->tree_size, i, path);
    char leaf[65], *sth = ledger_sth_json(s);
    sl_hex(leaf, lg->leaf[i], 32);
    json_error_t je;
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:s,s:o,s:o}", "format", "swaplab.ledger-proof/1", "entry", lg->entry[i],
                          "leaf_index", (json_int_t)i, "tree_size", (json_int_t)s->tree_size, "leaf_hash", leaf, "path",
                          hex_path((const uint8_t(*)[32])path, len), "tree_head", json_loads(sth, 0, &je));
    free(sth);
    char *t = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return t;
}

int ledger_prove_file(const Ledger *lg, const char *path, char **proof, SlErr *err) {
    char sha[65];
    if (sl_sha256_file(path, sha, err)) return -1;
    int64_t i = ledger_find(lg, sha);
    if (i < 0) return sl_fail(err, "%s: not in the log (no entry with SHA-256 %.16s...)", path, sha);
    if (!lg->n_sth || lg->sth[lg->n_sth - 1].tree_size <= (uint64_t)i)
        return sl_fail(err, "%s: entry %lld has no tree head over it yet", path, (long long)i);
    *proof = proof_text(lg, (uint64_t)i);
    return 0;
}

int ledger_check_proof(const char *text, const char *file, const uint8_t *trusted_pk, char *why, size_t n) {
    json_error_t je;
    json_t *o = json_loads(text, 0, &je), *p = json_object_get(o, "path"), *th = json_object_get(o, "tree_head");
    const char *entry = json_string_value(json_object_get(o, "entry"));
    json_t *li = json_object_get(o, "leaf_index");
    int r = -1;
    LedgerSth s;
    char *sth = th ? json_dumps(th, JSON_COMPACT) : NULL;
    size_t len = json_is_array(p) ? json_array_size(p) : 0;
    uint8_t path[LEDGER_MAX_PROOF][32], leaf[32];
    if (!json_is_object(o) || !entry || !json_is_integer(li) || json_integer_value(li) < 0 || !json_is_array(p) ||
        len > LEDGER_MAX_PROOF || !sth || ledger_sth_parse(sth, &s)) {
        snprintf(why, n, "not a swaplab ledger proof (entry, leaf_index, path, tree_head)");
        goto done;
    }
    for (size_t k = 0; k < len; k++) {
        const char *h = json_string_value(json_array_get(p, k));
        if (!h || strlen(h) != 64 || sl_unhex(path[k], 32, h)) {
            snprintf(why, n, "proof path element %zu is not a SHA-256 in hex", k);
            goto done;
        }
    }
    uint64_t i = (uint64_t)json_integer_value(li);
    ledger_leaf_hash(entry, strlen(entry), leaf);
    if (!ledger_sth_valid(&s)) {
        snprintf(why, n, "the tree head's signature does not verify");
    } else if (trusted_pk && sodium_memcmp(trusted_pk, s.pk, 32)) {
        snprintf(why, n, "the tree head is signed by a key that is not the trusted one");
    } else if (!ledger_verify_inclusion(leaf, i, s.tree_size, (const uint8_t(*)[32])path, (int)len, s.root)) {
        snprintf(why, n, "the inclusion proof does not reach the tree head's root (entry or path changed)");
    } else {
        char sha[65] = "";
        json_t *e = json_loads(entry, 0, &je);
        const char *esha = json_string_value(json_object_get(e, "sha256"));
        SlErr err;
        if (file && sl_sha256_file(file, sha, &err)) snprintf(why, n, "%s", err.msg);
        else if (file && (!esha || strcmp(esha, sha))) snprintf(why, n, "%s is not the file this entry logs (SHA-256 differs)", file);
        else {
            snprintf(why, n, "entry %llu of %llu is in the log whose tree head (%s) is signed by key %.16s...%s",
                     (unsigned long long)i, (unsigned long long)s.tree_size, s.timestamp, json_string_value(json_object_get(th, "public_key")),
                     trusted_pk ? " (trusted)" : " (pass --pubkey to require your lab's key)");
            r = 0;
        }
        json_decref(e);
    }
done:
    free(sth);
    json_decref(o);
    return r;
}

int ledger_check_old_head(const Ledger *lg, const LedgerSth *old, char *why, size_t n) {
    if (!ledger_sth_valid(old)) return snprintf(why, n, "the earlier tree head's signature does not verify"), -1;
    if (!lg->n_sth) return snprintf(why, n, "the log has no tree head"), -1;
    const LedgerSth *s = &lg->sth[lg->n_sth - 1];
    if (old->tree_size > s->tree_size)
        return snprintf(why, n, "the earlier head covers %llu entries, the log's newest only %llu: entries were deleted",
                        (unsigned long long)old->tree_size, (unsigned long long)s->tree_size), -1;
    if (old->tree_size == 0) return 0;
    uint8_t path[LEDGER_MAX_PROOF][32];
    int len = ledger_consistency_proof((const uint8_t(*)[32])lg->leaf, old->tree_size, s->tree_size, path);
    if (!ledger_verify_consistency(old->tree_size, s->tree_size, old->root, s->root, (const uint8_t(*)[32])path, len))
        return snprintf(why, n, "the earlier head (size %llu, %s) is NOT consistent with the log: an entry it covered was "
                                "rewritten or removed", (unsigned long long)old->tree_size, old->timestamp), -1;
    snprintf(why, n, "the earlier head (size %llu, %s) is consistent with the newest (size %llu)",
             (unsigned long long)old->tree_size, old->timestamp, (unsigned long long)s->tree_size);
    return 0;
}

static int write_text(const char *dir, const char *name, const char *text, SlErr *err) {
    char p[SL_PATH_MAX];
    sl_path_join(p, sizeof p, dir, name);
    return sl_write_atomic(p, text, strlen(text), err);
}

int ledger_export(const Ledger *lg, const char *out, SlErr *err) {
    if (!lg->n_sth) return sl_fail(err, "the log has no tree head: nothing to export");
    char pdir[SL_PATH_MAX];
    sl_path_join(pdir, sizeof pdir, out, "proofs");
    if (sl_mkdirs(pdir, err)) return -1;
    size_t cap = 1, len = 0;
    char *all = xmalloc(cap);
    all[0] = 0;
    for (int pass = 0; pass < 2; pass++) { /* entries.log, then sth.log */
        len = 0;
        for (uint64_t i = 0; i < (pass ? lg->n_sth : lg->n); i++) {
            char *line = pass ? ledger_sth_json(&lg->sth[i]) : lg->entry[i];
            size_t l = strlen(line);
            if (len + l + 2 > cap) cap = 2 * (len + l + 2), all = xrealloc(all, cap);
            memcpy(all + len, line, l);
            all[len + l] = '\n';
            len += l + 1;
            all[len] = 0;
            if (pass) free(line);
        }
        if (write_text(out, pass ? "sth.log" : "entries.log", all, err)) {
            free(all);
            return -1;
        }
    }
    free(all);
    char *sth = ledger_sth_json(&lg->sth[lg->n_sth - 1]);
    int r = write_text(out, "sth.json", sth, err);
    free(sth);
    for (uint64_t i = 0; !r && i < lg->sth[lg->n_sth - 1].tree_size; i++) {
        json_error_t je;
        json_t *e = json_loads(lg->entry[i], 0, &je);
        const char *sha = json_string_value(json_object_get(e, "sha256"));
        char name[128];
        snprintf(name, sizeof name, "proofs/%.64s.json", sha && strlen(sha) == 64 ? sha : "unknown");
        char *pt = proof_text(lg, i);
        r = write_text(out, name, pt, err);
        free(pt);
        json_decref(e);
    }
    if (!r)
        r = write_text(out, "README.txt",
                       "swaplab transparency log (RFC 9162-style Merkle tree), exported for checking.\n\n"
                       "entries.log  one logged output per line; leaf hash = SHA-256(0x00 || line)\n"
                       "sth.log      every signed tree head, oldest first; sth.json the newest\n"
                       "proofs/      one inclusion proof per output, named by the file's SHA-256\n\n"
                       "Check a file you were shown:\n"
                       "  sha256sum FILE   -> proofs/<that digest>.json\n"
                       "  swaplab ledger verify --proof proofs/<digest>.json --file FILE --pubkey LAB.pub\n"
                       "Check that the log you saw earlier was not rewritten: keep sth.json, and later run\n"
                       "  swaplab ledger verify --ledger DIR --since OLD-sth.json --pubkey LAB.pub\n",
                       err);
    return r;
}
