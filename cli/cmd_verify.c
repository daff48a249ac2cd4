/* cmd_verify.c — `swaplab verify FILE...`: reports each provenance check of each file (record,
 * digital source type, Ed25519 signature, C2PA content credentials, watermark, label) in plain
 * words and a verdict that only established checks make (infer/provenance.h: ProvVerdict).
 * Exit codes: 0 every file marked; 3 some file forged or altered; 1 otherwise (some file not
 * marked, or unreadable); 2 usage. --detector adds a detector's opinion (detect/opinion.h), which
 * never changes the verdict or the exit code. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/video.h"
#include "detect/opinion.h"
#include "infer/provenance.h"
#include "infer/provenance/mp4_carrier.h"
#include "util/args.h"
#include "util/crypto.h"
#include "util/fs.h"

static const char *sig_word(ProvSigState s) {
    return s == PROV_SIG_VALID ? "valid" : s == PROV_SIG_INVALID ? "invalid" : "absent";
}

static json_t *result_json(const char *path, const VerifyResult *r, const char *error) {
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    if (error) {
        json_object_set_new(o, "error", json_string(error));
        json_object_set_new(o, "verdict", json_string("UNREADABLE"));
        json_object_set_new(o, "marked", json_false());
        return o;
    }
    char payload[9];
    snprintf(payload, sizeof payload, "%08x", r->wm.payload);
    json_object_set_new(o, "metadata", json_boolean(r->metadata));
    if (r->metadata)
        json_object_set_new(o, "subjects", json_pack("{s:s,s:s,s:s,s:i}", "source", r->rec.source_subject, "target",
                                                     r->rec.target_subject, "frame", r->rec.frame, "record_format",
                                                     r->rec.version));
    json_object_set_new(o, "xmp", json_boolean(r->xmp));
    json_object_set_new(o, "digital_source_type", r->source_type[0] ? json_string(r->source_type) : json_null());
    json_object_set_new(o, "signature", json_string(sig_word(r->sig)));
    json_object_set_new(o, "signature_public_key", r->sig_pubkey[0] ? json_string(r->sig_pubkey) : json_null());
    json_object_set_new(o, "signature_trusted", json_boolean(r->sig_trusted));
    if (r->sig == PROV_SIG_INVALID) json_object_set_new(o, "signature_problem", json_string(r->sig_reason));
    const C2paResult *c = &r->c2pa;
    json_object_set_new(o, "c2pa", json_pack("{s:b,s:b,s:b,s:b,s:b,s:b,s:s,s:s,s:s,s:s}", "present", c->present, "valid",
                                             c->valid, "signature_valid", c->sig_valid, "hash_match", c->hash_match,
                                             "trusted", c->trusted, "assertions_ok", c->assertions_ok, "signer",
                                             c->signer, "generator", c->generator, "digital_source_type", c->source_type,
                                             "problem", c->why));
    json_object_set_new(o, "ledger", json_pack("{s:b,s:b,s:I,s:s}", "checked", r->ledger_checked, "included",
                                               r->ledger_included, "index", (json_int_t)r->ledger_index, "note",
                                               r->ledger_why));
    json_object_set_new(o, "pixels_match_record", json_boolean(r->pixels_match));
    json_object_set_new(o, "watermark", json_pack("{s:b,s:f,s:f,s:b,s:o,s:b}", "found", r->wm.found, "z", r->wm.z,
                                                  "p_false", r->wm.p_false, "payload_ok", r->wm.payload_ok, "payload",
                                                  r->wm.payload_ok ? json_string(payload) : json_null(),
                                                  "payload_matches_record", r->wm_payload_matches));
    json_object_set_new(o, "label_recorded", r->label_record < 0 ? json_null() : json_boolean(r->label_record));
    json_object_set_new(o, "label_in_pixels", json_boolean(r->label_pixels));
    json_object_set_new(o, "verdict", json_string(provenance_verdict_name(r->verdict)));
    json_object_set_new(o, "marked", json_boolean(r->marked));
    if (r->record) {
        json_error_t je;
        json_t *rec = json_loads(r->record, 0, &je);
        if (rec) json_object_set_new(o, "record", rec);
    }
    return o;
}

static void print_text(const char *path, const VerifyResult *r) {
    printf("%s (%dx%d%s)\n", path, r->w, r->h, r->is_png ? ", PNG" : "");
    if (r->metadata) {
        const ProvRecord *p = &r->rec;
        printf("  metadata:     present (%s format %d, made %s by %s %s; source %s (face inserted) into target %s's "
               "frame%s%s; model %.16s)\n",
               PROV_KEY_RECORD, p->version, p->created, p->tool, p->tool_version, p->source_subject[0] ? p->source_subject : "?",
               p->target_subject[0] ? p->target_subject : "?", p->frame[0] ? " " : "", p->frame, p->model[0] ? p->model : "?");
    } else {
        printf("  metadata:     absent\n");
    }
    printf("  source type:  %s%s\n", r->source_type[0] ? r->source_type : "absent",
           r->source_type[0] ? (r->xmp ? " (XMP Iptc4xmpExt:DigitalSourceType)" : " (record or C2PA only; XMP absent)") : "");
    if (r->sig == PROV_SIG_VALID)
        printf("  signature:    valid, Ed25519 key %.16s...%s\n", r->sig_pubkey,
               r->sig_trusted ? " (trusted)"
                              : " (NOT trusted: not --pubkey nor your own key; anyone can sign, so it proves nothing)");
    else if (r->sig == PROV_SIG_INVALID)
        printf("  signature:    INVALID: %s%s%.16s\n", r->sig_reason, r->sig_pubkey[0] ? "; key " : "", r->sig_pubkey);
    else
        printf("  signature:    absent\n");
    const C2paResult *c = &r->c2pa;
    if (!c->present)
        printf("  C2PA:         absent\n");
    else if (c->valid)
        printf("  C2PA:         valid (claim signature, assertions and hard binding hold; signed by %s; %s)%s%s\n",
               c->signer, c->generator, c->trusted ? ", trusted CA" : ", NOT trusted: ", c->trusted ? "" : c->why);
    else
        printf("  C2PA:         INVALID: %s\n", c->why[0] ? c->why : "the manifest does not validate");
    if (r->ledger_checked || r->ledger_why[0])
        printf("  ledger:       %s%s\n", r->ledger_included ? "included: " : "NOT established: ", r->ledger_why);
    if (r->metadata) printf("  pixels:       %s\n", r->pixels_match ? "match the record's hash" : "DIFFER from the record's hash");
    if (r->wm.found) {
        printf("  watermark:    found (z = %.1f, false-positive probability <= %.1e)", r->wm.z, r->wm.p_false);
        if (r->wm.payload_ok)
            printf(", payload %08x%s\n", r->wm.payload,
                   r->wm_payload_matches ? " (matches the record)"
                   : r->metadata         ? " (does NOT match the record)"
                                         : " (normally the first 8 hex digits of the model's SHA-256)");
        else
            printf(", payload unreadable\n");
    } else {
        printf("  watermark:    not found (z = %.1f, needs p < %g)\n", r->wm.z, WM_P_THRESHOLD);
    }
    const char *lr = r->label_record < 0 ? "no record" : r->label_record ? "recorded" : "recorded as none";
    printf("  label:        %s (%s; box %s in the pixels)\n", r->label_pixels || r->label_record == 1 ? "present" : "absent",
           lr, r->label_pixels ? "found" : "not found");
    switch (r->verdict) {
    case PROV_MARKED:
        {
            const char *by[4];
            int nb = 0;
            if (r->sig_trusted) by[nb++] = "a trusted signature";
            if (c->valid && c->trusted) by[nb++] = "trusted C2PA credentials";
            if (r->ledger_included) by[nb++] = "the transparency log";
            if (r->wm.found) by[nb++] = "the watermark";
            printf("  verdict:      marked swaplab output (established by ");
            for (int i = 0; i < nb; i++) printf("%s%s", i ? (i == nb - 1 ? " and " : ", ") : "", by[i]);
            printf(")\n");
        }
        if (!r->metadata && r->sig != PROV_SIG_VALID)
            printf("                (the watermark alone: a swap whose metadata was stripped, or a sample of a\n"
                   "                swaplab detector dataset, real or fake alike; its labels.csv says which)\n");
        break;
    case PROV_ALTERED:
        printf("  verdict:      ALTERED: a marked swaplab output whose signature or C2PA binding no longer holds\n"
               "                (pixels or metadata were changed after it was made)\n");
        break;
    case PROV_FORGED:
        printf("  verdict:      FORGED: it carries swaplab provenance, but nothing establishes it (no trusted\n"
               "                signature, no valid trusted C2PA credentials, no watermark)\n");
        break;
    default:
        printf("  verdict:      NOT a marked swaplab output\n");
    }
}

/* Loads a trusted key or CA; the owned buffers go into the arrays. */
static int add_own_trust(uint8_t pks[][32], int *npk, uint8_t cas[][SL_CERT_MAX], size_t *calen, int *nca) {
    char path[SL_PATH_MAX], prefix[SL_PATH_MAX], p2[SL_PATH_MAX];
    sl_key_default_path(path, sizeof path);
    if (!sl_endswith(path, ".key")) return 0;
    sl_snprintf(prefix, sizeof prefix, "%.*s", (int)(strlen(path) - 4), path);
    SlErr e;
    sl_snprintf(p2, sizeof p2, "%s.pub", prefix);
    if (sl_is_file(p2) && !sl_key_load_public(p2, pks[*npk], &e)) ++*npk;
    sl_snprintf(p2, sizeof p2, "%s-ca.crt", prefix);
    if (sl_is_file(p2) && !sl_cert_read(p2, cas[*nca], &calen[*nca], &e)) ++*nca;
    return 0;
}

