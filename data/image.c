/* image.c — PNG through libpng (with text chunks), other formats through stb_image (see image.h).
 * libpng: http://www.libpng.org/pub/png/libpng-manual.txt */
#include "data/image.h"
#include "data/jpeg.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

#define PNG_CHUNK_MAX ((png_alloc_size_t)32 << 20) /* largest ancillary PNG chunk read (32 MiB) */

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

/* Walks the chunk list of a PNG in memory before libpng sees it: every chunk must fit in the bytes
 * that remain. libpng allocates an ancillary chunk at its declared length before reading it, so a
 * 111-byte file declaring a 1.1 GB zTXt took seconds and gigabytes (found by tests/fuzz/fuzz_png.c;
 * png_set_chunk_malloc_max did not stop it in Debian's libpng 1.6). */
static int png_chunks_fit(const uint8_t *data, size_t len, const char *name, SlErr *err) {
    size_t o = 8;
    while (o + 12 <= len) {
        uint32_t n = (uint32_t)data[o] << 24 | (uint32_t)data[o + 1] << 16 | (uint32_t)data[o + 2] << 8 | data[o + 3];
        char type[5] = {0};
        for (int k = 0; k < 4; k++) type[k] = (data[o + 4 + k] >= 32 && data[o + 4 + k] < 127) ? (char)data[o + 4 + k] : '?';
        if ((uint64_t)n + 12 > (uint64_t)(len - o))
            return sl_fail(err, "%s: corrupt or truncated PNG (chunk %s at byte %zu claims %u bytes, %zu remain)", name,
                           type, o, n, len - o - 12);
        if (memcmp(type, "IEND", 4) == 0) return 0;
        o += (size_t)n + 12;
    }
    return 0; /* a missing IEND is libpng's to report */
}

static int load_png_mem(const uint8_t *data, size_t len, int want_c, Image *out, const char *name,
                        SlErr *err) {
    if (png_chunks_fit(data, len, name, err)) return -1;
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
    /* an ancillary chunk (text, profile) is allocated at its declared length before it is read:
     * without a cap a 100-byte file asks for gigabytes (found by tests/fuzz/fuzz_png.c) */
    png_set_chunk_malloc_max(png, PNG_CHUNK_MAX);
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
    /* stb tries every decoder in turn and keeps the last one's reason ("bad png sig" for a broken
     * JPEG): name the format by its first bytes instead. */
    const char *fmt = len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF ? "JPEG"
                    : len >= 8 && png_sig_cmp(data, 0, 8) == 0                       ? "PNG"
                    : len >= 2 && data[0] == 'B' && data[1] == 'M'                   ? "BMP"
                    : len >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0) ? "GIF"
                    : len >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' ? "PGM/PPM"
                                                                                      : NULL;
    if (!stbi_info_from_memory(data, (int)len, &w, &h, &c)) {
        if (fmt) return sl_fail(err, "%s: corrupt or truncated %s file (its header cannot be read)", name, fmt);
        return sl_fail(err, "%s: not a readable image (PNG, JPEG, BMP, PGM/PPM, TGA, GIF)", name);
    }
    if (check_dims(name, w, h, err)) return -1;
    uint8_t *px = stbi_load_from_memory(data, (int)len, &w, &h, &c, 0);
    if (!px) return sl_fail(err, "%s: corrupt or truncated %s file: %s", name, fmt ? fmt : "image", stbi_failure_reason());
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
    if (png_chunks_fit((const uint8_t *)data, len, path, err)) {
        free(data);
        return -1;
    }
    char emsg[256] = "";
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, emsg, png_err_fn, png_warn_fn);
    png_infop info = png_create_info_struct(png);
    MemReader rd = {(const uint8_t *)data, len, 0};
    /* what a longjmp from libpng must free (volatile: set after setjmp) */
    png_bytep volatile row = NULL;
    png_infop volatile end = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_infop e = end;
        png_destroy_read_struct(&png, &info, e ? &e : NULL);
        free(row);
        free(data);
        return sl_fail(err, "%s: corrupt PNG (%s)", path, emsg);
    }
    png_set_read_fn(png, &rd, png_mem_read);
    png_set_user_limits(png, SL_IMAGE_MAX_DIM, SL_IMAGE_MAX_DIM);
    /* an ancillary chunk (text, profile) is allocated at its declared length before it is read:
     * without a cap a 100-byte file asks for gigabytes (found by tests/fuzz/fuzz_png.c) */
    png_set_chunk_malloc_max(png, PNG_CHUNK_MAX);
    /* Text chunks may come before or after IDAT: read the whole file. */
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (check_dims(path, (long)w, (long)h, err)) longjmp(png_jmpbuf(png), 1);
    png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rb = png_get_rowbytes(png, info);
    row = xmalloc(rb);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++) png_read_row(png, row, NULL);
    free(row);
    row = NULL;
    end = png_create_info_struct(png);
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
    png_infop e = end;
    png_destroy_read_struct(&png, &info, &e);
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

