/* record.c — the swaplab.provenance record and its Ed25519 signature (carriers.h): building the
 * record (format swaplab.provenance/2), reading both formats, signing and checking. Words follow
 * FaceForensics++ and DeepFaceLab: source = the identity whose face is inserted, target = the
 * person in the frame (docs/FORMATS.md). Format /1 used them the other way round; it is read and
 * mapped to today's words. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/label.h"
#include "infer/provenance/carriers.h"

#define SIG_DOMAIN "swaplab-signature-v1\n"

void provenance_info_init(ProvenanceInfo *info) {
    memset(info, 0, sizeof *info);
    info->label = 1;
}

static int is_hex(const char *s, size_t n) {
    if (!s || strlen(s) < n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))) return 0;
    return 1;
}

uint32_t provenance_payload(const ProvenanceInfo *info) {
    if (info->has_payload) return info->payload;
    uint8_t d[32];
    if (is_hex(info->model_sha256, 8)) {
        char head[9];
        memcpy(head, info->model_sha256, 8);
        head[8] = 0;
        sl_unhex(d, 4, head);
    } else {
        /* the pre-2 order of the fields (frame owner first) keeps payloads of old settings unchanged */
        char buf[1024];
        snprintf(buf, sizeof buf, "%s|%s|%s|%s", info->target_subject ? info->target_subject : "",
                 info->source_subject ? info->source_subject : "", info->preset ? info->preset : "",
                 info->input ? info->input : "");
        sl_sha256(buf, strlen(buf), d);
    }
    return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

void provenance_pixel_hash(const Image *rgb, char hex[65]) {
    sl_crypto_init();
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, rgb->px, (size_t)rgb->w * rgb->h * rgb->c);
    uint8_t wh[8];
    for (int i = 0; i < 4; i++) wh[i] = (uint8_t)((uint32_t)rgb->w >> (8 * i)), wh[4 + i] = (uint8_t)((uint32_t)rgb->h >> (8 * i));
    crypto_hash_sha256_update(&st, wh, sizeof wh);
    uint8_t d[32];
    crypto_hash_sha256_final(&st, d);
    sl_hex(hex, d, 32);
}

