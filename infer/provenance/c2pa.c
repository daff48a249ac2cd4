/* c2pa.c — builds, embeds and validates C2PA 2.x manifest stores (c2pa.h): JUMBF by jumbf.c, CBOR by
 * libcbor, COSE_Sign1 by cose.c, X.509 by OpenSSL (util/crypto.h). */
#include "infer/provenance/c2pa.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "infer/provenance/cbor_util.h"
#include "infer/provenance/cose.h"
#include "infer/provenance/jumbf.h"

/* C2PA box type UUIDs (C2PA 2.x, table "JUMBF content types"): 4-character code + ISO suffix. */
#define ISO_SUFFIX 0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71
static const uint8_t U_STORE[16] = {0x63, 0x32, 0x70, 0x61, ISO_SUFFIX};      /* c2pa */
static const uint8_t U_MANIFEST[16] = {0x63, 0x32, 0x6D, 0x61, ISO_SUFFIX};   /* c2ma */
static const uint8_t U_ASSERTIONS[16] = {0x63, 0x32, 0x61, 0x73, ISO_SUFFIX}; /* c2as */
static const uint8_t U_CLAIM[16] = {0x63, 0x32, 0x63, 0x6C, ISO_SUFFIX};      /* c2cl */
static const uint8_t U_SIGNATURE[16] = {0x63, 0x32, 0x63, 0x73, ISO_SUFFIX};  /* c2cs */
static const uint8_t U_CBOR[16] = {0x63, 0x62, 0x6F, 0x72, ISO_SUFFIX};       /* cbor */

#define A_STORE "c2pa.assertions"
#define URL_PREFIX "self#jumbf=" A_STORE "/"

/* One assertion superbox (jumd + cbor) appended to b; its hash (SHA-256 of the superbox without its
 * 8-byte header, as the hashed URIs of C2PA 2.x section 8.3 require) into h. */
static void put_assertion(JBuf *b, const char *label, cbor_item_t *content, uint8_t h[32]) {
    uint8_t *c;
    size_t n = cb_dump(content, &c);
    size_t at = jumbf_begin_super(b, U_CBOR, label);
    jumbf_content(b, "cbor", c, n);
    jbuf_end_box(b, at);
    sl_sha256(b->p + at + 8, b->len - at - 8, h);
    free(c);
}

static cbor_item_t *hashed_uri(const char *label, const uint8_t h[32]) {
    char url[256];
    snprintf(url, sizeof url, URL_PREFIX "%s", label);
    cbor_item_t *m = cbor_new_definite_map(2);
    cb_put(m, "url", cbor_build_string(url));
    cb_put(m, "hash", cb_bytes(h, 32));
    return m;
}

static cbor_item_t *ingredient(const char *title, const char *format, const char *rel, const char *sha, const char *what) {
    cbor_item_t *m = cbor_new_definite_map(5);
    char desc[300], iid[100];
    snprintf(desc, sizeof desc, "%s; SHA-256 %s", what, sha ? sha : "unknown");
    snprintf(iid, sizeof iid, "urn:sha256:%s", sha ? sha : "unknown");
    cb_put(m, "dc:title", cbor_build_string(title));
    cb_put(m, "dc:format", cbor_build_string(format));
    cb_put(m, "relationship", cbor_build_string(rel));
    cb_put(m, "instanceID", cbor_build_string(iid));
    cb_put(m, "description", cbor_build_string(desc));
    return m;
}

