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

/* JPEG via stb_image_write (quality 1..100), written atomically. */
int image_save_jpeg(const char *path, const Image *img, int quality, SlErr *err);
/* Encodes to JPEG in memory and decodes it again, in place (for robustness tests and augmentation). */
void image_jpeg_roundtrip(Image *img, int quality);

/* Resamples src to w x h (stb_image_resize, same channel count) into a new image. */
Image image_resize(const Image *src, int w, int h);

#endif
