/* crypto.c — SHA-256 and Ed25519 lab keys on top of libsodium (see crypto.h). */
#include "util/crypto.h"

#include <errno.h>
#include <fcntl.h>
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
    if (read_tagged(path, SECRET_TAG, out->sk, 64, err)) return -1;
    crypto_sign_ed25519_sk_to_pk(out->pk, out->sk);
    return 0;
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
    char kpath[4096], ppath[4096];
    sl_snprintf(kpath, sizeof kpath, "%s.key", prefix);
    sl_snprintf(ppath, sizeof ppath, "%s.pub", prefix);
    if (sl_is_file(kpath)) return sl_fail(err, "%s: a key already exists; not overwriting it", kpath);
    SlKeypair kp;
    crypto_sign_ed25519_keypair(kp.pk, kp.sk);
    if (write_key_file(kpath, SECRET_TAG, kp.sk, 64, 0600, err)) return -1;
    unlink(ppath);
    if (write_key_file(ppath, PUBLIC_TAG, kp.pk, 32, 0644, err)) return -1;
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
    char dir[4096], prefix[4096];
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
