/* cose.h — COSE_Sign1 (RFC 9052) as C2PA uses it: a tagged (18) Sign1 with a detached payload (the
 * claim), algorithm EdDSA (-8) over the lab's Ed25519 key, and the certificate chain in the
 * protected header as x5chain (label 33, RFC 9360): [signing certificate, lab CA]. */
#ifndef SL_COSE_H
#define SL_COSE_H

#include <stddef.h>
#include <stdint.h>

#include "util/crypto.h"

#define COSE_ALG_EDDSA (-8)
#define COSE_HDR_X5CHAIN 33

/* Signs payload with key (which must carry a certificate and CA); *out is malloc'ed. */
int cose_sign1(const SlKeypair *key, const uint8_t *payload, size_t n, uint8_t **out, size_t *olen, SlErr *err);

typedef struct {
    int parsed;       /* a well-formed COSE_Sign1 with EdDSA and an x5chain */
    int sig_valid;    /* the signature verifies with the certificate's key */
    SlCertCheck cert; /* what the chain check found */
    char why[200];    /* the first problem, in words ("" if none) */
} CoseResult;

/* Checks cose (untrusted bytes) over the detached payload; trusted CAs as in sl_cert_check. */
void cose_verify1(const uint8_t *cose, size_t n, const uint8_t *payload, size_t plen, const uint8_t *const *trusted,
                  const size_t *trusted_len, int n_trusted, CoseResult *r);

#endif
