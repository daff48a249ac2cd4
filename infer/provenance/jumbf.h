/* jumbf.h — JUMBF boxes (ISO/IEC 19566-5), the container of C2PA manifest stores: building a box
 * tree in memory and parsing untrusted bytes back into one, with limits (depth, count, sizes) so
 * hostile input is an error, never a crash. A superbox is "jumb": a description box "jumd" (type
 * UUID, toggles, a NUL-terminated label) then content boxes ("cbor", "json", nested "jumb").
 * C2PA 2.x, section 11: https://spec.c2pa.org/specifications/specifications/2.1/specs/C2PA_Specification.html */
#ifndef SL_JUMBF_H
#define SL_JUMBF_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define JUMBF_MAX_DEPTH 8
#define JUMBF_MAX_BOXES 4096
#define JUMBF_LABEL_MAX 256

/* A growing byte buffer. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} JBuf;
void jbuf_put(JBuf *b, const void *d, size_t n);
void jbuf_u32(JBuf *b, uint32_t v);
/* Starts a box of type t; returns the offset to pass to jbuf_end_box, which fills its length. */
size_t jbuf_begin_box(JBuf *b, const char t[4]);
void jbuf_end_box(JBuf *b, size_t at);
/* Begins a superbox with its description box (toggles: requestable + label). */
size_t jumbf_begin_super(JBuf *b, const uint8_t uuid[16], const char *label);
/* A content box of type t around data. */
void jumbf_content(JBuf *b, const char t[4], const uint8_t *data, size_t n);

typedef struct JumbfBox {
    char type[5];
    const uint8_t *box;      /* the whole box, header included */
    size_t box_len;
    const uint8_t *payload;  /* after the header */
    size_t payload_len;
    /* for "jumb": the description and the content boxes */
    int has_desc;
    uint8_t uuid[16];
    char label[JUMBF_LABEL_MAX];
    struct JumbfBox *kids;
    int nkids;
} JumbfBox;

/* Parses one superbox filling all of data[0..len). The tree points into data. -1 with err when
 * malformed. Free with jumbf_free. */
int jumbf_parse(const uint8_t *data, size_t len, JumbfBox *root, SlErr *err);
void jumbf_free(JumbfBox *b);
/* The child superbox of b with this label (NULL if none); with uuid (may be NULL) checked too. */
const JumbfBox *jumbf_child(const JumbfBox *b, const char *label, const uint8_t *uuid);
/* The first content box of type t inside superbox b (NULL if none). */
const JumbfBox *jumbf_content_of(const JumbfBox *b, const char *t);

#endif