static void uuid_text(char out[37]) {
    uint8_t u[16];
    randombytes_buf(u, sizeof u);
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40), u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    char h[33];
    sl_hex(h, u, 16);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static int build_once(const C2paInfo *ci, const SlKeypair *key, const char *uuid, const uint8_t asset_hash[32],
                      size_t excl_start, size_t excl_len, JBuf *out, SlErr *err) {
    JBuf b = {0};
    char mlabel[64];
    snprintf(mlabel, sizeof mlabel, "urn:c2pa:%s", uuid);
    size_t store = jumbf_begin_super(&b, U_STORE, "c2pa");
    size_t man = jumbf_begin_super(&b, U_MANIFEST, mlabel);
    size_t as = jumbf_begin_super(&b, U_ASSERTIONS, A_STORE);
    cbor_item_t *created = cbor_new_definite_array(5);
    uint8_t h[32], hframe[32];
    int have_frame = ci->frame_title != NULL;
    const char *ing_frame = "c2pa.ingredient.v3", *ing_model = have_frame ? "c2pa.ingredient.v3__1" : "c2pa.ingredient.v3";
    if (have_frame) {
        cbor_item_t *m = ingredient(ci->frame_title, ci->frame_format ? ci->frame_format : "image/png", "componentOf",
                                    ci->frame_sha256, "the source frame the face was placed into");
        put_assertion(&b, ing_frame, m, hframe);
        cbor_decref(&m);
        cb_push(created, hashed_uri(ing_frame, hframe));
    }
    if (ci->model_title) {
        cbor_item_t *m = ingredient(ci->model_title, "application/octet-stream", "inputTo", ci->model_sha256,
                                    "the swaplab autoencoder that generated the face");
        put_assertion(&b, ing_model, m, h);
        cbor_decref(&m);
        cb_push(created, hashed_uri(ing_model, h));
    }
    /* c2pa.actions.v2 */
    cbor_item_t *acts = cbor_new_definite_map(1), *list = cbor_new_definite_array(2);
    cbor_item_t *a1 = cbor_new_definite_map(4), *agent = cbor_new_definite_map(2);
    cb_put(agent, "name", cbor_build_string("swaplab"));
    cb_put(agent, "version", cbor_build_string(SL_VERSION));
    cb_put(a1, "action", cbor_build_string("c2pa.created"));
    cb_put(a1, "digitalSourceType", cbor_build_string(ci->source_type));
    cb_put(a1, "softwareAgent", agent);
    cb_put(a1, "description", cbor_build_string(ci->description ? ci->description : "synthetic image made by swaplab"));
    cb_push(list, a1);
    if (have_frame) {
        cbor_item_t *a2 = cbor_new_definite_map(3), *par = cbor_new_definite_map(1), *ings = cbor_new_definite_array(1);
        cb_push(ings, hashed_uri(ing_frame, hframe));
        cb_put(par, "ingredients", ings);
        cb_put(a2, "action", cbor_build_string("c2pa.placed"));
        cb_put(a2, "parameters", par);
        cb_put(a2, "description", cbor_build_string("a generated face composited into the source frame"));
        cb_push(list, a2);
    }
    cb_put(acts, "actions", list);
    put_assertion(&b, "c2pa.actions.v2", acts, h);
    cbor_decref(&acts);
    cb_push(created, hashed_uri("c2pa.actions.v2", h));
    /* c2pa.hash.data: the hard binding */
    cbor_item_t *dh = cbor_new_definite_map(5), *ex = cbor_new_definite_array(1), *e = cbor_new_definite_map(2);
    cb_put(e, "start", cb_uint(excl_start));
    cb_put(e, "length", cb_uint(excl_len));
    cb_push(ex, e);
    cb_put(dh, "exclusions", ex);
    cb_put(dh, "name", cbor_build_string("jumbf manifest"));
    cb_put(dh, "alg", cbor_build_string("sha256"));
    cb_put(dh, "hash", cb_bytes(asset_hash, 32));
    cb_put(dh, "pad", cb_bytes("", 0));
    put_assertion(&b, "c2pa.hash.data", dh, h);
    cbor_decref(&dh);
    cb_push(created, hashed_uri("c2pa.hash.data", h));
    jbuf_end_box(&b, as);
    /* the claim */
    char iid[64];
    snprintf(iid, sizeof iid, "xmp:iid:%s", uuid);
    cbor_item_t *claim = cbor_new_definite_map(7), *gen = cbor_new_definite_map(2);
    cb_put(gen, "name", cbor_build_string("swaplab"));
    cb_put(gen, "version", cbor_build_string(SL_VERSION));
    cb_put(claim, "instanceID", cbor_build_string(iid));
    cb_put(claim, "claim_generator_info", gen);
    cb_put(claim, "signature", cbor_build_string("self#jumbf=c2pa.signature"));
    cb_put(claim, "created_assertions", created);
    cb_put(claim, "gathered_assertions", cbor_new_definite_array(0));
    cb_put(claim, "alg", cbor_build_string("sha256"));
    cb_put(claim, "dc:title", cbor_build_string(ci->title ? ci->title : "swaplab output"));
    uint8_t *cc, *sig;
    size_t cn = cb_dump(claim, &cc), sn;
    cbor_decref(&claim);
    size_t cl = jumbf_begin_super(&b, U_CLAIM, "c2pa.claim.v2");
    jumbf_content(&b, "cbor", cc, cn);
    jbuf_end_box(&b, cl);
    int r = cose_sign1(key, cc, cn, &sig, &sn, err);
    free(cc);
    if (r) {
        free(b.p);
        return -1;
    }
    size_t sg = jumbf_begin_super(&b, U_SIGNATURE, "c2pa.signature");
    jumbf_content(&b, "cbor", sig, sn);
    jbuf_end_box(&b, sg);
    free(sig);
    jbuf_end_box(&b, man);
    jbuf_end_box(&b, store);
    *out = b;
    return 0;
}

