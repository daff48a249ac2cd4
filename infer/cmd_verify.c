/* cmd_verify.c — `swaplab verify FILE...`: reports the five provenance items of each file (record,
 * digital source type, signature, watermark, label) and exits 0 only if every file is a marked
 * swaplab output: a valid signature over its pixels and record, or the watermark found with a
 * false-positive bound below 1e-6 (which still holds on a re-encoded copy without metadata). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/video.h"
#include "infer/mp4_carrier.h"
#include "infer/provenance.h"
#include "util/args.h"
#include "util/crypto.h"

static const char *sig_word(ProvSigState s) {
    return s == PROV_SIG_VALID ? "valid" : s == PROV_SIG_INVALID ? "invalid" : "absent";
}

static json_t *result_json(const char *path, const VerifyResult *r, const char *error) {
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    if (error) {
        json_object_set_new(o, "error", json_string(error));
        json_object_set_new(o, "marked", json_false());
        return o;
    }
    char payload[9];
    snprintf(payload, sizeof payload, "%08x", r->wm.payload);
    json_object_set_new(o, "metadata", json_boolean(r->metadata));
    json_object_set_new(o, "xmp", json_boolean(r->xmp));
    json_object_set_new(o, "digital_source_type", r->source_type[0] ? json_string(r->source_type) : json_null());
    json_object_set_new(o, "signature", json_string(sig_word(r->sig)));
    json_object_set_new(o, "signature_public_key", r->sig_pubkey[0] ? json_string(r->sig_pubkey) : json_null());
    json_object_set_new(o, "signature_trusted", json_boolean(r->sig_trusted));
    if (r->sig == PROV_SIG_INVALID) json_object_set_new(o, "signature_problem", json_string(r->sig_reason));
    json_object_set_new(o, "pixels_match_record", json_boolean(r->pixels_match));
    json_object_set_new(o, "watermark", json_pack("{s:b,s:f,s:f,s:b,s:o,s:b}", "found", r->wm.found, "z", r->wm.z,
                                                  "p_false", r->wm.p_false, "payload_ok", r->wm.payload_ok, "payload",
                                                  r->wm.payload_ok ? json_string(payload) : json_null(),
                                                  "payload_matches_record", r->wm_payload_matches));
    json_object_set_new(o, "label_recorded", r->label_record < 0 ? json_null() : json_boolean(r->label_record));
    json_object_set_new(o, "label_in_pixels", json_boolean(r->label_pixels));
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
        json_error_t je;
        json_t *rec = json_loads(r->record, 0, &je);
        json_t *src = json_object_get(rec, "source"), *dst = json_object_get(rec, "target");
        const char *ss = json_string_value(json_object_get(src, "subject"));
        const char *ts = json_string_value(json_object_get(dst, "subject"));
        const char *model = json_string_value(json_object_get(rec, "model_sha256"));
        printf("  metadata:     present (%s, made %s by %s %s; %s -> %s, model %.16s)\n", PROV_KEY_RECORD,
               json_string_value(json_object_get(rec, "created")), json_string_value(json_object_get(rec, "tool")),
               json_string_value(json_object_get(rec, "version")), ss ? ss : "?", ts ? ts : "?", model ? model : "?");
        json_decref(rec);
    } else {
        printf("  metadata:     absent\n");
    }
    printf("  source type:  %s%s\n", r->source_type[0] ? r->source_type : "absent",
           r->source_type[0] ? (r->xmp ? " (XMP Iptc4xmpExt:DigitalSourceType)" : " (record only; XMP absent)") : "");
    if (r->sig == PROV_SIG_VALID)
        printf("  signature:    valid, Ed25519 key %.16s...%s\n", r->sig_pubkey,
               r->sig_trusted ? " (trusted: matches --pubkey)" : " (not the --pubkey key or none given)");
    else if (r->sig == PROV_SIG_INVALID)
        printf("  signature:    INVALID: %s%s%.16s\n", r->sig_reason, r->sig_pubkey[0] ? "; key " : "", r->sig_pubkey);
    else
        printf("  signature:    absent\n");
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
    printf("  verdict:      %s\n", r->marked ? "marked swaplab output" : "NOT a marked swaplab output");
    if (r->marked && !r->metadata && r->sig != PROV_SIG_VALID)
        printf("                (the watermark alone: a swap whose metadata was stripped, or a sample of a\n"
               "                swaplab detector dataset, real or fake alike; its labels.csv says which)\n");
}

int cmd_verify(int argc, char **argv) {
    const char *pubkey = NULL, *wm_key = NULL;
    int as_json = 0;
    SlArg spec[] = {
        {"--pubkey", SL_ARG_STR, &pubkey, "FILE", "a trusted public key (.pub); a signature by it is reported as trusted"},
        {"--wm-key", SL_ARG_STR, &wm_key, "STRING", "the watermark key string your lab used (default: the public key)"},
        {"--json", SL_ARG_FLAG, &as_json, NULL, "print one JSON array instead of text"},
        {0},
    };
    SlStrList files = {0};
    int r = sl_args_parse_some("verify", "FILE... [--pubkey FILE] [--wm-key STRING] [--json]",
                               "Reports the provenance of each image or video: the swaplab.provenance record, the IPTC digital\n"
                               "source type in XMP, the Ed25519 signature, the invisible watermark and the visible label.\n"
                               "Exits 0 only if every file is a marked swaplab output (a valid signature, or the watermark\n"
                               "found with false-positive probability < 1e-6 — this survives JPEG re-encoding), else 1.\n"
                               "Videos (.mp4, .mov, .mkv, ...): the record and signature in the MP4's uuid box, XMP, and the\n"
                               "watermark and label read in every frame; the clip's watermark counts as found when at least\n"
                               "10% of its frames (and at least one) carry it.",
                               spec, argc, argv, &files,
                               "give at least one image file");
    if (r >= 0) return r;
    uint8_t pk[32];
    SlErr err;
    if (pubkey && sl_key_load_public(pubkey, pk, &err)) {
        fprintf(stderr, "swaplab verify: %s\n", err.msg);
        free(files.v);
        return 1;
    }
    json_t *arr = as_json ? json_array() : NULL;
    int all = 1;
    for (int i = 0; i < files.n; i++) {
        if (video_is_video_path(files.v[i])) { /* MP4 boxes + every frame (infer/mp4_carrier.h) */
            all &= mp4_verify_report(files.v[i], pubkey ? pk : NULL, wm_key, arr);
            continue;
        }
        VerifyResult res;
        if (provenance_verify_file_key(files.v[i], pubkey ? pk : NULL, wm_key, &res, &err)) {
            all = 0;
            if (arr) json_array_append_new(arr, result_json(files.v[i], NULL, err.msg));
            else fprintf(stderr, "swaplab verify: %s\n", err.msg);
            continue;
        }
        all &= res.marked;
        if (arr) json_array_append_new(arr, result_json(files.v[i], &res, NULL));
        else print_text(files.v[i], &res);
        verify_result_free(&res);
    }
    if (arr) {
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(arr);
    }
    free(files.v);
    return all ? 0 : 1;
}
