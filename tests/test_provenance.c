/* test_provenance.c — provenance on swap outputs (infer/provenance.h): the record, XMP, signature
 * (valid, trusted, broken by a changed pixel or a changed record), watermark and label, and verify
 * on clean, re-encoded and hostile files.
 *
 * `test_provenance --write DIR` instead writes DIR/marked.png, DIR/unlabelled.png, DIR/synthetic.png
 * (a synthetic target), DIR/marked.jpg (C2PA in APP11), DIR/pixel.png (marked.png with one pixel
 * changed, metadata and C2PA kept), DIR/forged.png (an unmarked image with a record, signature and
 * C2PA by a forger's own key), DIR/clean.png and DIR/lab.{pub,crt}, lab-ca.crt for tests/e2e_verify.sh (until `swaplab swap` makes real outputs), and
 * `test_provenance --jpeg IN OUT QUALITY` re-encodes IN as a JPEG. */
#include "infer/provenance.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "infer/label.h"
#include "infer/ledger.h"
#include "infer/provenance/carriers.h"
#include "infer/provenance/cose.h"
#include "infer/provenance/jumbf.h"
#include "tests/test.h"
#include "util/fs.h"
#include "util/rng.h"

static const char *MODEL = "3fa2c1d0e4b5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";

static Image random_image(SlRng *r, int w, int h) {
    Image im = image_new(w, h, 3);
    float c0[3], c1[3];
    for (int k = 0; k < 3; k++) c0[k] = sl_rng_range(r, 30, 220), c1[k] = sl_rng_range(r, 30, 220);
    float f = sl_rng_range(r, 0.02f, 0.08f), a = sl_rng_range(r, 5, 30);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++) {
                float t = (float)y / h, p = c0[k] + (c1[k] - c0[k]) * t + a * sinf(f * x + k) * cosf(f * y);
                p += 2.0f * sl_rng_normal(r);
                im.px[((size_t)y * w + x) * 3 + k] = (uint8_t)(p < 0 ? 0 : p > 255 ? 255 : p);
            }
    return im;
}

static void info_for_test(ProvenanceInfo *info) {
    provenance_info_init(info);
    info->model_sha256 = MODEL;
    info->source_subject = "synth-007";
    info->source_consent_sha256 = "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233";
    info->target_subject = "volunteer-ada";
    info->target_consent_sha256 = "bb11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233";
    info->preset = "lab64";
    info->mask = "hull";
    info->colour = "rct";
    info->blend = "seamless";
}

static void keypair(SlKeypair *kp, const char *dir, const char *name) {
    char prefix[4096];
    sl_path_join(prefix, sizeof prefix, dir, name);
    SlErr err;
    if (sl_key_generate(prefix, kp, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
}

static const char *find_text(char **keys, char **texts, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], key)) return texts[i];
    return NULL;
}

