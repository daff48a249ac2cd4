/* cmd_ledger.c — `swaplab ledger add|prove|verify|export|show`: the transparency log of swap outputs
 * (infer/ledger.h). Exit codes: 0 holds; 1 a check failed or bad input; 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "infer/ledger.h"
#include "infer/provenance.h"
#include "util/args.h"
#include "util/fs.h"

static const char *LEDGER_ABOUT_DIR = "the log folder (default: $SWAPLAB_LEDGER, else ledger/ next to your lab key)";

static void usage(FILE *f) {
    fprintf(f, "usage: swaplab ledger add|prove|verify|export|show [options]\n\n"
               "The transparency log of swap outputs (RFC 9162-style Merkle tree): every output `swaplab swap`\n"
               "writes is appended (its SHA-256 and provenance record) and a tree head signed with the lab key.\n"
               "  add FILE...            append files made elsewhere\n"
               "  prove FILE             print the inclusion proof of FILE under the newest signed head\n"
               "  verify                 audit the log: every head's root, signature and consistency; with\n"
               "                         --since OLD.json also that an earlier head still holds; with\n"
               "                         --proof P.json check one proof offline (no log needed)\n"
               "  export --out DIR       write the log as static files (entries, heads, one proof per output)\n"
               "  show                   the size and newest tree head\n"
               "Each takes --help. Exit codes: 0 holds; 1 a check failed or bad input; 2 usage.\n");
}

static void ledger_dir(const char *given, char *out, size_t n) {
    if (given) sl_snprintf(out, n, "%s", given);
    else ledger_default_dir(out, n);
}

static int fail(const char *sub, const SlErr *err) {
    fprintf(stderr, "swaplab ledger %s: %s\n", sub, err->msg);
    return 1;
}

static int sub_add(int argc, char **argv) {
    const char *dir = NULL, *key_path = NULL;
    SlArg spec[] = {{"--ledger", SL_ARG_STR, &dir, "DIR", LEDGER_ABOUT_DIR},
                    {"--key", SL_ARG_STR, &key_path, "KEYFILE", "signing key for the tree heads (default: your lab key)"},
                    {0}};
    SlStrList files = {0};
    int r = sl_args_parse_some("ledger add", "FILE... [--ledger DIR] [--key KEYFILE]",
                               "Appends each file's SHA-256 to the log and signs a new tree head.", spec, argc, argv,
                               &files, "give at least one file");
    if (r >= 0) return r;
    char d[SL_PATH_MAX];
    ledger_dir(dir, d, sizeof d);
    SlKeypair key;
    SlErr err;
    if (provenance_load_key(key_path, &key, &err)) return free(files.v), fail("add", &err);
    for (int i = 0; i < files.n; i++) {
        uint64_t idx;
        if (ledger_add_file(d, files.v[i], &key, &idx, &err)) return free(files.v), fail("add", &err);
        printf("%s: entry %llu\n", files.v[i], (unsigned long long)idx);
    }
    free(files.v);
    return 0;
}

static int sub_prove(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    SlArg spec[] = {{"--ledger", SL_ARG_STR, &dir, "DIR", LEDGER_ABOUT_DIR},
                    {"--out", SL_ARG_STR, &out, "FILE", "write the proof there (default: print it)"},
                    {0}};
    SlStrList files = {0};
    int r = sl_args_parse_some("ledger prove", "FILE [--ledger DIR] [--out PROOF.json]",
                               "Prints the inclusion proof of FILE (found by its SHA-256) under the newest signed tree\n"
                               "head, as JSON (format swaplab.ledger-proof/1). Check it with `swaplab ledger verify --proof`.",
                               spec, argc, argv, &files, "give the file to prove");
    if (r >= 0) return r;
    if (files.n != 1) return free(files.v), sl_usage_error("ledger prove", "give exactly one file");
    char d[SL_PATH_MAX];
    ledger_dir(dir, d, sizeof d);
    Ledger lg;
    SlErr err;
    char *proof = NULL;
    if (ledger_load(d, &lg, &err)) return free(files.v), fail("prove", &err);
    r = ledger_prove_file(&lg, files.v[0], &proof, &err);
    ledger_free(&lg);
    free(files.v);
    if (r) return fail("prove", &err);
    if (out && sl_write_atomic(out, proof, strlen(proof), &err)) r = fail("prove", &err);
    else if (!out) printf("%s\n", proof);
    free(proof);
    return r;
}

static int sub_verify(int argc, char **argv) {
    const char *dir = NULL, *since = NULL, *proof = NULL, *file = NULL, *pub = NULL;
    SlArg spec[] = {{"--ledger", SL_ARG_STR, &dir, "DIR", LEDGER_ABOUT_DIR},
                    {"--since", SL_ARG_STR, &since, "STH.json", "an earlier tree head you kept: it must still hold"},
                    {"--proof", SL_ARG_STR, &proof, "PROOF.json", "check this inclusion proof offline instead"},
                    {"--file", SL_ARG_STR, &file, "FILE", "with --proof: the file the proof is for"},
                    {"--pubkey", SL_ARG_STR, &pub, "FILE", "require tree heads signed by this key (.pub; default: any)"},
                    {0}};
    int r = sl_args_parse("ledger verify", "[--ledger DIR] [--since STH.json] [--pubkey FILE] | --proof P.json [--file F]",
                          "Audits the log: every tree head's root is the root of its entries, its signature verifies,\n"
                          "and each head is consistent with the one before (RFC 9162 consistency proofs), so a\n"
                          "rewritten or deleted entry is found. --since checks an earlier head you kept (from\n"
                          "`ledger show --json` or an export's sth.json) against today's log. --proof checks one\n"
                          "inclusion proof with no log at hand.",
                          spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    uint8_t pk[32];
    SlErr err;
    char why[400];
    if (pub && sl_key_load_public(pub, pk, &err)) return fail("verify", &err);
    if (proof) {
        char *text;
        size_t n;
        if (sl_read_file(proof, 1 << 20, &text, &n, &err)) return fail("verify", &err);
        r = ledger_check_proof(text, file, pub ? pk : NULL, why, sizeof why);
        free(text);
        printf("%s: %s%s\n", proof, r ? "FAILS: " : "holds: ", why);
        return r ? 1 : 0;
    }
    char d[SL_PATH_MAX];
    ledger_dir(dir, d, sizeof d);
    Ledger lg;
    if (ledger_load(d, &lg, &err)) return fail("verify", &err);
    r = ledger_audit(&lg, pub ? pk : NULL, why, sizeof why);
    if (r) printf("%s: FAILS: %s\n", d, why);
    else printf("%s: holds: %llu entries, %llu signed tree heads, each consistent with the one before\n", d,
                (unsigned long long)lg.n, (unsigned long long)lg.n_sth);
    if (!r && since) {
        char *text = NULL;
        size_t n;
        LedgerSth old;
        if (sl_read_file(since, 1 << 16, &text, &n, &err)) r = fail("verify", &err);
        else if (ledger_sth_parse(text, &old)) r = 1, printf("%s: not a tree head\n", since);
        else {
            r = ledger_check_old_head(&lg, &old, why, sizeof why);
            if (!r && pub && memcmp(old.pk, pk, 32)) r = -1, snprintf(why, sizeof why, "the earlier head is not signed by --pubkey");
            printf("%s: %s%s\n", since, r ? "FAILS: " : "holds: ", why);
        }
        if (text) free(text);
    }
    ledger_free(&lg);
    return r ? 1 : 0;
}

static int sub_export(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    SlArg spec[] = {{"--ledger", SL_ARG_STR, &dir, "DIR", LEDGER_ABOUT_DIR},
                    {"--out", SL_ARG_STR, &out, "DIR", "where to write the static files (required)"},
                    {0}};
    int r = sl_args_parse("ledger export", "--out DIR [--ledger DIR]",
                          "Writes the log as static files a workshop audience can check without swaplab's state:\n"
                          "entries.log, sth.log, sth.json (the newest head), proofs/<sha256>.json and README.txt.",
                          spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    if (!out) return sl_usage_error("ledger export", "--out DIR is required");
    char d[SL_PATH_MAX];
    ledger_dir(dir, d, sizeof d);
    Ledger lg;
    SlErr err;
    if (ledger_load(d, &lg, &err)) return fail("export", &err);
    r = ledger_export(&lg, out, &err);
    if (!r) printf("exported %llu entries and %llu tree heads to %s\n", (unsigned long long)lg.n,
                   (unsigned long long)lg.n_sth, out);
    ledger_free(&lg);
    return r ? fail("export", &err) : 0;
}

static int sub_show(int argc, char **argv) {
    const char *dir = NULL;
    int as_json = 0;
    SlArg spec[] = {{"--ledger", SL_ARG_STR, &dir, "DIR", LEDGER_ABOUT_DIR},
                    {"--json", SL_ARG_FLAG, &as_json, NULL, "print only the newest tree head as JSON (keep it for --since)"},
                    {0}};
    int r = sl_args_parse("ledger show", "[--ledger DIR] [--json]", "Prints the log's size and newest signed tree head.",
                          spec, argc, argv, NULL);
    if (r) return r == 1 ? 0 : 2;
    char d[SL_PATH_MAX];
    ledger_dir(dir, d, sizeof d);
    Ledger lg;
    SlErr err;
    if (ledger_load(d, &lg, &err)) return fail("show", &err);
    char *sth = lg.n_sth ? ledger_sth_json(&lg.sth[lg.n_sth - 1]) : NULL;
    if (as_json) printf("%s\n", sth ? sth : "null");
    else printf("%s: %llu entries, %llu tree heads; newest: %s\n", d, (unsigned long long)lg.n,
                (unsigned long long)lg.n_sth, sth ? sth : "none");
    free(sth);
    ledger_free(&lg);
    return 0;
}

int cmd_ledger(int argc, char **argv) {
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[0];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(sub, "add")) return sub_add(argc - 1, argv + 1);
    if (!strcmp(sub, "prove")) return sub_prove(argc - 1, argv + 1);
    if (!strcmp(sub, "verify")) return sub_verify(argc - 1, argv + 1);
    if (!strcmp(sub, "export")) return sub_export(argc - 1, argv + 1);
    if (!strcmp(sub, "show")) return sub_show(argc - 1, argv + 1);
    fprintf(stderr, "swaplab ledger: unknown subcommand '%s' (add, prove, verify, export, show)\n", sub);
    return 2;
}
