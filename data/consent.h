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
    const char *revocations; /* revocation list file given explicitly (it must exist); NULL: the
                                policy's list, else consent_revocations_default_path() */
    const char *today;       /* "YYYY-MM-DD" to compare dates with; NULL: today's UTC date (tests) */
    const uint8_t *trusted_pk; /* non-NULL: require a signature by exactly this key */
    const char *policy;      /* lab policy file given explicitly (it must exist); NULL: the search
                                of consent_policy_find */
    const char *system_policy; /* NULL: CONSENT_POLICY_SYSTEM; tests point it elsewhere */
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

/* ---- lab policy --------------------------------------------------------------------------------
 * A course that needs authentic consent (not only intact files) writes a policy file:
 *
 *     {"format": "swaplab-policy/1", "course": "CS 492 2026",
 *      "coordinators": [{"name": "A. Teacher", "public_key": "<64 hex>"}],
 *      "revocations": "/srv/course/revoked.json"}
 *
 * Under a policy the gate (train, swap, dataset, report, consent verify) also refuses a manifest
 * that is unsigned or signed by a key the policy does not name, and a revocation list that is
 * missing, unsigned or signed by another key. "revocations" (optional; relative to the policy
 * file's folder) names the one list in force: --revocations naming another file is refused.
 * The policy in force is, first found: --policy FILE (must exist), $SWAPLAB_POLICY (must exist),
 * $XDG_CONFIG_HOME/swaplab/policy.json or ~/.config/swaplab/policy.json, the system file
 * CONSENT_POLICY_SYSTEM. When the system file exists it is always the policy: a per-user file,
 * $SWAPLAB_POLICY or --policy naming another file is an error (a student cannot swap it out on a
 * lab machine). Threat model: docs/CONSENT.md. */
#define CONSENT_POLICY_FORMAT "swaplab-policy/1"
#define CONSENT_POLICY_SYSTEM "/etc/swaplab/policy.json"
#define CONSENT_POLICY_MAX_KEYS 64
typedef struct {
    char path[SL_PATH_MAX];        /* the file it was read from */
    char course[256];
    int nkeys;
    uint8_t pk[CONSENT_POLICY_MAX_KEYS][32];
    char name[CONSENT_POLICY_MAX_KEYS][128];
    char revocations[SL_PATH_MAX]; /* the list it names (resolved against the policy's folder), or "" */
} ConsentPolicy;

/* Reads and checks a policy file (format, 1..64 coordinators each with a name and a 64-hex key). */
int consent_policy_load(const char *path, ConsentPolicy *p, SlErr *err);
/* The policy in force (order above). explicit_path: --policy or NULL; system_path NULL:
 * CONSENT_POLICY_SYSTEM. Returns 1 with p filled, 0 when no policy is in force, -1 with err when
 * a policy named or found cannot be used (the gate then refuses: it fails closed). */
int consent_policy_find(const char *explicit_path, const char *system_path, ConsentPolicy *p, SlErr *err);
/* For commands with --policy FILE: loads it (refusing what consent_policy_find refuses) and makes
 * it the policy of this process and its children ($SWAPLAB_POLICY), so every gate the command
 * runs (train, swap, dataset, report) applies it. path NULL: nothing to do. */
int consent_policy_select(const char *path, SlErr *err);
/* The index of pk among the policy's keys, or -1. */
int consent_policy_key(const ConsentPolicy *p, const uint8_t pk[32]);

/* ---- revocation ------------------------------------------------------------------------------ */
typedef struct {
    char *subject; /* pseudonym, or "" for an entry that revokes one manifest by digest */
    char *sha256;  /* SHA-256 (hex) of a revoked consent.json, or "" */
    char *date, *reason;
} ConsentRevocation;
typedef struct {
    int n;
    ConsentRevocation *v;
    int is_signed, signature_ok; /* a "signature" member is present; it verifies */
    uint8_t signer_pk[32];
} ConsentRevocations;

/* $SWAPLAB_REVOCATIONS if set, else $XDG_CONFIG_HOME/swaplab/revoked.json, else
 * $HOME/.config/swaplab/revoked.json. */
void consent_revocations_default_path(char *out, size_t n);
/* path NULL: the default path, where a missing file is an empty list. A path given explicitly
 * must exist. A malformed list is an error. A signature, when present, is checked (is_signed,
 * signature_ok, signer_pk); whether one is required is the caller's (the policy's) business. */
int consent_revocations_load(const char *path, ConsentRevocations *out, SlErr *err);
void consent_revocations_free(ConsentRevocations *r);
/* The entry for subject (or, with consent_revocations_find_digest, for a manifest digest), or NULL. */
const ConsentRevocation *consent_revocations_find(const ConsentRevocations *r, const char *subject);
const ConsentRevocation *consent_revocations_find_digest(const ConsentRevocations *r, const char *sha256);
/* The revocation list that applies under opt (explicit --revocations, the policy's list, the
 * default path), loaded and, under a policy, required to exist and be signed by a coordinator.
 * where receives the list's path. Returns 0, or -1 with err (the gate then refuses). */
int consent_revocations_for(const ConsentOptions *opt, ConsentRevocations *out, char *where, size_t n,
                            SlErr *err);
/* For swap with a trained model (which records subject + manifest digest): 1 when subject is
 * revoked (reason copied into reason[0..n) when non-NULL), 0 when not, -1 when the list cannot
 * be read (callers must then refuse: the gate fails closed). path NULL: the default path (or the
 * policy's list). consent_is_revoked_digest also refuses a revoked manifest digest (NULL: none). */
int consent_is_revoked(const char *path, const char *subject, char *reason, size_t n, SlErr *err);
int consent_is_revoked_digest(const char *path, const char *subject, const char *digest, char *reason,
                              size_t n, SlErr *err);
/* Adds an entry to the list at path (NULL: default; parent folders created), written atomically:
 * for subject (may be NULL when sha256 is given) and/or a manifest digest sha256 (64 hex, may be
 * NULL). date NULL: today. An entry already listed keeps the first; *already says so. The reason
 * is free text; bytes that are not UTF-8 are replaced by U+FFFD (the revocation is never lost).
 * sign non-NULL: the list is signed with this key; an existing signed list is rewritten only when
 * its signature verifies, and under a policy only signed by a coordinator key. */
int consent_revoke(const char *path, const char *subject, const char *sha256, const char *reason,
                   const char *date, const SlKeypair *sign, int *already, SlErr *err);
/* Creates an empty list where consent_revoke(path, ...) would write (signed when sign; under a
 * policy sign must be a coordinator's key). Refuses to replace an existing list. */
int consent_revocations_create(const char *path, const SlKeypair *sign, SlErr *err);
/* The list consent_revoke(path, ...) writes to (the policy's, else path, else the default). */
int consent_revocations_path(const char *path, char *out, size_t n, SlErr *err);

/* ---- small helpers ------------------------------------------------------------------------- */
/* 1 when s is a valid calendar date "YYYY-MM-DD". */
int consent_date_valid(const char *s);
/* Adds days to a valid date (out: 16 bytes). */
void consent_date_add_days(const char *date, int days, char out[16]);

/* Lists every image file under dir (relative paths, sorted; consent.json and the like excluded),
 * recursing into sub-folders (not following symlinked folders). Returns count or -1 with err. */
int consent_list_images(const char *dir, char ***paths, SlErr *err);

#endif