static void t_write_and_verify(void) {
    const char *dir = test_tmpdir();
    SlKeypair kp, other;
    keypair(&kp, dir, "lab");
    keypair(&other, dir, "other");
    SlRng r;
    sl_rng_seed(&r, 21);
    Image im = random_image(&r, 256, 256), before = image_clone(&im);
    ProvenanceInfo info;
    info_for_test(&info);
    char path[4096];
    sl_path_join(path, sizeof path, dir, "out.png");
    SlErr err;
    CHECK(provenance_write_png(path, &im, &info, &kp, &err) == 0);
    CHECK(memcmp(im.px, before.px, 256 * 256 * 3) == 0); /* the caller's pixels are untouched */

    /* the three text records */
    char **keys, **texts;
    int n;
    CHECK(image_read_png_texts(path, &keys, &texts, &n, &err) == 0);
    const char *rec = find_text(keys, texts, n, PROV_KEY_RECORD), *xmp = find_text(keys, texts, n, PROV_KEY_XMP);
    CHECK(rec && xmp && find_text(keys, texts, n, PROV_KEY_SIGNATURE));
    json_error_t je;
    json_t *j = rec ? json_loads(rec, 0, &je) : NULL;
    CHECK(j != NULL);
    CHECK(!strcmp(json_string_value(json_object_get(j, "model_sha256")), MODEL));
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(j, "source"), "subject")), "synth-007"));
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(j, "method"), "blend")), "seamless"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "label")), "SYNTHETIC"));
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(j, "watermark"), "payload")), "3fa2c1d0"));
    /* the recorded pixel hash is the hash of the stored pixels */
    Image stored;
    CHECK(image_load(path, 3, &stored, &err) == 0);
    char pix[65];
    provenance_pixel_hash(&stored, pix);
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(j, "pixels"), "sha256")), pix));
    CHECK(wm_psnr(&before, &stored) > 20); /* label + watermark, nothing else */
    json_decref(j);
    CHECK(xmp && strstr(xmp, "Iptc4xmpExt:DigitalSourceType=\"" PROV_SOURCE_TYPE_COMPOSITE "\""));
    image_free_texts(keys, texts, n);

    VerifyResult v;
    CHECK(provenance_verify_file(path, kp.pk, &v, &err) == 0);
    CHECK(v.is_png && v.metadata && v.xmp && v.pixels_match);
    CHECK(!strcmp(v.source_type, PROV_SOURCE_TYPE_COMPOSITE));
    CHECK(v.sig == PROV_SIG_VALID && v.sig_trusted);
    CHECK(v.wm.found && v.wm.payload_ok && v.wm.payload == 0x3fa2c1d0u && v.wm_payload_matches);
    CHECK(v.label_record == 1 && v.label_pixels);
    CHECKF(v.marked, "verdict %s, C2PA %s", provenance_verdict_name(v.verdict), v.c2pa.why);
    verify_result_free(&v);
    /* another trusted key: still valid, not trusted */
    CHECK(provenance_verify_file(path, other.pk, &v, &err) == 0);
    CHECK(v.sig == PROV_SIG_VALID && !v.sig_trusted);
    verify_result_free(&v);

    /* one changed pixel: the signature no longer holds */
    Image bad = image_clone(&stored);
    bad.px[1000] ^= 0x01;
    char **k2, **t2;
    int n2;
    CHECK(image_read_png_texts(path, &k2, &t2, &n2, &err) == 0);
    PngText keep[8];
    int nk = 0;
    for (int i = 0; i < n2 && nk < 8; i++) keep[nk++] = (PngText){k2[i], t2[i]};
    char p2[4096];
    sl_path_join(p2, sizeof p2, dir, "pixel.png");
    CHECK(image_save_png(p2, &bad, keep, nk, &err) == 0);
    CHECK(provenance_verify_file(p2, kp.pk, &v, &err) == 0);
    CHECK(v.sig == PROV_SIG_INVALID && !v.pixels_match && v.metadata);
    CHECK(v.wm.found); /* the watermark still speaks */
    verify_result_free(&v);

    /* a changed record (other subject), pixels intact: invalid too */
    for (int i = 0; i < nk; i++)
        if (!strcmp(keep[i].key, PROV_KEY_RECORD)) {
            char *s = xstrdup(keep[i].text), *at = strstr(s, "volunteer-ada");
            CHECK(at != NULL);
            if (at) memcpy(at, "volunteer-bob", 13);
            keep[i].text = s;
        }
    sl_path_join(p2, sizeof p2, dir, "record.png");
    CHECK(image_save_png(p2, &stored, keep, nk, &err) == 0);
    CHECK(provenance_verify_file(p2, kp.pk, &v, &err) == 0);
    CHECK(v.sig == PROV_SIG_INVALID && v.pixels_match && v.metadata);
    verify_result_free(&v);
    for (int i = 0; i < nk; i++)
        if (!strcmp(keep[i].key, PROV_KEY_RECORD)) free((char *)keep[i].text);
    image_free_texts(k2, t2, n2);

    /* a JPEG q50 re-encode: no metadata, the watermark alone marks it */
    sl_path_join(p2, sizeof p2, dir, "reencoded.jpg");
    CHECK(image_save_jpeg(p2, &stored, 50, &err) == 0);
    CHECK(provenance_verify_file(p2, NULL, &v, &err) == 0);
    CHECK(!v.metadata && !v.xmp && v.sig == PROV_SIG_ABSENT && !v.is_png);
    CHECK(v.wm.found && v.wm.payload == 0x3fa2c1d0u);
    CHECK(v.marked);
    verify_result_free(&v);

    /* a clean image is not marked */
    sl_path_join(p2, sizeof p2, dir, "clean.png");
    CHECK(image_save_png(p2, &before, NULL, 0, &err) == 0);
    CHECK(provenance_verify_file(p2, NULL, &v, &err) == 0);
    CHECK(!v.metadata && v.sig == PROV_SIG_ABSENT && !v.wm.found && !v.label_pixels && !v.marked);
    verify_result_free(&v);
    image_free(&bad), image_free(&stored), image_free(&im), image_free(&before);
}

