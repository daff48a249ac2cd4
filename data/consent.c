/* consent.c — consent manifests, the revocation list and the consent gate (see consent.h).
 * JSON through jansson (https://jansson.readthedocs.io/), digests and Ed25519 through util/crypto.h
 * (libsodium, https://doc.libsodium.org/public-key_cryptography/public-key_signatures). */
#include "data/consent.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "util/fs.h"
#include "util/lock.h"

#define MAX_DEPTH 8
#define MAX_IMAGES 2000000

/* ---- scopes -------------------------------------------------------------------------------- */
static const char *const SCOPE_NAMES[] = {"train", "swap", "dataset", "report"};
#define NSCOPES 4

static unsigned scope_bit(const char *s) {
    for (int i = 0; i < NSCOPES; i++)
        if (strcmp(s, SCOPE_NAMES[i]) == 0) return 1u << i;
    return 0;
}

int consent_scopes_parse(const char *list, unsigned *mask, SlErr *err) {
    *mask = 0;
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char w[32];
        if (n == 0 || n >= sizeof w)
            return sl_fail(err, "bad scope list '%s': expected a comma-separated subset of "
                                "train, swap, dataset, report", list);
        memcpy(w, p, n);
        w[n] = 0;
        unsigned b = strcmp(w, "all") == 0 ? CONSENT_SCOPE_ALL : scope_bit(w);
        if (!b)
            return sl_fail(err, "unknown scope '%s': the scopes are train, swap, dataset, report",
                           w);
        *mask |= b;
        p = e ? e + 1 : NULL;
    }
    if (!*mask) return sl_fail(err, "empty scope list: name at least one of train, swap, dataset, report");
    return 0;
}

void consent_scopes_format(unsigned mask, char *out, size_t n) {
    SL_ASSERT(n > 0);
    out[0] = 0;
    size_t len = 0;
    for (int i = 0; i < NSCOPES; i++) {
        if (!(mask & (1u << i))) continue;
        int w = snprintf(out + len, n - len, "%s%s", len ? "," : "", SCOPE_NAMES[i]);
        if (w < 0 || (size_t)w >= n - len) SL_DIE("scope buffer too small");
        len += (size_t)w;
    }
}

/* ---- dates --------------------------------------------------------------------------------- */
int consent_date_valid(const char *s) {
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

void consent_date_add_days(const char *date, int days, char out[16]) {
    SL_ASSERT(consent_date_valid(date));
    struct tm tm = {0};
    tm.tm_year = atoi(date) - 1900;
    tm.tm_mon = atoi(date + 5) - 1;
    tm.tm_mday = atoi(date + 8) + days;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    struct tm r;
    gmtime_r(&t, &r);
    strftime(out, 16, "%Y-%m-%d", &r);
}

/* ---- subjects ------------------------------------------------------------------------------ */
static int subject_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return s[0] != '.' && s[0] != '-';
}
#define SUBJECT_RULE "a pseudonym of 1..64 letters, digits, '.', '_' or '-' (not a real name)"

/* ---- images in a face set ------------------------------------------------------------------ */
static const char *const IMAGE_EXTS[] = {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".gif",
                                         ".tga", ".psd", ".hdr", ".pic", ".ppm", ".pgm", ".pnm",
                                         ".pbm", ".pam", ".webp", ".tif", ".tiff", ".jxl", ".avif",
                                         ".heic", ".heif", ".exr", ".ico", NULL};

static int has_image_ext(const char *name) {
    size_t a = strlen(name);
    for (int i = 0; IMAGE_EXTS[i]; i++) {
        size_t b = strlen(IMAGE_EXTS[i]);
        if (a > b && strcasecmp(name + a - b, IMAGE_EXTS[i]) == 0) return 1;
    }
    return 0;
}

/* Recognises image files by their first bytes, so renaming one does not hide it from the gate. */
static int has_image_magic(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char b[12] = {0};
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return 1;
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return 1;
    if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0)) return 1;
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) return 1;
    if (n >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0)) return 1;
    if (n >= 2 && b[0] == 'B' && b[1] == 'M' && n >= 12) return 1;
    if (n >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' &&
        (b[2] == '\n' || b[2] == ' ' || b[2] == '\r' || b[2] == '\t'))
        return 1;
    if (n >= 12 && memcmp(b + 4, "ftyp", 4) == 0 &&
        (memcmp(b + 8, "avif", 4) == 0 || memcmp(b + 8, "heic", 4) == 0 || memcmp(b + 8, "mif1", 4) == 0))
        return 1;
    return 0;
}

typedef struct {
    char **v;
    int n, cap;
} StrVec;

static void sv_push(StrVec *s, char *str) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 32;
        s->v = xrealloc(s->v, sizeof *s->v * (size_t)s->cap);
    }
    s->v[s->n++] = str;
}

typedef struct {
    dev_t dev;
    ino_t ino;
} DirId;

static int scan_dir(const char *root, const char *rel, int depth, DirId *stack, StrVec *out,
                    SlErr *err) {
    char full[SL_PATH_MAX];
    if (*rel) sl_path_join(full, sizeof full, root, rel);
    else sl_snprintf(full, sizeof full, "%s", root);
    struct stat st;
    if (stat(full, &st) != 0) return sl_fail(err, "%s: cannot read: %s", full, strerror(errno));
    for (int i = 0; i < depth; i++)
        if (stack[i].dev == st.st_dev && stack[i].ino == st.st_ino) return 0; /* a link loop */
    if (depth >= MAX_DEPTH)
        return sl_fail(err, "%s: folders nested deeper than %d levels in a face set", full, MAX_DEPTH);
    stack[depth].dev = st.st_dev;
    stack[depth].ino = st.st_ino;
    DIR *d = opendir(full);
    if (!d) return sl_fail(err, "%s: cannot open directory: %s", full, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char r[SL_PATH_MAX], f[SL_PATH_MAX];
        if (*rel) sl_path_join(r, sizeof r, rel, e->d_name);
        else sl_snprintf(r, sizeof r, "%s", e->d_name);
        sl_path_join(f, sizeof f, root, r);
        struct stat es;
        if (stat(f, &es) != 0) continue; /* a dangling link: no image behind it */
        if (S_ISDIR(es.st_mode)) {
            if ((rc = scan_dir(root, r, depth + 1, stack, out, err))) break;
        } else if (S_ISREG(es.st_mode)) {
            if (depth == 0 && strncmp(e->d_name, CONSENT_FILE, strlen(CONSENT_FILE)) == 0) continue;
            if (has_image_ext(e->d_name) || has_image_magic(f)) {
                if (out->n >= MAX_IMAGES) {
                    rc = sl_fail(err, "%s: more than %d images in one face set", root, MAX_IMAGES);
                    break;
                }
                sv_push(out, xstrdup(r));
            }
        }
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int consent_list_images(const char *dir, char ***paths, SlErr *err) {
    *paths = NULL;
    if (!sl_is_dir(dir)) return sl_fail(err, "%s: not a directory", dir);
    StrVec out = {0};
    DirId stack[MAX_DEPTH + 1];
    if (scan_dir(dir, "", 0, stack, &out, err)) {
        sl_free_list(out.v, out.n);
        return -1;
    }
    if (out.n) qsort(out.v, (size_t)out.n, sizeof *out.v, cmp_str);
    *paths = out.v;
    return out.n;
}

/* A path inside a manifest must stay inside the face set: relative, no "..", no empty parts. */
static int rel_path_ok(const char *p) {
    if (!*p || p[0] == '/' || strlen(p) > 1024 || strchr(p, '\\')) return 0;
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
        if (!e) break;
        s = e + 1;
        if (!*s) return 0;
    }
    return 1;
}

static int hex_ok(const char *s, size_t n) {
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static void copy_str(char *dst, size_t n, const char *s) {
    snprintf(dst, n, "%s", s ? s : "");
}

/* ---- JSON helpers --------------------------------------------------------------------------- */
static int load_json(const char *path, const char *data, size_t len, json_t **out, SlErr *err) {
    json_error_t je;
    *out = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out)
        return sl_fail(err, "%s:%d:%d: malformed JSON: %s", path, je.line, je.column, je.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return sl_fail(err, "%s: malformed: the top level must be a JSON object", path);
    }
    return 0;
}

int consent_load(const char *dir, void **root, SlErr *err) {
    *root = NULL;
    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, dir, CONSENT_FILE);
    if (!sl_is_file(path))
        return sl_fail(err, "%s: no consent manifest (record consent with 'swaplab consent init %s')",
                       path, dir);
    char *data;
    size_t len;
    if (sl_read_file(path, CONSENT_MAX_BYTES, &data, &len, err)) return -1;
    json_t *j;
    int rc = load_json(path, data, len, &j, err);
    free(data);
    if (rc) return -1;
    *root = j;
    return 0;
}

