/* jpeg.h — JPEG decoding with libjpeg-turbo (Debian libjpeg62-turbo), with the library's default
 * settings (islow DCT, fancy upsampling), as OpenCV's imread and dlib's load_jpeg decode: so boxes
 * and landmarks match theirs on the same JPEG file (stb_image decodes slightly differently).
 * https://github.com/libjpeg-turbo/libjpeg-turbo/blob/main/libjpeg.txt */
#ifndef SL_JPEG_H
#define SL_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "data/image.h"
#include "util/util.h"

/* 1 when data starts with a JPEG SOI marker and another marker (FF D8 FF). */
int jpeg_is_jpeg(const uint8_t *data, size_t len);

/* Decodes a JPEG: grey files give c = 1, colour (YCbCr, RGB, CMYK/YCCK, Adobe-inverted or not)
 * c = 3. Dimensions are checked (SL_IMAGE_MAX_DIM, SL_IMAGE_MAX_PIXELS) before allocating.
 * Corrupt or truncated data: -1 with err naming name. Warnings libjpeg recovers from (a few
 * missing bytes at the end) are accepted, as OpenCV and dlib accept them. */
int jpeg_decode(const uint8_t *data, size_t len, Image *out, const char *name, SlErr *err);

#endif