int c2pa_build_store(const C2paInfo *ci, const SlKeypair *key, const uint8_t *asset, size_t len, size_t insert_at,
                     size_t wrap_overhead, uint8_t **store, size_t *store_len, SlErr *err) {
    SL_ASSERT(insert_at <= len && ci->source_type);
    sl_crypto_init();
    uint8_t ah[32];
    sl_sha256(asset, len, ah); /* the file minus the excluded box is exactly the asset before insertion */
    char uuid[37];
    uuid_text(uuid);
    size_t excl = 0;
    for (int it = 0; it < 8; it++) {
        JBuf b;
        if (build_once(ci, key, uuid, ah, insert_at, excl, &b, err)) return -1;
        if (b.len + wrap_overhead == excl) {
            *store = b.p;
            *store_len = b.len;
            return 0;
        }
        excl = b.len + wrap_overhead;
        free(b.p);
    }
    SL_DIE("C2PA manifest size did not settle");
}

int c2pa_embed_png(const C2paInfo *ci, const SlKeypair *key, const uint8_t *png, size_t len, uint8_t **out,
                   size_t *olen, SlErr *err) {
    PngChunk *c;
    int n;
    if (image_png_chunks(png, len, &c, &n, "PNG", err)) return -1;
    size_t at = 0;
    for (int i = 0; i < n && !at; i++)
        if (!strcmp(c[i].type, "IDAT") || !strcmp(c[i].type, "IEND")) at = c[i].offset;
    free(c);
    uint8_t *store;
    size_t sn, at2;
    if (c2pa_build_store(ci, key, png, len, at, 12, &store, &sn, err)) return -1;
    int r = image_png_insert_chunk(png, len, "caBX", store, sn, out, olen, &at2, err);
    free(store);
    SL_ASSERT(r || at2 == at);
    return r;
}

/* JPEG: one APP11 segment FF EB, Lp, "JP", En = 1, Z = 1, then the store (ISO/IEC 19566-5 annex). */
#define JPEG_APP11_OVERHEAD 12
int c2pa_embed_jpeg(const C2paInfo *ci, const SlKeypair *key, const uint8_t *jpg, size_t len, uint8_t **out,
                    size_t *olen, SlErr *err) {
    if (len < 4 || jpg[0] != 0xFF || jpg[1] != 0xD8) return sl_fail(err, "JPEG: no SOI marker");
    size_t at = 2;
    while (at + 4 <= len && jpg[at] == 0xFF && (jpg[at + 1] == 0xE0 || jpg[at + 1] == 0xE1)) /* after APP0/APP1 */
        at += 2 + ((size_t)jpg[at + 2] << 8 | jpg[at + 3]);
    if (at > len) return sl_fail(err, "JPEG: truncated APP segment");
    uint8_t *store;
    size_t sn;
    if (c2pa_build_store(ci, key, jpg, len, at, JPEG_APP11_OVERHEAD, &store, &sn, err)) return -1;
    if (sn + 10 > 65535) {
        free(store);
        return sl_fail(err, "JPEG: the C2PA manifest (%zu bytes) needs more than one APP11 segment", sn);
    }
    uint8_t *o = xmalloc(len + sn + JPEG_APP11_OVERHEAD);
    memcpy(o, jpg, at);
    uint8_t *q = o + at;
    size_t lp = sn + 10;
    const uint8_t hdr[12] = {0xFF, 0xEB, (uint8_t)(lp >> 8), (uint8_t)lp, 'J', 'P', 0, 1, 0, 0, 0, 1};
    memcpy(q, hdr, 12);
    memcpy(q + 12, store, sn);
    memcpy(q + 12 + sn, jpg + at, len - at);
    *out = o;
    *olen = len + sn + JPEG_APP11_OVERHEAD;
    free(store);
    return 0;
}

