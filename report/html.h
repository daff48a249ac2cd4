/* html.h — a growable text buffer with the few HTML helpers the report needs: escaping, images
 * embedded as data: URIs (RFC 2397, https://www.rfc-editor.org/rfc/rfc2397) and inline SVG, so the
 * page is one self-contained file a projector or a browser without network can show. */
#ifndef SL_REPORT_HTML_H
#define SL_REPORT_HTML_H

#include <stddef.h>

#include "data/image.h"
#include "util/util.h"

#define HTML_MAX_IMAGE_BYTES (16u << 20) /* an embedded image larger than this is refused */

typedef struct {
    char *s;
    size_t n, cap;
} HtmlBuf;

void hb_free(HtmlBuf *b);
void hb_puts(HtmlBuf *b, const char *s);
void hb_printf(HtmlBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text with & < > " ' escaped. NULL writes nothing. */
void hb_esc(HtmlBuf *b, const char *s);
/* Standard base64 of n bytes. */
void hb_base64(HtmlBuf *b, const unsigned char *data, size_t n);
/* <img src="data:image/png;base64,..." alt="ALT" class="CLS">: reads path (PNG or JPEG, by its
 * magic bytes). Returns -1 with err when the file is missing, too large or not PNG/JPEG; nothing is
 * written then. cls may be NULL. */
int hb_img_file(HtmlBuf *b, const char *path, const char *alt, const char *cls, SlErr *err);
/* <img src="data:image/jpeg;base64,..." alt="ALT" class="CLS">: im encoded as JPEG at quality q
 * (thumbnails: a 64 px face is about 2 KB, a tenth of its PNG). cls may be NULL. */
void hb_img_jpeg(HtmlBuf *b, const Image *im, int quality, const char *alt, const char *cls);
/* An SVG document from detect/plot.h inlined into HTML: the XML declaration (if any) is dropped,
 * role="img" and an aria-label are added to the root element. Frees nothing. */
void hb_svg(HtmlBuf *b, const char *svg, const char *label);

#endif
