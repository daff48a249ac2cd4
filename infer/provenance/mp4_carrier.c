/* mp4_carrier.c — provenance boxes appended to MP4 files and read back with every frame's
 * watermark and label (infer/provenance/mp4_carrier.h). */
#include "infer/provenance/mp4_carrier.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/video.h"
#include "infer/label.h"
#include "infer/provenance/carriers.h"
#include "infer/watermark.h"

#define BOX_MAX (1u << 22) /* our boxes are small; a larger one is not ours */

static const uint8_t XMP_UUID[16] = {0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8,
                                     0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC};
static const uint8_t SL_UUID[16] = {'s', 'w', 'a', 'p', 'l', 'a', 'b', '-', 'p', 'r', 'o', 'v', '-', 'm', 'p', '4'};

static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static char *build_xmp(const ProvenanceInfo *info, const char *when) {
    char desc[1024];
    snprintf(desc, sizeof desc,
             "Synthetic video: a face swap made by swaplab %s (subjects %s and %s), an educational deepfake tool. "
             "Not a recording of a real event.",
             SL_VERSION, info->source_subject ? info->source_subject : "unnamed",
             info->target_subject ? info->target_subject : "unnamed");
    return prov_xmp_packet(info, when, desc);
}

static uint8_t *sig_message(const char *file_hex, const char *record, size_t *len) {
    size_t ld = strlen(MP4_SIG_DOMAIN), lr = strlen(record);
    *len = ld + 64 + 1 + lr;
    uint8_t *m = xmalloc(*len);
    memcpy(m, MP4_SIG_DOMAIN, ld);
    memcpy(m + ld, file_hex, 64);
    m[ld + 64] = '\n';
    memcpy(m + ld + 65, record, lr);
    return m;
}

/* SHA-256 of the first n bytes of f (from its start). */
static int hash_prefix(FILE *f, uint64_t n, char hex[65]) {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    if (fseeko(f, 0, SEEK_SET)) return -1;
    uint8_t buf[1 << 16];
    while (n > 0) {
        size_t want = n < sizeof buf ? (size_t)n : sizeof buf;
        size_t got = fread(buf, 1, want, f);
        if (got != want) return -1;
        crypto_hash_sha256_update(&st, buf, got);
        n -= got;
    }
    uint8_t d[32];
    crypto_hash_sha256_final(&st, d);
    sl_hex(hex, d, 32);
    return 0;
}

