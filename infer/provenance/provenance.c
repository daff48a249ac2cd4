/* provenance.c — writes and verifies the provenance of swap outputs (infer/provenance.h): puts the
 * label, watermark, record, signature, XMP and C2PA manifest on an image through the carriers in
 * this folder, and reads every one of them back into a verdict that only established checks make. */
#include "infer/provenance.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/label.h"
#include "infer/ledger.h"
#include "infer/provenance/carriers.h"
#include "util/fs.h"

#define TEXT_MAX (1u << 20) /* provenance texts are small; anything larger is not ours */

/* Label, watermark, record, signature, XMP and C2PA into out's bytes (PNG when quality is 0, else
 * JPEG), with the log entry when the output is to be logged; nothing is written. */
static int make_marked(const char *path, const Image *rgb, const ProvenanceInfo *info, const SlKeypair *key,
                       int quality, ProvOutput *out, SlErr *err) {
    memset(out, 0, sizeof *out);
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
    char pix[65], when[32], keyfp[65];
    provenance_pixel_hash(&img, pix);
    sl_utc_iso8601(when);
    sl_sha256_hex(wk.k, sizeof wk.k, keyfp);
    char *record = prov_record_build(info, when, pix, img.w, img.h, payload, keyfp);
    char *sigtext = prov_signature_build(key, pix, record);
    char *xmp = prov_xmp_build(info, when);

    /* C2PA: the frame and the model as ingredients, by digest */
    const char *slash = strrchr(path, '/');
    char frame_sha[65] = "", model_title[100], frame_path[SL_PATH_MAX];
    if (info->input && info->frame_dir) {
        sl_path_join(frame_path, sizeof frame_path, info->frame_dir, info->input);
        SlErr e2;
        if (sl_sha256_file(frame_path, frame_sha, &e2)) frame_sha[0] = 0;
    }
    snprintf(model_title, sizeof model_title, "swaplab model %.16s", info->model_sha256 ? info->model_sha256 : "?");
    char desc[1024];
    prov_xmp_description(info, desc, sizeof desc);
    C2paInfo ci = {
        .title = slash ? slash + 1 : path, .format = quality ? "image/jpeg" : "image/png",
        .source_type = prov_source_type(info), .description = desc, .frame_title = info->input,
        .frame_format = "image/png", .frame_sha256 = frame_sha[0] ? frame_sha : NULL,
        .model_title = info->model_sha256 ? model_title : NULL, .model_sha256 = info->model_sha256,
    };
    const C2paInfo *cip = key->cert_len ? &ci : NULL;
    uint8_t *bytes;
    size_t len;
    int r;
    if (quality) {
        r = prov_jpeg_encode(&img, quality, xmp, cip, key, &bytes, &len, err);
    } else {
        PngText texts[3] = {{PROV_KEY_RECORD, record}, {PROV_KEY_SIGNATURE, sigtext}, {PROV_KEY_XMP, xmp}};
        r = prov_png_encode(&img, texts, 3, cip, key, &bytes, &len, err);
    }
    const char *off = getenv("SWAPLAB_LEDGER");
    int logged = info->ledger && !(!strcmp(info->ledger, PROV_LEDGER_DEFAULT) && off && !strcmp(off, "off"));
    if (!r && logged) {
        char fsha[65];
        if (!strcmp(info->ledger, PROV_LEDGER_DEFAULT)) ledger_default_dir(out->ledger_dir, sizeof out->ledger_dir);
        else sl_snprintf(out->ledger_dir, sizeof out->ledger_dir, "%s", info->ledger);
        sl_sha256_hex(bytes, len, fsha);
        json_error_t je;
        json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:b,s:o}", "sha256", fsha, "file", ci.title, "logged", when,
                              "pixels_sha256", pix, "c2pa", cip != NULL, "record", json_loads(record, 0, &je));
        out->entry = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(e);
    }
    if (!r) out->bytes = bytes, out->len = len;
    else sl_failctx(err, "%s", path);
    free(record), free(sigtext), free(xmp);
    image_free(&img);
    return r;
}

int provenance_make_png(const char *path, const Image *rgb, const ProvenanceInfo *info, const SlKeypair *key,
                        ProvOutput *out, SlErr *err) {
    return make_marked(path, rgb, info, key, 0, out, err);
}

void prov_output_free(ProvOutput *o) {
    free(o->bytes);
    free(o->entry);
    memset(o, 0, sizeof *o);
}

