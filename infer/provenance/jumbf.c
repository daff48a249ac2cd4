/* jumbf.c — JUMBF box writing and bounded parsing (jumbf.h; ISO/IEC 19566-5, C2PA 2.x section 11). */
#include "infer/provenance/jumbf.h"

#include <stdlib.h>
#include <string.h>

void jbuf_put(JBuf *b, const void *d, size_t n) {
    if (b->len + n > b->cap) {
        while (b->len + n > b->cap) b->cap = b->cap ? b->cap * 2 : 1024;
        b->p = xrealloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
}

void jbuf_u32(JBuf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    jbuf_put(b, x, 4);
}

size_t jbuf_begin_box(JBuf *b, const char t[4]) {
    size_t at = b->len;
    jbuf_u32(b, 0);
    jbuf_put(b, t, 4);
    return at;
}

void jbuf_end_box(JBuf *b, size_t at) {
    size_t n = b->len - at;
    SL_ASSERT(n <= 0xffffffffu);
    b->p[at] = (uint8_t)(n >> 24), b->p[at + 1] = (uint8_t)(n >> 16), b->p[at + 2] = (uint8_t)(n >> 8);
    b->p[at + 3] = (uint8_t)n;
}

size_t jumbf_begin_super(JBuf *b, const uint8_t uuid[16], const char *label) {
    size_t at = jbuf_begin_box(b, "jumb");
    size_t d = jbuf_begin_box(b, "jumd");
    jbuf_put(b, uuid, 16);
    uint8_t toggles = 1 | 2; /* requestable, label present */
    jbuf_put(b, &toggles, 1);
    jbuf_put(b, label, strlen(label) + 1);
    jbuf_end_box(b, d);
    return at;
}

void jumbf_content(JBuf *b, const char t[4], const uint8_t *data, size_t n) {
    size_t at = jbuf_begin_box(b, t);
    jbuf_put(b, data, n);
    jbuf_end_box(b, at);
}

/* ---- parsing ---------------------------------------------------------------------------------- */
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Reads the box at data[0..avail): its total length into *blen. */
static int box_header(const uint8_t *data, size_t avail, size_t *blen, size_t *hlen, SlErr *err) {
    if (avail < 8) return sl_fail(err, "JUMBF: truncated box header");
    uint64_t l = rd32(data);
    *hlen = 8;
    if (l == 1) {
        if (avail < 16) return sl_fail(err, "JUMBF: truncated extended box header");
        l = (uint64_t)rd32(data + 8) << 32 | rd32(data + 12);
        *hlen = 16;
    } else if (l == 0) {
        l = avail;
    }
    if (l < *hlen || l > avail) return sl_fail(err, "JUMBF: box length %llu does not fit (%zu bytes left)",
                                               (unsigned long long)l, avail);
    *blen = (size_t)l;
    return 0;
}

static int parse_box(const uint8_t *data, size_t len, JumbfBox *b, int depth, int *count, SlErr *err) {
    memset(b, 0, sizeof *b);
    size_t hl;
    if (++*count > JUMBF_MAX_BOXES) return sl_fail(err, "JUMBF: more than %d boxes", JUMBF_MAX_BOXES);
    if (box_header(data, len, &b->box_len, &hl, err)) return -1;
    b->box = data;
    memcpy(b->type, data + 4, 4);
    b->payload = data + hl;
    b->payload_len = b->box_len - hl;
    if (strcmp(b->type, "jumb") != 0) return 0;
    if (depth >= JUMBF_MAX_DEPTH) return sl_fail(err, "JUMBF: superboxes nested deeper than %d", JUMBF_MAX_DEPTH);
    const uint8_t *p = b->payload;
    size_t left = b->payload_len;
    /* the description box comes first */
    size_t dl, dh;
    if (box_header(p, left, &dl, &dh, err)) return -1;
    if (memcmp(p + 4, "jumd", 4) != 0) return sl_fail(err, "JUMBF: a superbox does not start with its description box");
    const uint8_t *d = p + dh;
    size_t dn = dl - dh;
    if (dn < 17) return sl_fail(err, "JUMBF: description box too short");
    memcpy(b->uuid, d, 16);
    uint8_t tog = d[16];
    if (tog & 2) {
        const uint8_t *z = memchr(d + 17, 0, dn - 17);
        if (!z) return sl_fail(err, "JUMBF: description label is not NUL-terminated");
        size_t ln = (size_t)(z - (d + 17));
        if (ln >= JUMBF_LABEL_MAX) return sl_fail(err, "JUMBF: description label longer than %d bytes", JUMBF_LABEL_MAX - 1);
        memcpy(b->label, d + 17, ln);
        b->label[ln] = 0;
    }
    b->has_desc = 1;
    p += dl, left -= dl;
    while (left > 0) {
        b->kids = xrealloc(b->kids, (size_t)(b->nkids + 1) * sizeof *b->kids);
        JumbfBox *k = &b->kids[b->nkids];
        int r = parse_box(p, left, k, depth + 1, count, err);
        b->nkids++;
        if (r) return -1;
        p += k->box_len, left -= k->box_len;
    }
    return 0;
}

int jumbf_parse(const uint8_t *data, size_t len, JumbfBox *root, SlErr *err) {
    int count = 0;
    if (parse_box(data, len, root, 0, &count, err)) {
        jumbf_free(root);
        return -1;
    }
    int notsuper = strcmp(root->type, "jumb") != 0, extra = root->box_len != len;
    if (notsuper || extra) {
        jumbf_free(root);
        return sl_fail(err, notsuper ? "JUMBF: the store is not a superbox" : "JUMBF: bytes after the manifest store");
    }
    return 0;
}

void jumbf_free(JumbfBox *b) {
    for (int i = 0; i < b->nkids; i++) jumbf_free(&b->kids[i]);
    free(b->kids);
    b->kids = NULL;
    b->nkids = 0;
}

const JumbfBox *jumbf_child(const JumbfBox *b, const char *label, const uint8_t *uuid) {
    for (int i = 0; i < b->nkids; i++) {
        const JumbfBox *k = &b->kids[i];
        if (!strcmp(k->type, "jumb") && k->has_desc && !strcmp(k->label, label) && (!uuid || !memcmp(k->uuid, uuid, 16)))
            return k;
    }
    return NULL;
}

const JumbfBox *jumbf_content_of(const JumbfBox *b, const char *t) {
    for (int i = 0; i < b->nkids; i++)
        if (!strcmp(b->kids[i].type, t)) return &b->kids[i];
    return NULL;
}