static void t_label_none_recorded(void) {
    const char *dir = test_tmpdir();
    SlKeypair kp;
    keypair(&kp, dir, "nolabel");
    SlRng r;
    sl_rng_seed(&r, 22);
    Image im = random_image(&r, 320, 240);
    ProvenanceInfo info;
    info_for_test(&info);
    info.label = 0;
    info.has_payload = 1;
    info.payload = 0x00c0ffeeu;
    char path[4096];
    sl_path_join(path, sizeof path, dir, "nolabel.png");
    SlErr err;
    CHECK(provenance_write_png(path, &im, &info, &kp, &err) == 0);
    VerifyResult v;
    CHECK(provenance_verify_file(path, NULL, &v, &err) == 0);
    CHECK(v.label_record == 0 && !v.label_pixels);
    CHECK(v.sig == PROV_SIG_VALID && !v.sig_trusted);
    CHECK(v.wm.found && v.wm.payload == 0x00c0ffeeu && v.wm_payload_matches);
    CHECK(v.record && strstr(v.record, "\"label\":\"none\""));
    verify_result_free(&v);
    image_free(&im);
}

static void t_hostile_files(void) {
    const char *dir = test_tmpdir();
    char path[4096];
    sl_path_join(path, sizeof path, dir, "garbage.png");
    SlErr err;
    CHECK(sl_write_atomic(path, "\x89PNG\r\n\x1a\nnot really", 18, &err) == 0);
    VerifyResult v;
    CHECK(provenance_verify_file(path, NULL, &v, &err) == -1);
    CHECK(strlen(err.msg) > 0);
    sl_path_join(path, sizeof path, dir, "missing.png");
    CHECK(provenance_verify_file(path, NULL, &v, &err) == -1);
    /* a PNG whose records are junk: reported, not trusted, no crash */
    SlRng r;
    sl_rng_seed(&r, 23);
    Image im = random_image(&r, 64, 64);
    PngText junk[3] = {{PROV_KEY_RECORD, "{\"format\": 7"}, {PROV_KEY_SIGNATURE, "{\"public_key\":\"zz\"}"},
                       {PROV_KEY_XMP, "<x:xmpmeta>DigitalSourceType"}};
    sl_path_join(path, sizeof path, dir, "junk.png");
    CHECK(image_save_png(path, &im, junk, 3, &err) == 0);
    CHECK(provenance_verify_file(path, NULL, &v, &err) == 0);
    CHECK(!v.metadata && v.sig == PROV_SIG_INVALID && !v.marked);
    verify_result_free(&v);
    image_free(&im);
    /* too small to watermark: refused with a message, nothing written */
    Image small = random_image(&r, 40, 40);
    SlKeypair kp;
    keypair(&kp, dir, "small");
    ProvenanceInfo info;
    info_for_test(&info);
    sl_path_join(path, sizeof path, dir, "small.png");
    CHECK(provenance_write_png(path, &small, &info, &kp, &err) == -1);
    CHECK(strstr(err.msg, "too small") != NULL);
    CHECK(!sl_is_file(path));
    image_free(&small);
}

static void t_label(void) {
    SlRng r;
    sl_rng_seed(&r, 25);
    for (int i = 0; i < 4; i++) {
        int w = 64 + sl_rng_int(&r, 600), h = 64 + sl_rng_int(&r, 600);
        Image im = random_image(&r, w, h);
        CHECKF(!label_detect(&im, NULL), "clean %dx%d", w, h);
        LabelBox b = label_box(w, h);
        CHECK(b.x >= 0 && b.y >= 0 && b.x + b.w <= w && b.y + b.h <= h);
        CHECK(b.h >= 11 && b.x > w / 3 && b.y > h / 2); /* bottom-right, legible */
        Image before = image_clone(&im);
        label_draw(&im);
        /* only the box changed, and it got darker on average */
        double in_before = 0, in_after = 0;
        int outside_changed = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < 3; k++) {
                    size_t j = ((size_t)y * w + x) * 3 + k;
                    int inside = x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h;
                    if (inside) in_before += before.px[j], in_after += im.px[j];
                    else outside_changed |= before.px[j] != im.px[j];
                }
        CHECK(!outside_changed && in_after < in_before);
        double sc;
        CHECKF(label_detect(&im, &sc), "drawn %dx%d: score %.2f", w, h, sc);
        Image half = image_resize(&im, w / 2, h / 2), j50 = image_clone(&im);
        image_jpeg_roundtrip(&j50, 50);
        CHECKF(label_detect(&half, &sc), "half of %dx%d: score %.2f", w, h, sc);
        CHECKF(label_detect(&j50, &sc), "JPEG q50 of %dx%d: score %.2f", w, h, sc);
        image_free(&im), image_free(&before), image_free(&half), image_free(&j50);
    }
}

