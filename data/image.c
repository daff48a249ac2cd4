/* image.c — PNG through libpng (with text chunks), other formats through stb_image (see image.h).
 * libpng: http://www.libpng.org/pub/png/libpng-manual.txt */
#include "data/image.h"
#include "data/jpeg.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

Image image_new(int w, int h, int c) {
    SL_ASSERT(w > 0 && h > 0 && (c == 1 || c == 3 || c == 4));
    SL_ASSERT(w <= SL_IMAGE_MAX_DIM && h <= SL_IMAGE_MAX_DIM);
    Image im = {w, h, c, xcalloc((size_t)w * (size_t)h, (size_t)c)};
    return im;
}

void image_free(Image *img) {
    if (!img) return;
    free(img->px);
    img->px = NULL;
    img->w = img->h = img->c = 0;
}

Image image_clone(const Image *img) {
    Image o = image_new(img->w, img->h, img->c);
    memcpy(o.px, img->px, (size_t)img->w * (size_t)img->h * (size_t)img->c);
    return o;
}

static int check_dims(const char *name, long w, long h, SlErr *err) {
    if (w <= 0 || h <= 0) return sl_fail(err, "%s: image has no pixels (%ldx%ld)", name, w, h);
    if (w > SL_IMAGE_MAX_DIM || h > SL_IMAGE_MAX_DIM || (unsigned long)w * (unsigned long)h > SL_IMAGE_MAX_PIXELS)
        return sl_fail(err, "%s: image too large (%ldx%ld; the limit is %d pixels a side and %u pixels in all)",
                       name, w, h, SL_IMAGE_MAX_DIM, SL_IMAGE_MAX_PIXELS);
    return 0;
}

/* Converts an image with c_in channels to want_c (0 = keep, alpha dropped). */
static Image convert_channels(Image in, int want_c) {
    int oc = want_c ? want_c : (in.c == 1 || in.c == 2 ? 1 : 3);
    if (oc == in.c) return in;
    Image o = image_new(in.w, in.h, oc);
    size_t n = (size_t)in.w * (size_t)in.h;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = in.px + i * (size_t)in.c;
        uint8_t r, g, b;
        if (in.c <= 2) r = g = b = p[0];
        else r = p[0], g = p[1], b = p[2];
        if (oc == 1) o.px[i] = (uint8_t)(((unsigned)r + g + b) / 3);
        else o.px[i * 3] = r, o.px[i * 3 + 1] = g, o.px[i * 3 + 2] = b;
    }
    free(in.px);
    return o;
}

/* ---- PNG reading ---------------------------------------------------------------------------- */
typedef struct {
    const uint8_t *data;
    size_t len, pos;
} MemReader;