char *consent_canonical(const void *root) {
    json_t *c = json_deep_copy((json_t *)root);
    SL_ASSERT(c);
    json_object_del(c, "signature");
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(c);
    SL_ASSERT(s);
    char *out = xstrdup(s);
    free(s);
    /* jansson writes \uXXXX in upper case, Python's json.dumps in lower case: use lower case so
     * an independent checker in Python reproduces the bytes exactly. */
    for (char *p = out; *p; p++) {
        if (*p != '\\') continue;
        if (p[1] == 'u') {
            for (int k = 2; k < 6 && p[k]; k++)
                if (p[k] >= 'A' && p[k] <= 'F') p[k] = (char)(p[k] - 'A' + 'a');
            p += 5;
        } else if (p[1]) {
            p++;
        }
    }
    return out;
}

/* ---- reasons --------------------------------------------------------------------------------- */
void consent_reasons_free(ConsentReasons *r) {
    if (!r) return;
    sl_free_list(r->v, r->n);
    r->v = NULL;
    r->n = 0;
}

__attribute__((format(printf, 2, 3))) static void reason(ConsentReasons *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) SL_DIE("out of memory");
    va_end(ap);
    r->v = xrealloc(r->v, sizeof *r->v * (size_t)(r->n + 1));
    r->v[r->n++] = s;
}

static void reasons_to_err(const ConsentReasons *r, const char *dir, SlErr *err) {
    if (!err) return;
    if (r->n == 1) {
        sl_fail(err, "%s", r->v[0]);
        return;
    }
    char buf[sizeof err->msg];
    size_t len = (size_t)snprintf(buf, sizeof buf, "consent refused for %s (%d reasons):", dir, r->n);
    for (int i = 0; i < r->n; i++) {
        size_t need = strlen(r->v[i]) + 4;
        if (len + need + 96 >= sizeof buf) {
            snprintf(buf + len, sizeof buf - len,
                     "\n  ... and %d more (run 'swaplab consent verify %.200s' for all)", r->n - i, dir);
            break;
        }
        len += (size_t)snprintf(buf + len, sizeof buf - len, "\n  %s", r->v[i]);
    }
    sl_fail(err, "%s", buf);
}

/* ---- revocation list and lab policy ---------------------------------------------------------- */
void consent_revocations_default_path(char *out, size_t n) {
    const char *e = getenv("SWAPLAB_REVOCATIONS");
    if (e && *e) {
        sl_snprintf(out, n, "%s", e);
        return;
    }
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && *x) {
        sl_snprintf(out, n, "%s/swaplab/revoked.json", x);
        return;
    }
    const char *h = getenv("HOME");
    if (h && *h) sl_snprintf(out, n, "%s/.config/swaplab/revoked.json", h);
    else sl_snprintf(out, n, "%s", "");
}

void consent_revocations_free(ConsentRevocations *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        free(r->v[i].subject);
        free(r->v[i].sha256);
        free(r->v[i].date);
        free(r->v[i].reason);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

static const char *jstr(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A copy of s in which every byte that does not start a well-formed UTF-8 sequence (no overlong
 * forms, no surrogates, nothing above U+10FFFF) is replaced by U+FFFD. */
static char *utf8_sanitize(const char *s) {
    size_t n = strlen(s);
    char *out = xmalloc(3 * n + 1), *o = out;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = p[0];
        int len = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        int ok = len > 0;
        for (int k = 1; ok && k < len; k++) ok = (p[k] & 0xC0) == 0x80;
        if (ok && len == 3) {
            if (c == 0xE0 && p[1] < 0xA0) ok = 0;      /* overlong */
            if (c == 0xED && p[1] >= 0xA0) ok = 0;     /* surrogate */
        }
        if (ok && len == 4) {
            if (c == 0xF0 && p[1] < 0x90) ok = 0;      /* overlong */
            if (c == 0xF4 && p[1] >= 0x90) ok = 0;     /* above U+10FFFF */
        }
        if (!ok) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
            continue;
        }
        memcpy(o, p, (size_t)len);
        o += len;
        p += len;
    }
    *o = 0;
    return out;
}

/* {"algorithm": "ed25519", "public_key": 64 hex, "value": 128 hex} -> key and signature bytes. */
static int parse_signature(json_t *sig, uint8_t pk[32], uint8_t sv[64]) {
    const char *alg = json_is_object(sig) ? jstr(sig, "algorithm") : NULL;
    const char *pkh = json_is_object(sig) ? jstr(sig, "public_key") : NULL;
    const char *val = json_is_object(sig) ? jstr(sig, "value") : NULL;
    if (!alg || strcmp(alg, "ed25519") != 0 || !pkh || !hex_ok(pkh, 64) || !val || !hex_ok(val, 128)) return -1;
    SL_ASSERT(sl_unhex(pk, 32, pkh) == 0 && sl_unhex(sv, 64, val) == 0);
    return 0;
}

static int path_exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

/* The same file (by device and inode when both exist, else by name). */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcmp(a, b) == 0;
}

