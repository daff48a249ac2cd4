/* consent.h — the consent gate: consent manifests (consent.json in a face-set directory), the
 * revocation list, and the one check every command runs before it trains on, swaps from/to,
 * exports or reports a face set. Format: docs/FORMATS.md "Consent manifest"; practice: docs/CONSENT.md.
 *
 * Usage by a command (train, swap, dataset, report):
 *
 *     ConsentInfo info;
 *     SlErr err;
 *     if (consent_check(dir, "train", NULL, &info, NULL, &err)) {
 *         fprintf(stderr, "swaplab train: %s\n", err.msg);   // every reason, one per line
 *         return 1;
 *     }
 *     // record info.subject and info.digest in the model metadata
 *
 * A face set is accepted only when consent.json exists, parses, has format "swaplab-consent/1",
 * status "complete", every field, a granted date not in the future and an expiry not in the past
 * (UTC), the scope asked for, a subject not on the revocation list, a valid signature when one is
 * present, and an image list that matches the directory exactly: every image file in the set
 * (aligned/, frames/, anything else, found by extension and by content) listed with its SHA-256,
 * and nothing listed that is gone. Every failing condition is reported, each naming the file. */
#ifndef SL_CONSENT_H
#define SL_CONSENT_H

#include <stddef.h>

#include "util/crypto.h"
#include "util/util.h"

#define CONSENT_FORMAT "swaplab-consent/1"
#define CONSENT_REVOCATIONS_FORMAT "swaplab-revocations/1"
#define CONSENT_FILE "consent.json"
#define CONSENT_MAX_BYTES (64u << 20) /* manifest and revocation list size limit */

/* Scopes: what a subject agreed to. Uses passed to consent_check are these names. */
enum {
    CONSENT_SCOPE_TRAIN = 1,   /* "train": train a model on the faces */
    CONSENT_SCOPE_SWAP = 2,    /* "swap": swap from or onto the faces */
    CONSENT_SCOPE_DATASET = 4, /* "dataset": include them (or swaps of them) in a detector dataset */
    CONSENT_SCOPE_REPORT = 8,  /* "report": show them in an HTML report */
    CONSENT_SCOPE_ALL = 15,
};
/* "train,swap" -> mask; returns -1 with err naming the bad word. "all" is accepted. */
int consent_scopes_parse(const char *list, unsigned *mask, SlErr *err);
/* mask -> "train,swap" into out. */
void consent_scopes_format(unsigned mask, char *out, size_t n);

/* What an accepted manifest says (also filled, as far as known, on refusal). */
typedef struct {
    char subject[128];     /* pseudonym */
    char kind[16];         /* "volunteer" | "synthetic" */
    char status[16];       /* "complete" | "draft" */
    char granted[16];      /* YYYY-MM-DD */
    char expires[16];      /* YYYY-MM-DD */
    char coordinator[256];
    unsigned scopes;       /* CONSENT_SCOPE_* mask */
    char digest[65];       /* SHA-256 (hex) of the consent.json file: record it in model metadata */
    int nimages;           /* images listed */
    int is_signed;         /* a signature is present ... */
    int signature_ok;      /* ... and verifies */
    char signer_pk[65];    /* the recorded public key (hex) when signed */
} ConsentInfo;

/* Every refusal reason of one check, each a full sentence that starts with the file it concerns
 * ("sets/a/aligned/0003.png: changed since consent was recorded (SHA-256 differs)"). */
typedef struct {
    int n;
    char **v;
} ConsentReasons;
void consent_reasons_free(ConsentReasons *r);

typedef struct {
    const char *revocations; /* revocation list file; NULL: consent_revocations_default_path() */
    const char *today;       /* "YYYY-MM-DD" to compare dates with; NULL: today's UTC date (tests) */
    const uint8_t *trusted_pk; /* non-NULL: require a signature by exactly this key */
} ConsentOptions;

/* The gate. use is "train", "swap", "dataset", "report", or NULL to check everything but the
 * scope (any other string is a bug and aborts). opt may be NULL (defaults). Returns 0 when accepted (info filled), -1 when refused: err
 * holds every reason, one per line (cut short with a count if longer than SlErr holds), and why
 * (may be NULL) receives them all; free it with consent_reasons_free (also after success). */
int consent_check(const char *dir, const char *use, const ConsentOptions *opt, ConsentInfo *info,
                  ConsentReasons *why, SlErr *err);

