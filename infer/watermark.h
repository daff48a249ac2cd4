/* watermark.h — swaplab's invisible keyed watermark: a spread-spectrum mark on a coarse grid of
 * luminance cells (fixed 64x64 cells in image-relative coordinates, so it survives rescaling),
 * carrying a 32-bit payload (+ CRC-8) under a convolutional code, plus a keyed pilot whose normalised
 * correlation gives the detection z-score and a false-positive bound. Design and limits:
 * docs/WATERMARK.md. Spread spectrum: Cox et al., "Secure spread spectrum watermarking for
 * multimedia", IEEE TIP 1997, https://doi.org/10.1109/83.650120.
 *
 *   WmKey k; wm_key_from_string(&k, NULL);            // the public default key "swaplab"
 *   wm_embed(&rgb, &k, 0x3fa2c1d0u, &err);              // in place; refuses images under WM_MIN_DIM
 *   WmResult r; wm_detect(&rgb, &k, &r, &err);          // r.found, r.p_false, r.payload_ok, r.payload
 */
#ifndef SL_WATERMARK_H
#define SL_WATERMARK_H

#include <stdint.h>

#include "data/image.h"
#include "util/util.h"

#define WM_SCHEME "swaplab-wm/1"
#define WM_DEFAULT_KEY "swaplab"  /* the public default key string */
#define WM_PAYLOAD_BITS 32
#define WM_MIN_DIM 64             /* embedding refuses smaller images; detection works down to 32 */
#define WM_P_THRESHOLD 1e-6       /* found = the false-positive bound is below this */

typedef struct {
    uint8_t k[32];
} WmKey;

/* The key is SHA-256("swaplab-watermark-v1:" + s); s = NULL or "" gives the default key. */
void wm_key_from_string(WmKey *key, const char *s);

/* Embeds payload into rgb (c = 3, or 1 for grey) in place, changing luminance only (the same
 * offset on R, G and B). Returns -1 with err for images smaller than WM_MIN_DIM on a side. */
int wm_embed(Image *rgb, const WmKey *key, uint32_t payload, SlErr *err);

/* The same embedding for many images (a clip's frames): the key's layout and the coded payload
 * prepared once, the per-pixel planes kept for the next image of the same size. wm_embedder_apply
 * gives exactly wm_embed's pixels and errors. One embedder per thread. */
typedef struct WmEmbedder WmEmbedder;
WmEmbedder *wm_embedder_new(const WmKey *key, uint32_t payload);
int wm_embedder_apply(WmEmbedder *e, Image *rgb, SlErr *err);
void wm_embedder_free(WmEmbedder *e);

typedef struct {
    int found;        /* a mark of this key is present: p_false < WM_P_THRESHOLD */
    double z;         /* normalised pilot correlation; ~N(0,1) on unmarked images */
    double p_false;   /* bound on the chance an unmarked image scores >= z: exp(-z^2/2) for z>0 */
    int payload_ok;   /* found, and the decoded payload's CRC-8 matched (a misread passes it
                         with probability 1/256) */
    uint32_t payload; /* the decoded payload (meaningful when payload_ok) */
    double bit_confidence; /* mean |soft value| / its spread over the coded bits (diagnostic) */
} WmResult;

/* Detects the mark of key in rgb (c = 1 or 3, any size >= 32x32; rescaled copies are fine).
 * Returns -1 with err only for images too small to read; "not found" is a result, not an error. */
int wm_detect(const Image *rgb, const WmKey *key, WmResult *res, SlErr *err);

/* PSNR in dB between two images of the same size (all channels); INFINITY when equal. */
double wm_psnr(const Image *a, const Image *b);

#endif