static void png_mem_read(png_structp png, png_bytep out, png_size_t n) {
    MemReader *r = png_get_io_ptr(png);
    if (n > r->len - r->pos) png_error(png, "truncated PNG data");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

static void png_err_fn(png_structp png, png_const_charp msg) {
    char *buf = png_get_error_ptr(png);
    snprintf(buf, 256, "%s", msg);
    png_longjmp(png, 1);
}
static void png_warn_fn(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static int load_png_mem(const uint8_t *data, size_t len, int want_c, Image *out, const char *name,
                        SlErr *err) {
    char emsg[256] = "";
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, emsg, png_err_fn, png_warn_fn);
    if (!png) SL_DIE("png_create_read_struct failed");
    png_infop info = png_create_info_struct(png);
    MemReader rd = {data, len, 0};
    uint8_t *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(px);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return sl_fail(err, "%s: corrupt or truncated PNG (%s)", name, emsg);
    }
    png_set_read_fn(png, &rd, png_mem_read);
    png_set_user_limits(png, SL_IMAGE_MAX_DIM, SL_IMAGE_MAX_DIM);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (check_dims(name, (long)w, (long)h, err)) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    int ct = png_get_color_type(png, info), bd = png_get_bit_depth(png, info);
    if (bd == 16) png_set_strip_16(png);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (ct & PNG_COLOR_MASK_ALPHA || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int c = png_get_channels(png, info);
    if (c != 1 && c != 3) png_error(png, "unsupported channel layout");
    px = xmalloc((size_t)w * h * (size_t)c);
    rows = xmalloc(sizeof(png_bytep) * h);
    for (png_uint_32 y = 0; y < h; y++) rows[y] = px + (size_t)y * w * (size_t)c;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    Image im = {(int)w, (int)h, c, px};
    *out = convert_channels(im, want_c);
    return 0;
}

int image_load_mem(const uint8_t *data, size_t len, int want_c, Image *out, const char *name,
                   SlErr *err) {
    memset(out, 0, sizeof *out);
    SL_ASSERT(want_c == 0 || want_c == 1 || want_c == 3);
    if (len >= 8 && png_sig_cmp(data, 0, 8) == 0) return load_png_mem(data, len, want_c, out, name, err);
    if (jpeg_is_jpeg(data, len)) { /* libjpeg-turbo, as OpenCV and dlib decode (data/jpeg.h) */
        Image im;
        if (jpeg_decode(data, len, &im, name, err)) return -1;
        *out = convert_channels(im, want_c);
        return 0;
    }
    if (len > 0x7fffffff) return sl_fail(err, "%s: file too large", name);
    int w, h, c;
    if (!stbi_info_from_memory(data, (int)len, &w, &h, &c))
        return sl_fail(err, "%s: not a readable image (PNG, JPEG, BMP, PGM/PPM, TGA, GIF): %s", name,
                       stbi_failure_reason());
    if (check_dims(name, w, h, err)) return -1;
    uint8_t *px = stbi_load_from_memory(data, (int)len, &w, &h, &c, 0);
    if (!px) return sl_fail(err, "%s: corrupt image: %s", name, stbi_failure_reason());
    Image im = {w, h, c, xmalloc((size_t)w * (size_t)h * (size_t)c)};
    memcpy(im.px, px, (size_t)w * (size_t)h * (size_t)c);
    stbi_image_free(px);
    if (c == 2 || c == 4) { /* drop alpha first */
        int oc = c == 2 ? 1 : 3;
        Image o = image_new(w, h, oc);
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
            for (int k = 0; k < oc; k++) o.px[i * (size_t)oc + (size_t)k] = im.px[i * (size_t)c + (size_t)k];
        free(im.px);
        im = o;
    }
    *out = convert_channels(im, want_c);
    return 0;
}

int image_load(const char *path, int want_c, Image *out, SlErr *err) {
    char *data;
    size_t len;
    memset(out, 0, sizeof *out);
    if (sl_read_file(path, (size_t)512 << 20, &data, &len, err)) return -1;
    int r = image_load_mem((const uint8_t *)data, len, want_c, out, path, err);
    free(data);
    return r;
}

/* ---- PNG writing ---------------------------------------------------------------------------- */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
} MemWriter;

static void png_mem_write(png_structp png, png_bytep d, png_size_t n) {
    MemWriter *w = png_get_io_ptr(png);
    if (w->len + n > w->cap) {
        while (w->len + n > w->cap) w->cap = w->cap ? w->cap * 2 : 65536;
        w->buf = xrealloc(w->buf, w->cap);
    }
    memcpy(w->buf + w->len, d, n);
    w->len += n;
}
static void png_mem_flush(png_structp png) { (void)png; }

static int encode_png(const Image *img, const PngText *texts, int nt, int level, MemWriter *mw, SlErr *err) {
    char emsg[256] = "";
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, emsg, png_err_fn, png_warn_fn);
    if (!png) SL_DIE("png_create_write_struct failed");
    png_infop info = png_create_info_struct(png);
    png_text *volatile t = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(t);
        png_destroy_write_struct(&png, &info);
        free(mw->buf);
        mw->buf = NULL;
        return sl_fail(err, "PNG encoding failed: %s", emsg);
    }
    png_set_write_fn(png, mw, png_mem_write, png_mem_flush);
    int ct = img->c == 1 ? PNG_COLOR_TYPE_GRAY : img->c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8, ct, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (level >= 0) {
        png_set_compression_level(png, level);
        png_set_filter(png, 0, PNG_FILTER_AVG); /* one fixed filter: as small as adaptive on noisy faces */
    } else {
        png_set_compression_level(png, 6);
    }
    if (nt > 0) {
        t = xcalloc((size_t)nt, sizeof(png_text));
        for (int i = 0; i < nt; i++) {
            t[i].compression = PNG_ITXT_COMPRESSION_NONE;
            t[i].key = (char *)texts[i].key;
            t[i].text = (char *)texts[i].text;
            t[i].itxt_length = strlen(texts[i].text);
            t[i].lang = "";
            t[i].lang_key = "";
        }
        png_set_text(png, info, t, nt);
    }
    png_write_info(png, info);
    for (int y = 0; y < img->h; y++)
        png_write_row(png, img->px + (size_t)y * (size_t)img->w * (size_t)img->c);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(t);
    return 0;
}

int image_encode_png(const Image *img, uint8_t **out, size_t *len, SlErr *err) {
    return image_encode_png_level(img, -1, out, len, err);
}