static int revocations_load(const char *path, int missing_ok, ConsentRevocations *out, SlErr *err) {
    memset(out, 0, sizeof *out);
    if (!*path) {
        if (missing_ok) return 0;
        return sl_fail(err, "no revocation list path: set $SWAPLAB_REVOCATIONS or $HOME, or pass --revocations FILE");
    }
    if (!path_exists(path)) {
        if (missing_ok) return 0;
        return sl_fail(err, "%s: no revocation list there (a list named explicitly or by a lab policy must "
                            "exist; an empty one is {\"format\": \"%s\", \"revoked\": []})",
                       path, CONSENT_REVOCATIONS_FORMAT);
    }
    char *data;
    size_t len;
    if (sl_read_file(path, CONSENT_MAX_BYTES, &data, &len, err)) return -1;
    json_t *j;
    int rc = load_json(path, data, len, &j, err);
    free(data);
    if (rc) return -1;
    const char *fmt = jstr(j, "format");
    json_t *list = json_object_get(j, "revoked");
    if (!fmt || strcmp(fmt, CONSENT_REVOCATIONS_FORMAT) != 0 || !json_is_array(list)) {
        json_decref(j);
        return sl_fail(err, "%s: not a revocation list (expected format \"%s\" and a \"revoked\" array)",
                       path, CONSENT_REVOCATIONS_FORMAT);
    }
    json_t *sig = json_object_get(j, "signature");
    if (sig) {
        uint8_t sv[64];
        if (parse_signature(sig, out->signer_pk, sv)) {
            json_decref(j);
            return sl_fail(err, "%s: bad signature: \"signature\" must be {\"algorithm\": \"ed25519\", "
                                "\"public_key\": 64 hex digits, \"value\": 128 hex digits}", path);
        }
        char *canon = consent_canonical(j);
        int ok = sl_verify_sig(out->signer_pk, canon, strlen(canon), sv) == 1;
        free(canon);
        if (!ok) {
            json_decref(j);
            return sl_fail(err, "%s: bad signature: the revocation list was changed after it was signed "
                                "(or the signature is forged)", path);
        }
        out->is_signed = out->signature_ok = 1;
    }
    size_t n = json_array_size(list);
    out->v = xcalloc(n ? n : 1, sizeof *out->v);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(list, i);
        const char *s = json_is_object(e) ? jstr(e, "subject") : NULL;
        const char *h = json_is_object(e) ? jstr(e, "sha256") : NULL;
        const char *bad = NULL;
        if (!json_is_object(e)) bad = "is not an object";
        else if (json_object_get(e, "subject") && (!s || !*s)) bad = "has a \"subject\" that is not a non-empty string";
        else if (json_object_get(e, "sha256") && (!h || !hex_ok(h, 64)))
            bad = "has a \"sha256\" that is not 64 lower-case hex digits";
        else if (!s && !h) bad = "names neither a \"subject\" nor a manifest \"sha256\"";
        if (bad) {
            json_decref(j);
            consent_revocations_free(out);
            return sl_fail(err, "%s: revoked entry %zu %s", path, i + 1, bad);
        }
        const char *d = jstr(e, "date"), *r = jstr(e, "reason");
        out->v[out->n].subject = xstrdup(s ? s : "");
        out->v[out->n].sha256 = xstrdup(h ? h : "");
        out->v[out->n].date = xstrdup(d ? d : "");
        out->v[out->n].reason = xstrdup(r ? r : "");
        out->n++;
    }
    json_decref(j);
    return 0;
}

int consent_revocations_load(const char *path, ConsentRevocations *out, SlErr *err) {
    char def[SL_PATH_MAX];
    if (!path) {
        consent_revocations_default_path(def, sizeof def);
        return revocations_load(def, 1, out, err);
    }
    return revocations_load(path, 0, out, err);
}

const ConsentRevocation *consent_revocations_find(const ConsentRevocations *r, const char *subject) {
    for (int i = 0; r && subject && *subject && i < r->n; i++)
        if (strcmp(r->v[i].subject, subject) == 0) return &r->v[i];
    return NULL;
}

const ConsentRevocation *consent_revocations_find_digest(const ConsentRevocations *r, const char *sha256) {
    for (int i = 0; r && sha256 && *sha256 && i < r->n; i++)
        if (strcmp(r->v[i].sha256, sha256) == 0) return &r->v[i];
    return NULL;
}

/* policy */
int consent_policy_key(const ConsentPolicy *p, const uint8_t pk[32]) {
    for (int i = 0; i < p->nkeys; i++)
        if (memcmp(p->pk[i], pk, 32) == 0) return i;
    return -1;
}

int consent_policy_load(const char *path, ConsentPolicy *p, SlErr *err) {
    memset(p, 0, sizeof *p);
    sl_snprintf(p->path, sizeof p->path, "%s", path);
    if (!path_exists(path)) return sl_fail(err, "%s: no lab policy file there", path);
    char *data;
    size_t len;
    if (sl_read_file(path, CONSENT_MAX_BYTES, &data, &len, err)) return -1;
    json_t *j;
    int rc = load_json(path, data, len, &j, err);
    free(data);
    if (rc) return -1;
    const char *fmt = jstr(j, "format");
    json_t *co = json_object_get(j, "coordinators");
    json_t *rv = json_object_get(j, "revocations");
    json_t *cs = json_object_get(j, "course");
    rc = -1;
    if (!fmt || strcmp(fmt, CONSENT_POLICY_FORMAT) != 0) {
        sl_fail(err, "%s: not a lab policy (expected format \"%s\")", path, CONSENT_POLICY_FORMAT);
    } else if (!json_is_array(co) || json_array_size(co) == 0 || json_array_size(co) > CONSENT_POLICY_MAX_KEYS) {
        sl_fail(err, "%s: \"coordinators\" must be an array of 1 to %d {\"name\", \"public_key\"}", path,
                CONSENT_POLICY_MAX_KEYS);
    } else if (rv && (!json_is_string(rv) || !*json_string_value(rv) || strlen(json_string_value(rv)) > 2048)) {
        sl_fail(err, "%s: \"revocations\" must be the path of the revocation list", path);
    } else if (cs && !json_is_string(cs)) {
        sl_fail(err, "%s: \"course\" must be a string", path);
    } else {
        rc = 0;
        size_t i;
        json_t *e;
        json_array_foreach(co, i, e) {
            const char *name = json_is_object(e) ? jstr(e, "name") : NULL;
            const char *pk = json_is_object(e) ? jstr(e, "public_key") : NULL;
            if (!name || !*name || !pk || !hex_ok(pk, 64)) {
                rc = sl_fail(err, "%s: coordinators[%zu] must be {\"name\": string, \"public_key\": 64 lower-case hex "
                                  "digits (the second line of a .pub file from swaplab keygen)}", path, i);
                break;
            }
            SL_ASSERT(sl_unhex(p->pk[p->nkeys], 32, pk) == 0);
            copy_str(p->name[p->nkeys], sizeof p->name[0], name);
            p->nkeys++;
        }
        if (cs) copy_str(p->course, sizeof p->course, json_string_value(cs));
        if (!rc && rv) {
            const char *r = json_string_value(rv);
            const char *slash = strrchr(path, '/');
            if (r[0] == '/' || !slash) sl_snprintf(p->revocations, sizeof p->revocations, "%s", r);
            else sl_snprintf(p->revocations, sizeof p->revocations, "%.*s/%s", (int)(slash - path), path, r);
        }
    }
    json_decref(j);
    return rc;
}

