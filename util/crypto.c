/* crypto.c — SHA-256 and Ed25519 lab keys on top of libsodium (see crypto.h). */
#include "util/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

static const char SECRET_TAG[] = "swaplab-ed25519-secret-v1";
static const char PUBLIC_TAG[] = "swaplab-ed25519-public-v1";

void sl_crypto_init(void) {
    if (sodium_init() < 0) SL_DIE("libsodium failed to initialise");
}

void sl_sha256(const void *data, size_t len, uint8_t out[32]) {
    crypto_hash_sha256(out, data, len);
}

void sl_sha256_hex(const void *data, size_t len, char hex[65]) {
    uint8_t d[32];
    sl_sha256(data, len, d);
    sl_hex(hex, d, 32);
}

int sl_sha256_file(const char *path, char hex[65], SlErr *err) {
    FILE *f = sl_fopen_read(path, err); /* never blocks on a FIFO put in a face set */
    if (!f) return -1;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_hash_sha256_update(&st, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return sl_fail(err, "%s: read failed", path);
    uint8_t d[32];
    crypto_hash_sha256_final(&st, d);
    sl_hex(hex, d, 32);
    return 0;
}

int sl_unhex(uint8_t *out, size_t n, const char *hex) {
    for (size_t i = 0; i < 2 * n; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0) return -1;
        if (i % 2 == 0) out[i / 2] = (uint8_t)(v << 4);
        else out[i / 2] |= (uint8_t)v;
    }
    return hex[2 * n] == 0 || hex[2 * n] == '\n' || hex[2 * n] == '\r' ? 0 : -1;
}

static int read_tagged(const char *path, const char *tag, uint8_t *out, size_t n, SlErr *err) {
    char *data;
    size_t len;
    if (sl_read_file(path, 4096, &data, &len, err)) return -1;
    size_t tl = strlen(tag);
    int ok = len > tl + 1 && strncmp(data, tag, tl) == 0 && data[tl] == '\n' &&
             strlen(data + tl + 1) >= 2 * n && sl_unhex(out, n, data + tl + 1) == 0;
    free(data);
    if (!ok) return sl_fail(err, "%s: not a swaplab %s key file (expected a first line '%s')", path,
                            strstr(tag, "secret") ? "secret" : "public", tag);
    return 0;
}

int sl_key_load_secret(const char *path, SlKeypair *out, SlErr *err) {
    sl_crypto_init();
    memset(out, 0, sizeof *out);
    if (read_tagged(path, SECRET_TAG, out->sk, 64, err)) return -1;
    crypto_sign_ed25519_sk_to_pk(out->pk, out->sk);
    if (!sl_endswith(path, ".key")) return 0;
    char prefix[SL_PATH_MAX];
    sl_snprintf(prefix, sizeof prefix, "%.*s", (int)(strlen(path) - 4), path);
    return sl_cert_load(prefix, out, err);
}

int sl_key_load_public(const char *path, uint8_t pk[32], SlErr *err) {
    return read_tagged(path, PUBLIC_TAG, pk, 32, err);
}

static int write_key_file(const char *path, const char *tag, const uint8_t *b, size_t n, int mode,
                          SlErr *err) {
    char hex[257], text[300];
    sl_hex(hex, b, n);
    sl_snprintf(text, sizeof text, "%s\n%s\n", tag, hex);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) return sl_fail(err, "%s: cannot create key file: %s", path, strerror(errno));
    size_t len = strlen(text);
    int bad = write(fd, text, len) != (ssize_t)len || fsync(fd) != 0;
    close(fd);
    if (bad) {
        unlink(path);
        return sl_fail(err, "%s: write failed", path);
    }
    return 0;
}