int cmd_verify(int argc, char **argv) {
    const char *pubkey = NULL, *wm_key = NULL, *ca = NULL, *ledger = NULL, *detector = NULL;
    int as_json = 0, no_own = 0;
    SlArg spec[] = {
        {"--pubkey", SL_ARG_STR, &pubkey, "FILE", "a trusted public key (.pub): a signature by it establishes the mark"},
        {"--ca", SL_ARG_STR, &ca, "FILE", "a trusted lab CA certificate (PREFIX-ca.crt from swaplab keygen) for C2PA"},
        {"--no-own-key", SL_ARG_FLAG, &no_own, NULL, "do not trust your own per-user lab key and CA (trusted by default)"},
        {"--ledger", SL_ARG_STR, &ledger, "DIR", "a transparency log (swaplab ledger) to look each file up in (default: none)"},
        {"--wm-key", SL_ARG_STR, &wm_key, "STRING", "the watermark key string your lab used (default: the public key)"},
        {"--json", SL_ARG_FLAG, &as_json, NULL, "print one JSON array instead of text"},
        {"--detector", SL_ARG_STR, &detector, "MODEL",
         "also score each image with this detector (from detect train; default: none): an opinion, never a mark"},
        {0},
    };
    SlStrList files = {0};
    int r = sl_args_parse_some("verify", "FILE... [--pubkey FILE] [--ca FILE] [--ledger DIR] [--no-own-key] [--wm-key STRING] [--detector MODEL] [--json]",
                               "Reports the provenance of each image or video: the swaplab.provenance record, the IPTC digital\n"
                               "source type, the Ed25519 signature, the C2PA content credentials, the invisible watermark\n"
                               "and the visible label, each in plain words, then a verdict. \"marked\" only for what is\n"
                               "established: a valid signature by a trusted key, valid C2PA credentials from a trusted CA,\n"
                               "inclusion in a --ledger log under a tree head a trusted key signed, or the watermark with false-positive probability < 1e-6 (this survives JPEG re-encoding).\n"
                               "Trusted: --pubkey, --ca and, unless --no-own-key, your own per-user lab key and CA.\n"
                               "A signature by any other key proves nothing; an invalid one is a failure.\n"
                               "Verdicts: marked; ALTERED (marked, but a signature or the C2PA binding fails); FORGED\n"
                               "(swaplab provenance that nothing establishes); NOT marked.\n"
                               "Videos (.mp4, .mov, .mkv, ...): the record, XMP and signature in the MP4's uuid boxes, and\n"
                               "the watermark and label read in every frame; the clip's watermark counts as found when at\n"
                               "least 10% of its frames (and at least one) carry it.\n"
                               "--detector MODEL adds, apart from these checks, a detector's score of each image and its\n"
                               "decision at the model's calibrated threshold (swaplab detect train|calibrate): an opinion,\n"
                               "not provenance. It never makes verify call a file marked, nor clears one, and does not\n"
                               "change the exit code (except an image the detector cannot read: 1).\n"
                               "Exit codes: 0 every file marked; 3 some file FORGED or ALTERED; 1 otherwise (a file\n"
                               "not marked or unreadable); 2 usage.",
                               spec, argc, argv, &files, "give at least one image or video file");
    if (r >= 0) return r;
    uint8_t pks[2][32], (*cas)[SL_CERT_MAX] = xcalloc(2, SL_CERT_MAX);
    size_t calen[2] = {0, 0};
    int npk = 0, nca = 0;
    SlErr err;
    if (pubkey && sl_key_load_public(pubkey, pks[npk], &err)) goto bad_trust;
    if (pubkey) npk++;
    if (ca && sl_cert_read(ca, cas[nca], &calen[nca], &err)) goto bad_trust;
    if (ca) nca++;
    if (!no_own) add_own_trust(pks, &npk, cas, calen, &nca); /* appends after the given ones */
    DetModel dm;
    if (detector && det_opinion_open(detector, &dm, &err)) goto bad_trust;
    const uint8_t *pkp[2] = {pks[0], pks[1]}, *cap[2] = {cas[0], cas[1]};
    ProvTrust trust = {.pubkeys = pkp, .n_pubkeys = npk, .cas = cap, .ca_len = calen, .n_cas = nca, .wm_key = wm_key,
                      .ledger = ledger};
    json_t *arr = as_json ? json_array() : NULL;
    int any_forged = 0, all = 1;
    for (int i = 0; i < files.n; i++) {
        if (video_is_video_path(files.v[i])) { /* MP4 boxes + every frame (infer/provenance/mp4_carrier.h) */
            int v = mp4_verify_report(files.v[i], &trust, arr);
            all &= v == PROV_MARKED;
            any_forged |= v == PROV_FORGED || v == PROV_ALTERED;
            if (detector && !arr) printf("  detector: not run (it scores images; score a clip's frames with detect scan)\n");
            continue;
        }
        VerifyResult res;
        if (provenance_verify(files.v[i], &trust, &res, &err)) {
            all = 0;
            if (arr) json_array_append_new(arr, result_json(files.v[i], NULL, err.msg));
            else fprintf(stderr, "swaplab verify: %s\n", err.msg);
            continue;
        }
        all &= res.marked;
        any_forged |= res.verdict == PROV_FORGED || res.verdict == PROV_ALTERED;
        json_t *o = arr ? result_json(files.v[i], &res, NULL) : NULL;
        if (!arr) print_text(files.v[i], &res);
        if (detector) { /* after the verdict is settled: the opinion cannot touch it */
            DetVerdict dv;
            SlErr derr;
            int bad = det_opinion_scan(&dm, files.v[i], &dv, &derr);
            all &= !bad;
            if (o) json_object_set_new(o, "detector", det_opinion_json(&dm, detector, bad ? NULL : &dv, derr.msg));
            else det_opinion_print(stdout, &dm, detector, bad ? NULL : &dv, derr.msg);
        }
        if (o) json_array_append_new(arr, o);
        verify_result_free(&res);
    }
    if (arr) {
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(arr);
    }
    free(files.v);
    free(cas);
    if (detector) det_model_free(&dm);
    return any_forged ? 3 : all ? 0 : 1;
bad_trust:
    fprintf(stderr, "swaplab verify: %s\n", err.msg);
    free(files.v);
    free(cas);
    return 1;
}