int consent_policy_find(const char *explicit_path, const char *system_path, ConsentPolicy *p, SlErr *err) {
    const char *sys = system_path ? system_path : CONSENT_POLICY_SYSTEM;
    const char *chosen = NULL, *how = NULL;
    char user[SL_PATH_MAX] = "";
    const char *env = getenv("SWAPLAB_POLICY");
    if (explicit_path && *explicit_path) {
        chosen = explicit_path;
        how = "--policy";
    } else if (env && *env) {
        chosen = env;
        how = "$SWAPLAB_POLICY";
    } else {
        const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
        if (x && *x) sl_snprintf(user, sizeof user, "%s/swaplab/policy.json", x);
        else if (h && *h) sl_snprintf(user, sizeof user, "%s/.config/swaplab/policy.json", h);
        if (*user && path_exists(user)) chosen = user, how = "the per-user policy";
    }
    if (*sys && path_exists(sys)) {
        if (chosen && !same_file(chosen, sys))
            return sl_fail(err, "%s (%s): the system-wide lab policy %s is in force on this machine and may not be "
                                "replaced by another", chosen, how, sys);
        chosen = sys;
    }
    if (!chosen) return 0;
    if (consent_policy_load(chosen, p, err)) return -1;
    return 1;
}

int consent_policy_select(const char *path, SlErr *err) {
    if (!path) return 0;
    ConsentPolicy p;
    if (consent_policy_find(path, NULL, &p, err) < 0) return -1;
    if (setenv("SWAPLAB_POLICY", p.path, 1) != 0) return sl_fail(err, "%s: cannot set $SWAPLAB_POLICY", path);
    return 0;
}

/* The revocation list under opt and a known policy state (has_policy 1: pol). */
static int revocations_under(const ConsentOptions *opt, int has_policy, const ConsentPolicy *pol,
                             ConsentRevocations *out, char *where, size_t n, SlErr *err) {
    memset(out, 0, sizeof *out);
    const char *expl = opt ? opt->revocations : NULL;
    char path[SL_PATH_MAX];
    int must_exist = 1;
    if (has_policy && pol->revocations[0]) {
        if (expl && !same_file(expl, pol->revocations))
            return sl_fail(err, "%s: the lab policy %s names the revocation list %s; no other list may be used "
                                "under it", expl, pol->path, pol->revocations);
        sl_snprintf(path, sizeof path, "%s", pol->revocations);
    } else if (expl) {
        sl_snprintf(path, sizeof path, "%s", expl);
    } else {
        consent_revocations_default_path(path, sizeof path);
        must_exist = has_policy;
    }
    if (where) sl_snprintf(where, n, "%s", path);
    if (revocations_load(path, !must_exist, out, err)) return -1;
    if (has_policy && (!out->is_signed || consent_policy_key(pol, out->signer_pk) < 0)) {
        char pkh[65] = "";
        if (out->is_signed) sl_hex(pkh, out->signer_pk, 32);
        consent_revocations_free(out);
        if (!*pkh)
            return sl_fail(err, "%s: the revocation list is not signed, but the lab policy %s requires a "
                                "coordinator's signature ('swaplab consent revoke ... --sign KEY')", path, pol->path);
        return sl_fail(err, "%s: the revocation list is signed by key %.16s..., which is not a coordinator key of "
                            "the lab policy %s", path, pkh, pol->path);
    }
    return 0;
}

int consent_revocations_for(const ConsentOptions *opt, ConsentRevocations *out, char *where, size_t n,
                            SlErr *err) {
    memset(out, 0, sizeof *out);
    ConsentPolicy pol;
    int hp = consent_policy_find(opt ? opt->policy : NULL, opt ? opt->system_policy : NULL, &pol, err);
    if (hp < 0) return -1;
    return revocations_under(opt, hp, &pol, out, where, n, err);
}

int consent_is_revoked_digest(const char *path, const char *subject, const char *digest, char *reason_out,
                              size_t n, SlErr *err) {
    ConsentRevocations r;
    ConsentOptions o = {.revocations = path};
    if (consent_revocations_for(&o, &r, NULL, 0, err)) return -1;
    const ConsentRevocation *hit = consent_revocations_find(&r, subject);
    if (!hit) hit = consent_revocations_find_digest(&r, digest);
    if (hit && reason_out && n) {
        if (*hit->subject && subject && strcmp(hit->subject, subject) == 0) snprintf(reason_out, n, "%s", hit->reason);
        else snprintf(reason_out, n, "manifest %.16s... revoked: %s", hit->sha256, hit->reason);
    }
    int revoked = hit != NULL;
    consent_revocations_free(&r);
    return revoked;
}

int consent_is_revoked(const char *path, const char *subject, char *reason_out, size_t n, SlErr *err) {
    return consent_is_revoked_digest(path, subject, NULL, reason_out, n, err);
}

static json_t *pack_entry(const char *subject, const char *sha, const char *date, const char *reason) {
    json_t *e = json_object();
    if (subject && *subject) json_object_set_new(e, "subject", json_string(subject));
    if (sha && *sha) json_object_set_new(e, "sha256", json_string(sha));
    json_object_set_new(e, "date", json_string(date));
    json_t *rs = json_string(reason);
    SL_ASSERT(rs); /* sanitized or read from JSON: valid UTF-8 */
    json_object_set_new(e, "reason", rs);
    SL_ASSERT(json_object_size(e) >= 3);
    return e;
}

/* Where consent_revoke writes: the policy's list, else path, else the default. Returns whether a
 * policy is in force (0/1, pol filled when 1) or -1 with err. */
static int revocations_target(const char *path, ConsentPolicy *pol, char *where, size_t n, SlErr *err) {
    int hp = consent_policy_find(NULL, NULL, pol, err);
    if (hp < 0) return -1;
    if (hp == 1 && pol->revocations[0]) {
        if (path && !same_file(path, pol->revocations))
            return sl_fail(err, "%s: the lab policy %s names the revocation list %s; revoke into that one", path,
                           pol->path, pol->revocations);
        sl_snprintf(where, n, "%s", pol->revocations);
    } else if (path) {
        sl_snprintf(where, n, "%s", path);
    } else {
        consent_revocations_default_path(where, n);
    }
    if (!*where)
        return sl_fail(err, "no revocation list path: set $SWAPLAB_REVOCATIONS or $HOME, or pass --revocations FILE");
    return hp;
}

int consent_revocations_path(const char *path, char *out, size_t n, SlErr *err) {
    ConsentPolicy pol;
    return revocations_target(path, &pol, out, n, err) < 0 ? -1 : 0;
}

