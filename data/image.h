/* image.h — 8-bit images in memory and on disk. PNG goes through libpng (so text chunks —
 * provenance — can be written and read back); JPEG is decoded with libjpeg-turbo (data/jpeg.h, as
 * OpenCV and dlib decode it); BMP, PGM/PPM and others are read with stb_image. Dimensions are checked before any allocation: hostile sizes are refused.
 *
 * Layout: rows top to bottom, pixels interleaved (HWC), c = 1 (grey), 3 (RGB) or 4 (RGBA). */
#ifndef SL_IMAGE_H
#define SL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define SL_IMAGE_MAX_DIM 16384
#define SL_IMAGE_MAX_PIXELS (64u * 1024u * 1024u)

typedef struct {
    int w, h, c;
    uint8_t *px; /* w*h*c bytes, owned */
} Image;

typedef struct {
    const char *key;  /* PNG keyword, 1..79 Latin-1 characters */
    const char *text; /* UTF-8 */
} PngText;

Image image_new(int w, int h, int c); /* zeroed; aborts on a bad size (a bug) */
void image_free(Image *img);
Image image_clone(const Image *img);

/* Loads any supported file. want_c = 0 keeps the stored channel count (grey stays 1, RGB 3, alpha
 * is dropped to 3), else converts to 1 or 3 (grey from RGB here uses (R+G+B)/3; modules that need
 * another grey formula read RGB and convert themselves). */
int image_load(const char *path, int want_c, Image *out, SlErr *err);
int image_load_mem(const uint8_t *data, size_t len, int want_c, Image *out, const char *name,
                   SlErr *err);

/* Writes a PNG atomically, with the given text records as uncompressed iTXt chunks (before IDAT). */
int image_save_png(const char *path, const Image *img, const PngText *texts, int ntexts, SlErr *err);
/* Encodes a PNG in memory (no text); *out is malloc'ed. */
int image_encode_png(const Image *img, uint8_t **out, size_t *len, SlErr *err);
/* The same with zlib level 0..9 and the Average filter (about 3x less CPU than the default at
 * level 1 on noisy face images, ~10% larger files; used for face sets). level < 0 = default. */
int image_encode_png_level(const Image *img, int level, uint8_t **out, size_t *len, SlErr *err);
/* Reads every tEXt/zTXt/iTXt record of a PNG file: *keys and *texts are arrays of n malloc'ed
 * strings (free with image_free_texts). A non-PNG file gives n = 0 and no error. */
int image_read_png_texts(const char *path, char ***keys, char ***texts, int *n, SlErr *err);
void image_free_texts(char **keys, char **texts, int n);

/* PNG chunks as bytes, for carriers libpng does not know (C2PA's caBX chunk). A chunk on disk is
 * length (u32 big-endian), type (4 ASCII letters), data, CRC-32 over type and data. */
typedef struct {
    char type[5];   /* NUL-terminated */
    size_t offset;  /* of the chunk's length field in the file */
    size_t len;     /* of the data; the chunk takes len + 12 bytes */
    int crc_ok;
} PngChunk;
/* Lists the chunks of PNG bytes up to IEND. -1 with err naming name when the signature, a length or
 * the order is wrong; a bad CRC is reported in crc_ok, not refused. *chunks is malloc'ed. */
int image_png_chunks(const uint8_t *png, size_t len, PngChunk **chunks, int *n, const char *name, SlErr *err);
/* A copy of png with one chunk (type, data) inserted before the first IDAT; *at = its offset. */
int image_png_insert_chunk(const uint8_t *png, size_t len, const char type[4], const uint8_t *data, size_t dlen,
                           uint8_t **out, size_t *olen, size_t *at, SlErr *err);
/* Encodes a PNG in memory with text records (as image_save_png would write it). */
int image_encode_png_texts(const Image *img, const PngText *texts, int ntexts, uint8_t **out, size_t *len,
                           SlErr *err);
/* CRC-32 as PNG uses it (ISO 3309). */
uint32_t image_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* JPEG via stb_image_write (quality 1..100), written atomically. */
int image_save_jpeg(const char *path, const Image *img, int quality, SlErr *err);
/* Encodes to JPEG in memory (quality 1..100); *out is malloc'ed. */
int image_encode_jpeg(const Image *img, int quality, uint8_t **out, size_t *len, SlErr *err);
/* Encodes to JPEG in memory and decodes it again, in place (for robustness tests and augmentation). */
void image_jpeg_roundtrip(Image *img, int quality);

/* Resamples src to w x h (stb_image_resize, same channel count) into a new image. */
Image image_resize(const Image *src, int w, int h);

/* ---- conversions between 8-bit HWC images and the float CHW planes the models see ------------ */
/* img (c = 1, 3 or 4; grey is replicated, alpha dropped) -> chw [3, h, w] in [0, 1]. */
void image_to_chw(const Image *img, float *chw);
/* chw [3, h, w] in [0, 1] -> img (c = 3, same w, h): clamped, rounded to nearest. */
void image_from_chw(Image *img, const float *chw);
/* One [0, 1] float -> 0..255, clamped and rounded (NaN -> 0). */
uint8_t image_from_unit(float v);
/* sRGB in [0,1] <-> CIE L*a*b* (D65 white; L in [0,100]), one pixel: the one L*a*b* conversion
 * (colour transfer, colour-step metrics; the augmentation's table-driven jitter uses the same
 * constants). */
extern const float image_srgb_to_xyz[9], image_xyz_to_srgb[9], image_d65_white[3];
#define IMAGE_LAB_EPS (216.0 / 24389.0)
#define IMAGE_LAB_KAPPA (24389.0 / 27.0)
void image_rgb_to_lab(const float rgb[3], float lab[3]);
void image_lab_to_rgb(const float lab[3], float rgb[3]);
/* Bilinear resize of nplanes square planes from side s0 to side s1 (out: nplanes*s1*s1), pixel
 * centres aligned (as OpenCV's INTER_LINEAR). */
void image_resize_planes(const float *in, int s0, int nplanes, float *out, int s1);

#endif
