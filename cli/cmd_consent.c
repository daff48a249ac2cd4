/* cmd_consent.c — `swaplab consent init|verify|revoke|show`: records a volunteer's consent for a
 * face set, checks face sets against the consent gate, revokes a subject, prints a manifest.
 * The rules are in data/consent.h; the practice around them in docs/CONSENT.md. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/consent.h"
#include "util/args.h"
#include "util/crypto.h"
#include "util/fs.h"

#define STATEMENT_MAX (64u << 10)

static int refuse(const char *sub, const char *msg) {
    fprintf(stderr, "swaplab consent %s: %s\n", sub, msg);
    return 1;
}

/* Compares a draft's image list with the images in dir now; prints each difference. Returns the
 * number of differences (0: the draft still describes the set). */
static int draft_differences(json_t *draft, const char *dir) {
    json_t *imgs = json_object_get(draft, "images");
    char **disk;
    SlErr err;
    int nd = consent_list_images(dir, &disk, &err);
    if (nd < 0) {
        fprintf(stderr, "  %s\n", err.msg);
        return 1;
    }
    int diffs = 0;
    char *seen = xcalloc((size_t)nd + 1, 1);
    size_t i;
    json_t *e;
    json_array_foreach(imgs, i, e) {
        json_t *p = json_object_get(e, "path"), *h = json_object_get(e, "sha256");
        if (!json_is_string(p) || !json_is_string(h)) continue;
        int found = -1;
        for (int k = 0; k < nd; k++)
            if (strcmp(disk[k], json_string_value(p)) == 0) found = k;
        char full[SL_PATH_MAX];
        sl_path_join(full, sizeof full, dir, json_string_value(p));
        if (found < 0) {
            fprintf(stderr, "  %s: removed since extract wrote the draft\n", full);
            diffs++;
            continue;
        }
        seen[found] = 1;
        char hex[65];
        if (sl_sha256_file(full, hex, &err) || strcmp(hex, json_string_value(h)) != 0) {
            fprintf(stderr, "  %s: changed since extract wrote the draft\n", full);
            diffs++;
        }
    }
    for (int k = 0; k < nd; k++)
        if (!seen[k]) {
            fprintf(stderr, "  %s/%s: added since extract wrote the draft\n", dir, disk[k]);
            diffs++;
        }
    free(seen);
    sl_free_list(disk, nd);
    return diffs;
}