/* Writes the list (entries: a JSON array, consumed) to where atomically, signed when sign. */
static int write_list(const char *where, json_t *list, const char *today, const SlKeypair *sign, SlErr *err) {
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(CONSENT_REVOCATIONS_FORMAT));
    json_object_set_new(root, "updated", json_string(today));
    json_object_set_new(root, "revoked", list);
    if (sign) {
        char *canon = consent_canonical(root);
        uint8_t sig[64];
        sl_sign(sign, canon, strlen(canon), sig);
        free(canon);
        char pkh[65], sgh[129];
        sl_hex(pkh, sign->pk, 32);
        sl_hex(sgh, sig, 64);
        json_object_set_new(root, "signature", json_pack("{s:s,s:s,s:s}", "algorithm", "ed25519", "public_key", pkh,
                                                         "value", sgh));
    }
    char *s = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    SL_ASSERT(s);
    char dir[SL_PATH_MAX];
    sl_snprintf(dir, sizeof dir, "%s", where);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = 0;
        rc = sl_mkdirs(dir, err);
    }
    if (!rc) {
        size_t n = strlen(s);
        s = xrealloc(s, n + 2);
        s[n] = '\n';
        s[n + 1] = 0;
        rc = sl_write_atomic(where, s, n + 1, err);
    }
    free(s);
    return rc;
}

int consent_revocations_create(const char *path, const SlKeypair *sign, SlErr *err) {
    ConsentPolicy pol;
    char where[SL_PATH_MAX];
    int hp = revocations_target(path, &pol, where, sizeof where, err);
    if (hp < 0) return -1;
    if (hp == 1 && (!sign || consent_policy_key(&pol, sign->pk) < 0))
        return sl_fail(err, "%s: under the lab policy %s the revocation list must be signed by a coordinator: pass "
                            "--sign KEYFILE with a coordinator's secret key", where, pol.path);
    if (path_exists(where)) return sl_fail(err, "%s: a revocation list is already there; it is kept", where);
    char today[16];
    sl_utc_date(today);
    return write_list(where, json_array(), today, sign, err);
}

static int revoke_locked(const char *where, const char *subject, const char *sha, const char *why, const char *date,
                         const char *today, const SlKeypair *sign, int *already, SlErr *err);

int consent_revoke(const char *path, const char *subject, const char *sha256, const char *why, const char *date,
                   const SlKeypair *sign, int *already, SlErr *err) {
    if (already) *already = 0;
    if (subject && !subject_valid(subject))
        return sl_fail(err, "bad subject '%s': it must be %s", subject, SUBJECT_RULE);
    char sha[65] = "";
    if (sha256) {
        if (strlen(sha256) != 64) return sl_fail(err, "bad manifest digest '%.80s': expected 64 hex digits", sha256);
        for (int i = 0; i < 64; i++) sha[i] = (char)((sha256[i] >= 'A' && sha256[i] <= 'F') ? sha256[i] - 'A' + 'a' : sha256[i]);
        sha[64] = 0;
        if (!hex_ok(sha, 64)) return sl_fail(err, "bad manifest digest '%.80s': expected 64 hex digits", sha256);
    }
    if (!subject && !*sha) return sl_fail(err, "a revocation names a subject or a manifest digest");
    if (!why || !*why) return sl_fail(err, "a revocation needs a reason (e.g. \"subject withdrew consent\")");
    char today[16];
    sl_utc_date(today);
    if (!date) date = today;
    if (!consent_date_valid(date)) return sl_fail(err, "bad date '%s': expected YYYY-MM-DD", date);

    ConsentPolicy pol;
    char where[SL_PATH_MAX];
    int hp = revocations_target(path, &pol, where, sizeof where, err);
    if (hp < 0) return sl_failctx(err, "refusing to rewrite the revocation list");
    if (hp == 1 && (!sign || consent_policy_key(&pol, sign->pk) < 0))
        return sl_fail(err, "%s: under the lab policy %s the revocation list must be signed by a coordinator: pass "
                            "--sign KEYFILE with a coordinator's secret key", where, pol.path);
    /* two revocations at once must not lose one: the read-modify-write holds WHERE.lock */
    char parent[SL_PATH_MAX];
    sl_snprintf(parent, sizeof parent, "%s", where);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        if (sl_mkdirs(parent, err)) return -1;
    }
    char lpath[SL_PATH_MAX];
    sl_snprintf(lpath, sizeof lpath, "%s.lock", where);
    SlLock lock;
    if (sl_lock_file(&lock, lpath, "swaplab consent revoke", err)) return -1;
    int rc = revoke_locked(where, subject, sha, why, date, today, sign, already, err);
    sl_unlock(&lock);
    return rc;
}

static int revoke_locked(const char *where, const char *subject, const char *sha, const char *why, const char *date,
                         const char *today, const SlKeypair *sign, int *already, SlErr *err) {
    ConsentRevocations r;
    if (revocations_load(where, 1, &r, err)) return sl_failctx(err, "refusing to rewrite the revocation list");
    if (r.is_signed && !sign) {
        char pkh[65];
        sl_hex(pkh, r.signer_pk, 32);
        consent_revocations_free(&r);
        return sl_fail(err, "%s: the revocation list is signed (key %.16s...); pass --sign KEYFILE so it stays signed",
                       where, pkh);
    }
    if ((!subject || consent_revocations_find(&r, subject)) && (!*sha || consent_revocations_find_digest(&r, sha))) {
        consent_revocations_free(&r);
        if (already) *already = 1;
        return 0;
    }
    json_t *list = json_array();
    for (int i = 0; i < r.n; i++)
        json_array_append_new(list, pack_entry(r.v[i].subject, r.v[i].sha256, r.v[i].date, r.v[i].reason));
    consent_revocations_free(&r);
    char *clean = utf8_sanitize(why);
    json_array_append_new(list, pack_entry(subject, sha, date, clean));
    free(clean);
    return write_list(where, list, today, sign, err);
}

/* ---- the gate -------------------------------------------------------------------------------- */
typedef struct {
    const char *path, *sha;
} Entry;

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const Entry *)a)->path, ((const Entry *)b)->path);
}


/* Checks the string field key; reports it missing or mistyped. Returns the value or NULL. */
static const char *need_str(json_t *j, const char *key, const char *path, ConsentReasons *r) {
    json_t *v = json_object_get(j, key);
    if (!v) {
        reason(r, "%s: missing field \"%s\"", path, key);
        return NULL;
    }
    if (!json_is_string(v) || !*json_string_value(v)) {
        reason(r, "%s: field \"%s\" must be a non-empty string", path, key);
        return NULL;
    }
    return json_string_value(v);
}