int sl_key_generate(const char *prefix, SlKeypair *out, SlErr *err) {
    sl_crypto_init();
    char kpath[SL_PATH_MAX], ppath[SL_PATH_MAX];
    sl_snprintf(kpath, sizeof kpath, "%s.key", prefix);
    sl_snprintf(ppath, sizeof ppath, "%s.pub", prefix);
    if (sl_is_file(kpath)) return sl_fail(err, "%s: a key already exists; not overwriting it", kpath);
    SlKeypair kp;
    crypto_sign_ed25519_keypair(kp.pk, kp.sk);
    if (write_key_file(kpath, SECRET_TAG, kp.sk, 64, 0600, err)) return -1;
    unlink(ppath);
    if (write_key_file(ppath, PUBLIC_TAG, kp.pk, 32, 0644, err)) return -1;
    kp.cert_len = kp.ca_len = 0;
    if (sl_cert_make(prefix, &kp, 730, err)) return -1;
    if (out) *out = kp;
    sodium_memzero(&kp, sizeof kp);
    return 0;
}

void sl_key_default_path(char *out, size_t n) {
    const char *k = getenv("SWAPLAB_KEY");
    if (k && *k) {
        sl_snprintf(out, n, "%s", k);
        return;
    }
    const char *x = getenv("XDG_CONFIG_HOME");
    if (x && *x) {
        sl_snprintf(out, n, "%s/swaplab/lab.key", x);
        return;
    }
    const char *h = getenv("HOME");
    sl_snprintf(out, n, "%s/.config/swaplab/lab.key", h && *h ? h : ".");
}

int sl_key_load_or_create(const char *path, SlKeypair *out, int *created, SlErr *err) {
    if (created) *created = 0;
    if (sl_is_file(path)) return sl_key_load_secret(path, out, err);
    if (!sl_endswith(path, ".key"))
        return sl_fail(err, "%s: no such key file (key files end in .key; create one with 'swaplab keygen')", path);
    char dir[SL_PATH_MAX], prefix[SL_PATH_MAX];
    sl_snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        if (*dir && sl_mkdirs(dir, err)) return -1;
    }
    sl_snprintf(prefix, sizeof prefix, "%.*s", (int)(strlen(path) - 4), path);
    if (sl_key_generate(prefix, out, err)) return -1;
    if (created) *created = 1;
    return 0;
}

void sl_sign(const SlKeypair *kp, const void *msg, size_t len, uint8_t sig[64]) {
    crypto_sign_ed25519_detached(sig, NULL, msg, len, kp->sk);
}

int sl_verify_sig(const uint8_t pk[32], const void *msg, size_t len, const uint8_t sig[64]) {
    sl_crypto_init();
    return crypto_sign_ed25519_verify_detached(sig, msg, len, pk) == 0;
}

/* ---- X.509 lab certificates (OpenSSL: https://docs.openssl.org/3.0/man3/X509_new/) ---------- */
static int ossl_fail(SlErr *err, const char *what) {
    char buf[256] = "unknown OpenSSL error";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return sl_fail(err, "%s: %s", what, buf);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex) return -1;
    int ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok ? 0 : -1;
}

