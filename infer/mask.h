/* mask.h — the face mask of a swap, from the 68 landmarks of an aligned crop: which region of the
 * decoded face goes into the frame, and how its edge fades.
 *
 * Shapes:
 *  - face: the hull of the jaw and brows (all 68 points), the brows lifted by MASK_BROW_LIFT of the
 *    brow-chin distance so that they stay inside after erosion: brows to chin, no forehead, no
 *    hairline. Occlusion-safe: nothing of the head outside the face (hair, ears, a hand on the
 *    forehead) is replaced by the decoder's guess of it.
 *  - hull: the training mask (data/align.h align_face_mask): the same hull plus a forehead up to a
 *    third of the brow-chin distance above the brows.
 * Shaping: erosion (the mask shrunk by E pixels) and feathering (the edge fading over F pixels
 * inside it, infer/blend.h blend_mask_feather), either in proportion to the face size (per cent of
 * MASK_FACE_SIZE: the square root of the face hull's area, so a face twice as large gets twice the
 * margin) or, in the older spellings erode:N and blur:N, in pixels at crop scale of the hull.
 *
 * Spellings (mask_spec_parse): "face" (= MASK_DEFAULT), "face:E,F", "hull", "hull:E,F" (E, F per
 * cent of the face size, 0..50), "erode:N", "blur:N" (hull; N pixels, 0..256). */
#ifndef SL_MASK_H
#define SL_MASK_H

#include "util/util.h"

#define MASK_DEFAULT "face:0,20"
#define MASK_BROW_LIFT 0.08f

typedef enum { MASK_SHAPE_FACE = 0, MASK_SHAPE_HULL } MaskShape;

typedef struct {
    MaskShape shape;
    int relative;        /* 1: erode/feather in per cent of the face size; 0: in crop pixels */
    float erode, feather;
    char str[32];        /* canonical spelling */
} MaskSpec;

/* Parses a spelling (above); -1 with err naming the allowed ones and ranges. */
int mask_spec_parse(const char *s, MaskSpec *m, SlErr *err);

/* The unshaped mask (size*size floats in [0,1], anti-aliased edge) of a shape. */
void mask_shape(MaskShape shape, const float lm[68][2], int size, float *mask);
/* The face size in pixels: the square root of the area of the face-shape hull (no forehead). */
float mask_face_size(const float lm[68][2]);
/* The mask of a spec: shape, then erosion, then feathering. */
void mask_make(const MaskSpec *m, const float lm[68][2], int size, float *mask);
/* Erosion and feathering of an existing mask, with the face size given (pixels). */
void mask_shape_edge(const MaskSpec *m, float face_size, int size, float *mask);

#endif