static int sub_init(int argc, char **argv) {
    const char *subject = NULL, *coordinator = NULL, *scopes = NULL, *expires = NULL, *granted = NULL;
    const char *statement = NULL, *statement_file = NULL, *kind = "volunteer", *sign = NULL;
    const char *revocations = NULL;
    int force = 0, rescan = 0;
    SlArg spec[] = {
        {"--subject", SL_ARG_STR, &subject, "ID", "the subject's pseudonym (required; never a real name)"},
        {"--coordinator", SL_ARG_STR, &coordinator, "NAME", "who collected the signed consent form (required)"},
        {"--scopes", SL_ARG_STR, &scopes, "LIST", "what the subject agreed to: train,swap,dataset,report (required)"},
        {"--expires", SL_ARG_STR, &expires, "YYYY-MM-DD", "last day the consent is valid (required, not in the past)"},
        {"--granted", SL_ARG_STR, &granted, "YYYY-MM-DD", "day the form was signed (default: today, UTC)"},
        {"--statement", SL_ARG_STR, &statement, "TEXT", "what the subject agreed to, in words (at most 64 KiB)", 0, 65536},
        {"--statement-file", SL_ARG_STR, &statement_file, "FILE", "read the statement from FILE"},
        {"--kind", SL_ARG_STR, &kind, "KIND", "volunteer (default) or synthetic"},
        {"--sign", SL_ARG_STR, &sign, "KEYFILE", "sign the manifest with this secret key (swaplab keygen)"},
        {"--revocations", SL_ARG_STR, &revocations, "FILE", "revocation list to check the subject against (default: per-user list)"},
        {"--force", SL_ARG_FLAG, &force, NULL, "replace an existing complete manifest"},
        {"--rescan", SL_ARG_FLAG, &rescan, NULL, "record the images as they are now even if they differ from the draft"},
        {0},
    };
    SlStrList pos;
    int r = sl_args_parse("consent init", "DIR --subject ID --coordinator NAME --scopes LIST --expires YYYY-MM-DD [options]",
                          "Records a subject's consent for the face set in DIR: lists the SHA-256 of every image in it and\n"
                          "writes DIR/consent.json. Run it only after the subject has read the information sheet and\n"
                          "signed the consent form (docs/CONSENT.md). Completes a draft written by 'swaplab extract'.",
                          spec, argc, argv, &pos);
    if (r) {
        free(pos.v);
        return r == 1 ? 0 : 2;
    }
    const char *dir = pos.n == 1 ? pos.v[0] : NULL;
    free(pos.v);
    if (!dir) return sl_usage_error("consent init", "expected exactly one face-set directory");
    if (!subject) return sl_usage_error("consent init", "--subject is required (the subject's pseudonym)");
    if (!coordinator) return sl_usage_error("consent init", "--coordinator is required");
    if (!scopes) return sl_usage_error("consent init", "--scopes is required (e.g. train,swap)");
    if (!expires) return sl_usage_error("consent init", "--expires is required (YYYY-MM-DD)");
    if (statement && statement_file)
        return sl_usage_error("consent init", "give --statement or --statement-file, not both");
    SlErr err;
    unsigned mask;
    if (consent_scopes_parse(scopes, &mask, &err)) return sl_usage_error("consent init", "%s", err.msg);
    char today[16];
    sl_utc_date(today);
    if (!consent_date_valid(expires))
        return sl_usage_error("consent init", "--expires '%s' is not a date YYYY-MM-DD", expires);
    if (granted && !consent_date_valid(granted))
        return sl_usage_error("consent init", "--granted '%s' is not a date YYYY-MM-DD", granted);
    if (strcmp(expires, today) < 0) {
        fprintf(stderr, "swaplab consent init: --expires %s is in the past (today is %s, UTC): "
                        "consent that has run out cannot be recorded\n", expires, today);
        return 1;
    }
    if (granted && strcmp(granted, today) > 0) {
        fprintf(stderr, "swaplab consent init: --granted %s is in the future (today is %s, UTC)\n", granted, today);
        return 1;
    }
    if (!sl_is_dir(dir)) {
        fprintf(stderr, "swaplab consent init: %s: not a directory\n", dir);
        return 1;
    }

    int revoked = consent_is_revoked(revocations, subject, NULL, 0, &err);
    if (revoked < 0) return refuse("init", err.msg);
    if (revoked) {
        fprintf(stderr, "swaplab consent init: subject '%s' is on the revocation list; a subject who "
                        "revoked consent cannot be recorded again under the same pseudonym\n", subject);
        return 1;
    }

    char *stext = NULL;
    if (statement_file) {
        if (sl_read_file(statement_file, STATEMENT_MAX, &stext, NULL, &err)) return refuse("init", err.msg);
        size_t n = strlen(stext);
        while (n && (stext[n - 1] == '\n' || stext[n - 1] == '\r' || stext[n - 1] == ' ')) stext[--n] = 0;
        if (!n) {
            free(stext);
            fprintf(stderr, "swaplab consent init: %s: the statement file is empty\n", statement_file);
            return 1;
        }
    } else if (statement) {
        stext = xstrdup(statement);
    } else {
        char sc[64];
        consent_scopes_format(mask, sc, sizeof sc);
        if (asprintf(&stext, "The subject '%s' read the information sheet and signed a consent form, kept by "
                             "%s, allowing the images in this face set to be used for: %s, until %s. The "
                             "subject may revoke this consent at any time.",
                     subject, coordinator, sc, expires) < 0)
            SL_DIE("out of memory");
    }

    char *source = NULL;
    void *old = NULL;
    char mpath[SL_PATH_MAX];
    sl_path_join(mpath, sizeof mpath, dir, CONSENT_FILE);
    if (sl_is_file(mpath)) {
        if (consent_load(dir, &old, &err)) {
            if (!force) {
                free(stext);
                fprintf(stderr, "swaplab consent init: %s\n(the existing manifest is unreadable; pass --force "
                                "to replace it)\n", err.msg);
                return 1;
            }
        } else {
            json_t *j = old;
            json_t *st = json_object_get(j, "status");
            int draft = json_is_string(st) && strcmp(json_string_value(st), "draft") == 0;
            json_t *src = json_object_get(j, "source");
            if (json_is_string(src)) source = xstrdup(json_string_value(src));
            if (!draft && !force) {
                json_decref(j);
                free(stext);
                free(source);
                fprintf(stderr, "swaplab consent init: %s already records consent; pass --force to replace it "
                                "(only with the subject's new signed form)\n", mpath);
                return 1;
            }
            if (draft && !rescan && draft_differences(j, dir) > 0) {
                json_decref(j);
                free(stext);
                free(source);
                fprintf(stderr, "swaplab consent init: the images in %s differ from the draft (above); check "
                                "them, then pass --rescan to record them as they are now\n", dir);
                return 1;
            }
            json_decref(j);
        }
    }

    SlKeypair kp;
    if (sign && sl_key_load_secret(sign, &kp, &err)) {
        free(stext);
        free(source);
        return refuse("init", err.msg);
    }
    ConsentFields f = {
        .subject = subject,
        .kind = kind,
        .scopes = mask,
        .granted = granted,
        .expires = expires,
        .coordinator = coordinator,
        .statement = stext,
        .sign = sign ? &kp : NULL,
        .source = source,
    };
    int rc = consent_write(dir, &f, &err);
    free(stext);
    free(source);
    sodium_memzero(&kp, sizeof kp);
    if (rc) return refuse("init", err.msg);

    ConsentInfo info;
    ConsentOptions opt = {.revocations = revocations};
    if (consent_check(dir, NULL, &opt, &info, NULL, &err)) return refuse("init", err.msg);
    char sc[64];
    consent_scopes_format(info.scopes, sc, sizeof sc);
    printf("%s: consent recorded for subject %s (%s): %d images, scopes %s, %s to %s%s\n", mpath, info.subject,
           info.kind, info.nimages, sc, info.granted, info.expires, info.is_signed ? ", signed" : "");
    printf("manifest sha256 %s\n", info.digest);
    return 0;
}