/* A v3 certificate for subject_key, issued by issuer (NULL: self-signed) with issuer_key. */
static X509 *make_cert(EVP_PKEY *subject_key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int ca, int days) {
    X509 *x = X509_new();
    BIGNUM *bn = BN_new();
    int ok = x && bn && X509_set_version(x, 2) && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) && X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) && X509_set_pubkey(x, subject_key);
    BN_free(bn);
    if (ok) {
        X509_NAME *nm = X509_get_subject_name(x);
        ok = X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, (const unsigned char *)"swaplab lab", -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
             X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : nm);
    }
    X509 *iss = issuer ? issuer : x;
    if (ok) ok = !add_ext(x, iss, NID_subject_key_identifier, "hash") &&
                 !add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
    if (ok && ca)
        ok = !add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE") &&
             !add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (ok && !ca)
        ok = !add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") &&
             !add_ext(x, iss, NID_key_usage, "critical,digitalSignature") &&
             !add_ext(x, iss, NID_ext_key_usage, "emailProtection,1.3.6.1.5.5.7.3.36");
    if (ok) ok = X509_sign(x, issuer_key, NULL) > 0; /* Ed25519 takes no separate digest */
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key, SlErr *err) {
    BIO *b = BIO_new(BIO_s_mem());
    int ok = cert ? PEM_write_bio_X509(b, cert) : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    if (!ok) {
        BIO_free(b);
        return ossl_fail(err, path);
    }
    char *data;
    long n = BIO_get_mem_data(b, &data);
    int r;
    if (cert) {
        r = sl_write_atomic(path, data, (size_t)n, err);
    } else {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        r = fd < 0 ? sl_fail(err, "%s: cannot create key file: %s", path, strerror(errno)) : 0;
        if (fd >= 0) {
            int bad = write(fd, data, (size_t)n) != (ssize_t)n || fsync(fd) != 0;
            close(fd);
            if (bad) {
                unlink(path);
                r = sl_fail(err, "%s: write failed", path);
            }
        }
    }
    BIO_free(b);
    return r;
}

static int cert_der(X509 *x, uint8_t *out, size_t *len, const char *what, SlErr *err) {
    int n = i2d_X509(x, NULL);
    if (n <= 0 || n > SL_CERT_MAX) return sl_fail(err, "%s: certificate too large or unencodable", what);
    uint8_t *p = out;
    i2d_X509(x, &p);
    *len = (size_t)n;
    return 0;
}

int sl_cert_read(const char *path, uint8_t *der, size_t *len, SlErr *err) {
    char *data;
    size_t n;
    if (sl_read_file(path, 1 << 20, &data, &n, err)) return -1;
    BIO *b = BIO_new_mem_buf(data, (int)n);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!x) {
        ERR_clear_error();
        const unsigned char *p = (const unsigned char *)data;
        x = d2i_X509(NULL, &p, (long)n);
    }
    free(data);
    if (!x) return ossl_fail(err, path);
    int r = cert_der(x, der, len, path, err);
    X509_free(x);
    return r;
}

int sl_cert_load(const char *prefix, SlKeypair *kp, SlErr *err) {
    char crt[SL_PATH_MAX], ca[SL_PATH_MAX];
    sl_snprintf(crt, sizeof crt, "%s.crt", prefix);
    sl_snprintf(ca, sizeof ca, "%s-ca.crt", prefix);
    kp->cert_len = kp->ca_len = 0;
    if (!sl_is_file(crt) || !sl_is_file(ca)) return 0;
    if (sl_cert_read(crt, kp->cert, &kp->cert_len, err) || sl_cert_read(ca, kp->ca, &kp->ca_len, err)) {
        kp->cert_len = kp->ca_len = 0;
        return -1;
    }
    return 0;
}

int sl_cert_make(const char *prefix, SlKeypair *kp, int days, SlErr *err) {
    char cakey[SL_PATH_MAX], cacrt[SL_PATH_MAX], crt[SL_PATH_MAX];
    sl_snprintf(cakey, sizeof cakey, "%s-ca.key", prefix);
    sl_snprintf(cacrt, sizeof cacrt, "%s-ca.crt", prefix);
    sl_snprintf(crt, sizeof crt, "%s.crt", prefix);
    EVP_PKEY *ca_key = NULL, *leaf_key = NULL;
    X509 *ca = NULL, *leaf = NULL;
    int r = -1;
    if (sl_is_file(cakey)) {
        FILE *f = fopen(cakey, "r");
        if (f) ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL), fclose(f);
        if (!ca_key) {
            ossl_fail(err, cakey);
            goto done;
        }
        uint8_t der[SL_CERT_MAX];
        size_t n;
        if (sl_cert_read(cacrt, der, &n, err)) goto done;
        const unsigned char *p = der;
        ca = d2i_X509(NULL, &p, (long)n);
    } else {
        ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (!ca_key) {
            ossl_fail(err, "lab CA key");
            goto done;
        }
        ca = make_cert(ca_key, "swaplab lab CA", NULL, ca_key, 1, 3650);
        if (!ca) {
            ossl_fail(err, "lab CA certificate");
            goto done;
        }
        if (write_pem(cakey, NULL, ca_key, err) || write_pem(cacrt, ca, NULL, err)) goto done;
    }
    leaf_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, kp->sk, 32);
    char hex[65], cn[64];
    sl_hex(hex, kp->pk, 32);
    sl_snprintf(cn, sizeof cn, "swaplab lab key %.16s", hex);
    if (!ca || !leaf_key || !(leaf = make_cert(leaf_key, cn, ca, ca_key, 0, days))) {
        ossl_fail(err, crt);
        goto done;
    }
    if (write_pem(crt, leaf, NULL, err) || cert_der(leaf, kp->cert, &kp->cert_len, crt, err) ||
        cert_der(ca, kp->ca, &kp->ca_len, cacrt, err))
        goto done;
    r = 0;