/* ---- finding and validating ----------------------------------------------------------------- */
int c2pa_find_store(const uint8_t *file, size_t len, const uint8_t **store, size_t *n, int *owned) {
    *store = NULL, *n = 0, *owned = 0;
    if (len >= 8 && !memcmp(file, "\x89PNG\r\n\x1a\n", 8)) {
        PngChunk *c;
        int nc, found = 0;
        SlErr e;
        if (image_png_chunks(file, len, &c, &nc, "PNG", &e)) return -1;
        for (int i = 0; i < nc; i++)
            if (!strcmp(c[i].type, "caBX")) {
                found++;
                *store = file + c[i].offset + 8;
                *n = c[i].len;
            }
        free(c);
        return found == 1 ? 0 : -1;
    }
    if (len < 4 || file[0] != 0xFF || file[1] != 0xD8) return -1;
    /* JPEG: gather the APP11 "JP" segments of the first box instance, in sequence order */
    size_t pos = 2;
    JBuf b = {0};
    uint32_t want = 1;
    int en = -1;
    while (pos + 4 <= len && file[pos] == 0xFF) {
        uint8_t m = file[pos + 1];
        if (m == 0xD9 || m == 0xDA) break; /* EOI, start of scan: no more metadata */
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
            pos += 2;
            continue;
        }
        size_t lp = (size_t)file[pos + 2] << 8 | file[pos + 3];
        if (lp < 2 || pos + 2 + lp > len) break;
        const uint8_t *s = file + pos + 4;
        size_t sl = lp - 2;
        if (m == 0xEB && sl >= 16 && s[0] == 'J' && s[1] == 'P') {
            int this_en = s[2] << 8 | s[3];
            uint32_t z = (uint32_t)s[4] << 24 | (uint32_t)s[5] << 16 | (uint32_t)s[6] << 8 | s[7];
            if (en < 0) en = this_en;
            if (this_en == en && z == want) {
                /* every segment repeats the box header (LBox, TBox); keep it once */
                if (z == 1) jbuf_put(&b, s + 8, sl - 8);
                else jbuf_put(&b, s + 16, sl - 16);
                want++;
            }
        }
        pos += 2 + lp;
    }
    if (!b.len) return -1;
    *store = b.p;
    *n = b.len;
    *owned = 1;
    return 0;
}

static const JumbfBox *find_assertion(const JumbfBox *as, const char *url, const char *mlabel) {
    const char *p = url;
    if (strncmp(p, "self#jumbf=", 11) != 0) return NULL;
    p += 11;
    char abs[JUMBF_LABEL_MAX + 16];
    snprintf(abs, sizeof abs, "/c2pa/%s/", mlabel);
    if (!strncmp(p, abs, strlen(abs))) p += strlen(abs);
    if (strncmp(p, A_STORE "/", strlen(A_STORE) + 1) != 0) return NULL;
    p += strlen(A_STORE) + 1;
    return jumbf_child(as, p, NULL);
}

static int label_is(const char *label, const char *base) {
    size_t n = strlen(base);
    return !strncmp(label, base, n) && (label[n] == 0 || !strncmp(label + n, "__", 2));
}

static void why(C2paResult *r, const char *fmt, const char *arg) {
    if (!r->why[0]) snprintf(r->why, sizeof r->why, fmt, arg);
}