static void print_accepted(const char *dir, const ConsentInfo *info) {
    char sc[64];
    consent_scopes_format(info->scopes, sc, sizeof sc);
    printf("%s: ok — subject %s (%s), scopes %s, valid %s to %s, %d images, %s%.16s\n", dir, info->subject,
           info->kind, sc, info->granted, info->expires, info->nimages,
           info->is_signed ? "signed by " : "unsigned", info->is_signed ? info->signer_pk : "");
}

static int sub_verify(int argc, char **argv) {
    const char *use = NULL, *revocations = NULL, *pub = NULL, *policy = NULL;
    SlArg spec[] = {
        {"--use", SL_ARG_STR, &use, "USE", "also check the scope covers USE: train, swap, dataset or report"},
        {"--revocations", SL_ARG_STR, &revocations, "FILE", "revocation list (default: $SWAPLAB_REVOCATIONS or the per-user list)"},
        {"--pub", SL_ARG_STR, &pub, "KEYFILE", "require a signature by this public key (.pub)"},
        {"--policy", SL_ARG_STR, &policy, "FILE", "lab policy (default: $SWAPLAB_POLICY, the per-user or system policy)"},
        {0},
    };
    SlStrList pos;
    int r = sl_args_parse_some("consent verify", "DIR... [--use USE] [--revocations FILE] [--pub KEYFILE]",
                               "Checks each face set against the consent gate: manifest present and complete, dates,\n"
                               "scope, revocation, signature, and every image's SHA-256. Prints every failure with the\n"
                               "file it concerns; exits 1 if any face set is refused.",
                               spec, argc, argv, &pos, "name at least one face-set directory");
    if (r >= 0) return r;
    SlErr err;
    unsigned bit;
    if (use && (consent_scopes_parse(use, &bit, &err) || strchr(use, ',') || strcmp(use, "all") == 0)) {
        free(pos.v);
        return sl_usage_error("consent verify", "--use takes one of train, swap, dataset, report");
    }
    uint8_t pk[32];
    if (pub && sl_key_load_public(pub, pk, &err)) {
        free(pos.v);
        return refuse("verify", err.msg);
    }
    ConsentOptions opt = {.revocations = revocations, .trusted_pk = pub ? pk : NULL, .policy = policy};
    int refused = 0;
    for (int i = 0; i < pos.n; i++) {
        ConsentInfo info;
        ConsentReasons why;
        if (consent_check(pos.v[i], use, &opt, &info, &why, &err) == 0) {
            print_accepted(pos.v[i], &info);
        } else {
            refused++;
            printf("%s: REFUSED%s%s (%d reason%s)\n", pos.v[i], use ? " for " : "", use ? use : "", why.n,
                   why.n == 1 ? "" : "s");
            for (int k = 0; k < why.n; k++) printf("  - %s\n", why.v[k]);
        }
        consent_reasons_free(&why);
    }
    if (refused)
        fprintf(stderr, "swaplab consent verify: %d of %d face set%s refused\n", refused, pos.n, pos.n == 1 ? "" : "s");
    free(pos.v);
    return refused ? 1 : 0;
}