int mp4_carrier_append(const char *path, void *ctx, SlErr *err) {
    const Mp4Provenance *p = ctx;
    const ProvenanceInfo *info = p->info;
    FILE *f = fopen(path, "r+b");
    if (!f) return sl_fail(err, "%s: cannot open it to add the provenance boxes", path);
    if (fseeko(f, 0, SEEK_END)) {
        fclose(f);
        return sl_fail(err, "%s: cannot seek", path);
    }
    uint64_t n = (uint64_t)ftello(f);
    char fhex[65];
    if (hash_prefix(f, n, fhex)) {
        fclose(f);
        return sl_fail(err, "%s: cannot read it back to hash it", path);
    }
    char when[32], payload_hex[9], keyfp[65];
    sl_utc_iso8601(when);
    WmKey wk;
    wm_key_from_string(&wk, info->wm_key);
    snprintf(payload_hex, sizeof payload_hex, "%08x", provenance_payload(info));
    sl_sha256_hex(wk.k, sizeof wk.k, keyfp);
    /* the words of the image record (swaplab.provenance/2): source = the face inserted, target = the
     * person in the frames; target.frame is the input clip */
    json_t *rec = prov_record_head(info, when, "video/mp4", "the person in the frames");
    json_object_set_new(rec, "watermark", json_pack("{s:s,s:s,s:s#,s:s,s:s}", "scheme", WM_SCHEME, "key",
                                                    info->wm_key && *info->wm_key ? "custom" : "default",
                                                    "key_fingerprint", keyfp, (int)16, "payload", payload_hex, "frames",
                                                    "every frame"));
    json_object_set_new(rec, "video", json_pack("{s:i,s:i,s:I,s:I,s:f,s:s,s:i,s:o}", "w", p->w, "h", p->h, "frames",
                                                (json_int_t)p->frames, "frames_swapped", (json_int_t)p->swapped, "fps",
                                                p->fps, "codec", "h264", "crf", p->crf, "input_sha256",
                                                str_or_null(p->input_sha256)));
    json_object_set_new(rec, "file", json_pack("{s:s,s:I,s:s}", "hash",
                                               "sha256 of the first `bytes` bytes of the file (all before the provenance boxes)",
                                               "bytes", (json_int_t)n, "sha256", fhex));
    char *record = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(rec);
    SL_ASSERT(record);
    size_t mlen;
    uint8_t *msg = sig_message(fhex, record, &mlen), sig[64];
    sl_sign(p->key, msg, mlen, sig);
    free(msg);
    char pkhex[65], sighex[129];
    sl_hex(pkhex, p->key->pk, 32);
    sl_hex(sighex, sig, 64);
    json_t *sj = json_pack("{s:s,s:s,s:s,s:s}", "alg", "Ed25519", "public_key", pkhex, "signature", sighex, "signed",
                           "\"swaplab-video-signature-v1\\n\" + file.sha256 + \"\\n\" + the record text");
    char *sigtext = json_dumps(sj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(sj);
    char *xmp = build_xmp(info, when);

    size_t lx = strlen(xmp), lr = strlen(record), ls = strlen(sigtext);
    size_t bx = 8 + 16 + lx, bs = 8 + 16 + 8 + 4 + lr + 4 + ls;
    uint8_t *box = xmalloc(bx + bs), *q = box;
    put32(q, (uint32_t)bx), memcpy(q + 4, "uuid", 4), memcpy(q + 8, XMP_UUID, 16), memcpy(q + 24, xmp, lx);
    q += bx;
    put32(q, (uint32_t)bs), memcpy(q + 4, "uuid", 4), memcpy(q + 8, SL_UUID, 16);
    put32(q + 24, (uint32_t)(n >> 32)), put32(q + 28, (uint32_t)n);
    put32(q + 32, (uint32_t)lr), memcpy(q + 36, record, lr);
    put32(q + 36 + lr, (uint32_t)ls), memcpy(q + 40 + lr, sigtext, ls);
    int rc = 0;
    if (fseeko(f, 0, SEEK_END) || fwrite(box, 1, bx + bs, f) != bx + bs || fflush(f)) rc = sl_fail(err, "%s: writing the provenance boxes failed", path);
    if (fclose(f) && !rc) rc = sl_fail(err, "%s: writing the provenance boxes failed", path);
    free(box), free(record), free(sigtext), free(xmp);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------- */
static const char *jstr(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void xmp_source_type(const char *x, char *out, size_t n) {
    out[0] = 0;
    const char *p = strstr(x, "DigitalSourceType=\"");
    if (!p) return;
    p += strlen("DigitalSourceType=\"");
    size_t i = 0;
    while (p[i] && p[i] != '"' && i + 1 < n) out[i] = p[i], i++;
    out[i] = 0;
}

/* Reads the top-level boxes; fills the box fields of r and returns the signature text (owned) */
static char *read_boxes(FILE *f, uint64_t size, Mp4VerifyResult *r, uint64_t *signed_bytes) {
    uint64_t off = 0, first_ours = UINT64_MAX, sb = 0;
    char *sigtext = NULL;
    int other_after = 0;
    while (off + 8 <= size) {
        uint8_t h[32];
        if (fseeko(f, (off_t)off, SEEK_SET) || fread(h, 1, 8, f) != 8) break;
        uint64_t bsz = get32(h), hdr = 8;
        if (bsz == 1) {
            if (fread(h + 8, 1, 8, f) != 8) break;
            bsz = get64(h + 8), hdr = 16;
        } else if (bsz == 0) {
            bsz = size - off;
        }
        if (bsz < hdr || off + bsz > size) break;
        int ours = 0;
        if (!memcmp(h + 4, "uuid", 4) && bsz >= hdr + 16 && bsz - hdr - 16 <= BOX_MAX) {
            uint8_t u[16];
            if (fread(u, 1, 16, f) == 16) {
                size_t len = (size_t)(bsz - hdr - 16);
                if (!memcmp(u, XMP_UUID, 16) || !memcmp(u, SL_UUID, 16)) {
                    uint8_t *d = xmalloc(len + 1);
                    if (fread(d, 1, len, f) == len) {
                        d[len] = 0;
                        ours = 1;
                        if (!memcmp(u, XMP_UUID, 16)) {
                            r->xmp = 1;
                            char st[160];
                            xmp_source_type((char *)d, st, sizeof st);
                            if (st[0]) snprintf(r->source_type, sizeof r->source_type, "%s", st);
                        } else if (len >= 16) {
                            sb = get64(d);
                            uint32_t lr = get32(d + 8);
                            if (lr <= len - 16) {
                                uint32_t ls = get32(d + 12 + lr);
                                if ((size_t)ls <= len - 16 - lr) {
                                    r->record = xmalloc((size_t)lr + 1);
                                    memcpy(r->record, d + 12, lr);
                                    r->record[lr] = 0;
                                    free(sigtext);
                                    sigtext = xmalloc((size_t)ls + 1);
                                    memcpy(sigtext, d + 16 + lr, ls);
                                    sigtext[ls] = 0;
                                    r->box = 1;
                                }
                            }
                        }
                    }
                    free(d);
                }
            }
        }
        if (ours && first_ours == UINT64_MAX) first_ours = off;
        if (!ours && first_ours != UINT64_MAX) other_after = 1;
        off += bsz;
    }
    if (off != size) other_after = 1; /* bytes that are not boxes at the end */
    r->trailing = r->box && (other_after || first_ours != sb);
    *signed_bytes = sb;
    return sigtext;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}
static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int mp4_verify(const char *path, const ProvTrust *trust, int every, Mp4VerifyResult *r, SlErr *err) {
    memset(r, 0, sizeof *r);
    r->label_record = -1;
    if (every < 1) every = 1;
    VideoReader *vr;
    VideoInfo vi;
    if (video_open(path, 0, &vr, &vi, err)) return -1;
    r->w = vi.w, r->h = vi.h;
    /* the boxes and the signature */
    FILE *f = fopen(path, "rb");
    char *sigtext = NULL;
    uint64_t sb = 0;
    const char *rec_payload = NULL; /* points into payload_buf once the record is freed */
    char payload_buf[16] = "";
    json_t *rec = NULL;
    if (f) {
        fseeko(f, 0, SEEK_END);
        uint64_t size = (uint64_t)ftello(f);
        sigtext = read_boxes(f, size, r, &sb);
        if (r->record) {
            json_error_t je;
            rec = json_loads(r->record, 0, &je);
            const char *fmt = rec ? jstr(rec, "format") : NULL;
            if (!json_is_object(rec) || !fmt || strcmp(fmt, PROV_FORMAT) != 0) {
                r->box = 0;
            } else {
                const char *st = jstr(rec, "digital_source_type");
                if (st && !r->source_type[0]) snprintf(r->source_type, sizeof r->source_type, "%s", st);
                const char *lab = jstr(rec, "label");
                r->label_record = lab ? strcmp(lab, "none") != 0 : -1;
                json_t *wm = json_object_get(rec, "watermark");
                const char *pl = json_is_object(wm) ? jstr(wm, "payload") : NULL;
                if (pl && strlen(pl) < sizeof payload_buf) {
                    snprintf(payload_buf, sizeof payload_buf, "%s", pl);
                    rec_payload = payload_buf;
                }
                const char *fh = jstr(json_object_get(rec, "file"), "sha256");
                char hex[65];
                r->bytes_match = fh && sb <= size && hash_prefix(f, sb, hex) == 0 && strcmp(hex, fh) == 0;
            }
        }
        fclose(f);
    }
    int sigtext_seen = sigtext != NULL;
    if (sigtext) {
        json_error_t je;
        json_t *s = json_loads(sigtext, 0, &je);
        const char *pk = s ? jstr(s, "public_key") : NULL, *sg = s ? jstr(s, "signature") : NULL;
        const char *fh = rec ? jstr(json_object_get(rec, "file"), "sha256") : NULL;
        uint8_t pkb[32], sigb[64];
        r->sig = PROV_SIG_INVALID;
        if (!pk || strlen(pk) != 64 || sl_unhex(pkb, 32, pk) || !sg || strlen(sg) != 128 || sl_unhex(sigb, 64, sg)) {
            snprintf(r->sig_reason, sizeof r->sig_reason, "the signature lacks a valid public_key/signature");
        } else if (!r->box || !fh || strlen(fh) != 64) {
            snprintf(r->sig_reason, sizeof r->sig_reason, "there is no provenance record to check it against");
        } else {
            snprintf(r->sig_pubkey, sizeof r->sig_pubkey, "%s", pk);
            size_t mlen;
            uint8_t *msg = sig_message(fh, r->record, &mlen);
            if (!sl_verify_sig(pkb, msg, mlen, sigb))
                snprintf(r->sig_reason, sizeof r->sig_reason, "the record was changed after signing (or signed by another key)");
            else if (!r->bytes_match)
                snprintf(r->sig_reason, sizeof r->sig_reason, "the video bytes were changed after signing");
            else if (r->trailing)
                snprintf(r->sig_reason, sizeof r->sig_reason, "data was added to the file after signing");
            else {
                r->sig = PROV_SIG_VALID;
                for (int k = 0; k < trust->n_pubkeys && !r->sig_trusted; k++)
                    r->sig_trusted = sodium_memcmp(trust->pubkeys[k], pkb, 32) == 0;
            }
            free(msg);
        }
        json_decref(s);
        free(sigtext);
    }
    json_decref(rec);
    /* every frame: watermark and label */
    WmKey wk;
    wm_key_from_string(&wk, trust->wm_key);
    long cap = 1024, nz = 0, np = 0;
    double *zs = xmalloc(sizeof(double) * (size_t)cap);
    uint32_t *pays = xmalloc(sizeof(uint32_t) * (size_t)cap);
    Image fr;
    double t;
    int rc;
    long i = 0;
    while ((rc = video_read(vr, &fr, &t, err)) == 1) {
        if (i++ % every == 0 && fr.w >= 32 && fr.h >= 32) {
            WmResult wr;
            if (wm_detect(&fr, &wk, &wr, err) == 0) {
                if (nz == cap) {
                    cap *= 2;
                    zs = xrealloc(zs, sizeof(double) * (size_t)cap);
                    pays = xrealloc(pays, sizeof(uint32_t) * (size_t)cap);
                }
                zs[nz++] = wr.z;
                r->frames++;
                if (wr.found) {
                    r->wm_frames++;
                    if (wr.payload_ok) {
                        pays[np++] = wr.payload;
                        char ph[9];
                        snprintf(ph, sizeof ph, "%08x", wr.payload);
                        if (!rec_payload || !strcmp(ph, rec_payload)) r->wm_payload_frames++;
                    }
                }
            }
            r->label_frames += label_detect(&fr, NULL);
        }
        image_free(&fr);
    }
    video_close(vr);
    if (nz) {
        qsort(zs, (size_t)nz, sizeof *zs, cmp_dbl);
        r->z_median = zs[nz / 2];
    }
    if (np) { /* the most frequent payload */
        qsort(pays, (size_t)np, sizeof *pays, cmp_u32);
        long best = 0;
        for (long a = 0, b; a < np; a = b) {
            for (b = a; b < np && pays[b] == pays[a]; b++) {}
            if (b - a > best) best = b - a, r->payload = pays[a];
        }
    }
    free(zs), free(pays);
    long need = (r->frames + 9) / 10;
    r->wm_clip = r->frames > 0 && r->wm_frames >= (need > 1 ? need : 1);
    /* the verdict by the images' rules (infer/provenance.h): established by a signature of a trusted
     * key or by the clip's watermark; a signature that fails (the record, the video bytes or data
     * added after signing) is a failed check */
    int established = (r->sig == PROV_SIG_VALID && r->sig_trusted) || r->wm_clip;
    int failed = r->sig == PROV_SIG_INVALID;
    int claims = r->box || r->xmp || sigtext_seen;
    r->verdict = established ? (failed ? PROV_ALTERED : PROV_MARKED) : claims || failed ? PROV_FORGED : PROV_NOT_MARKED;
    r->marked = r->verdict == PROV_MARKED;
    return 0;
}

void mp4_verify_result_free(Mp4VerifyResult *r) {
    free(r->record);
    r->record = NULL;
}

static const char *sig_word(ProvSigState s) {
    return s == PROV_SIG_VALID ? "valid" : s == PROV_SIG_INVALID ? "invalid" : "absent";
}

int mp4_verify_report(const char *path, const ProvTrust *trust, void *json_array) {
    Mp4VerifyResult r;
    SlErr err;
    json_t *arr = json_array;
    if (mp4_verify(path, trust, 1, &r, &err)) {
        if (arr)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b}", "file", path, "error", err.msg, "verdict", "UNREADABLE",
                                                 "marked", 0));
        else fprintf(stderr, "swaplab verify: %s\n", err.msg);
        return -1;
    }
    char payload[9];
    snprintf(payload, sizeof payload, "%08x", r.payload);
    if (arr) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(path));
        json_object_set_new(o, "media", json_string("video"));
        json_object_set_new(o, "metadata", json_boolean(r.box));
        json_object_set_new(o, "xmp", json_boolean(r.xmp));
        json_object_set_new(o, "digital_source_type", r.source_type[0] ? json_string(r.source_type) : json_null());
        json_object_set_new(o, "signature", json_string(sig_word(r.sig)));
        json_object_set_new(o, "signature_public_key", r.sig_pubkey[0] ? json_string(r.sig_pubkey) : json_null());
        json_object_set_new(o, "signature_trusted", json_boolean(r.sig_trusted));
        if (r.sig == PROV_SIG_INVALID) json_object_set_new(o, "signature_problem", json_string(r.sig_reason));
        json_object_set_new(o, "bytes_match_record", json_boolean(r.bytes_match));
        json_object_set_new(o, "watermark", json_pack("{s:I,s:I,s:I,s:f,s:b,s:o}", "frames", (json_int_t)r.frames,
                                                      "frames_found", (json_int_t)r.wm_frames, "frames_payload_ok",
                                                      (json_int_t)r.wm_payload_frames, "z_median", r.z_median, "found",
                                                      r.wm_clip, "payload",
                                                      r.wm_payload_frames ? json_string(payload) : json_null()));
        json_object_set_new(o, "label_recorded", r.label_record < 0 ? json_null() : json_boolean(r.label_record));
        json_object_set_new(o, "label_frames", json_integer(r.label_frames));
        json_object_set_new(o, "verdict", json_string(provenance_verdict_name(r.verdict)));
        json_object_set_new(o, "marked", json_boolean(r.marked));
        if (r.record) {
            json_error_t je;
            json_t *rec = json_loads(r.record, 0, &je);
            if (rec) json_object_set_new(o, "record", rec);
        }
        json_array_append_new(arr, o);
    } else {
        printf("%s (%dx%d video, %ld frames)\n", path, r.w, r.h, r.frames);
        if (r.box) {
            json_error_t je;
            json_t *rec = json_loads(r.record, 0, &je);
            const char *ss = json_string_value(json_object_get(json_object_get(rec, "source"), "subject"));
            const char *ts = json_string_value(json_object_get(json_object_get(rec, "target"), "subject"));
            const char *model = json_string_value(json_object_get(rec, "model_sha256"));
            printf("  metadata:     present (MP4 uuid box, made %s by %s %s; source %s (face inserted) into target %s's "
                   "frames; model %.16s)\n",
                   json_string_value(json_object_get(rec, "created")), json_string_value(json_object_get(rec, "tool")),
                   json_string_value(json_object_get(rec, "version")), ss ? ss : "?", ts ? ts : "?", model ? model : "?");
            json_decref(rec);
        } else {
            printf("  metadata:     absent\n");
        }
        printf("  source type:  %s%s\n", r.source_type[0] ? r.source_type : "absent",
               r.source_type[0] ? (r.xmp ? " (XMP uuid box, Iptc4xmpExt:DigitalSourceType)" : " (record only; XMP absent)") : "");
        if (r.sig == PROV_SIG_VALID)
            printf("  signature:    valid over the video bytes and the record, Ed25519 key %.16s...%s\n", r.sig_pubkey,
                   r.sig_trusted ? " (trusted)"
                                 : " (NOT trusted: not --pubkey nor your own key; anyone can sign, so it proves nothing)");
        else if (r.sig == PROV_SIG_INVALID)
            printf("  signature:    INVALID: %s%s%.16s\n", r.sig_reason, r.sig_pubkey[0] ? "; key " : "", r.sig_pubkey);
        else
            printf("  signature:    absent\n");
        printf("  watermark:    %s in %ld of %ld frames (each p < %g; median z = %.1f)%s", r.wm_clip ? "found" : "not found",
               r.wm_frames, r.frames, WM_P_THRESHOLD, r.z_median, r.wm_payload_frames ? "" : "\n");
        if (r.wm_payload_frames) printf(", payload %08x in %ld frames\n", r.payload, r.wm_payload_frames);
        const char *lr = r.label_record < 0 ? "no record" : r.label_record ? "recorded" : "recorded as none";
        printf("  label:        found in %ld of %ld frames (%s)\n", r.label_frames, r.frames, lr);
        switch (r.verdict) {
        case PROV_MARKED:
            printf("  verdict:      marked swaplab output (established by %s)\n",
                   r.sig_trusted && r.wm_clip ? "a trusted signature and the watermark"
                   : r.sig_trusted            ? "a trusted signature"
                                              : "the watermark");
            break;
        case PROV_ALTERED:
            printf("  verdict:      ALTERED: a marked swaplab video whose signature no longer holds (the video\n"
                   "                bytes or the record were changed after it was made)\n");
            break;
        case PROV_FORGED:
            printf("  verdict:      FORGED: it carries swaplab provenance, but nothing establishes it (no trusted\n"
                   "                signature, no watermark in the frames)\n");
            break;
        default:
            printf("  verdict:      NOT a marked swaplab output\n");
        }
    }
    int v = (int)r.verdict;
    mp4_verify_result_free(&r);
    return v;
}
