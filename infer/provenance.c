/* provenance.c — writes and verifies the provenance of swap outputs (provenance.h): the iTXt
 * record, XMP with the IPTC digital source type (https://cv.iptc.org/newscodes/digitalsourcetype/),
 * the Ed25519 signature (https://ed25519.cr.yp.to/), the watermark and the visible label. */
#include "infer/provenance.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/label.h"
#include "util/fs.h"

#define SIG_DOMAIN "swaplab-signature-v1\n"
#define TEXT_MAX (1u << 20) /* provenance texts are small; anything larger is not ours */

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
        char buf[1024];
        snprintf(buf, sizeof buf, "%s|%s|%s|%s", info->source_subject ? info->source_subject : "",
                 info->target_subject ? info->target_subject : "", info->preset ? info->preset : "",
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

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* XML-escapes s into a malloc'ed string. */
static char *xml_escape(const char *s) {
    size_t n = 1;
    for (const char *p = s; *p; p++) n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' ? 6 : 1;
    char *o = xmalloc(n), *q = o;
    for (const char *p = s; *p; p++) {
        const char *r = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '"' ? "&quot;" : NULL;
        if (r) q += sprintf(q, "%s", r);
        else *q++ = *p;
    }
    *q = 0;
    return o;
}

static char *build_xmp(const ProvenanceInfo *info, const char *when) {
    char desc[1024];
    snprintf(desc, sizeof desc,
             "Synthetic image: a face swap made by swaplab %s (face of %s on a frame of %s), an "
             "educational deepfake tool. Not a photograph of a real event.",
             SL_VERSION, info->target_subject ? info->target_subject : "an unnamed subject",
             info->source_subject ? info->source_subject : "an unnamed subject");
    char *d = xml_escape(desc);
    size_t n = strlen(d) + 2048;
    char *x = xmalloc(n);
    snprintf(x, n,
             "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
             "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
             " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
             "  <rdf:Description rdf:about=\"\"\n"
             "    xmlns:Iptc4xmpExt=\"http://iptc.org/std/Iptc4xmpExt/2008-02-29/\"\n"
             "    xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
             "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
             "    Iptc4xmpExt:DigitalSourceType=\"%s\"\n"
             "    xmp:CreatorTool=\"swaplab %s\"\n"
             "    xmp:CreateDate=\"%s\">\n"
             "   <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">%s</rdf:li></rdf:Alt></dc:description>\n"
             "  </rdf:Description>\n"
             " </rdf:RDF>\n"
             "</x:xmpmeta>\n"
             "<?xpacket end=\"r\"?>",
             PROV_SOURCE_TYPE, SL_VERSION, when, d);
    free(d);
    return x;
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

int provenance_write_png(const char *path, const Image *rgb, const ProvenanceInfo *info,
                         const SlKeypair *key, SlErr *err) {
    SL_ASSERT(rgb->c == 3 || rgb->c == 1);
    Image img = image_new(rgb->w, rgb->h, 3);
    size_t n = (size_t)rgb->w * rgb->h;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) img.px[3 * i + k] = rgb->px[i * rgb->c + (rgb->c == 3 ? k : 0)];
    if (info->label) label_draw(&img);
    WmKey wk;
    wm_key_from_string(&wk, info->wm_key);
    uint32_t payload = provenance_payload(info);
    if (wm_embed(&img, &wk, payload, err)) {
        image_free(&img);
        return sl_failctx(err, "%s", path);
    }
    char pix[65], when[32], payload_hex[9], keyfp[65];
    provenance_pixel_hash(&img, pix);
    sl_utc_iso8601(when);
    snprintf(payload_hex, sizeof payload_hex, "%08x", payload);
    sl_sha256_hex(wk.k, sizeof wk.k, keyfp);

    json_t *rec = json_object();
    json_object_set_new(rec, "format", json_string(PROV_FORMAT));
    json_object_set_new(rec, "tool", json_string("swaplab"));
    json_object_set_new(rec, "version", json_string(SL_VERSION));
    json_object_set_new(rec, "created", json_string(when));
    json_object_set_new(rec, "digital_source_type", json_string(PROV_SOURCE_TYPE));
    json_object_set_new(rec, "model_sha256", str_or_null(info->model_sha256));
    json_object_set_new(rec, "source", json_pack("{s:o,s:o,s:o}", "subject", str_or_null(info->source_subject),
                                                 "consent_sha256", str_or_null(info->source_consent_sha256),
                                                 "input", str_or_null(info->input)));
    json_object_set_new(rec, "target", json_pack("{s:o,s:o}", "subject", str_or_null(info->target_subject),
                                                 "consent_sha256", str_or_null(info->target_consent_sha256)));
    json_object_set_new(rec, "method", json_pack("{s:o,s:o,s:o,s:o}", "preset", str_or_null(info->preset), "mask",
                                                 str_or_null(info->mask), "colour", str_or_null(info->colour),
                                                 "blend", str_or_null(info->blend)));
    json_object_set_new(rec, "label", json_string(info->label ? LABEL_TEXT : "none"));
    json_object_set_new(rec, "watermark", json_pack("{s:s,s:s,s:s#,s:s}", "scheme", WM_SCHEME, "key",
                                                    info->wm_key && *info->wm_key ? "custom" : "default",
                                                    "key_fingerprint", keyfp, (int)16, "payload", payload_hex));
    json_object_set_new(rec, "pixels", json_pack("{s:i,s:i,s:s,s:s}", "w", img.w, "h", img.h, "hash",
                                                 "sha256(rgb bytes, u32le w, u32le h)", "sha256", pix));
    char *record = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(rec);
    SL_ASSERT(record);

    size_t mlen;
    uint8_t *msg = sig_message(pix, record, &mlen), sig[64];
    sl_sign(key, msg, mlen, sig);
    free(msg);
    char pkhex[65], sighex[129];
    sl_hex(pkhex, key->pk, 32);
    sl_hex(sighex, sig, 64);
    json_t *sj = json_pack("{s:s,s:s,s:s,s:s}", "alg", "Ed25519", "public_key", pkhex, "signature", sighex,
                           "signed", "\"swaplab-signature-v1\\n\" + pixels.sha256 + \"\\n\" + the swaplab.provenance text");
    char *sigtext = json_dumps(sj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(sj);
    char *xmp = build_xmp(info, when);

    PngText texts[3] = {{PROV_KEY_RECORD, record}, {PROV_KEY_SIGNATURE, sigtext}, {PROV_KEY_XMP, xmp}};
    int r = image_save_png(path, &img, texts, 3, err);
    free(record), free(sigtext), free(xmp);
    image_free(&img);
    return r;
}

int provenance_load_key(const char *key_path, SlKeypair *kp, SlErr *err) {
    if (key_path) return sl_key_load_secret(key_path, kp, err);
    char path[4096];
    sl_key_default_path(path, sizeof path);
    int created = 0;
    if (sl_key_load_or_create(path, kp, &created, err)) return -1;
    if (created)
        fprintf(stderr, "swaplab: created your signing key %s (public part next to it, .pub); "
                        "share the .pub with whoever verifies your outputs\n", path);
    return 0;
}

/* ---- verification ------------------------------------------------------------------------- */
static const char *jstr(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Finds the DigitalSourceType in an XMP packet (attribute or element form). */
static void xmp_source_type(const char *x, char *out, size_t n) {
    out[0] = 0;
    const char *p = strstr(x, "DigitalSourceType");
    while (p) {
        const char *q = p + strlen("DigitalSourceType");
        while (*q == ' ') q++;
        char end = 0;
        if (*q == '=' && (q[1] == '"' || q[1] == '\'')) end = q[1], q += 2;
        else if (*q == '>') end = '<', q++;
        if (end) {
            size_t i = 0;
            while (q[i] && q[i] != end && i + 1 < n) out[i] = q[i], i++;
            out[i] = 0;
            if (i) return;
        }
        p = strstr(q, "DigitalSourceType");
    }
}

static void check_signature(VerifyResult *res, const char *sigtext, const char *record, const char *pix,
                            const uint8_t *trusted_pk) {
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
            res->sig_trusted = trusted_pk && sodium_memcmp(trusted_pk, pkb, 32) == 0;
        } else {
            snprintf(res->sig_reason, sizeof res->sig_reason, "%s",
                     res->pixels_match ? "the record was changed after signing (or signed by another key)"
                                       : "the pixels or the record were changed after signing");
        }
        free(msg);
    }
    json_decref(s);
}

int provenance_verify_file_key(const char *path, const uint8_t *trusted_pk, const char *wm_key,
                               VerifyResult *res, SlErr *err) {
    memset(res, 0, sizeof *res);
    res->label_record = -1;
    res->wm.p_false = 1;
    Image img;
    if (image_load(path, 3, &img, err)) return -1;
    res->w = img.w, res->h = img.h;
    char **keys = NULL, **texts = NULL;
    int nt = 0;
    if (image_read_png_texts(path, &keys, &texts, &nt, err)) {
        image_free(&img);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (f) {
        unsigned char sig[8];
        res->is_png = fread(sig, 1, 8, f) == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0;
        fclose(f);
    }
    const char *record = NULL, *sigtext = NULL, *xmp = NULL;
    for (int i = 0; i < nt; i++) {
        if (strlen(texts[i]) > TEXT_MAX) continue;
        if (!strcmp(keys[i], PROV_KEY_RECORD)) record = texts[i];
        else if (!strcmp(keys[i], PROV_KEY_SIGNATURE)) sigtext = texts[i];
        else if (!strcmp(keys[i], PROV_KEY_XMP)) xmp = texts[i];
    }
    char pix[65];
    provenance_pixel_hash(&img, pix);
    const char *rec_payload = NULL;
    json_t *rec = NULL;
    if (record) {
        json_error_t je;
        rec = json_loads(record, 0, &je);
        if (json_is_object(rec) && jstr(rec, "format") && !strcmp(jstr(rec, "format"), PROV_FORMAT)) {
            res->metadata = 1;
            res->record = xstrdup(record);
            json_t *px = json_object_get(rec, "pixels");
            const char *h = json_is_object(px) ? jstr(px, "sha256") : NULL;
            res->pixels_match = h && !strcmp(h, pix);
            const char *lab = jstr(rec, "label");
            res->label_record = lab ? strcmp(lab, "none") != 0 : -1;
            json_t *wm = json_object_get(rec, "watermark");
            rec_payload = json_is_object(wm) ? jstr(wm, "payload") : NULL;
            const char *st = jstr(rec, "digital_source_type");
            if (st) snprintf(res->source_type, sizeof res->source_type, "%s", st);
        }
    }
    if (xmp) {
        char st[160];
        xmp_source_type(xmp, st, sizeof st);
        res->xmp = 1;
        if (st[0]) snprintf(res->source_type, sizeof res->source_type, "%s", st);
    }
    if (sigtext) check_signature(res, sigtext, res->metadata ? record : NULL, pix, trusted_pk);
    if (img.w >= 32 && img.h >= 32) {
        WmKey wk;
        wm_key_from_string(&wk, wm_key);
        if (wm_detect(&img, &wk, &res->wm, err)) {
            json_decref(rec);
            image_free_texts(keys, texts, nt);
            image_free(&img);
            return -1;
        }
        if (rec_payload && res->wm.payload_ok) {
            char ph[9];
            snprintf(ph, sizeof ph, "%08x", res->wm.payload);
            res->wm_payload_matches = !strcmp(ph, rec_payload);
        }
    }
    res->label_pixels = label_detect(&img, &res->label_score);
    res->marked = res->sig == PROV_SIG_VALID || res->wm.found;
    json_decref(rec);
    image_free_texts(keys, texts, nt);
    image_free(&img);
    return 0;
}

int provenance_verify_file(const char *path, const uint8_t *trusted_pk, VerifyResult *res, SlErr *err) {
    return provenance_verify_file_key(path, trusted_pk, NULL, res, err);
}

void verify_result_free(VerifyResult *res) {
    free(res->record);
    res->record = NULL;
}