int image_encode_png_texts(const Image *img, const PngText *texts, int nt, uint8_t **out, size_t *len,
                           SlErr *err) {
    MemWriter mw = {0};
    if (encode_png(img, texts, nt, -1, &mw, err)) return -1;
    *out = mw.buf;
    *len = mw.len;
    return 0;
}

/* ---- PNG chunks as bytes (https://www.w3.org/TR/png/#5Chunk-layout) ------------------------- */
uint32_t image_crc32(uint32_t crc, const uint8_t *p, size_t n) {
    uint32_t t[256]; /* the byte table, made per call (2 K steps): cheaper than 8 steps per byte */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        t[i] = c;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

int image_png_chunks(const uint8_t *png, size_t len, PngChunk **chunks, int *n, const char *name, SlErr *err) {
    *chunks = NULL;
    *n = 0;
    if (len < 8 || memcmp(png, "\x89PNG\r\n\x1a\n", 8) != 0) return sl_fail(err, "%s: not a PNG file", name);
    size_t pos = 8;
    PngChunk *c = NULL;
    int m = 0, end = 0;
    while (!end) {
        if (len - pos < 12) {
            free(c);
            return sl_fail(err, "%s: truncated PNG (chunk at byte %zu, no IEND)", name, pos);
        }
        uint32_t dl = be32(png + pos);
        if (dl > 0x7fffffffu || dl > len - pos - 12) {
            free(c);
            return sl_fail(err, "%s: PNG chunk at byte %zu claims %u bytes, more than the file holds", name, pos, dl);
        }
        c = xrealloc(c, (size_t)(m + 1) * sizeof *c);
        PngChunk *k = &c[m++];
        memcpy(k->type, png + pos + 4, 4);
        k->type[4] = 0;
        for (int i = 0; i < 4; i++)
            if (!((k->type[i] >= 'a' && k->type[i] <= 'z') || (k->type[i] >= 'A' && k->type[i] <= 'Z'))) {
                free(c);
                return sl_fail(err, "%s: PNG chunk at byte %zu has a malformed type", name, pos);
            }
        k->offset = pos;
        k->len = dl;
        k->crc_ok = image_crc32(0, png + pos + 4, (size_t)dl + 4) == be32(png + pos + 8 + dl);
        if ((m == 1) != !strcmp(k->type, "IHDR")) {
            free(c);
            return sl_fail(err, "%s: PNG chunk order: IHDR must come first, once", name);
        }
        end = !strcmp(k->type, "IEND");
        pos += (size_t)dl + 12;
    }
    *chunks = c;
    *n = m;
    return 0;
}

int image_png_insert_chunk(const uint8_t *png, size_t len, const char type[4], const uint8_t *data, size_t dlen,
                           uint8_t **out, size_t *olen, size_t *at, SlErr *err) {
    PngChunk *c;
    int n;
    if (dlen > 0x7fffffffu) return sl_fail(err, "PNG chunk %.4s: %zu bytes is too large", type, dlen);
    if (image_png_chunks(png, len, &c, &n, "PNG", err)) return -1;
    size_t pos = 0;
    for (int i = 0; i < n && !pos; i++)
        if (!strcmp(c[i].type, "IDAT") || !strcmp(c[i].type, "IEND")) pos = c[i].offset;
    free(c);
    uint8_t *o = xmalloc(len + dlen + 12);
    memcpy(o, png, pos);
    uint8_t *q = o + pos;
    q[0] = (uint8_t)(dlen >> 24), q[1] = (uint8_t)(dlen >> 16), q[2] = (uint8_t)(dlen >> 8), q[3] = (uint8_t)dlen;
    memcpy(q + 4, type, 4);
    if (dlen) memcpy(q + 8, data, dlen);
    uint32_t crc = image_crc32(0, q + 4, dlen + 4);
    q[8 + dlen] = (uint8_t)(crc >> 24), q[9 + dlen] = (uint8_t)(crc >> 16), q[10 + dlen] = (uint8_t)(crc >> 8);
    q[11 + dlen] = (uint8_t)crc;
    memcpy(q + 12 + dlen, png + pos, len - pos);
    *out = o;
    *olen = len + dlen + 12;
    if (at) *at = pos;
    return 0;
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

int image_encode_jpeg(const Image *img, int quality, uint8_t **out, size_t *len, SlErr *err) {
    MemWriter mw = {0};
    if (!stbi_write_jpg_to_func(mem_write_fn, &mw, img->w, img->h, img->c, img->px, quality)) {
        free(mw.buf);
        return sl_fail(err, "JPEG encoding of a %dx%d image failed", img->w, img->h);
    }
    *out = mw.buf;
    *len = mw.len;
    return 0;
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

/* ---- conversions ---------------------------------------------------------------------------- */
void image_resize_planes(const float *in, int s0, int nplanes, float *out, int s1) {
    if (s0 == s1) {
        memcpy(out, in, sizeof(float) * (size_t)nplanes * (size_t)s0 * (size_t)s0);
        return;
    }
    double sc = (double)s0 / s1;
    for (int p = 0; p < nplanes; p++) {
        const float *src = in + (size_t)p * s0 * s0;
        float *dst = out + (size_t)p * s1 * s1;
        for (int y = 0; y < s1; y++) {
            double fy = (y + 0.5) * sc - 0.5;
            if (fy < 0) fy = 0;
            int y0 = (int)fy;
            if (y0 > s0 - 1) y0 = s0 - 1;
            int y1 = y0 + 1 < s0 ? y0 + 1 : s0 - 1;
            double wy = fy - y0;
            for (int x = 0; x < s1; x++) {
                double fx = (x + 0.5) * sc - 0.5;
                if (fx < 0) fx = 0;
                int x0 = (int)fx;
                if (x0 > s0 - 1) x0 = s0 - 1;
                int x1 = x0 + 1 < s0 ? x0 + 1 : s0 - 1;
                double wx = fx - x0;
                double v = (1 - wy) * ((1 - wx) * src[y0 * s0 + x0] + wx * src[y0 * s0 + x1]) +
                           wy * ((1 - wx) * src[y1 * s0 + x0] + wx * src[y1 * s0 + x1]);
                dst[y * s1 + x] = (float)v;
            }
        }
    }
}

void image_to_chw(const Image *img, float *chw) {
    SL_ASSERT(img->c == 1 || img->c == 3 || img->c == 4);
    const size_t np = (size_t)img->w * img->h;
    const float k = 1.0f / 255.0f;
    for (int c = 0; c < 3; c++) {
        int sc = img->c == 1 ? 0 : c;
        for (size_t p = 0; p < np; p++) chw[c * np + p] = img->px[p * img->c + sc] * k;
    }
}

uint8_t image_from_unit(float v) {
    float q = v * 255.0f + 0.5f;
    return (uint8_t)(q < 0.0f ? 0 : q > 255.0f ? 255 : q); /* NaN -> 0 */
}

void image_from_chw(Image *img, const float *chw) {
    SL_ASSERT(img->c == 3);
    const size_t np = (size_t)img->w * img->h;
    for (size_t p = 0; p < np; p++)
        for (int c = 0; c < 3; c++) img->px[p * 3 + c] = image_from_unit(chw[c * np + p]);
}

/* ---- CIE L*a*b* (sRGB, D65): the one conversion --------------------------------------------------
 * https://en.wikipedia.org/wiki/SRGB, http://www.brucelindbloom.com/index.html?Math.html */
const float image_srgb_to_xyz[9] = {0.4124564f, 0.3575761f, 0.1804375f, 0.2126729f, 0.7151522f,
                                    0.0721750f, 0.0193339f, 0.1191920f, 0.9503041f};
const float image_xyz_to_srgb[9] = {3.2404542f,  -1.5371385f, -0.4985314f, -0.9692660f, 1.8760108f,
                                    0.0415560f,  0.0556434f,  -0.2040259f, 1.0572252f};
const float image_d65_white[3] = {0.95047f, 1.0f, 1.08883f};

static double srgb_to_linear(double v) { return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4); }
static double linear_to_srgb(double v) {
    return v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v < 0 ? 0 : v, 1 / 2.4) - 0.055;
}
static double lab_f(double t) { return t > IMAGE_LAB_EPS ? cbrt(t) : (IMAGE_LAB_KAPPA * t + 16) / 116; }
static double lab_finv(double f) { return f * f * f > IMAGE_LAB_EPS ? f * f * f : (116 * f - 16) / IMAGE_LAB_KAPPA; }

void image_rgb_to_lab(const float rgb[3], float lab[3]) {
    const float *M = image_srgb_to_xyz, *W = image_d65_white;
    double r = srgb_to_linear(rgb[0]), g = srgb_to_linear(rgb[1]), b = srgb_to_linear(rgb[2]);
    double fx = lab_f((M[0] * r + M[1] * g + M[2] * b) / W[0]);
    double fy = lab_f(M[3] * r + M[4] * g + M[5] * b);
    double fz = lab_f((M[6] * r + M[7] * g + M[8] * b) / W[2]);
    lab[0] = (float)(116 * fy - 16);
    lab[1] = (float)(500 * (fx - fy));
    lab[2] = (float)(200 * (fy - fz));
}

void image_lab_to_rgb(const float lab[3], float rgb[3]) {
    const float *M = image_xyz_to_srgb, *W = image_d65_white;
    double fy = (lab[0] + 16) / 116.0, fx = fy + lab[1] / 500.0, fz = fy - lab[2] / 200.0;
    double x = W[0] * lab_finv(fx), y = lab_finv(fy), z = W[2] * lab_finv(fz);
    rgb[0] = (float)linear_to_srgb(M[0] * x + M[1] * y + M[2] * z);
    rgb[1] = (float)linear_to_srgb(M[3] * x + M[4] * y + M[5] * z);
    rgb[2] = (float)linear_to_srgb(M[6] * x + M[7] * y + M[8] * z);
}
