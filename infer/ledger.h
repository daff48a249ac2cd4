/* ledger.h — a transparency log of swap outputs, the way Certificate Transparency does it
 * (RFC 9162, https://www.rfc-editor.org/rfc/rfc9162): every output's digest and provenance record
 * is a leaf of an append-only Merkle tree; after each append the tree head (size, root) is signed
 * with the lab key. Inclusion proofs show an output is in the log; consistency proofs show a later
 * head extends an earlier one, so deleting or rewriting an entry is detected by anyone who kept an
 * earlier head.
 *
 * On disk, a folder:
 *   entries.log   one entry per line (compact JSON, "\n"-terminated); leaf i = line i. The leaf hash
 *                 is SHA-256(0x00 || line without "\n"), a node SHA-256(0x01 || left || right).
 *   sth.log       one signed tree head per line: {"tree_size","root","timestamp","public_key",
 *                 "signature"}; the Ed25519 signature covers "swaplab-sth-v1\n<size>\n<root hex>\n<timestamp>".
 *   lock          flock(2) target: appends are serialised across processes.
 * An append writes and fsyncs the entry, then the head, before it returns (acknowledges): a crash
 * loses at most an unacknowledged, torn last line, which readers ignore and the next append cuts. */
#ifndef SL_LEDGER_H
#define SL_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "util/crypto.h"
#include "util/util.h"

#define LEDGER_MAX_ENTRIES (1u << 24)
#define LEDGER_MAX_PROOF 64

typedef struct {
    uint64_t tree_size;
    uint8_t root[32];
    char timestamp[32];
    uint8_t pk[32];
    uint8_t sig[64];
} LedgerSth;

typedef struct {
    uint64_t n;             /* complete entries */
    uint8_t (*leaf)[32];    /* leaf hashes */
    char **entry;           /* entry texts (without "\n") */
    uint64_t n_sth;
    LedgerSth *sth;         /* every head, oldest first */
} Ledger;

/* ---- RFC 9162 section 2.1 over leaf hashes ---- */
void ledger_leaf_hash(const void *entry, size_t len, uint8_t out[32]);
void ledger_root(const uint8_t (*leaf)[32], uint64_t n, uint8_t out[32]); /* MTH; n = 0: SHA-256("") */
/* Inclusion proof of leaf m in the first n leaves; returns its length. */
int ledger_inclusion_proof(const uint8_t (*leaf)[32], uint64_t n, uint64_t m, uint8_t path[][32]);
int ledger_verify_inclusion(const uint8_t leaf_hash[32], uint64_t m, uint64_t n, const uint8_t path[][32], int len,
                            const uint8_t root[32]);
/* Consistency proof between the first n1 and the first n2 leaves (0 < n1 <= n2). */
int ledger_consistency_proof(const uint8_t (*leaf)[32], uint64_t n1, uint64_t n2, uint8_t path[][32]);
int ledger_verify_consistency(uint64_t n1, uint64_t n2, const uint8_t root1[32], const uint8_t root2[32],
                              const uint8_t path[][32], int len);

/* ---- heads ---- */
void ledger_sth_sign(LedgerSth *s, const SlKeypair *key);
int ledger_sth_valid(const LedgerSth *s); /* the signature verifies with s->pk */
char *ledger_sth_json(const LedgerSth *s); /* compact JSON, malloc'ed */
int ledger_sth_parse(const char *text, LedgerSth *s);

/* ---- the folder ---- */
/* Appends one entry (a JSON object's compact text, no newline) and a signed head; *index = its
 * leaf index. Creates the folder on first use. Safe across processes. */
int ledger_append(const char *dir, const char *entry, const SlKeypair *key, uint64_t *index, SlErr *err);
/* Loads the complete entries and heads (a torn last line is ignored). A missing folder is an error. */
int ledger_load(const char *dir, Ledger *lg, SlErr *err);
void ledger_free(Ledger *lg);
/* Index of the entry whose "sha256" is hex (the file's digest), or -1. */
int64_t ledger_find(const Ledger *lg, const char *sha256_hex);

/* The per-user log: $SWAPLAB_LEDGER, else "ledger" next to the default lab key. SWAPLAB_LEDGER=off
 * turns the default log off (provenance_write_png then logs nothing). */
void ledger_default_dir(char *out, size_t n);

/* Audits a loaded log: every head's root is the root of its first tree_size entries, every head's
 * signature verifies (and by trusted_pk when given), heads never shrink and each is consistent with
 * the one before. Fills why with the first problem; 0 if all holds. */
int ledger_audit(const Ledger *lg, const uint8_t *trusted_pk, char *why, size_t n);

/* ---- pipelines of `swaplab ledger` ---- */
/* Appends a file made elsewhere: entry {"sha256", "file", "logged", "added": true}. */
int ledger_add_file(const char *dir, const char *path, const SlKeypair *key, uint64_t *index, SlErr *err);
/* The inclusion proof of the file (by its SHA-256) under the newest head, as JSON text
 * (format swaplab.ledger-proof/1: entry, leaf_index, tree_size, path, tree_head); malloc'ed. */
int ledger_prove_file(const Ledger *lg, const char *path, char **proof, SlErr *err);
/* Checks a proof text offline: the entry hashes to the leaf, the path reaches the head's root, the
 * head's signature verifies (by trusted_pk when given) and, when file is given, the file's SHA-256
 * is the entry's. 0 if all holds; why says what failed or what held. */
int ledger_check_proof(const char *proof, const char *file, const uint8_t *trusted_pk, char *why, size_t n);
/* Checks that an earlier head (kept by an auditor) is consistent with the log's newest one. */
int ledger_check_old_head(const Ledger *lg, const LedgerSth *old, char *why, size_t n);
/* Writes the log as static files into out: entries.log, sth.log, sth.json (the newest head),
 * proofs/<sha256>.json (one inclusion proof per entry) and README.txt. */
int ledger_export(const Ledger *lg, const char *out, SlErr *err);

#endif