/* No label is seen on the clean fixture photos, as they are or at half size. */
static void t_label_clean_fixtures(void) {
    const char *dir = "tests/fixtures/faces";
    static const char *const png[] = {".png", NULL};
    char **names = NULL;
    SlErr err;
    int n = sl_is_dir(dir) ? sl_list_dir(dir, png, &names, &err) : -1;
    if (n <= 0) SKIP("tests/fixtures/faces has no PNG files");
    double worst = -1;
    for (int i = 0; i < n; i++) {
        char p[4096];
        sl_path_join(p, sizeof p, dir, names[i]);
        Image im;
        if (image_load(p, 3, &im, &err)) continue;
        Image half = image_resize(&im, im.w / 2, im.h / 2);
        double s1, s2;
        CHECKF(!label_detect(&im, &s1), "%s", names[i]);
        CHECKF(!label_detect(&half, &s2), "%s at half size", names[i]);
        worst = s1 > worst ? s1 : worst;
        worst = s2 > worst ? s2 : worst;
        image_free(&im), image_free(&half);
    }
    printf("label score on %d clean fixture photos (and halves): highest %.2f\n", n, worst);
    sl_free_list(names, n);
}


/* A copy of the PNG at in with one pixel changed, keeping its texts and its C2PA chunk (caBX) where
 * it was: what an editor that keeps metadata would write. */
static int copy_pixel_changed(const char *in, const char *out, SlErr *err) {
    char *data;
    size_t len;
    if (sl_read_file(in, 1 << 28, &data, &len, err)) return -1;
    Image im;
    char **k, **t;
    int n, nc, r = -1;
    PngChunk *c = NULL;
    uint8_t *png = NULL, *o = NULL;
    size_t pn, on;
    if (image_load_mem((uint8_t *)data, len, 3, &im, in, err)) goto done0;
    im.px[3 * (im.w * (im.h / 2) + im.w / 2)] ^= 0x04;
    if (image_read_png_texts(in, &k, &t, &n, err)) goto done1;
    PngText keep[8];
    int nk = 0;
    for (int i = 0; i < n && nk < 8; i++) keep[nk++] = (PngText){k[i], t[i]};
    if (image_encode_png_texts(&im, keep, nk, &png, &pn, err) || image_png_chunks((uint8_t *)data, len, &c, &nc, in, err))
        goto done2;
    for (int i = 0; i < nc; i++)
        if (!strcmp(c[i].type, "caBX")) {
            if (image_png_insert_chunk(png, pn, "caBX", (uint8_t *)data + c[i].offset + 8, c[i].len, &o, &on, NULL, err))
                goto done2;
            r = sl_write_atomic(out, o, on, err);
        }
done2:
    free(c), free(png), free(o);
    image_free_texts(k, t, n);
done1:
    image_free(&im);
done0:
    free(data);
    return r;
}

/* What a forger writes: a real (unmarked) image with a record, signature, XMP and C2PA manifest, all
 * well formed and signed by the forger's own key and CA, but no watermark. */
static int write_forged(const char *path, const Image *im, const SlKeypair *forger, SlErr *err) {
    ProvenanceInfo info;
    info_for_test(&info);
    char pix[65];
    provenance_pixel_hash(im, pix);
    char *rec = prov_record_build(&info, "2026-01-01T00:00:00Z", pix, im->w, im->h, 0x3fa2c1d0u, "0000000000000000");
    char *sig = prov_signature_build(forger, pix, rec), *xmp = prov_xmp_build(&info, "2026-01-01T00:00:00Z");
    PngText texts[3] = {{PROV_KEY_RECORD, rec}, {PROV_KEY_SIGNATURE, sig}, {PROV_KEY_XMP, xmp}};
    C2paInfo ci = {.title = "forged.png", .format = "image/png", .source_type = PROV_SOURCE_TYPE_COMPOSITE};
    uint8_t *png;
    size_t n;
    int r = prov_png_encode(im, texts, 3, &ci, forger, &png, &n, err);
    if (!r) r = sl_write_atomic(path, png, n, err), free(png);
    free(rec), free(sig), free(xmp);
    return r;
}