int image_encode_png_level(const Image *img, int level, uint8_t **out, size_t *len, SlErr *err) {
    MemWriter mw = {0};
    if (encode_png(img, NULL, 0, level, &mw, err)) return -1;
    *out = mw.buf;
    *len = mw.len;
    return 0;
}

int image_save_png(const char *path, const Image *img, const PngText *texts, int nt, SlErr *err) {
    MemWriter mw = {0};
    if (encode_png(img, texts, nt, -1, &mw, err)) return sl_failctx(err, "%s", path);
    int r = sl_write_atomic(path, mw.buf, mw.len, err);
    free(mw.buf);
    return r;
}

int image_read_png_texts(const char *path, char ***keys, char ***texts, int *n, SlErr *err) {
    *keys = *texts = NULL;
    *n = 0;
    char *data;
    size_t len;
    if (sl_read_file(path, (size_t)512 << 20, &data, &len, err)) return -1;
    if (len < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        free(data);
        return 0;
    }
    char emsg[256] = "";
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, emsg, png_err_fn, png_warn_fn);
    png_infop info = png_create_info_struct(png);
    MemReader rd = {(const uint8_t *)data, len, 0};
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(data);
        return sl_fail(err, "%s: corrupt PNG (%s)", path, emsg);
    }
    png_set_read_fn(png, &rd, png_mem_read);
    png_set_user_limits(png, SL_IMAGE_MAX_DIM, SL_IMAGE_MAX_DIM);
    /* Text chunks may come before or after IDAT: read the whole file. */
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (check_dims(path, (long)w, (long)h, err)) longjmp(png_jmpbuf(png), 1);
    png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rb = png_get_rowbytes(png, info);
    png_bytep row = xmalloc(rb);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++) png_read_row(png, row, NULL);
    free(row);
    png_infop end = png_create_info_struct(png);
    png_read_end(png, end);
    png_textp t1 = NULL, t2 = NULL;
    int n1 = png_get_text(png, info, &t1, NULL), n2 = png_get_text(png, end, &t2, NULL);
    int tot = n1 + n2;
    char **k = xcalloc((size_t)tot + 1, sizeof *k), **v = xcalloc((size_t)tot + 1, sizeof *v);
    for (int i = 0; i < tot; i++) {
        png_textp t = i < n1 ? &t1[i] : &t2[i - n1];
        k[i] = xstrdup(t->key);
        v[i] = xstrdup(t->text ? t->text : "");
    }
    png_destroy_read_struct(&png, &info, &end);
    free(data);
    *keys = k;
    *texts = v;
    *n = tot;
    return 0;
}

void image_free_texts(char **keys, char **texts, int n) {
    for (int i = 0; i < n; i++) free(keys[i]), free(texts[i]);
    free(keys);
    free(texts);
}

/* ---- JPEG ----------------------------------------------------------------------------------- */
static void mem_write_fn(void *ctx, void *data, int size) {
    MemWriter *w = ctx;
    if (w->len + (size_t)size > w->cap) {
        while (w->len + (size_t)size > w->cap) w->cap = w->cap ? w->cap * 2 : 65536;
        w->buf = xrealloc(w->buf, w->cap);
    }
    memcpy(w->buf + w->len, data, (size_t)size);
    w->len += (size_t)size;
}

int image_save_jpeg(const char *path, const Image *img, int quality, SlErr *err) {
    MemWriter mw = {0};
    if (!stbi_write_jpg_to_func(mem_write_fn, &mw, img->w, img->h, img->c, img->px, quality))
        return sl_fail(err, "%s: JPEG encoding failed", path);
    int r = sl_write_atomic(path, mw.buf, mw.len, err);
    free(mw.buf);
    return r;
}

void image_jpeg_roundtrip(Image *img, int quality) {
    MemWriter mw = {0};
    if (!stbi_write_jpg_to_func(mem_write_fn, &mw, img->w, img->h, img->c, img->px, quality))
        SL_DIE("JPEG encoding failed");
    int w, h, c;
    uint8_t *px = stbi_load_from_memory(mw.buf, (int)mw.len, &w, &h, &c, img->c);
    if (!px || w != img->w || h != img->h) SL_DIE("JPEG round trip failed");
    memcpy(img->px, px, (size_t)w * (size_t)h * (size_t)img->c);
    stbi_image_free(px);
    free(mw.buf);
}

Image image_resize(const Image *src, int w, int h) {
    Image o = image_new(w, h, src->c);
    if (!stbir_resize_uint8(src->px, src->w, src->h, 0, o.px, w, h, 0, src->c))
        SL_DIE("image resize failed");
    return o;
}
