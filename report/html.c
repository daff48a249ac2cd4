/* html.c — the report's text buffer, HTML escaping, base64 data: URIs and inline SVG (html.h). */
#include "report/html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

static void hb_reserve(HtmlBuf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra + 1) {
        SL_ASSERT(cap < ((size_t)1 << 40));
        cap *= 2;
    }
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
}

void hb_free(HtmlBuf *b) {
    free(b->s);
    b->s = NULL;
    b->n = b->cap = 0;
}

static void hb_putn(HtmlBuf *b, const char *s, size_t n) {
    hb_reserve(b, n);
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void hb_puts(HtmlBuf *b, const char *s) { hb_putn(b, s, strlen(s)); }

void hb_printf(HtmlBuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    SL_ASSERT(n >= 0);
    hb_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void hb_esc(HtmlBuf *b, const char *s) {
    if (!s) return;
    for (; *s; s++) {
        switch (*s) {
        case '&': hb_puts(b, "&amp;"); break;
        case '<': hb_puts(b, "&lt;"); break;
        case '>': hb_puts(b, "&gt;"); break;
        case '"': hb_puts(b, "&quot;"); break;
        case '\'': hb_puts(b, "&#39;"); break;
        default: hb_putn(b, s, 1);
        }
    }
}

void hb_base64(HtmlBuf *b, const unsigned char *d, size_t n) {
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    hb_reserve(b, (n + 2) / 3 * 4);
    char *o = b->s + b->n;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        *o++ = T[v >> 18], *o++ = T[(v >> 12) & 63], *o++ = T[(v >> 6) & 63], *o++ = T[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)d[i] << 16;
        *o++ = T[v >> 18], *o++ = T[(v >> 12) & 63], *o++ = '=', *o++ = '=';
    } else if (n - i == 2) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8;
        *o++ = T[v >> 18], *o++ = T[(v >> 12) & 63], *o++ = T[(v >> 6) & 63], *o++ = '=';
    }
    b->n = (size_t)(o - b->s);
    b->s[b->n] = 0;
}

int hb_img_file(HtmlBuf *b, const char *path, const char *alt, const char *cls, SlErr *err) {
    char *data;
    size_t len;
    if (sl_read_file(path, HTML_MAX_IMAGE_BYTES, &data, &len, err)) return -1;
    const char *mime = NULL;
    if (len >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) mime = "image/png";
    else if (len >= 3 && !memcmp(data, "\xff\xd8\xff", 3)) mime = "image/jpeg";
    if (!mime) {
        free(data);
        return sl_fail(err, "%s: not a PNG or JPEG file, cannot embed it in the report", path);
    }
    hb_printf(b, "<img src=\"data:%s;base64,", mime);
    hb_base64(b, (const unsigned char *)data, len);
    hb_puts(b, "\" alt=\"");
    hb_esc(b, alt);
    hb_puts(b, "\"");
    if (cls) hb_printf(b, " class=\"%s\"", cls);
    hb_puts(b, ">");
    free(data);
    return 0;
}

void hb_img_jpeg(HtmlBuf *b, const Image *im, int quality, const char *alt, const char *cls) {
    uint8_t *data;
    size_t len;
    SlErr e;
    if (image_encode_jpeg(im, quality, &data, &len, &e)) SL_DIE("%s", e.msg); /* only fails on a bad image: a bug */
    hb_printf(b, "<img src=\"data:image/jpeg;base64,");
    hb_base64(b, data, len);
    hb_printf(b, "\" width=\"%d\" height=\"%d\" alt=\"", im->w, im->h);
    hb_esc(b, alt);
    hb_puts(b, "\"");
    if (cls) hb_printf(b, " class=\"%s\"", cls);
    hb_puts(b, ">");
    free(data);
}

void hb_svg(HtmlBuf *b, const char *svg, const char *label) {
    const char *p = strstr(svg, "<svg");
    if (!p) return;
    hb_puts(b, "<svg role=\"img\" aria-label=\"");
    hb_esc(b, label);
    hb_puts(b, "\"");
    hb_puts(b, p + 4);
}