static void t_c2pa(void) {
    const char *dir = test_tmpdir();
    SlKeypair kp, forger;
    keypair(&kp, dir, "c2lab");
    keypair(&forger, dir, "forger");
    CHECK(kp.cert_len > 0 && kp.ca_len > 0 && forger.ca_len > 0);
    SlRng r;
    sl_rng_seed(&r, 31);
    Image im = random_image(&r, 128, 96);
    ProvenanceInfo info;
    info_for_test(&info);
    char path[4096], p2[4096];
    sl_path_join(path, sizeof path, dir, "c2.png");
    SlErr err;
    CHECK(provenance_write_png(path, &im, &info, &kp, &err) == 0);
    const uint8_t *cas[1] = {kp.ca}, *pks[1] = {kp.pk};
    size_t cal[1] = {kp.ca_len};
    ProvTrust lab = {.pubkeys = pks, .n_pubkeys = 1, .cas = cas, .ca_len = cal, .n_cas = 1};
    ProvTrust ca_only = {.cas = cas, .ca_len = cal, .n_cas = 1};
    VerifyResult v;
    CHECK(provenance_verify(path, &lab, &v, &err) == 0);
    CHECKF(v.c2pa.present && v.c2pa.valid && v.c2pa.trusted && v.c2pa.hash_match && v.c2pa.assertions_ok, "%s", v.c2pa.why);
    CHECK(!strcmp(v.c2pa.source_type, PROV_SOURCE_TYPE_COMPOSITE) && strstr(v.c2pa.generator, "swaplab"));
    CHECK(v.verdict == PROV_MARKED);
    verify_result_free(&v);
    /* trusted C2PA alone establishes the mark, with a watermark key that finds nothing */
    ca_only.wm_key = "another lab's key";
    CHECK(provenance_verify(path, &ca_only, &v, &err) == 0);
    CHECK(!v.wm.found && !v.sig_trusted && v.c2pa.trusted && v.verdict == PROV_MARKED);
    verify_result_free(&v);
    /* without trust: valid but untrusted; the watermark still establishes it */
    CHECK(provenance_verify(path, NULL, &v, &err) == 0);
    CHECK(v.c2pa.valid && !v.c2pa.trusted && v.wm.found && v.verdict == PROV_MARKED);
    verify_result_free(&v);

    /* one changed pixel: the hard binding fails, and so does the signature: altered */
    sl_path_join(p2, sizeof p2, dir, "c2_pixel.png");
    CHECK(copy_pixel_changed(path, p2, &err) == 0);
    CHECK(provenance_verify(p2, &lab, &v, &err) == 0);
    CHECKF(v.c2pa.present && !v.c2pa.valid && !v.c2pa.hash_match && v.c2pa.sig_valid, "%s", v.c2pa.why);
    CHECK(strstr(v.c2pa.why, "hard binding") != NULL);
    CHECK(v.sig == PROV_SIG_INVALID && v.verdict == PROV_ALTERED && !v.marked);
    verify_result_free(&v);

    /* any byte of the file outside the manifest is bound: one letter of the record */
    char *data;
    size_t len;
    CHECK(sl_read_file(path, 1 << 24, &data, &len, &err) == 0);
    char *at = memmem(data, len, "volunteer-ada", 13);
    CHECK(at != NULL);
    if (at) at[0] = 'V';
    C2paResult cr;
    c2pa_verify_file_bytes((uint8_t *)data, len, cas, cal, 1, &cr);
    CHECK(cr.present && cr.sig_valid && !cr.hash_match && !cr.valid);
    if (at) at[0] = 'v';
    /* a changed claim: its signature fails */
    const uint8_t *store;
    size_t sn;
    int owned;
    CHECK(c2pa_find_store((uint8_t *)data, len, &store, &sn, &owned) == 0 && !owned);
    char *cl = memmem(store, sn, "claim_generator_info", 20); /* only in the claim */
    CHECK(cl != NULL);
    if (cl) cl[0] = 'C';
    c2pa_verify_file_bytes((uint8_t *)data, len, cas, cal, 1, &cr);
    CHECK(cr.present && !cr.sig_valid && !cr.valid && strstr(cr.why, "signature"));
    if (cl) cl[0] = 'c';
    /* a CBOR header that claims 2^32 array items in 6 bytes: refused before anything is allocated */
    static const uint8_t huge[] = {0xd2, 0x9a, 0xff, 0xff, 0xff, 0xff};
    CoseResult co;
    cose_verify1(huge, sizeof huge, (const uint8_t *)"x", 1, NULL, NULL, 0, &co);
    CHECK(!co.parsed && !co.sig_valid && strstr(co.why, "COSE_Sign1"));
    /* every truncation and every single-byte change of the store: a result, never a crash */
    int rejected = 0;
    for (size_t cut = 0; cut < sn; cut += 7) {
        C2paResult t;
        c2pa_verify_store(store, cut, (uint8_t *)data, len, cas, cal, 1, &t);
        rejected += !t.valid;
    }
    CHECK(rejected == (int)((sn + 6) / 7));
    uint8_t *copy = xmalloc(sn);
    int invalid = 0, tried = 0;
    for (size_t i = 0; i < sn; i += 3, tried++) {
        memcpy(copy, store, sn);
        copy[i] ^= 0x5a;
        C2paResult t;
        c2pa_verify_store(copy, sn, (uint8_t *)data, len, cas, cal, 1, &t);
        invalid += !t.valid;
    }
    printf("C2PA store %zu bytes: %d of %d single-byte changes invalidate it\n", sn, invalid, tried);
    CHECK(invalid >= tried * 9 / 10); /* the rest: description boxes of the store, manifest, claim and
                                         signature, which C2PA does not bind */
    free(copy);
    free(data);

    /* a forgery: real pixels, every text and a C2PA manifest by the forger's own key and CA */
    Image real = random_image(&r, 128, 96);
    sl_path_join(p2, sizeof p2, dir, "forged.png");
    CHECK(write_forged(p2, &real, &forger, &err) == 0);
    CHECK(provenance_verify(p2, &lab, &v, &err) == 0);
    CHECK(v.metadata && v.sig == PROV_SIG_VALID && !v.sig_trusted && v.c2pa.valid && !v.c2pa.trusted && !v.wm.found);
    CHECK(v.verdict == PROV_FORGED && !v.marked);
    verify_result_free(&v);
    /* trusting the forger's key makes it marked: trust is what establishes */
    const uint8_t *fpk[1] = {forger.pk};
    ProvTrust fool = {.pubkeys = fpk, .n_pubkeys = 1};
    CHECK(provenance_verify(p2, &fool, &v, &err) == 0);
    CHECK(v.verdict == PROV_MARKED);
    verify_result_free(&v);

    /* JPEG: XMP in APP1 and C2PA in APP11 */
    sl_path_join(p2, sizeof p2, dir, "c2.jpg");
    info.target_kind = "synthetic";
    CHECK(provenance_write_jpeg(p2, &im, &info, &kp, 90, &err) == 0);
    CHECK(provenance_verify(p2, &lab, &v, &err) == 0);
    CHECKF(v.c2pa.valid && v.c2pa.trusted && v.xmp && !v.metadata, "%s", v.c2pa.why);
    CHECK(!strcmp(v.source_type, PROV_SOURCE_TYPE_SYNTHETIC) && !strcmp(v.c2pa.source_type, PROV_SOURCE_TYPE_SYNTHETIC));
    CHECK(v.verdict == PROV_MARKED);
    verify_result_free(&v);
    image_free(&im), image_free(&real);
}

