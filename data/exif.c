/* exif.c — reads the EXIF orientation tag of JPEG files and rotates/flips images upright
 * (CIPA DC-008 Exif 2.32, section 4.6.4 "Orientation"; TIFF 6.0 for the IFD layout). */
#include "data/exif.h"

#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

#define EXIF_MAX_FILE (256u * 1024u * 1024u)

static unsigned rd16(const uint8_t *p, int le) { return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Orientation from a TIFF block (the body of the Exif APP1 after "Exif\0\0"); 1 if absent. */
static int tiff_orientation(const uint8_t *t, size_t n) {
    if (n < 8) return 1;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 1;
    if (rd16(t + 2, le) != 42) return 1;
    uint32_t ifd = rd32(t + 4, le);
    if (ifd < 8 || ifd > n - 2) return 1;
    unsigned count = rd16(t + ifd, le);
    if ((size_t)count * 12 > n - ifd - 2) return 1;
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *e = t + ifd + 2 + 12 * (size_t)i;
        if (rd16(e, le) == 0x0112) {
            unsigned type = rd16(e + 2, le);
            uint32_t cnt = rd32(e + 4, le);
            if (type != 3 || cnt < 1) return 1;
            unsigned v = rd16(e + 8, le);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

int exif_jpeg_orientation(const uint8_t *d, size_t n) {
    if (n < 4 || d[0] != 0xFF || d[1] != 0xD8) return 1;
    size_t i = 2;
    while (i + 4 <= n) {
        if (d[i] != 0xFF) return 1;
        uint8_t marker = d[i + 1];
        if (marker == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) return 1; /* start of scan / end: no Exif before it */
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
            i += 2;
            continue;
        }
        size_t len = (size_t)d[i + 2] << 8 | d[i + 3];
        if (len < 2 || i + 2 + len > n) return 1;
        const uint8_t *seg = d + i + 4;
        size_t sl = len - 2;
        if (marker == 0xE1 && sl >= 6 && memcmp(seg, "Exif\0\0", 6) == 0) return tiff_orientation(seg + 6, sl - 6);
        i += 2 + len;
    }
    return 1;
}

void exif_apply_orientation(Image *img, int o) {
    if (o < 2 || o > 8) return;
    int W = img->w, H = img->h, c = img->c;
    int swap = o >= 5;
    Image out = image_new(swap ? H : W, swap ? W : H, c);
    for (int oy = 0; oy < out.h; oy++)
        for (int ox = 0; ox < out.w; ox++) {
            int sx, sy;
            switch (o) {
            case 2: sx = W - 1 - ox, sy = oy; break;
            case 3: sx = W - 1 - ox, sy = H - 1 - oy; break;
            case 4: sx = ox, sy = H - 1 - oy; break;
            case 5: sx = oy, sy = ox; break;
            case 6: sx = oy, sy = H - 1 - ox; break;
            case 7: sx = W - 1 - oy, sy = H - 1 - ox; break;
            default: sx = W - 1 - oy, sy = ox; break; /* 8 */
            }
            memcpy(out.px + ((size_t)oy * out.w + ox) * c, img->px + ((size_t)sy * W + sx) * c, (size_t)c);
        }
    image_free(img);
    *img = out;
}

int exif_load_image(const char *path, int want_c, Image *out, int *orientation, SlErr *err) {
    char *data;
    size_t len;
    memset(out, 0, sizeof *out);
    if (orientation) *orientation = 1;
    if (sl_read_file(path, EXIF_MAX_FILE, &data, &len, err)) return -1;
    int o = exif_jpeg_orientation((const uint8_t *)data, len);
    int rc = image_load_mem((const uint8_t *)data, len, want_c, out, path, err);
    free(data);
    if (rc) return -1;
    exif_apply_orientation(out, o);
    if (orientation) *orientation = o;
    return 0;
}
