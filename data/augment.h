/* augment.h — training augmentation for the swap autoencoder, all drawn from an SlRng passed in
 * (reproducible): the classic deepfakes random warp (a 5x5 grid of random displacements,
 * interpolated smoothly over the crop; the network input is warped, the target is not), random
 * rotation, scale, shift, horizontal flip, and colour jitter in CIE L*a*b*.
 * Operates on float CHW RGB crops in [0,1]; extra planes (mask, loss weights) follow the target's
 * geometry (not the warp, no colour jitter).
 *
 *   Augmenter a; augment_init(&a, NULL, 64);            // NULL = augment_defaults()
 *   augment_apply(&a, &rng, img, planes, 2, input, target, planes_out);
 *   augment_free(&a);
 * One Augmenter per thread (it owns scratch memory); the RNG decides everything. */
#ifndef SL_AUGMENT_H
#define SL_AUGMENT_H

#include "util/rng.h"

typedef struct {
    float warp;       /* std of the 5x5 grid displacements, fraction of the side (0.05); 0 = off */
    float rotate_deg; /* rotation uniform in ±rotate_deg (10) */
    float scale;      /* zoom uniform in 1 ± scale (0.05) */
    float shift;      /* shift uniform in ±shift of the side, x and y (0.05) */
    float flip_p;     /* probability of a horizontal flip (0.5) */
    float jitter_l;   /* L* shift uniform in ±jitter_l (L* in 0..100; 5) */
    float jitter_ab;  /* a*, b* shifts uniform in ±jitter_ab (5) */
    int jitter_input_only; /* 1: the colour jitter changes the input only, not the target, so the
                              network learns to draw its identity's own colours whatever the input's */
} AugmentOpts;

AugmentOpts augment_defaults(void);
/* Everything off: input == target == the image (a useful base for tests and evaluation). */
AugmentOpts augment_none(void);

typedef struct {
    AugmentOpts opt;
    int size;
    float *map_t; /* 2*size*size: target sampling coordinates */
    float *map_w; /* 2*size*size: warped input sampling coordinates */
    float *tmp;   /* 3*size*size */
    float *gw;    /* 5*size: warp-grid weights of each row/column */
    void *luts;   /* colour tables (sRGB <-> linear, the L*a*b* cube root) */
} Augmenter;

void augment_init(Augmenter *a, const AugmentOpts *opt, int size);
void augment_free(Augmenter *a);

/* img: 3*size*size CHW RGB in [0,1]; planes: nplanes*size*size (may be NULL with nplanes 0).
 * Writes input (warped + transformed + jittered), target (transformed + jittered; may be NULL)
 * and planes_out (transformed like the target; may be NULL). Outputs must not alias inputs. */
void augment_apply(Augmenter *a, SlRng *rng, const float *img, const float *planes, int nplanes,
                   float *input, float *target, float *planes_out);

/* The colour jitter alone, in place on a CHW crop of npix pixels: shifts L*, a*, b* by dl, da, db
 * (sRGB D65 → L*a*b* → sRGB, clamped to [0,1]). */
void augment_lab_shift(float *chw, int npix, float dl, float da, float db);

#endif
