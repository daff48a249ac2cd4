/* jpeg.c — JPEG decoding with libjpeg-turbo (data/jpeg.h). libjpeg reports fatal errors through
 * error_exit, which must not return: it longjmps back here. */
#include "data/jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} ErrMgr;

static void on_error(j_common_ptr c) {
    ErrMgr *e = (ErrMgr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

static void on_message(j_common_ptr c) { (void)c; /* warnings are not printed */ }

int jpeg_is_jpeg(const uint8_t *data, size_t len) {
    return len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

int jpeg_decode(const uint8_t *data, size_t len, Image *out, const char *name, SlErr *err) {
    memset(out, 0, sizeof *out);
    if (len > 0x7fffffffu) return sl_fail(err, "%s: file too large", name);
    struct jpeg_decompress_struct d;
    ErrMgr em;
    /* volatile: changed between setjmp and a possible longjmp */
    uint8_t *volatile px = NULL;
    uint8_t *volatile row = NULL;
    d.err = jpeg_std_error(&em.pub);
    em.pub.error_exit = on_error;
    em.pub.output_message = on_message;
    em.msg[0] = 0;
    if (setjmp(em.jb)) {
        jpeg_destroy_decompress(&d);
        free(px);
        free(row);
        return sl_fail(err, "%s: corrupt or truncated JPEG (%s)", name, em.msg);
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, data, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    long w = d.image_width, h = d.image_height;
    if (w <= 0 || h <= 0 || w > SL_IMAGE_MAX_DIM || h > SL_IMAGE_MAX_DIM || (unsigned long)(w * h) > SL_IMAGE_MAX_PIXELS) {
        jpeg_destroy_decompress(&d);
        return sl_fail(err, "%s: image size %ldx%ld is outside 1..%d per side / %u pixels", name, w, h,
                       SL_IMAGE_MAX_DIM, SL_IMAGE_MAX_PIXELS);
    }
    int cmyk = d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK;
    int grey = d.jpeg_color_space == JCS_GRAYSCALE;
    d.out_color_space = cmyk ? JCS_CMYK : grey ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&d);
    const int c = grey ? 1 : 3, oc = d.output_components;
    px = xmalloc((size_t)w * h * c);
    row = xmalloc((size_t)w * oc);
    /* Adobe's CMYK JPEGs store inverted values (as OpenCV's decoder assumes for any CMYK file) */
    while (d.output_scanline < d.output_height) {
        JSAMPROW rp = row;
        size_t y = d.output_scanline;
        jpeg_read_scanlines(&d, &rp, 1);
        uint8_t *o = px + y * (size_t)w * c;
        if (cmyk) {
            for (long x = 0; x < w; x++) {
                const uint8_t *q = row + x * 4;
                int k = q[3];
                o[3 * x] = (uint8_t)((q[0] * k + 127) / 255);
                o[3 * x + 1] = (uint8_t)((q[1] * k + 127) / 255);
                o[3 * x + 2] = (uint8_t)((q[2] * k + 127) / 255);
            }
        } else {
            memcpy(o, row, (size_t)w * c);
        }
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(row);
    out->w = (int)w, out->h = (int)h, out->c = c, out->px = px;
    return 0;
}