static int sub_revoke(int argc, char **argv) {
    const char *why = NULL, *revocations = NULL, *date = NULL, *digest = NULL, *manifest = NULL, *sign = NULL,
               *policy = NULL;
    int create = 0;
    SlArg spec[] = {
        {"--reason", SL_ARG_STR, &why, "TEXT", "why (required), e.g. \"subject withdrew consent by email\""},
        {"--revocations", SL_ARG_STR, &revocations, "FILE", "revocation list (default: the policy's list, else $SWAPLAB_REVOCATIONS or the per-user list)"},
        {"--date", SL_ARG_STR, &date, "YYYY-MM-DD", "date of the withdrawal (default: today, UTC)"},
        {"--digest", SL_ARG_STR, &digest, "SHA256", "revoke one consent manifest by its SHA-256 (as models and outputs record it)"},
        {"--manifest", SL_ARG_STR, &manifest, "DIR", "revoke the consent manifest of the face set DIR by its SHA-256"},
        {"--sign", SL_ARG_STR, &sign, "KEYFILE", "sign the list with this secret key (required under a lab policy; none by default)"},
        {"--policy", SL_ARG_STR, &policy, "FILE", "lab policy (default: $SWAPLAB_POLICY, the per-user or system policy)"},
        {"--create", SL_ARG_FLAG, &create, NULL, "create an empty list (signed with --sign): a lab policy needs one from the start"},
        {0},
    };
    SlStrList pos;
    int r = sl_args_parse("consent revoke", "[SUBJECT] --reason TEXT [--digest SHA256 | --manifest DIR] [--sign KEYFILE]",
                          "Adds SUBJECT, or one consent manifest (--digest, --manifest), to the revocation list. From\n"
                          "then on the consent gate refuses every face set of that subject (or that manifest), and\n"
                          "models trained on them refuse to swap them. Delete the subject's face sets and models as\n"
                          "docs/CONSENT.md describes. Under a lab policy the list is signed by a coordinator (--sign).",
                          spec, argc, argv, &pos);
    if (r) {
        free(pos.v);
        return r == 1 ? 0 : 2;
    }
    const char *subject = pos.n == 1 ? pos.v[0] : NULL;
    int npos = pos.n;
    free(pos.v);
    if (npos > 1) return sl_usage_error("consent revoke", "expected at most one SUBJECT");
    if (create) {
        if (subject || digest || manifest || why || date)
            return sl_usage_error("consent revoke", "--create takes only --sign, --revocations and --policy");
        SlErr err;
        SlKeypair kp;
        char path[SL_PATH_MAX];
        if (consent_policy_select(policy, &err) || consent_revocations_path(revocations, path, sizeof path, &err) ||
            (sign && sl_key_load_secret(sign, &kp, &err)))
            return refuse("revoke", err.msg);
        int rc = consent_revocations_create(revocations, sign ? &kp : NULL, &err);
        if (sign) sodium_memzero(&kp, sizeof kp);
        if (rc) return refuse("revoke", err.msg);
        printf("%s: empty revocation list created%s\n", path, sign ? " (signed)" : "");
        return 0;
    }
    if (digest && manifest) return sl_usage_error("consent revoke", "give --digest or --manifest, not both");
    if (!subject && !digest && !manifest)
        return sl_usage_error("consent revoke", "name a SUBJECT, or a manifest with --digest or --manifest");
    if (!why || !*why) return sl_usage_error("consent revoke", "--reason is required");
    if (date && !consent_date_valid(date))
        return sl_usage_error("consent revoke", "--date '%s' is not a date YYYY-MM-DD", date);
    SlErr err;
    if (consent_policy_select(policy, &err)) return refuse("revoke", err.msg);
    char mdigest[65];
    if (manifest) {
        char mpath[SL_PATH_MAX];
        sl_path_join(mpath, sizeof mpath, manifest, CONSENT_FILE);
        if (sl_sha256_file(mpath, mdigest, &err)) return refuse("revoke", err.msg);
        digest = mdigest;
    }
    SlKeypair kp;
    if (sign && sl_key_load_secret(sign, &kp, &err)) return refuse("revoke", err.msg);
    if (!sign) memset(&kp, 0, sizeof kp);
    int already;
    char path[SL_PATH_MAX];
    if (consent_revocations_path(revocations, path, sizeof path, &err)) return refuse("revoke", err.msg);
    int rc = consent_revoke(revocations, subject, digest, why, date, sign ? &kp : NULL, &already, &err);
    sodium_memzero(&kp, sizeof kp);
    if (rc) return refuse("revoke", err.msg);
    char what[200];
    if (subject) snprintf(what, sizeof what, "subject %s", subject);
    else snprintf(what, sizeof what, "consent manifest %.16s...", digest);
    if (already) printf("%s: %s was already revoked; list unchanged\n", path, what);
    else
        printf("%s: %s revoked%s. Face sets under it are refused from now on and models trained on it refuse to "
               "swap it; delete its face sets and models (docs/CONSENT.md).\n", path, what, sign ? " (list signed)" : "");
    return 0;
}