static void check_signature(json_t *j, const char *path, const ConsentOptions *opt, ConsentInfo *info,
                            ConsentReasons *r) {
    json_t *sig = json_object_get(j, "signature");
    if (!sig) {
        if (opt && opt->trusted_pk)
            reason(r, "%s: not signed, but a signature by the coordinator's key is required", path);
        return;
    }
    info->is_signed = 1;
    const char *alg = json_is_object(sig) ? jstr(sig, "algorithm") : NULL;
    const char *pkh = json_is_object(sig) ? jstr(sig, "public_key") : NULL;
    const char *val = json_is_object(sig) ? jstr(sig, "value") : NULL;
    if (!alg || strcmp(alg, "ed25519") != 0 || !pkh || !hex_ok(pkh, 64) || !val || !hex_ok(val, 128)) {
        reason(r, "%s: bad signature: \"signature\" must be {\"algorithm\": \"ed25519\", "
                  "\"public_key\": 64 hex digits, \"value\": 128 hex digits}", path);
        return;
    }
    copy_str(info->signer_pk, sizeof info->signer_pk, pkh);
    uint8_t pk[32], sv[64];
    SL_ASSERT(sl_unhex(pk, 32, pkh) == 0 && sl_unhex(sv, 64, val) == 0);
    char *canon = consent_canonical(j);
    int ok = sl_verify_sig(pk, canon, strlen(canon), sv) == 1;
    free(canon);
    if (!ok) {
        reason(r, "%s: bad signature: the manifest was changed after key %.16s... signed it "
                  "(or the signature is forged)", path, pkh);
        return;
    }
    if (opt && opt->trusted_pk && memcmp(opt->trusted_pk, pk, 32) != 0) {
        reason(r, "%s: signed by key %.16s..., not by the required coordinator key", path, pkh);
        return;
    }
    info->signature_ok = 1;
}

static void check_images(json_t *j, const char *dir, const char *path, ConsentInfo *info,
                         ConsentReasons *r) {
    json_t *imgs = json_object_get(j, "images");
    if (!imgs) {
        reason(r, "%s: missing field \"images\" (the SHA-256 of every image in the set)", path);
        return;
    }
    if (!json_is_array(imgs)) {
        reason(r, "%s: field \"images\" must be an array of {\"path\", \"sha256\"}", path);
        return;
    }
    size_t n = json_array_size(imgs);
    Entry *ent = xcalloc(n ? n : 1, sizeof *ent);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(imgs, i);
        const char *p = json_is_object(e) ? jstr(e, "path") : NULL;
        const char *h = json_is_object(e) ? jstr(e, "sha256") : NULL;
        if (!p || !h) {
            reason(r, "%s: images[%zu] must be {\"path\": string, \"sha256\": string}", path, i);
            continue;
        }
        if (!rel_path_ok(p)) {
            reason(r, "%s: images[%zu]: path '%.200s' must be relative and stay inside the face set", path, i, p);
            continue;
        }
        if (!hex_ok(h, 64)) {
            reason(r, "%s: images[%zu] (%.200s): sha256 must be 64 lower-case hex digits", path, i, p);
            continue;
        }
        ent[m].path = p;
        ent[m].sha = h;
        m++;
    }
    info->nimages = (int)m;
    if (m) qsort(ent, m, sizeof *ent, cmp_entry);
    for (size_t i = 1; i < m; i++)
        if (strcmp(ent[i].path, ent[i - 1].path) == 0)
            reason(r, "%s: image %.200s is listed twice", path, ent[i].path);
    for (size_t i = 0; i < m; i++) {
        if (i && strcmp(ent[i].path, ent[i - 1].path) == 0) continue;
        char full[SL_PATH_MAX];
        sl_path_join(full, sizeof full, dir, ent[i].path);
        if (!sl_is_file(full)) {
            reason(r, "%s: image removed since consent was recorded (listed in %s, no longer there)", full, path);
            continue;
        }
        char hex[65];
        SlErr e2;
        if (sl_sha256_file(full, hex, &e2)) {
            reason(r, "%s", e2.msg);
            continue;
        }
        if (strcmp(hex, ent[i].sha) != 0)
            reason(r, "%s: image changed since consent was recorded (SHA-256 differs from %s)", full, path);
    }
    char **disk;
    SlErr e3;
    int nd = consent_list_images(dir, &disk, &e3);
    if (nd < 0) {
        reason(r, "%s", e3.msg);
    } else {
        for (int i = 0; i < nd; i++) {
            Entry key = {disk[i], NULL};
            if (m && bsearch(&key, ent, m, sizeof *ent, cmp_entry)) continue;
            char full[SL_PATH_MAX];
            sl_path_join(full, sizeof full, dir, disk[i]);
            reason(r, "%s: image added since consent was recorded (not listed in %s)", full, path);
        }
        sl_free_list(disk, nd);
    }
    free(ent);
}