/* Logged before it exists: an output is never written unlogged. */
static int write_marked(const char *path, const Image *rgb, const ProvenanceInfo *info, const SlKeypair *key,
                        int quality, SlErr *err) {
    ProvOutput o;
    if (make_marked(path, rgb, info, key, quality, &o, err)) return -1;
    int r = o.entry ? ledger_append(o.ledger_dir, o.entry, key, NULL, err) : 0;
    if (!r) r = sl_write_atomic(path, o.bytes, o.len, err);
    else sl_failctx(err, "%s", path);
    prov_output_free(&o);
    return r;
}

int provenance_write_png(const char *path, const Image *rgb, const ProvenanceInfo *info, const SlKeypair *key,
                         SlErr *err) {
    return write_marked(path, rgb, info, key, 0, err);
}

int provenance_write_jpeg(const char *path, const Image *rgb, const ProvenanceInfo *info, const SlKeypair *key,
                          int quality, SlErr *err) {
    SL_ASSERT(quality >= 1 && quality <= 100);
    return write_marked(path, rgb, info, key, quality, err);
}

int provenance_load_key(const char *key_path, SlKeypair *kp, SlErr *err) {
    char path[SL_PATH_MAX];
    if (key_path) {
        if (sl_key_load_secret(key_path, kp, err)) return -1;
        sl_snprintf(path, sizeof path, "%s", key_path);
    } else {
        sl_key_default_path(path, sizeof path);
        int created = 0;
        if (sl_key_load_or_create(path, kp, &created, err)) return -1;
        if (created)
            fprintf(stderr, "swaplab: created your signing key %s (public part next to it, .pub; lab CA and certificate "
                            "-ca.crt, .crt); share the .pub and -ca.crt with whoever verifies your outputs\n", path);
    }
    if (!kp->cert_len && sl_endswith(path, ".key")) { /* a key from before C2PA: give it a certificate */
        char prefix[SL_PATH_MAX];
        sl_snprintf(prefix, sizeof prefix, "%.*s", (int)(strlen(path) - 4), path);
        if (sl_cert_make(prefix, kp, 730, err)) return sl_failctx(err, "cannot make a certificate for %s", path);
        fprintf(stderr, "swaplab: made a lab CA and a certificate for %s (%s-ca.crt, %s.crt)\n", path, prefix, prefix);
    }
    return 0;
}

/* ---- verification ------------------------------------------------------------------------- */
const char *provenance_verdict_name(ProvVerdict v) {
    return v == PROV_MARKED ? "MARKED" : v == PROV_ALTERED ? "ALTERED" : v == PROV_FORGED ? "FORGED" : "NOT_MARKED";
}

/* Looks the file's digest up in the log and checks its inclusion under the newest signed head. */
static void check_ledger(VerifyResult *res, const ProvTrust *trust, const char *fsha) {
    Ledger lg;
    SlErr e;
    if (ledger_load(trust->ledger, &lg, &e)) {
        snprintf(res->ledger_why, sizeof res->ledger_why, "%.190s", e.msg);
        return;
    }
    res->ledger_checked = 1;
    int64_t i = ledger_find(&lg, fsha);
    const LedgerSth *s = lg.n_sth ? &lg.sth[lg.n_sth - 1] : NULL;
    int trusted = 0;
    for (int k = 0; s && k < trust->n_pubkeys; k++) trusted |= sodium_memcmp(s->pk, trust->pubkeys[k], 32) == 0;
    uint8_t path[LEDGER_MAX_PROOF][32];
    res->ledger_index = i;
    if (i < 0) {
        snprintf(res->ledger_why, sizeof res->ledger_why, "this file's SHA-256 is not in the log");
    } else if (!s || (uint64_t)i >= s->tree_size) {
        snprintf(res->ledger_why, sizeof res->ledger_why, "entry %lld has no tree head over it yet", (long long)i);
    } else if (!ledger_sth_valid(s)) {
        res->ledger_broken = 1;
        snprintf(res->ledger_why, sizeof res->ledger_why, "the newest tree head's signature does not verify");
    } else {
        int len = ledger_inclusion_proof((const uint8_t(*)[32])lg.leaf, s->tree_size, (uint64_t)i, path);
        if (!ledger_verify_inclusion(lg.leaf[i], (uint64_t)i, s->tree_size, (const uint8_t(*)[32])path, len, s->root))
            res->ledger_broken = 1,
            snprintf(res->ledger_why, sizeof res->ledger_why, "entry %lld: the inclusion proof does not reach the signed root "
                     "(the log was rewritten)", (long long)i);
        else if (!trusted)
            snprintf(res->ledger_why, sizeof res->ledger_why, "entry %lld of %llu, proof verifies, but the tree head's key is "
                     "not trusted", (long long)i, (unsigned long long)s->tree_size);
        else {
            res->ledger_included = 1;
            snprintf(res->ledger_why, sizeof res->ledger_why, "entry %lld of %llu, inclusion proof verifies against the "
                     "signed tree head", (long long)i, (unsigned long long)s->tree_size);
        }
    }
    ledger_free(&lg);
}