done:
    if (r) kp->cert_len = kp->ca_len = 0;
    X509_free(leaf), X509_free(ca);
    EVP_PKEY_free(leaf_key), EVP_PKEY_free(ca_key);
    return r;
}

static int cert_time_ok(X509 *x) {
    return X509_cmp_current_time(X509_get0_notBefore(x)) < 0 && X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
}

void sl_cert_check(const uint8_t *leaf, size_t leaf_len, const uint8_t *ca, size_t ca_len,
                   const uint8_t *const *trusted, const size_t *trusted_len, int n_trusted, SlCertCheck *out) {
    memset(out, 0, sizeof *out);
    const unsigned char *p = leaf;
    X509 *l = leaf_len < (1u << 20) ? d2i_X509(NULL, &p, (long)leaf_len) : NULL, *c = NULL;
    if (!l || p != leaf + leaf_len) {
        snprintf(out->why, sizeof out->why, "the signing certificate is not valid DER X.509");
        goto done;
    }
    X509_NAME_oneline(X509_get_subject_name(l), out->subject, sizeof out->subject);
    EVP_PKEY *pk = X509_get0_pubkey(l);
    size_t pl = 32;
    if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519 || !EVP_PKEY_get_raw_public_key(pk, out->pk, &pl) || pl != 32) {
        snprintf(out->why, sizeof out->why, "the signing certificate does not hold an Ed25519 key");
        goto done;
    }
    out->parsed = 1;
    if (ca && ca_len) {
        p = ca;
        c = ca_len < (1u << 20) ? d2i_X509(NULL, &p, (long)ca_len) : NULL;
        if (!c || p != ca + ca_len) {
            snprintf(out->why, sizeof out->why, "the CA certificate is not valid DER X.509");
            goto done;
        }
    }
    EVP_PKEY *cpk = c ? X509_get0_pubkey(c) : NULL;
    if (!c || !cpk || X509_check_issued(c, l) != X509_V_OK || X509_verify(l, cpk) != 1) {
        snprintf(out->why, sizeof out->why, "the signing certificate is not issued by the CA given with it");
    } else if (X509_verify(c, cpk) != 1 || !(X509_get_extension_flags(c) & EXFLAG_CA)) {
        snprintf(out->why, sizeof out->why, "the CA certificate is not a self-signed CA");
    } else if (!cert_time_ok(l) || !cert_time_ok(c)) {
        snprintf(out->why, sizeof out->why, "a certificate is expired or not yet valid");
    } else {
        out->chain_ok = 1;
        for (int i = 0; i < n_trusted; i++)
            if (trusted_len[i] == ca_len && !memcmp(trusted[i], ca, ca_len)) out->trusted = 1;
        if (!out->trusted) snprintf(out->why, sizeof out->why, "the CA is not one you trust (--ca, or your own lab CA)");
    }
done:
    ERR_clear_error();
    X509_free(l), X509_free(c);
}