static void show_str(json_t *j, const char *key, const char *label) {
    json_t *v = json_object_get(j, key);
    if (json_is_string(v)) printf("  %-12s %s\n", label, json_string_value(v));
    else if (v) printf("  %-12s (not a string)\n", label);
}

static int sub_show(int argc, char **argv) {
    int images = 0;
    const char *revocations = NULL;
    SlArg spec[] = {
        {"--images", SL_ARG_FLAG, &images, NULL, "also list every image with its SHA-256"},
        {"--revocations", SL_ARG_STR, &revocations, "FILE", "revocation list used for the status line (default: per-user list)"},
        {0},
    };
    SlStrList pos;
    int r = sl_args_parse("consent show", "DIR [--images]",
                          "Prints the consent manifest of a face set readably, then whether the gate accepts it.",
                          spec, argc, argv, &pos);
    if (r) {
        free(pos.v);
        return r == 1 ? 0 : 2;
    }
    const char *dir = pos.n == 1 ? pos.v[0] : NULL;
    free(pos.v);
    if (!dir) return sl_usage_error("consent show", "expected exactly one face-set directory");
    SlErr err;
    void *root;
    if (consent_load(dir, &root, &err)) return refuse("show", err.msg);
    json_t *j = root;
    char mpath[SL_PATH_MAX];
    sl_path_join(mpath, sizeof mpath, dir, CONSENT_FILE);
    printf("%s\n", mpath);
    show_str(j, "format", "format");
    show_str(j, "status", "status");
    show_str(j, "subject", "subject");
    show_str(j, "kind", "kind");
    json_t *sc = json_object_get(j, "scopes");
    if (json_is_array(sc)) {
        printf("  %-12s ", "scopes");
        size_t i;
        json_t *v;
        json_array_foreach(sc, i, v) printf("%s%s", i ? ", " : "", json_is_string(v) ? json_string_value(v) : "?");
        printf("\n");
    }
    show_str(j, "granted", "granted");
    show_str(j, "expires", "expires");
    show_str(j, "created", "created");
    show_str(j, "coordinator", "coordinator");
    show_str(j, "source", "source");
    show_str(j, "statement", "statement");
    show_str(j, "note", "note");
    json_t *imgs = json_object_get(j, "images");
    printf("  %-12s %zu listed\n", "images", json_array_size(imgs));
    if (images) {
        size_t i;
        json_t *e;
        json_array_foreach(imgs, i, e) {
            json_t *p = json_object_get(e, "path"), *h = json_object_get(e, "sha256");
            printf("    %s  %s\n", json_is_string(h) ? json_string_value(h) : "?",
                   json_is_string(p) ? json_string_value(p) : "?");
        }
    }
    json_t *sig = json_object_get(j, "signature");
    json_t *pk = json_is_object(sig) ? json_object_get(sig, "public_key") : NULL;
    printf("  %-12s %s%s\n", "signature", sig ? "ed25519, key " : "none",
           json_is_string(pk) ? json_string_value(pk) : (sig ? "?" : ""));
    json_decref(j);

    ConsentInfo info;
    ConsentReasons why;
    ConsentOptions opt = {.revocations = revocations};
    int rc = consent_check(dir, NULL, &opt, &info, &why, &err);
    printf("  %-12s %s\n", "sha256", info.digest);
    if (rc == 0) {
        printf("  %-12s valid (signature %s)\n", "gate", info.is_signed ? "verified" : "absent");
    } else {
        printf("  %-12s REFUSED:\n", "gate");
        for (int k = 0; k < why.n; k++) printf("    - %s\n", why.v[k]);
    }
    consent_reasons_free(&why);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: swaplab consent SUBCOMMAND ...\n\n"
            "Consent manifests (consent.json) of face sets; nothing is trained on, swapped or exported without one.\n\n"
            "subcommands:\n"
            "  init DIR --subject ID --coordinator NAME --scopes LIST --expires DATE   record consent\n"
            "  verify DIR... [--use USE]                                              check face sets\n"
            "  revoke [SUBJECT] --reason TEXT [--digest SHA256|--manifest DIR]        revoke a subject or a manifest\n"
            "  show DIR                                                               print a manifest\n\n"
            "'swaplab consent SUBCOMMAND --help' shows its options; docs/CONSENT.md explains the process.\n");
}

int cmd_consent(int argc, char **argv) {
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[0];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(sub, "init")) return sub_init(argc - 1, argv + 1);
    if (!strcmp(sub, "verify")) return sub_verify(argc - 1, argv + 1);
    if (!strcmp(sub, "revoke")) return sub_revoke(argc - 1, argv + 1);
    if (!strcmp(sub, "show")) return sub_show(argc - 1, argv + 1);
    fprintf(stderr, "swaplab consent: unknown subcommand '%s' (init, verify, revoke, show)\n", sub);
    return 2;
}
