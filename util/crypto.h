/* crypto.h — SHA-256 digests and Ed25519 lab keys (libsodium), shared by consent manifests,
 * model metadata and swap provenance.
 *
 * Key files are text: a secret key file holds "swaplab-ed25519-secret-v1\n<128 hex>\n" (libsodium's
 * 64-byte secret key, which embeds the public key) and is created with mode 0600; the public key
 * file holds "swaplab-ed25519-public-v1\n<64 hex>\n".
 *
 * X.509 (OpenSSL), for C2PA content credentials: next to PREFIX.key live the lab CA (PREFIX-ca.key,
 * an Ed25519 key in PKCS#8 PEM, mode 0600, and PREFIX-ca.crt, self-signed) and PREFIX.crt, the
 * certificate of the lab key issued by that CA (keyUsage digitalSignature, extendedKeyUsage
 * emailProtection and documentSigning, as C2PA 2.x section 14.5 asks of claim signers). */
#ifndef SL_CRYPTO_H
#define SL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

void sl_crypto_init(void); /* idempotent; aborts if libsodium cannot start */

void sl_sha256(const void *data, size_t len, uint8_t out[32]);
void sl_sha256_hex(const void *data, size_t len, char hex[65]);
int sl_sha256_file(const char *path, char hex[65], SlErr *err);

#define SL_CERT_MAX 4096

typedef struct {
    uint8_t pk[32];
    uint8_t sk[64];
    /* DER certificates (0 length: none): the lab key's own and its issuing lab CA's. */
    uint8_t cert[SL_CERT_MAX], ca[SL_CERT_MAX];
    size_t cert_len, ca_len;
} SlKeypair;

/* Writes PREFIX.key (secret, 0600) and PREFIX.pub, then the lab CA and certificate (sl_cert_make);
 * refuses to overwrite an existing key. */
int sl_key_generate(const char *prefix, SlKeypair *out, SlErr *err);
int sl_key_load_secret(const char *path, SlKeypair *out, SlErr *err);
int sl_key_load_public(const char *path, uint8_t pk[32], SlErr *err);
/* The default lab key: $SWAPLAB_KEY if set, else $XDG_CONFIG_HOME/swaplab/lab.key, else
 * $HOME/.config/swaplab/lab.key. Created on first use; *created says so (print the path then). */
void sl_key_default_path(char *out, size_t n);
int sl_key_load_or_create(const char *path, SlKeypair *out, int *created, SlErr *err);

/* Loading a secret key also loads PREFIX.crt and PREFIX-ca.crt when both are there (else the
 * lengths stay 0). sl_cert_make creates the lab CA (or reuses PREFIX-ca.key) and PREFIX.crt for kp,
 * valid for `days`, and loads them into kp. */
int sl_cert_make(const char *prefix, SlKeypair *kp, int days, SlErr *err);
int sl_cert_load(const char *prefix, SlKeypair *kp, SlErr *err);
/* Reads one PEM or DER certificate file into der (at most SL_CERT_MAX bytes). */
int sl_cert_read(const char *path, uint8_t *der, size_t *len, SlErr *err);

typedef struct {
    int parsed;        /* the leaf parsed, with an Ed25519 key */
    uint8_t pk[32];    /* its public key */
    int chain_ok;      /* the leaf is signed by the given CA and the CA by itself; dates hold */
    int trusted;       /* chain_ok and the CA is one of the trusted ones */
    char subject[160]; /* the leaf's subject, one line */
    char why[200];     /* what failed, in words */
} SlCertCheck;
/* Checks a leaf certificate (DER) and its issuing CA (DER, may be NULL) against trusted CA
 * certificates (DER; n may be 0). Never fails on bad input: the result says what held. */
void sl_cert_check(const uint8_t *leaf, size_t leaf_len, const uint8_t *ca, size_t ca_len,
                   const uint8_t *const *trusted, const size_t *trusted_len, int n_trusted, SlCertCheck *out);

void sl_sign(const SlKeypair *kp, const void *msg, size_t len, uint8_t sig[64]);
int sl_verify_sig(const uint8_t pk[32], const void *msg, size_t len, const uint8_t sig[64]);
/* Parses exactly 2n hex digits into n bytes; returns 0 on success. */
int sl_unhex(uint8_t *out, size_t n, const char *hex);

#endif