/* ---- writing manifests -------------------------------------------------------------------- */
typedef struct {
    const char *subject;     /* required */
    const char *kind;        /* "volunteer" (default when NULL) or "synthetic" */
    unsigned scopes;         /* required, non-zero */
    const char *granted;     /* NULL: today (UTC) */
    const char *expires;     /* required, not before granted */
    const char *coordinator; /* required */
    const char *statement;   /* required */
    const SlKeypair *sign;   /* non-NULL: sign with this key and record its public key */
    const char *source;      /* optional note on where the images came from (kept from a draft) */
    const void *contributors; /* optional json_t array (a composite's contributors: objects with at
                                least "subject"); the gate refuses the set when any is revoked */
} ConsentFields;

/* Scans dir for every image, hashes it and writes dir/consent.json (atomically) with the fields.
 * Refuses missing fields, bad dates, an unknown kind. Overwrites an existing manifest: callers
 * (consent init) decide whether that is allowed. */
int consent_write(const char *dir, const ConsentFields *f, SlErr *err);
/* The synthetic face-set writer's manifest: kind "synthetic", every scope, granted today, expires
 * in 100 years, coordinator "swaplab synth", a statement that the subject does not exist. */
int consent_write_synthetic(const char *dir, const char *subject, SlErr *err);
/* The same for a composite person (data/synth/composite.h): also records contributors (a json_t
 * array, see ConsentFields), so that a revoked contributor revokes the composite. */
int consent_write_composite(const char *dir, const char *subject, const void *contributors, SlErr *err);
/* The manifest `extract` writes for real photos: status "draft", the image digests, and a note on
 * where the images came from (source may be NULL). The gate refuses it until `swaplab consent
 * init` completes it. */
int consent_write_draft(const char *dir, const char *source, SlErr *err);

/* Loads dir/consent.json without checking it against anything (for `consent show` and `init`).
 * Returns the parsed JSON object (json_decref it) via *root as a void* to keep jansson out of
 * this header; -1 with a line/column message when it does not parse. */
int consent_load(const char *dir, void **root, SlErr *err);

/* The canonical bytes a signature covers: the manifest without its "signature" member, as
 * compact JSON with keys sorted and non-ASCII escaped (Python: json.dumps(m, sort_keys=True,
 * separators=(",", ":"), ensure_ascii=True)). Returns a malloc'ed string. */
char *consent_canonical(const void *root);

/* ---- revocation ------------------------------------------------------------------------------ */
typedef struct {
    char *subject, *date, *reason;
} ConsentRevocation;
typedef struct {
    int n;
    ConsentRevocation *v;
} ConsentRevocations;

/* $SWAPLAB_REVOCATIONS if set, else $XDG_CONFIG_HOME/swaplab/revoked.json, else
 * $HOME/.config/swaplab/revoked.json. */
void consent_revocations_default_path(char *out, size_t n);
/* path NULL: the default path. A missing file is an empty list; a malformed one is an error. */
int consent_revocations_load(const char *path, ConsentRevocations *out, SlErr *err);
void consent_revocations_free(ConsentRevocations *r);
/* The entry for subject, or NULL. */
const ConsentRevocation *consent_revocations_find(const ConsentRevocations *r, const char *subject);
/* For swap with a trained model (which records subject + manifest digest): 1 when subject is
 * revoked (reason copied into reason[0..n) when non-NULL), 0 when not, -1 when the list cannot
 * be read (callers must then refuse: the gate fails closed). path NULL: the default path. */
int consent_is_revoked(const char *path, const char *subject, char *reason, size_t n, SlErr *err);
/* Adds subject to the list at path (NULL: default; parent folders created), written atomically.
 * date NULL: today. Adding a subject already listed keeps the first entry; *already says so. */
int consent_revoke(const char *path, const char *subject, const char *reason, const char *date,
                   int *already, SlErr *err);

/* ---- small helpers ------------------------------------------------------------------------- */
/* 1 when s is a valid calendar date "YYYY-MM-DD". */
int consent_date_valid(const char *s);
/* Adds days to a valid date (out: 16 bytes). */
void consent_date_add_days(const char *date, int days, char out[16]);

/* Lists every image file under dir (relative paths, sorted; consent.json and the like excluded),
 * recursing into sub-folders (not following symlinked folders). Returns count or -1 with err. */
int consent_list_images(const char *dir, char ***paths, SlErr *err);

#endif