/* The carrier-neutral API a video writer would call: any container, any box around the store. */
static void t_c2pa_any_carrier(void) {
    const char *dir = test_tmpdir();
    SlKeypair kp;
    keypair(&kp, dir, "neutral");
    uint8_t asset[3000];
    for (size_t i = 0; i < sizeof asset; i++) asset[i] = (uint8_t)(i * 7 + 3);
    C2paInfo ci = {.title = "clip.mp4", .format = "video/mp4", .source_type = PROV_SOURCE_TYPE_COMPOSITE,
                   .model_title = "model", .model_sha256 = MODEL};
    uint8_t *store;
    size_t sn, at = 1000, wrap = 24; /* e.g. an MP4 uuid box: size, type, 16-byte uuid */
    SlErr err;
    CHECK(c2pa_build_store(&ci, &kp, asset, sizeof asset, at, wrap, &store, &sn, &err) == 0);
    size_t fn = sizeof asset + wrap + sn;
    uint8_t *file = xmalloc(fn);
    memcpy(file, asset, at);
    memset(file + at, 0xAB, wrap); /* the box header: excluded, so any bytes */
    memcpy(file + at + wrap, store, sn);
    memcpy(file + at + wrap + sn, asset + at, sizeof asset - at);
    const uint8_t *cas[1] = {kp.ca};
    size_t cal[1] = {kp.ca_len};
    C2paResult r;
    c2pa_verify_store(store, sn, file, fn, cas, cal, 1, &r);
    CHECKF(r.valid && r.trusted && r.hash_match, "%s", r.why);
    file[fn - 1] ^= 1; /* a byte of the asset after the box */
    c2pa_verify_store(store, sn, file, fn, cas, cal, 1, &r);
    CHECK(!r.valid && !r.hash_match);
    free(file), free(store);
}