/* Checks c2pa.hash.data against the asset bytes. */
static void check_data_hash(const cbor_item_t *dh, const uint8_t *asset, size_t alen, C2paResult *r) {
    const uint8_t *h;
    size_t hn;
    cbor_item_t *ex = cb_get(dh, "exclusions");
    if (!cb_is_text(cb_get(dh, "alg"), "sha256") || cb_bstr(cb_get(dh, "hash"), &h, &hn) || hn != 32) {
        why(r, "%s", "the hard binding (c2pa.hash.data) is not a SHA-256 hash");
        return;
    }
    size_t ne = ex && cbor_isa_array(ex) && cbor_array_is_definite(ex) ? cbor_array_size(ex) : 0;
    if (ex && !ne && !cbor_isa_array(ex)) {
        why(r, "%s", "the hard binding's exclusions are malformed");
        return;
    }
    if (ne > 64) {
        why(r, "%s", "the hard binding has more than 64 exclusions");
        return;
    }
    uint64_t st[64], ln[64];
    for (size_t i = 0; i < ne; i++) {
        cbor_item_t *e = cbor_array_handle(ex)[i];
        if (cb_u64(cb_get(e, "start"), &st[i]) || cb_u64(cb_get(e, "length"), &ln[i]) || ln[i] == 0 || st[i] > alen ||
            ln[i] > alen - st[i] || (i && st[i] < st[i - 1] + ln[i - 1])) {
            why(r, "%s", "the hard binding's exclusions are out of order or outside the file");
            return;
        }
    }
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    uint64_t pos = 0;
    for (size_t i = 0; i < ne; i++) {
        crypto_hash_sha256_update(&s, asset + pos, st[i] - pos);
        pos = st[i] + ln[i];
    }
    crypto_hash_sha256_update(&s, asset + pos, alen - pos);
    uint8_t d[32];
    crypto_hash_sha256_final(&s, d);
    r->hash_match = sodium_memcmp(d, h, 32) == 0;
    if (!r->hash_match) why(r, "%s", "the file's bytes differ from the hard binding (c2pa.hash.data mismatch)");
}

