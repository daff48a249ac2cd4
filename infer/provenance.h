/* provenance.h — what every image `swaplab swap` writes carries, and how `swaplab verify` reads it
 * back. One record, several carriers (infer/provenance/, one file each):
 *   (1) the record: PNG iTXt "swaplab.provenance" (JSON: tool, model, source and target subjects
 *       with consent digests, method, label, time, pixel hash; record.c),
 *   (2) XMP with the IPTC digital source type (xmp.c),
 *   (3) an Ed25519 signature over the pixel hash and the record ("swaplab.signature"; record.c),
 *   (4) C2PA 2.x content credentials: a manifest store in a caBX chunk, signed with the lab key and
 *       its X.509 certificate (c2pa.c, jumbf.c, cose.c; infer/provenance/c2pa.h),
 *   (5) the invisible watermark (infer/watermark.h) and (6) by default the visible "SYNTHETIC"
 *       label (infer/label.h).
 * Words (FaceForensics++ / DeepFaceLab): the SOURCE is the identity whose face is inserted (swap
 * --to), the TARGET the person in the frame (swap --from). Formats: docs/FORMATS.md, docs/WATERMARK.md.
 * IPTC digital source types: https://cv.iptc.org/newscodes/digitalsourcetype/ */
#ifndef SL_PROVENANCE_H
#define SL_PROVENANCE_H

#include <stdint.h>

#include "data/image.h"
#include "infer/provenance/c2pa.h"
#include "infer/watermark.h"
#include "util/crypto.h"
#include "util/util.h"

#define PROV_KEY_RECORD "swaplab.provenance"
#define PROV_KEY_SIGNATURE "swaplab.signature"
#define PROV_KEY_XMP "XML:com.adobe.xmp"
#define PROV_FORMAT "swaplab.provenance/2"
#define PROV_FORMAT_V1 "swaplab.provenance/1" /* read only: "source" and "target" the other way round */
#define PROV_LEDGER_DEFAULT "default"
/* A generated face composited into a photographed frame; an image with nothing photographed. */
#define PROV_SOURCE_TYPE_COMPOSITE "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
#define PROV_SOURCE_TYPE_SYNTHETIC "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

