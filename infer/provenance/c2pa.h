/* c2pa.h — C2PA 2.x content credentials for swap outputs: a manifest store (JUMBF) with one manifest
 * whose claim (c2pa.claim.v2) lists c2pa.actions.v2 (c2pa.created with the IPTC digital source type,
 * c2pa.placed of the frame), c2pa.ingredient.v3 for the source frame (componentOf) and the model
 * (inputTo), and the hard binding c2pa.hash.data (SHA-256 of the file minus one exclusion: the box
 * that carries the store), signed as COSE_Sign1 (cose.h) with the lab key and its certificate.
 * Carriers: PNG (a caBX chunk before the first IDAT) and JPEG (an APP11 segment, JUMBF "JP" framing).
 *
 * Carrier-neutral use (e.g. an MP4 writer): build the file without the store, choose where the
 * store's box goes (insert_at) and how many bytes the box adds around the store (wrap_overhead),
 * call c2pa_build_store, then insert exactly store_len + wrap_overhead bytes at insert_at.
 * Spec: https://spec.c2pa.org/specifications/specifications/2.1/specs/C2PA_Specification.html */
#ifndef SL_C2PA_H
#define SL_C2PA_H

#include <stddef.h>
#include <stdint.h>

#include "util/crypto.h"

#define C2PA_ST_COMPOSITE "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
#define C2PA_ST_SYNTHETIC "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

typedef struct {
    const char *title;        /* dc:title of the asset ("000000.png") */
    const char *format;       /* its media type ("image/png") */
    const char *source_type;  /* the IPTC digital source type URI of c2pa.created */
    const char *description;  /* words for the created action (may be NULL) */
    const char *frame_title, *frame_format, *frame_sha256; /* the source frame (NULL title: none) */
    const char *model_title, *model_sha256;                /* the model (NULL title: none) */
} C2paInfo;

int c2pa_build_store(const C2paInfo *ci, const SlKeypair *key, const uint8_t *asset, size_t len, size_t insert_at,
                     size_t wrap_overhead, uint8_t **store, size_t *store_len, SlErr *err);
/* A copy of the PNG (JPEG) bytes with a signed manifest store embedded; *out malloc'ed. */
int c2pa_embed_png(const C2paInfo *ci, const SlKeypair *key, const uint8_t *png, size_t len, uint8_t **out,
                   size_t *olen, SlErr *err);
int c2pa_embed_jpeg(const C2paInfo *ci, const SlKeypair *key, const uint8_t *jpg, size_t len, uint8_t **out,
                    size_t *olen, SlErr *err);

typedef struct {
    int present;        /* a manifest store was found in the file */
    int parsed;         /* it parsed: JUMBF, claim CBOR, COSE */
    int sig_valid;      /* the claim signature verifies with the certificate's key */
    int chain_ok;       /* the certificate is issued by the CA that came with it */
    int trusted;        /* ... and that CA is trusted */
    int assertions_ok;  /* every assertion the claim lists is there with its hash */
    int hash_match;     /* the hard binding (c2pa.hash.data) matches the file's bytes */
    int valid;          /* parsed, sig_valid, chain_ok, assertions_ok and hash_match */
    char source_type[160]; /* digitalSourceType of the c2pa.created action */
    char generator[80];    /* claim_generator_info name and version */
    char signer[160];      /* the certificate's subject */
    uint8_t signer_pk[32];
    char why[240];         /* the first problem found, in words ("" if none) */
} C2paResult;

/* Finds the manifest store in a PNG (caBX) or JPEG (APP11) file's bytes and validates it against
 * those bytes; trusted CAs (DER) as in sl_cert_check. Never fails: r says what held. */
void c2pa_verify_file_bytes(const uint8_t *file, size_t len, const uint8_t *const *trusted, const size_t *trusted_len,
                            int n_trusted, C2paResult *r);
/* Validates one manifest store against asset bytes (the whole file, store included). */
void c2pa_verify_store(const uint8_t *store, size_t n, const uint8_t *asset, size_t alen, const uint8_t *const *trusted,
                       const size_t *trusted_len, int n_trusted, C2paResult *r);
/* Locates the store: *store points into file (PNG) or is malloc'ed (JPEG: *owned = 1). 0 if found. */
int c2pa_find_store(const uint8_t *file, size_t len, const uint8_t **store, size_t *n, int *owned);

#endif