void c2pa_verify_store(const uint8_t *store, size_t n, const uint8_t *asset, size_t alen, const uint8_t *const *trusted,
                       const size_t *trusted_len, int n_trusted, C2paResult *r) {
    memset(r, 0, sizeof *r);
    r->present = 1;
    sl_crypto_init();
    JumbfBox root;
    SlErr err = {0};
    cbor_item_t *claim = NULL;
    if (jumbf_parse(store, n, &root, &err)) {
        why(r, "%.200s", err.msg);
        return;
    }
    const JumbfBox *man = NULL;
    for (int i = 0; i < root.nkids; i++) /* the active manifest is the last one */
        if (!strcmp(root.kids[i].type, "jumb") && !memcmp(root.kids[i].uuid, U_MANIFEST, 16)) man = &root.kids[i];
    const JumbfBox *cl = NULL, *sg = NULL, *as = NULL, *cc = NULL, *sc = NULL;
    if (memcmp(root.uuid, U_STORE, 16) != 0 || !man) {
        why(r, "%s", "the JUMBF box is not a C2PA manifest store with a manifest");
        goto done;
    }
    for (int i = 0; i < man->nkids; i++) {
        const JumbfBox *k = &man->kids[i];
        if (strcmp(k->type, "jumb")) continue;
        if (!memcmp(k->uuid, U_CLAIM, 16)) cl = k;
        else if (!memcmp(k->uuid, U_SIGNATURE, 16)) sg = k;
        else if (!memcmp(k->uuid, U_ASSERTIONS, 16)) as = k;
    }
    if (!cl || !sg || !as || !(cc = jumbf_content_of(cl, "cbor")) || !(sc = jumbf_content_of(sg, "cbor"))) {
        why(r, "%s", "the manifest lacks its claim, signature or assertion store");
        goto done;
    }
    claim = cb_load(cc->payload, cc->payload_len);
    int v2 = !strcmp(cl->label, "c2pa.claim.v2");
    cbor_item_t *list = claim ? cb_get(claim, v2 ? "created_assertions" : "assertions") : NULL;
    if (!claim || !list || !cbor_isa_array(list) || !cbor_array_is_definite(list)) {
        why(r, "%s", "the claim is not valid CBOR with a list of assertions");
        goto done;
    }
    r->parsed = 1;
    cbor_item_t *gen = cb_get(claim, "claim_generator_info");
    if (gen && cbor_isa_array(gen) && cbor_array_is_definite(gen) && cbor_array_size(gen)) gen = cbor_array_handle(gen)[0];
    char gname[40] = "", gver[40] = "";
    cb_text(cb_get(gen, "name"), gname, sizeof gname);
    cb_text(cb_get(gen, "version"), gver, sizeof gver);
    snprintf(r->generator, sizeof r->generator, "%s%s%s", gname, gver[0] ? " " : "", gver);
    /* the signature */
    CoseResult cr;
    cose_verify1(sc->payload, sc->payload_len, cc->payload, cc->payload_len, trusted, trusted_len, n_trusted, &cr);
    r->sig_valid = cr.sig_valid;
    r->chain_ok = cr.cert.chain_ok;
    r->trusted = cr.sig_valid && cr.cert.chain_ok && cr.cert.trusted;
    snprintf(r->signer, sizeof r->signer, "%s", cr.cert.subject);
    memcpy(r->signer_pk, cr.cert.pk, 32);
    if (!cr.sig_valid || !cr.cert.chain_ok) why(r, "%s", cr.why);
    /* the assertions, each by its hash */
    r->assertions_ok = 1;
    int bindings = 0;
    for (size_t i = 0; i < cbor_array_size(list); i++) {
        cbor_item_t *ref = cbor_array_handle(list)[i];
        char url[JUMBF_LABEL_MAX + 64];
        const uint8_t *h;
        size_t hn;
        const JumbfBox *a;
        if (cb_text(cb_get(ref, "url"), url, sizeof url) || cb_bstr(cb_get(ref, "hash"), &h, &hn) || hn != 32 ||
            !(a = find_assertion(as, url, man->label))) {
            r->assertions_ok = 0;
            why(r, "%s", "an assertion the claim lists is missing");
            continue;
        }
        uint8_t d[32];
        sl_sha256(a->box + 8, a->box_len - 8, d);
        if (sodium_memcmp(d, h, 32) != 0) {
            r->assertions_ok = 0;
            why(r, "assertion %.80s was changed after signing (hashed URI mismatch)", a->label);
            continue;
        }
        const JumbfBox *c = jumbf_content_of(a, "cbor");
        cbor_item_t *content = c ? cb_load(c->payload, c->payload_len) : NULL;
        if (label_is(a->label, "c2pa.hash.data")) {
            bindings++;
            if (content) check_data_hash(content, asset, alen, r);
            else why(r, "%s", "the hard binding is not valid CBOR");
        } else if (label_is(a->label, "c2pa.actions.v2") || label_is(a->label, "c2pa.actions")) {
            cbor_item_t *acts = cb_get(content, "actions");
            for (size_t k = 0; acts && cbor_isa_array(acts) && cbor_array_is_definite(acts) && k < cbor_array_size(acts); k++) {
                cbor_item_t *act = cbor_array_handle(acts)[k];
                if (cb_is_text(cb_get(act, "action"), "c2pa.created") && !r->source_type[0])
                    cb_text(cb_get(act, "digitalSourceType"), r->source_type, sizeof r->source_type);
            }
        }
        if (content) cbor_decref(&content);
    }
    if (bindings != 1) {
        r->hash_match = 0;
        why(r, "%s", bindings ? "more than one hard binding" : "no hard binding (c2pa.hash.data)");
    }
    r->valid = r->parsed && r->sig_valid && r->chain_ok && r->assertions_ok && r->hash_match;
    if (r->valid && !r->trusted) why(r, "%s", cr.why);
done:
    if (claim) cbor_decref(&claim);
    jumbf_free(&root);
}

void c2pa_verify_file_bytes(const uint8_t *file, size_t len, const uint8_t *const *trusted, const size_t *trusted_len,
                            int n_trusted, C2paResult *r) {
    const uint8_t *store;
    size_t n;
    int owned;
    memset(r, 0, sizeof *r);
    if (c2pa_find_store(file, len, &store, &n, &owned)) return;
    c2pa_verify_store(store, n, file, len, trusted, trusted_len, n_trusted, r);
    if (owned) free((void *)store);
}