/* What made the image. Strings may be NULL (recorded as null). Start from provenance_info_init. */
typedef struct {
    const char *model_sha256;          /* hex SHA-256 of the model file */
    /* swap --from SET --to SUBJECT: the source is --to (its face is inserted), the target the
     * subject of --from (its frame: pose, expression, light, background). */
    const char *source_subject;        /* pseudonym of --to (the face inserted) */
    const char *source_consent_sha256; /* SHA-256 of that subject's consent.json */
    const char *target_subject;        /* pseudonym of the --from face set (the person in the frame) */
    const char *target_consent_sha256;
    const char *target_kind;           /* "volunteer" (default when NULL) or "synthetic": a synthetic
                                          frame makes the output trainedAlgorithmicMedia, a real one
                                          compositeWithTrainedAlgorithmicMedia */
    const char *preset, *mask, *colour, *blend; /* the method */
    const char *input;                 /* optional: the target frame's file name ("frames/000000.png") */
    const char *frame_dir;             /* optional: the face set input is relative to; when the frame
                                          is there its SHA-256 goes into the C2PA ingredient */
    const char *ledger;                /* transparency log folder (infer/ledger.h) the output is appended
                                          to before it is written; NULL: none; PROV_LEDGER_DEFAULT: the
                                          per-user log (ledger_default_dir) */
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
 * record and XMP, signs with key, adds the C2PA manifest (when key carries a certificate: keys made
 * by sl_key_generate and provenance_load_key do), writes atomically. rgb itself is not modified. */
int provenance_write_png(const char *path, const Image *rgb, const ProvenanceInfo *info,
                         const SlKeypair *key, SlErr *err);

/* The same in two halves, for writers that log in an order of their own (the ranks of an MPI job,
 * whose rank 0 appends every rank's entries in the one-process order): the file's bytes and, when
 * info->ledger logs it, the log folder and the entry's text, made but neither logged nor written.
 * The caller appends out->entry to out->ledger_dir (ledger_append) before it writes out->bytes to
 * path; prov_output_free then. */
typedef struct {
    uint8_t *bytes;
    size_t len;
    char *entry;                  /* NULL: the output is not logged */
    char ledger_dir[SL_PATH_MAX];
} ProvOutput;
int provenance_make_png(const char *path, const Image *rgb, const ProvenanceInfo *info, const SlKeypair *key,
                        ProvOutput *out, SlErr *err);
void prov_output_free(ProvOutput *o);

/* The same as a JPEG (quality 1..100): label, watermark, XMP (APP1) and the C2PA manifest (APP11)
 * when key carries a certificate. JPEG has no place for the iTXt record and its signature: the
 * C2PA claim signature is the JPEG's signature. */
int provenance_write_jpeg(const char *path, const Image *rgb, const ProvenanceInfo *info, const SlKeypair *key,
                          int quality, SlErr *err);

/* Loads the default per-user key (created on first use; its path printed then) or the
 * key file given, with its certificate (made on first use for keys older than C2PA support).
 * Convenience for commands that take --key. */
int provenance_load_key(const char *key_path, SlKeypair *kp, SlErr *err);

/* What a record says, with either format's words mapped to today's meaning (source = the identity
 * whose face is inserted, target = the person in the frame). */
typedef struct {
    int version; /* 1 or 2 */
    char source_subject[128], target_subject[128], frame[256], model[80], created[40], tool[40], tool_version[40];
    char pixel_sha256[80], payload[16], source_type[160];
    int label; /* -1 unknown, 0 "none", 1 drawn */
} ProvRecord;
/* Parses a record's text (format /1 or /2); 0 if it is one. */
int prov_record_parse(const char *text, ProvRecord *out);

typedef enum { PROV_SIG_ABSENT = 0, PROV_SIG_VALID, PROV_SIG_INVALID } ProvSigState;

/* The verdict. MARKED: something established it (a valid signature by a trusted key, valid C2PA
 * credentials from a trusted CA, inclusion in a transparency log whose head a trusted key signed,
 * or the watermark with false-positive probability < 1e-6) and
 * nothing failed. ALTERED: established, but a signature or the C2PA binding fails (pixels or
 * metadata changed). FORGED: carries swaplab provenance claims, none of which is established (an
 * untrusted key, an invalid signature, no watermark). NOT_MARKED: no claim and no watermark. */
typedef enum { PROV_NOT_MARKED = 0, PROV_MARKED, PROV_ALTERED, PROV_FORGED } ProvVerdict;

/* Whom to trust. Arrays may be empty; wm_key NULL = the public default watermark key. */
typedef struct {
    const uint8_t *const *pubkeys; /* Ed25519 public keys (32 bytes each) */
    int n_pubkeys;
    const uint8_t *const *cas;     /* CA certificates (DER) */
    const size_t *ca_len;
    int n_cas;
    const char *wm_key;
    const char *ledger;            /* a transparency log folder to look the file up in (NULL: none) */
} ProvTrust;

typedef struct {
    int is_png;
    int metadata;            /* a parseable swaplab.provenance record is present */
    char *record;            /* the record's JSON text (owned; NULL if absent) */
    ProvRecord rec;           /* what it says, in today's words (valid when metadata) */
    int xmp;                 /* XMP present */
    char source_type[160];   /* IPTC digital source type found (XMP, else the record), or "" */
    ProvSigState sig;
    int sig_trusted;         /* signature valid and made by a trusted public key */
    char sig_pubkey[65];     /* hex of the signing public key ("" if absent) */
    char sig_reason[160];    /* why invalid */
    C2paResult c2pa;         /* C2PA content credentials (c2pa.present = 0: none) */
    int ledger_checked;      /* a log was given and read */
    int ledger_included;     /* the file's digest is in it, its inclusion proof verifies against the
                                newest tree head, and that head is validly signed by a trusted key */
    int ledger_broken;       /* it is in the log, but the log does not hold over it (a rewritten
                                entry, or a head whose signature fails): a failed check */
    long long ledger_index;  /* its leaf index, or -1 */
    char ledger_why[200];    /* what the log check found, in words */
    int pixels_match;        /* the record's pixel hash equals this file's pixels */
    WmResult wm;
    int wm_payload_matches;  /* the record names a payload and the watermark carries it */
    int label_record;        /* -1 unknown (no record), 0 "none", 1 label recorded */
    int label_pixels;        /* the label box was found in the pixels */
    double label_score;
    int w, h;
    ProvVerdict verdict;
    int marked;              /* verdict == PROV_MARKED */
} VerifyResult;

/* Reads path (PNG or any image_load format) and fills res. Returns -1 with err only when the file
 * cannot be read as an image; a clean image is a result. */
int provenance_verify(const char *path, const ProvTrust *trust, VerifyResult *res, SlErr *err);
/* Shorthands: one trusted key (may be NULL), and a watermark key string. */
int provenance_verify_file(const char *path, const uint8_t *trusted_pk, VerifyResult *res, SlErr *err);
int provenance_verify_file_key(const char *path, const uint8_t *trusted_pk, const char *wm_key,
                               VerifyResult *res, SlErr *err);
void verify_result_free(VerifyResult *res);
/* "MARKED", "ALTERED", "FORGED", "NOT_MARKED" (verify --json "verdict"). */
const char *provenance_verdict_name(ProvVerdict v);

#endif