int provenance_verify(const char *path, const ProvTrust *trust, VerifyResult *res, SlErr *err) {
    static const ProvTrust none = {0};
    if (!trust) trust = &none;
    memset(res, 0, sizeof *res);
    res->label_record = -1;
    res->wm.p_false = 1;
    char *data;
    size_t dlen;
    if (sl_read_file(path, (size_t)512 << 20, &data, &dlen, err)) return -1;
    Image img;
    if (image_load_mem((const uint8_t *)data, dlen, 3, &img, path, err)) {
        free(data);
        return -1;
    }
    res->w = img.w, res->h = img.h;
    res->is_png = dlen >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0;
    char **keys = NULL, **texts = NULL;
    int nt = 0;
    if (image_read_png_texts(path, &keys, &texts, &nt, err)) {
        image_free(&img);
        free(data);
        return -1;
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
    if (record && prov_record_parse(record, &res->rec) == 0) {
        res->metadata = 1;
        res->record = xstrdup(record);
        res->pixels_match = !strcmp(res->rec.pixel_sha256, pix);
        res->label_record = res->rec.label;
        if (res->rec.source_type[0]) snprintf(res->source_type, sizeof res->source_type, "%s", res->rec.source_type);
    }
    char *jxmp = res->is_png ? NULL : prov_jpeg_xmp((const uint8_t *)data, dlen);
    if (jxmp) xmp = jxmp;
    if (xmp) {
        char st[160];
        prov_xmp_source_type(xmp, st, sizeof st);
        res->xmp = 1;
        if (st[0]) snprintf(res->source_type, sizeof res->source_type, "%s", st);
    }
    free(jxmp);
    if (sigtext) prov_signature_check(res, sigtext, res->metadata ? record : NULL, pix, trust->pubkeys, trust->n_pubkeys);
    c2pa_verify_file_bytes((const uint8_t *)data, dlen, trust->cas, trust->ca_len, trust->n_cas, &res->c2pa);
    char fsha[65];
    sl_sha256_hex(data, dlen, fsha);
    if (res->c2pa.valid && res->c2pa.source_type[0] && !res->source_type[0])
        snprintf(res->source_type, sizeof res->source_type, "%s", res->c2pa.source_type);
    free(data);
    if (img.w >= 32 && img.h >= 32) {
        WmKey wk;
        wm_key_from_string(&wk, trust->wm_key);
        if (wm_detect(&img, &wk, &res->wm, err)) {
            verify_result_free(res);
            image_free_texts(keys, texts, nt);
            image_free(&img);
            return -1;
        }
        if (res->metadata && res->rec.payload[0] && res->wm.payload_ok) {
            char ph[9];
            snprintf(ph, sizeof ph, "%08x", res->wm.payload);
            res->wm_payload_matches = !strcmp(ph, res->rec.payload);
        }
    }
    res->label_pixels = label_detect(&img, &res->label_score);
    res->ledger_index = -1;
    if (trust->ledger) check_ledger(res, trust, fsha);
    int established = res->sig_trusted || (res->c2pa.valid && res->c2pa.trusted) || res->ledger_included || res->wm.found;
    int failed = res->sig == PROV_SIG_INVALID || (res->c2pa.present && !res->c2pa.valid) || res->ledger_broken;
    int claims = res->metadata || res->sig != PROV_SIG_ABSENT || res->c2pa.present || res->ledger_index >= 0;
    res->verdict = failed ? (established ? PROV_ALTERED : PROV_FORGED)
                 : established ? PROV_MARKED
                 : claims      ? PROV_FORGED
                               : PROV_NOT_MARKED;
    res->marked = res->verdict == PROV_MARKED;
    image_free_texts(keys, texts, nt);
    image_free(&img);
    return 0;
}

int provenance_verify_file_key(const char *path, const uint8_t *trusted_pk, const char *wm_key, VerifyResult *res,
                               SlErr *err) {
    const uint8_t *pks[1] = {trusted_pk};
    ProvTrust t = {.pubkeys = pks, .n_pubkeys = trusted_pk ? 1 : 0, .wm_key = wm_key};
    return provenance_verify(path, &t, res, err);
}

int provenance_verify_file(const char *path, const uint8_t *trusted_pk, VerifyResult *res, SlErr *err) {
    return provenance_verify_file_key(path, trusted_pk, NULL, res, err);
}

void verify_result_free(VerifyResult *res) {
    free(res->record);
    res->record = NULL;
}
