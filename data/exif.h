/* exif.h — the EXIF orientation of JPEG photos (CIPA DC-008 "Exif 2.32", tag 0x0112), so faces
 * shot with a rotated camera are upright before detection. Only the orientation tag is read.
 *
 *   Image img; int orient; SlErr err;
 *   if (exif_load_image("photo.jpg", 3, &img, &orient, &err)) ...   // already rotated upright
 */
#ifndef SL_EXIF_H
#define SL_EXIF_H

#include <stddef.h>
#include <stdint.h>

#include "data/image.h"
#include "util/util.h"

/* The orientation (1..8) stored in a JPEG's APP1 Exif segment; 1 when the data is not a JPEG, has
 * no Exif orientation, or the Exif block is malformed (a bad block is never fatal: the image is
 * then used as stored). */
int exif_jpeg_orientation(const uint8_t *data, size_t len);

/* Turns img upright for an orientation 1..8 (2: mirrored, 3: 180°, 4: flipped, 5: transposed,
 * 6: rotate 90° clockwise, 7: transverse, 8: rotate 90° counter-clockwise); replaces img->px. */
void exif_apply_orientation(Image *img, int orientation);

/* image_load (want_c as there) that also honours the EXIF orientation of JPEG files; *orientation
 * (may be NULL) receives the tag's value (1 when none). Files are read up to 256 MB. */
int exif_load_image(const char *path, int want_c, Image *out, int *orientation, SlErr *err);

#endif
