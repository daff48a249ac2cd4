/* png_carrier.c — the PNG container of provenance (carriers.h): iTXt texts written by libpng
 * (data/image.h), then the C2PA manifest store as a caBX chunk before the first IDAT, bound to the
 * finished bytes by its c2pa.hash.data exclusion (infer/provenance/c2pa.h). */
#include <stdlib.h>

#include "infer/provenance/carriers.h"

int prov_png_encode(const Image *img, const PngText *texts, int nt, const C2paInfo *ci, const SlKeypair *key,
                    uint8_t **out, size_t *len, SlErr *err) {
    uint8_t *png;
    size_t n;
    if (image_encode_png_texts(img, texts, nt, &png, &n, err)) return -1;
    if (!ci) {
        *out = png, *len = n;
        return 0;
    }
    int r = c2pa_embed_png(ci, key, png, n, out, len, err);
    free(png);
    return r;
}
