/* provenance.h — what every image `swaplab swap` writes carries, and how `swaplab verify` reads it
 * back: (1) a PNG iTXt record "swaplab.provenance" (JSON: tool, model, subjects with consent
 * digests, method, label, time, pixel hash), (2) XMP with the IPTC digital source type
 * trainedAlgorithmicMedia, (3) an Ed25519 signature over the pixel hash and the record
 * ("swaplab.signature"), (4) the invisible watermark (infer/watermark.h) and (5) by default the
 * visible "SYNTHETIC" label (infer/label.h). Formats: docs/WATERMARK.md.
 * IPTC digital source types: https://cv.iptc.org/newscodes/digitalsourcetype/
 * XMP in PNG: https://github.com/adobe/XMP-Toolkit-SDK/blob/main/docs/XMPSpecificationPart3.pdf */
#ifndef SL_PROVENANCE_H
#define SL_PROVENANCE_H

#include <stdint.h>

#include "data/image.h"
#include "infer/watermark.h"
#include "util/crypto.h"
#include "util/util.h"

#define PROV_KEY_RECORD "swaplab.provenance"
#define PROV_KEY_SIGNATURE "swaplab.signature"
#define PROV_KEY_XMP "XML:com.adobe.xmp"
#define PROV_FORMAT "swaplab.provenance/1"
#define PROV_SOURCE_TYPE "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

/* What made the image. Strings may be NULL (recorded as null). Start from provenance_info_init. */
typedef struct {
    const char *model_sha256;          /* hex SHA-256 of the model file */
    /* The CLI's words (swap --from SET --to SUBJECT): the source is the subject whose frame (pose,
     * expression, light) is swapped, the target the identity whose face is drawn into it. */
    const char *source_subject;        /* pseudonym of the --from face set (the frame) */
    const char *source_consent_sha256; /* SHA-256 of that subject's consent.json */
    const char *target_subject;        /* pseudonym of --to (the face drawn in) */
    const char *target_consent_sha256;
    const char *preset, *mask, *colour, *blend; /* the method */
    const char *input;                 /* optional: the source frame's file name */
    int label;                         /* 1 (default): draw the visible label; 0 = --label none */
    const char *wm_key;                /* watermark key string; NULL = the public default */
    int has_payload;                   /* 0 (default): payload = first 4 bytes of model_sha256 */
    uint32_t payload;                  /* used when has_payload */
} ProvenanceInfo;

void provenance_info_init(ProvenanceInfo *info);

/* The watermark payload for info: info->payload if has_payload, else the first 32 bits of the
 * model digest (so a watermark read from a stripped JPEG names the model), else of the record. */
uint32_t provenance_payload(const ProvenanceInfo *info);

/* SHA-256 over the raw pixels then w and h as 32-bit little-endian (c = 3 RGB as stored). */
void provenance_pixel_hash(const Image *rgb, char hex[65]);

/* Writes rgb (the final composited pixels, label NOT yet drawn; c = 3) to path as a PNG with all
 * provenance: draws the label (if info->label), embeds the watermark, hashes the pixels, builds the
 * record and XMP, signs with key, writes atomically. rgb itself is not modified. */
int provenance_write_png(const char *path, const Image *rgb, const ProvenanceInfo *info,
                         const SlKeypair *key, SlErr *err);

/* Loads the default per-user key (created on first use; its path printed then) or the
 * key file given. Convenience for commands that take --key. */
int provenance_load_key(const char *key_path, SlKeypair *kp, SlErr *err);

typedef enum { PROV_SIG_ABSENT = 0, PROV_SIG_VALID, PROV_SIG_INVALID } ProvSigState;

typedef struct {
    int is_png;
    int metadata;            /* a parseable swaplab.provenance record is present */
    char *record;            /* the record's JSON text (owned; NULL if absent) */
    int xmp;                 /* XMP present */
    char source_type[160];   /* IPTC digital source type found (XMP, else the record), or "" */
    ProvSigState sig;
    int sig_trusted;         /* signature valid and made by the trusted public key */
    char sig_pubkey[65];     /* hex of the signing public key ("" if absent) */
    char sig_reason[160];    /* why invalid */
    int pixels_match;        /* the record's pixel hash equals this file's pixels */
    WmResult wm;
    int wm_payload_matches;  /* the record names a payload and the watermark carries it */
    int label_record;        /* -1 unknown (no record), 0 "none", 1 label recorded */
    int label_pixels;        /* the label box was found in the pixels */
    double label_score;
    int w, h;
    int marked;              /* the verdict: signature valid, or watermark found (p < 1e-6) */
} VerifyResult;

/* Reads path (PNG or any image_load format) and fills res. trusted_pk may be NULL. Returns -1
 * with err only when the file cannot be read as an image; a clean image is a result. */
int provenance_verify_file(const char *path, const uint8_t *trusted_pk, VerifyResult *res,
                           SlErr *err);
/* The same with a lab's watermark key string (NULL = the public default). */
int provenance_verify_file_key(const char *path, const uint8_t *trusted_pk, const char *wm_key,
                               VerifyResult *res, SlErr *err);
void verify_result_free(VerifyResult *res);

#endif
