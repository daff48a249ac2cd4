/* jpeg_carrier.c — the JPEG container of provenance (carriers.h): XMP in an APP1 segment
 * ("http://ns.adobe.com/xap/1.0/\0" + packet, XMP part 3, section 1.1.3) right after SOI and APP0,
 * and the C2PA manifest store in an APP11 segment (infer/provenance/c2pa.h). */
#include <stdlib.h>
#include <string.h>

#include "infer/provenance/carriers.h"

static const char XMP_NS[] = "http://ns.adobe.com/xap/1.0/";

int prov_jpeg_encode(const Image *img, int quality, const char *xmp, const C2paInfo *ci, const SlKeypair *key,
                     uint8_t **out, size_t *len, SlErr *err) {
    uint8_t *j;
    size_t n;
    if (image_encode_jpeg(img, quality, &j, &n, err)) return -1;
    size_t xl = strlen(xmp), seg = 2 + sizeof XMP_NS + xl; /* length field, namespace with NUL, packet */
    if (seg > 65535) {
        free(j);
        return sl_fail(err, "XMP packet too large for one APP1 segment");
    }
    size_t at = 2;
    if (n >= 4 && j[2] == 0xFF && j[3] == 0xE0) at = 4 + ((size_t)j[4] << 8 | j[5]);
    if (at > n) {
        free(j);
        return sl_fail(err, "JPEG encoder wrote a truncated APP0 segment");
    }
    uint8_t *o = xmalloc(n + seg + 2), *q = o + at;
    memcpy(o, j, at);
    q[0] = 0xFF, q[1] = 0xE1, q[2] = (uint8_t)(seg >> 8), q[3] = (uint8_t)seg;
    memcpy(q + 4, XMP_NS, sizeof XMP_NS);
    memcpy(q + 4 + sizeof XMP_NS, xmp, xl);
    memcpy(q + 2 + seg, j + at, n - at);
    free(j);
    size_t on = n + seg + 2;
    if (!ci) {
        *out = o, *len = on;
        return 0;
    }
    int r = c2pa_embed_jpeg(ci, key, o, on, out, len, err);
    free(o);
    return r;
}

char *prov_jpeg_xmp(const uint8_t *j, size_t len) {
    if (len < 4 || j[0] != 0xFF || j[1] != 0xD8) return NULL;
    size_t pos = 2;
    while (pos + 4 <= len && j[pos] == 0xFF && j[pos + 1] != 0xDA && j[pos + 1] != 0xD9) {
        size_t lp = (size_t)j[pos + 2] << 8 | j[pos + 3];
        if (lp < 2 || pos + 2 + lp > len) return NULL;
        const uint8_t *s = j + pos + 4;
        size_t sl = lp - 2;
        if (j[pos + 1] == 0xE1 && sl > sizeof XMP_NS && !memcmp(s, XMP_NS, sizeof XMP_NS)) {
            size_t xl = sl - sizeof XMP_NS;
            char *x = xmalloc(xl + 1);
            memcpy(x, s + sizeof XMP_NS, xl);
            x[xl] = 0;
            return x;
        }
        pos += 2 + lp;
    }
    return NULL;
}
