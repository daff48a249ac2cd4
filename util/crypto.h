/* crypto.h — SHA-256 digests and Ed25519 lab keys (libsodium), shared by consent manifests,
 * model metadata and swap provenance.
 *
 * Key files are text: a secret key file holds "swaplab-ed25519-secret-v1\n<128 hex>\n" (libsodium's
 * 64-byte secret key, which embeds the public key) and is created with mode 0600; the public key
 * file holds "swaplab-ed25519-public-v1\n<64 hex>\n". */
#ifndef SL_CRYPTO_H
#define SL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

void sl_crypto_init(void); /* idempotent; aborts if libsodium cannot start */

void sl_sha256(const void *data, size_t len, uint8_t out[32]);
void sl_sha256_hex(const void *data, size_t len, char hex[65]);
int sl_sha256_file(const char *path, char hex[65], SlErr *err);

typedef struct {
    uint8_t pk[32];
    uint8_t sk[64];
} SlKeypair;

/* Writes PREFIX.key (secret, 0600) and PREFIX.pub; refuses to overwrite an existing key. */
int sl_key_generate(const char *prefix, SlKeypair *out, SlErr *err);
int sl_key_load_secret(const char *path, SlKeypair *out, SlErr *err);
int sl_key_load_public(const char *path, uint8_t pk[32], SlErr *err);
/* The default lab key: $SWAPLAB_KEY if set, else $XDG_CONFIG_HOME/swaplab/lab.key, else
 * $HOME/.config/swaplab/lab.key. Created on first use; *created says so (print the path then). */
void sl_key_default_path(char *out, size_t n);
int sl_key_load_or_create(const char *path, SlKeypair *out, int *created, SlErr *err);

void sl_sign(const SlKeypair *kp, const void *msg, size_t len, uint8_t sig[64]);
int sl_verify_sig(const uint8_t pk[32], const void *msg, size_t len, const uint8_t sig[64]);
/* Parses exactly 2n hex digits into n bytes; returns 0 on success. */
int sl_unhex(uint8_t *out, size_t n, const char *hex);

#endif