int consent_check(const char *dir, const char *use, const ConsentOptions *opt, ConsentInfo *info,
                  ConsentReasons *why, SlErr *err) {
    sl_crypto_init();
    ConsentInfo local_info;
    if (!info) info = &local_info;
    memset(info, 0, sizeof *info);
    ConsentReasons local = {0}, *r = why ? why : &local;
    r->n = 0;
    r->v = NULL;
    unsigned use_bit = 0;
    if (use) {
        use_bit = scope_bit(use);
        if (!use_bit) SL_DIE("consent_check: unknown use '%s'", use);
    }
    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, dir, CONSENT_FILE);
    json_t *j = NULL;
    char *data = NULL;
    size_t len = 0;
    SlErr e;
    ConsentPolicy pol;
    int has_policy = consent_policy_find(opt ? opt->policy : NULL, opt ? opt->system_policy : NULL, &pol, &e);
    if (has_policy < 0)
        reason(r, "%s (the lab policy cannot be read, so refusing)", e.msg);
    if (!sl_is_dir(dir)) {
        reason(r, "%s: not a face-set directory", dir);
        goto done;
    }
    if (!sl_is_file(path)) {
        reason(r, "%s: missing consent manifest: nothing in %s may be used until consent is recorded "
                  "('swaplab consent init %s --subject ID --coordinator NAME --scopes ... --expires DATE')",
               path, dir, dir);
        goto done;
    }
    if (sl_read_file(path, CONSENT_MAX_BYTES, &data, &len, &e)) {
        reason(r, "%s", e.msg);
        goto done;
    }
    sl_sha256_hex(data, len, info->digest);
    if (load_json(path, data, len, &j, &e)) {
        reason(r, "%s", e.msg);
        goto done;
    }
    const char *fmt = jstr(j, "format");
    if (!json_object_get(j, "format")) {
        reason(r, "%s: missing field \"format\" (expected \"%s\")", path, CONSENT_FORMAT);
        goto done;
    }
    if (!fmt || strcmp(fmt, CONSENT_FORMAT) != 0) {
        reason(r, "%s: wrong format version %s%s%s (this swaplab reads \"%s\")", path, fmt ? "\"" : "",
               fmt ? fmt : "(not a string)", fmt ? "\"" : "", CONSENT_FORMAT);
        goto done;
    }
    const char *status = jstr(j, "status");
    copy_str(info->status, sizeof info->status, status);
    int draft = status && strcmp(status, "draft") == 0;
    if (draft) {
        reason(r, "%s: draft manifest (written by extract): it records no consent yet; complete it with "
                  "'swaplab consent init %s --subject ID --coordinator NAME --scopes ... --expires DATE'",
               path, dir);
    } else if (!status) {
        reason(r, "%s: missing field \"status\" (\"complete\" or \"draft\")", path);
    } else if (strcmp(status, "complete") != 0) {
        reason(r, "%s: field \"status\" is \"%.40s\", expected \"complete\"", path, status);
    }
    if (!draft) {
        const char *subject = need_str(j, "subject", path, r);
        if (subject && !subject_valid(subject)) {
            reason(r, "%s: subject '%.80s' must be %s", path, subject, SUBJECT_RULE);
            subject = NULL;
        }
        copy_str(info->subject, sizeof info->subject, subject);
        const char *kind = need_str(j, "kind", path, r);
        if (kind && strcmp(kind, "volunteer") != 0 && strcmp(kind, "synthetic") != 0) {
            reason(r, "%s: field \"kind\" is \"%.40s\", expected \"volunteer\" or \"synthetic\"", path, kind);
            kind = NULL;
        }
        copy_str(info->kind, sizeof info->kind, kind);
        const char *coord = need_str(j, "coordinator", path, r);
        copy_str(info->coordinator, sizeof info->coordinator, coord);
        need_str(j, "statement", path, r);

        json_t *sc = json_object_get(j, "scopes");
        if (!sc) {
            reason(r, "%s: missing field \"scopes\"", path);
        } else if (!json_is_array(sc) || json_array_size(sc) == 0) {
            reason(r, "%s: field \"scopes\" must be a non-empty array of \"train\", \"swap\", \"dataset\", \"report\"", path);
        } else {
            size_t i;
            json_t *v;
            json_array_foreach(sc, i, v) {
                unsigned b = json_is_string(v) ? scope_bit(json_string_value(v)) : 0;
                if (!b) reason(r, "%s: scopes[%zu] is not one of \"train\", \"swap\", \"dataset\", \"report\"", path, i);
                info->scopes |= b;
            }
        }

        char today[16];
        if (opt && opt->today) {
            SL_ASSERT(consent_date_valid(opt->today));
            copy_str(today, sizeof today, opt->today);
        } else {
            sl_utc_date(today);
        }
        const char *granted = need_str(j, "granted", path, r);
        const char *expires = need_str(j, "expires", path, r);
        if (granted && !consent_date_valid(granted)) {
            reason(r, "%s: field \"granted\" is \"%.40s\", expected a date YYYY-MM-DD", path, granted);
            granted = NULL;
        }
        if (expires && !consent_date_valid(expires)) {
            reason(r, "%s: field \"expires\" is \"%.40s\", expected a date YYYY-MM-DD", path, expires);
            expires = NULL;
        }
        copy_str(info->granted, sizeof info->granted, granted);
        copy_str(info->expires, sizeof info->expires, expires);
        if (granted && strcmp(granted, today) > 0)
            reason(r, "%s: consent is granted from %s, in the future (today is %s, UTC)", path, granted, today);
        if (granted && expires && strcmp(expires, granted) < 0)
            reason(r, "%s: expires (%s) is before granted (%s)", path, expires, granted);
        if (expires && strcmp(expires, today) < 0)
            reason(r, "%s: consent expired on %s (today is %s, UTC): renew it with the subject and record "
                      "it again with 'swaplab consent init'", path, expires, today);

        if (use && sc && json_is_array(sc) && !(info->scopes & use_bit)) {
            char have[64];
            consent_scopes_format(info->scopes, have, sizeof have);
            reason(r, "%s: scope \"%s\" is missing: the subject consented to %s only", path, use,
                   *have ? have : "nothing");
        }

        ConsentRevocations rev;
        SlErr re;
        char rpath[SL_PATH_MAX] = "";
        if (has_policy < 0) {
            /* already reported: the policy cannot be read */
        } else if (revocations_under(opt, has_policy, &pol, &rev, rpath, sizeof rpath, &re)) {
            reason(r, "%s (cannot tell whether subject '%s' or this manifest was revoked, so refusing)", re.msg,
                   subject ? subject : "?");
        } else {
            const ConsentRevocation *hit = consent_revocations_find(&rev, subject);
            if (hit)
                reason(r, "%s: subject '%s' revoked consent on %s (%s; revocation list %s)", path,
                       subject, *hit->date ? hit->date : "an unrecorded date",
                       *hit->reason ? hit->reason : "no reason given", rpath);
            hit = consent_revocations_find_digest(&rev, info->digest);
            if (hit)
                reason(r, "%s: this manifest (sha256 %.16s...) was revoked on %s (%s; revocation list %s)", path,
                       info->digest, *hit->date ? hit->date : "an unrecorded date",
                       *hit->reason ? hit->reason : "no reason given", rpath);
            /* a composite (kind synthetic) is revoked with any of its contributors */
            const json_t *contrib = json_object_get(j, "contributors");
            if (contrib && !json_is_array(contrib))
                reason(r, "%s: field \"contributors\" must be an array", path);
            for (size_t ci = 0; json_is_array(contrib) && ci < json_array_size(contrib); ci++) {
                const json_t *cs = json_object_get(json_array_get(contrib, ci), "subject");
                if (!json_is_string(cs) || !subject_valid(json_string_value(cs))) {
                    reason(r, "%s: contributor %zu has no valid \"subject\"", path, ci + 1);
                    continue;
                }
                const ConsentRevocation *ch = consent_revocations_find(&rev, json_string_value(cs));
                if (ch)
                    reason(r, "%s: contributor '%s' of this composite revoked consent on %s (%s; revocation "
                              "list %s)", path, json_string_value(cs), *ch->date ? ch->date : "an unrecorded date",
                           *ch->reason ? ch->reason : "no reason given", rpath);
            }
            consent_revocations_free(&rev);
        }
    }
    check_signature(j, path, opt, info, r);
    if (has_policy == 1) {
        uint8_t spk[32];
        if (!info->is_signed)
            reason(r, "%s: not signed, but the lab policy %s requires a coordinator's signature ('swaplab consent "
                      "init ... --sign KEY')", path, pol.path);
        else if (info->signer_pk[0] && sl_unhex(spk, 32, info->signer_pk) == 0 && consent_policy_key(&pol, spk) < 0)
            reason(r, "%s: signed by key %.16s..., which is not a coordinator key of the lab policy %s", path,
                   info->signer_pk, pol.path);
    }
    check_images(j, dir, path, info, r);

done:
    free(data);
    if (j) json_decref(j);
    int refused = r->n > 0;
    if (refused) reasons_to_err(r, dir, err);
    if (!why) consent_reasons_free(&local);
    return refused ? -1 : 0;
}

/* ---- writing ----------------------------------------------------------------------------------- */
static json_t *image_list(const char *dir, SlErr *err) {
    sl_crypto_init();
    char **paths;
    int n = consent_list_images(dir, &paths, err);
    if (n < 0) return NULL;
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        char full[SL_PATH_MAX], hex[65];
        sl_path_join(full, sizeof full, dir, paths[i]);
        if (sl_sha256_file(full, hex, err)) {
            json_decref(arr);
            sl_free_list(paths, n);
            return NULL;
        }
        json_array_append_new(arr, json_pack("{s:s,s:s}", "path", paths[i], "sha256", hex));
    }
    sl_free_list(paths, n);
    return arr;
}