/* Records written by swaplab before format /2 named the frame's owner "source": read correctly. */
static void t_record_v1(void) {
    const char *v1 =
        "{\"format\":\"swaplab.provenance/1\",\"tool\":\"swaplab\",\"version\":\"0.1.0\",\"created\":\"2026-05-01T10:00:00Z\","
        "\"digital_source_type\":\"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia\","
        "\"model_sha256\":\"3fa2c1d0\",\"source\":{\"subject\":\"frame-owner\",\"consent_sha256\":null,\"input\":"
        "\"frames/000007.png\"},\"target\":{\"subject\":\"face-giver\",\"consent_sha256\":null},\"label\":\"none\","
        "\"pixels\":{\"w\":64,\"h\":64,\"sha256\":\"ab\"}}";
    ProvRecord r;
    CHECK(prov_record_parse(v1, &r) == 0);
    CHECK(r.version == 1 && !strcmp(r.source_subject, "face-giver") && !strcmp(r.target_subject, "frame-owner"));
    CHECK(!strcmp(r.frame, "frames/000007.png") && r.label == 0);
    /* and a /1 file signed then: the signature (over the text) still verifies, the words are mapped */
    const char *dir = test_tmpdir();
    SlKeypair kp;
    keypair(&kp, dir, "v1");
    SlRng rng;
    sl_rng_seed(&rng, 32);
    Image im = random_image(&rng, 64, 64);
    char pix[65], rec[2048], path[4096];
    provenance_pixel_hash(&im, pix);
    snprintf(rec, sizeof rec,
             "{\"format\":\"swaplab.provenance/1\",\"source\":{\"subject\":\"frame-owner\",\"input\":\"f.png\"},"
             "\"target\":{\"subject\":\"face-giver\"},\"pixels\":{\"sha256\":\"%s\"}}", pix);
    char *sig = prov_signature_build(&kp, pix, rec);
    PngText t[2] = {{PROV_KEY_RECORD, rec}, {PROV_KEY_SIGNATURE, sig}};
    sl_path_join(path, sizeof path, dir, "v1.png");
    SlErr err;
    CHECK(image_save_png(path, &im, t, 2, &err) == 0);
    VerifyResult v;
    CHECK(provenance_verify_file(path, kp.pk, &v, &err) == 0);
    CHECK(v.metadata && v.rec.version == 1 && v.pixels_match && v.sig == PROV_SIG_VALID && v.sig_trusted);
    CHECK(!strcmp(v.rec.source_subject, "face-giver") && !strcmp(v.rec.target_subject, "frame-owner"));
    CHECK(v.verdict == PROV_MARKED);
    verify_result_free(&v);
    free(sig);
    image_free(&im);
    /* not records */
    CHECK(prov_record_parse("{\"format\":\"swaplab.provenance/9\"}", &r) == -1);
    CHECK(prov_record_parse("[1,2", &r) == -1);
}

/* The record, the XMP text and the C2PA claim agree on who is the source and who the target. */
static void t_words_agree(void) {
    const char *dir = test_tmpdir();
    SlKeypair kp;
    keypair(&kp, dir, "words");
    SlRng rng;
    sl_rng_seed(&rng, 33);
    Image im = random_image(&rng, 64, 64);
    ProvenanceInfo info;
    info_for_test(&info); /* source synth-007 (the face), target volunteer-ada (the frame) */
    char path[4096];
    sl_path_join(path, sizeof path, dir, "w.png");
    SlErr err;
    CHECK(provenance_write_png(path, &im, &info, &kp, &err) == 0);
    char **k, **t;
    int n;
    CHECK(image_read_png_texts(path, &k, &t, &n, &err) == 0);
    const char *rec = find_text(k, t, n, PROV_KEY_RECORD), *xmp = find_text(k, t, n, PROV_KEY_XMP);
    ProvRecord r;
    CHECK(rec && prov_record_parse(rec, &r) == 0 && r.version == 2);
    CHECK(!strcmp(r.source_subject, "synth-007") && !strcmp(r.target_subject, "volunteer-ada"));
    CHECK(rec && strstr(rec, "\"source\":{\"subject\":\"synth-007\"") && strstr(rec, "the identity whose face is inserted"));
    CHECK(xmp && strstr(xmp, "the face of synth-007 (source) inserted into a frame of volunteer-ada (target)"));
    image_free_texts(k, t, n);
    image_free(&im);
}