const char *prov_source_type(const ProvenanceInfo *info) {
    return info->target_kind && !strcmp(info->target_kind, "synthetic") ? PROV_SOURCE_TYPE_SYNTHETIC
                                                                        : PROV_SOURCE_TYPE_COMPOSITE;
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *prov_record_head(const ProvenanceInfo *info, const char *when, const char *media, const char *target_role) {
    json_t *rec = json_object();
    json_object_set_new(rec, "format", json_string(PROV_FORMAT));
    if (media) json_object_set_new(rec, "media", json_string(media));
    json_object_set_new(rec, "tool", json_string("swaplab"));
    json_object_set_new(rec, "version", json_string(SL_VERSION));
    json_object_set_new(rec, "created", json_string(when));
    json_object_set_new(rec, "digital_source_type", json_string(prov_source_type(info)));
    json_object_set_new(rec, "model_sha256", str_or_null(info->model_sha256));
    json_object_set_new(rec, "source", json_pack("{s:o,s:o,s:s}", "subject", str_or_null(info->source_subject),
                                                 "consent_sha256", str_or_null(info->source_consent_sha256), "role",
                                                 "the identity whose face is inserted"));
    json_object_set_new(rec, "target", json_pack("{s:o,s:o,s:o,s:o,s:s}", "subject", str_or_null(info->target_subject),
                                                 "consent_sha256", str_or_null(info->target_consent_sha256), "kind",
                                                 str_or_null(info->target_kind), "frame", str_or_null(info->input),
                                                 "role", target_role));
    json_object_set_new(rec, "method", json_pack("{s:o,s:o,s:o,s:o}", "preset", str_or_null(info->preset), "mask",
                                                 str_or_null(info->mask), "colour", str_or_null(info->colour),
                                                 "blend", str_or_null(info->blend)));
    json_object_set_new(rec, "label", json_string(info->label ? LABEL_TEXT : "none"));
    return rec;
}

char *prov_record_build(const ProvenanceInfo *info, const char *when, const char *pix, int w, int h, uint32_t payload,
                        const char *keyfp) {
    char payload_hex[9];
    snprintf(payload_hex, sizeof payload_hex, "%08x", payload);
    json_t *rec = prov_record_head(info, when, NULL, "the person in the frame");
    json_object_set_new(rec, "watermark", json_pack("{s:s,s:s,s:s#,s:s}", "scheme", WM_SCHEME, "key",
                                                    info->wm_key && *info->wm_key ? "custom" : "default",
                                                    "key_fingerprint", keyfp, (int)16, "payload", payload_hex));
    json_object_set_new(rec, "pixels", json_pack("{s:i,s:i,s:s,s:s}", "w", w, "h", h, "hash",
                                                 "sha256(rgb bytes, u32le w, u32le h)", "sha256", pix));
    char *record = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(rec);
    SL_ASSERT(record);
    return record;
}

static const char *jstr(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void cp(char *dst, size_t n, const char *s) { snprintf(dst, n, "%s", s ? s : ""); }

int prov_record_parse(const char *text, ProvRecord *out) {
    memset(out, 0, sizeof *out);
    out->label = -1;
    json_error_t je;
    json_t *rec = json_loads(text, 0, &je);
    const char *fmt = json_is_object(rec) ? jstr(rec, "format") : NULL;
    if (!fmt || (strcmp(fmt, PROV_FORMAT) && strcmp(fmt, PROV_FORMAT_V1))) {
        json_decref(rec);
        return -1;
    }
    out->version = strcmp(fmt, PROV_FORMAT_V1) ? 2 : 1;
    json_t *src = json_object_get(rec, "source"), *dst = json_object_get(rec, "target");
    if (out->version == 1) { /* /1: "source" was the frame's owner (with "input"), "target" the face put in */
        cp(out->source_subject, sizeof out->source_subject, jstr(dst, "subject"));
        cp(out->target_subject, sizeof out->target_subject, jstr(src, "subject"));
        cp(out->frame, sizeof out->frame, jstr(src, "input"));
    } else {
        cp(out->source_subject, sizeof out->source_subject, jstr(src, "subject"));
        cp(out->target_subject, sizeof out->target_subject, jstr(dst, "subject"));
        cp(out->frame, sizeof out->frame, jstr(dst, "frame"));
    }
    cp(out->model, sizeof out->model, jstr(rec, "model_sha256"));
    cp(out->created, sizeof out->created, jstr(rec, "created"));
    cp(out->tool, sizeof out->tool, jstr(rec, "tool"));
    cp(out->tool_version, sizeof out->tool_version, jstr(rec, "version"));
    cp(out->source_type, sizeof out->source_type, jstr(rec, "digital_source_type"));
    json_t *px = json_object_get(rec, "pixels"), *wm = json_object_get(rec, "watermark");
    cp(out->pixel_sha256, sizeof out->pixel_sha256, json_is_object(px) ? jstr(px, "sha256") : NULL);
    cp(out->payload, sizeof out->payload, json_is_object(wm) ? jstr(wm, "payload") : NULL);
    const char *lab = jstr(rec, "label");
    out->label = lab ? strcmp(lab, "none") != 0 : -1;
    json_decref(rec);
    return 0;
}

/* The signed message: domain, the pixel hash, the record text. */
static uint8_t *sig_message(const char *pixel_hex, const char *record, size_t *len) {
    size_t ld = strlen(SIG_DOMAIN), lr = strlen(record);
    *len = ld + 64 + 1 + lr;
    uint8_t *m = xmalloc(*len);
    memcpy(m, SIG_DOMAIN, ld);
    memcpy(m + ld, pixel_hex, 64);
    m[ld + 64] = '\n';
    memcpy(m + ld + 65, record, lr);
    return m;
}

char *prov_signature_build(const SlKeypair *key, const char *pix, const char *record) {
    size_t mlen;
    uint8_t *msg = sig_message(pix, record, &mlen), sig[64];
    sl_sign(key, msg, mlen, sig);
    free(msg);
    char pkhex[65], sighex[129];
    sl_hex(pkhex, key->pk, 32);
    sl_hex(sighex, sig, 64);
    json_t *sj = json_pack("{s:s,s:s,s:s,s:s}", "alg", "Ed25519", "public_key", pkhex, "signature", sighex, "signed",
                           "\"swaplab-signature-v1\\n\" + pixels.sha256 + \"\\n\" + the swaplab.provenance text");
    char *s = json_dumps(sj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(sj);
    return s;
}

void prov_signature_check(VerifyResult *res, const char *sigtext, const char *record, const char *pix,
                          const uint8_t *const *trusted_pk, int n_trusted) {
    json_error_t je;
    json_t *s = json_loads(sigtext, 0, &je);
    const char *pk = s ? jstr(s, "public_key") : NULL, *sg = s ? jstr(s, "signature") : NULL;
    uint8_t pkb[32], sigb[64];
    res->sig = PROV_SIG_INVALID;
    if (!s || !json_is_object(s)) {
        snprintf(res->sig_reason, sizeof res->sig_reason, "the signature record is not JSON");
    } else if (!pk || strlen(pk) != 64 || sl_unhex(pkb, 32, pk) || !sg || strlen(sg) != 128 || sl_unhex(sigb, 64, sg)) {
        snprintf(res->sig_reason, sizeof res->sig_reason, "the signature record lacks a valid public_key/signature");
    } else if (!record) {
        snprintf(res->sig_reason, sizeof res->sig_reason, "there is no provenance record to check it against");
        snprintf(res->sig_pubkey, sizeof res->sig_pubkey, "%s", pk);
    } else {
        snprintf(res->sig_pubkey, sizeof res->sig_pubkey, "%s", pk);
        size_t mlen;
        uint8_t *msg = sig_message(pix, record, &mlen);
        if (sl_verify_sig(pkb, msg, mlen, sigb)) {
            res->sig = PROV_SIG_VALID;
            for (int i = 0; i < n_trusted; i++)
                if (sodium_memcmp(trusted_pk[i], pkb, 32) == 0) res->sig_trusted = 1;
        } else {
            snprintf(res->sig_reason, sizeof res->sig_reason, "%s",
                     res->pixels_match ? "the record was changed after signing (or signed by another key)"
                                       : "the pixels or the record were changed after signing");
        }
        free(msg);
    }
    json_decref(s);
}