static int write_manifest(const char *dir, json_t *root, SlErr *err) {
    char path[SL_PATH_MAX];
    sl_path_join(path, sizeof path, dir, CONSENT_FILE);
    char *s = json_dumps(root, JSON_INDENT(2));
    SL_ASSERT(s);
    size_t n = strlen(s);
    s = xrealloc(s, n + 2);
    s[n] = '\n';
    s[n + 1] = 0;
    int rc = sl_write_atomic(path, s, n + 1, err);
    free(s);
    return rc;
}

int consent_write(const char *dir, const ConsentFields *f, SlErr *err) {
    if (!sl_is_dir(dir)) return sl_fail(err, "%s: not a directory", dir);
    if (!f->subject || !*f->subject) return sl_fail(err, "the subject (a pseudonym) is required");
    if (!subject_valid(f->subject))
        return sl_fail(err, "bad subject '%s': it must be %s", f->subject, SUBJECT_RULE);
    const char *kind = f->kind ? f->kind : "volunteer";
    if (strcmp(kind, "volunteer") != 0 && strcmp(kind, "synthetic") != 0)
        return sl_fail(err, "bad kind '%s': expected volunteer or synthetic", kind);
    if (!f->scopes || (f->scopes & ~(unsigned)CONSENT_SCOPE_ALL))
        return sl_fail(err, "the scopes are required (a subset of train, swap, dataset, report)");
    if (!f->coordinator || !*f->coordinator) return sl_fail(err, "the coordinator is required");
    if (!f->statement || !*f->statement) return sl_fail(err, "the consent statement is required");
    char today[16];
    sl_utc_date(today);
    const char *granted = f->granted ? f->granted : today;
    if (!consent_date_valid(granted)) return sl_fail(err, "bad granted date '%s': expected YYYY-MM-DD", granted);
    if (!f->expires || !*f->expires) return sl_fail(err, "the expiry date is required");
    if (!consent_date_valid(f->expires))
        return sl_fail(err, "bad expiry date '%s': expected YYYY-MM-DD", f->expires);
    if (strcmp(f->expires, granted) < 0)
        return sl_fail(err, "expiry %s is before the granted date %s", f->expires, granted);
    json_t *imgs = image_list(dir, err);
    if (!imgs) return -1;
    json_t *scopes = json_array();
    for (int i = 0; i < NSCOPES; i++)
        if (f->scopes & (1u << i)) json_array_append_new(scopes, json_string(SCOPE_NAMES[i]));
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(CONSENT_FORMAT));
    json_object_set_new(root, "status", json_string("complete"));
    json_object_set_new(root, "subject", json_string(f->subject));
    json_object_set_new(root, "kind", json_string(kind));
    json_object_set_new(root, "scopes", scopes);
    json_object_set_new(root, "granted", json_string(granted));
    json_object_set_new(root, "expires", json_string(f->expires));
    json_object_set_new(root, "coordinator", json_string(f->coordinator));
    json_t *st = json_string(f->statement);
    if (!st) {
        json_decref(root);
        json_decref(imgs);
        return sl_fail(err, "the statement is not valid UTF-8");
    }
    json_object_set_new(root, "statement", st);
    if (f->source && *f->source) json_object_set_new(root, "source", json_string(f->source));
    json_object_set_new(root, "images", imgs);
    if (f->contributors) json_object_set(root, "contributors", (json_t *)f->contributors);
    if (!json_is_string(json_object_get(root, "coordinator")) ||
        (f->source && *f->source && !json_is_string(json_object_get(root, "source")))) {
        json_decref(root);
        return sl_fail(err, "the coordinator and source must be valid UTF-8");
    }
    if (f->sign) {
        char *canon = consent_canonical(root);
        uint8_t sig[64];
        sl_sign(f->sign, canon, strlen(canon), sig);
        free(canon);
        char pkh[65], sgh[129];
        sl_hex(pkh, f->sign->pk, 32);
        sl_hex(sgh, sig, 64);
        json_object_set_new(root, "signature", json_pack("{s:s,s:s,s:s}", "algorithm", "ed25519",
                                                         "public_key", pkh, "value", sgh));
    }
    int rc = write_manifest(dir, root, err);
    json_decref(root);
    return rc;
}

int consent_write_synthetic(const char *dir, const char *subject, SlErr *err) {
    char today[16], expires[16];
    sl_utc_date(today);
    consent_date_add_days(today, 36524, expires);
    char statement[512];
    snprintf(statement, sizeof statement,
             "'%s' is a synthetic volunteer rendered by swaplab synth: this person does not exist, so "
             "no real person's likeness is in these images. Every use is permitted.", subject ? subject : "");
    ConsentFields f = {
        .subject = subject,
        .kind = "synthetic",
        .scopes = CONSENT_SCOPE_ALL,
        .granted = today,
        .expires = expires,
        .coordinator = "swaplab synth",
        .statement = statement,
        .source = "swaplab synth",
    };
    return consent_write(dir, &f, err);
}

int consent_write_composite(const char *dir, const char *subject, const void *contributors, SlErr *err) {
    char today[16], expires[16];
    sl_utc_date(today);
    consent_date_add_days(today, 36524, expires);
    char statement[640];
    snprintf(statement, sizeof statement,
             "'%s' is a synthetic volunteer rendered by swaplab synth: a composite of several consented "
             "volunteers (listed under \"contributors\", each with their licence and consent), so this person "
             "does not exist. Every use is permitted while every contributor's consent stands.",
             subject ? subject : "");
    ConsentFields f = {
        .subject = subject,
        .kind = "synthetic",
        .scopes = CONSENT_SCOPE_ALL,
        .granted = today,
        .expires = expires,
        .coordinator = "swaplab synth",
        .statement = statement,
        .source = "swaplab synth (composite)",
        .contributors = contributors,
    };
    return consent_write(dir, &f, err);
}

int consent_write_draft(const char *dir, const char *source, SlErr *err) {
    if (!sl_is_dir(dir)) return sl_fail(err, "%s: not a directory", dir);
    json_t *imgs = image_list(dir, err);
    if (!imgs) return -1;
    char today[16];
    sl_utc_date(today);
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(CONSENT_FORMAT));
    json_object_set_new(root, "status", json_string("draft"));
    json_object_set_new(root, "created", json_string(today));
    if (source && *source) {
        json_t *s = json_string(source);
        if (s) json_object_set_new(root, "source", s);
    }
    json_object_set_new(root, "note", json_string(
        "Draft written by swaplab extract: it records no consent. Nothing in this face set may be "
        "trained on, swapped or exported until the coordinator completes it with 'swaplab consent "
        "init' after the subject has signed the consent form."));
    json_object_set_new(root, "images", imgs);
    int rc = write_manifest(dir, root, err);
    json_decref(root);
    return rc;
}