/* Helper mode for tests/e2e_verify.sh. */
static int write_samples(const char *dir) {
    SlErr err;
    if (sl_mkdirs(dir, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    SlKeypair kp;
    keypair(&kp, dir, "lab");
    SlRng r;
    sl_rng_seed(&r, 24);
    Image im = random_image(&r, 256, 256);
    ProvenanceInfo info;
    info_for_test(&info);
    char p[4096];
    sl_path_join(p, sizeof p, dir, "marked.png");
    if (provenance_write_png(p, &im, &info, &kp, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    info.label = 0;
    sl_path_join(p, sizeof p, dir, "unlabelled.png");
    if (provenance_write_png(p, &im, &info, &kp, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    info.label = 1;
    info.target_kind = "synthetic"; /* a synthetic person's frame: nothing in it was photographed */
    sl_path_join(p, sizeof p, dir, "synthetic.png");
    if (provenance_write_png(p, &im, &info, &kp, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    sl_path_join(p, sizeof p, dir, "marked.jpg");
    if (provenance_write_jpeg(p, &im, &info, &kp, 90, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    char q[4096];
    sl_path_join(p, sizeof p, dir, "marked.png");
    sl_path_join(q, sizeof q, dir, "pixel.png");
    if (copy_pixel_changed(p, q, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    SlKeypair forger;
    keypair(&forger, dir, "forger");
    sl_path_join(p, sizeof p, dir, "forged.png");
    if (write_forged(p, &im, &forger, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    sl_path_join(p, sizeof p, dir, "clean.png");
    if (image_save_png(p, &im, NULL, 0, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    image_free(&im);
    return 0;
}

/* Helper mode: re-encodes a file as JPEG (stb_image_write) for tests/e2e_verify.sh. */
static int reencode_jpeg(const char *in, const char *out, int quality) {
    Image im;
    SlErr err;
    if (image_load(in, 3, &im, &err) || image_save_jpeg(out, &im, quality, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
    image_free(&im);
    return 0;
}

/* provenance_make_png (the halves the ranks of an MPI swap use): nothing written or logged until the
 * caller does it; the entry names the file's digest; appending it and writing the bytes gives a file
 * that verifies as provenance_write_png's and is in the log. Not logged: no entry. */
static void t_make_then_log(void) {
    const char *dir = test_tmpdir();
    SlKeypair kp;
    keypair(&kp, dir, "mk");
    SlRng r;
    sl_rng_seed(&r, 5);
    Image im = random_image(&r, 96, 96);
    ProvenanceInfo info;
    info_for_test(&info);
    char path[4096], ldir[4096];
    sl_path_join(path, sizeof path, dir, "made.png");
    sl_path_join(ldir, sizeof ldir, dir, "made-ledger");
    info.ledger = ldir;
    ProvOutput po;
    SlErr err;
    CHECK(provenance_make_png(path, &im, &info, &kp, &po, &err) == 0);
    CHECK(po.bytes && po.len > 1000 && po.entry && !strcmp(po.ledger_dir, ldir));
    CHECK(!sl_is_file(path) && !sl_is_dir(ldir)); /* neither written nor logged */
    char fsha[65];
    sl_sha256_hex(po.bytes, po.len, fsha);
    json_error_t je;
    json_t *e = po.entry ? json_loads(po.entry, 0, &je) : NULL;
    CHECK(e && !strcmp(json_string_value(json_object_get(e, "sha256")), fsha) &&
          !strcmp(json_string_value(json_object_get(e, "file")), "made.png"));
    json_decref(e);
    CHECK(ledger_append(po.ledger_dir, po.entry, &kp, NULL, &err) == 0);
    CHECK(sl_write_atomic(path, po.bytes, po.len, &err) == 0);
    prov_output_free(&po);
    CHECK(po.bytes == NULL && po.entry == NULL);
    VerifyResult v;
    CHECK(provenance_verify_file(path, kp.pk, &v, &err) == 0);
    CHECK(v.sig == PROV_SIG_VALID && v.sig_trusted && v.pixels_match && v.wm.found);
    verify_result_free(&v);
    Ledger lg;
    CHECK(ledger_load(ldir, &lg, &err) == 0);
    CHECK(lg.n == 1 && ledger_find(&lg, fsha) == 0);
    ledger_free(&lg);
    info.ledger = NULL;
    CHECK(provenance_make_png(path, &im, &info, &kp, &po, &err) == 0);
    CHECK(po.bytes && po.entry == NULL);
    prov_output_free(&po);
    image_free(&im);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write")) return write_samples(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "--jpeg")) return reencode_jpeg(argv[2], argv[3], atoi(argv[4]));
    RUN(t_write_and_verify);
    RUN(t_label_none_recorded);
    RUN(t_hostile_files);
    RUN(t_c2pa);
    RUN(t_c2pa_any_carrier);
    RUN(t_record_v1);
    RUN(t_words_agree);
    RUN(t_label);
    RUN(t_label_clean_fixtures);
    RUN(t_make_then_log);
    return test_summary("test_provenance");
}
