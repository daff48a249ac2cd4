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
 *  - learned: the mask the decoder draws itself (a 4th output channel of a model trained with
 *    `swaplab train --learn-mask`, trained against the hull of the target crop), of the SWAPPED face.
 *    Where it is unsure it falls back to the hull: with L the learned value and H the hull's,
 *    c = min(1, |2L - 1| / MASK_LEARNED_SURE) and mask = c L + (1 - c) H (mask_learned_blend): a
 *    learned value of 0.5 is the hull, one beyond 0.25 or 0.75 is the decoder's own.
 * Shaping: erosion (the mask shrunk by E pixels) and feathering (the edge fading over F pixels
 * inside it, infer/blend.h blend_mask_feather), either in proportion to the face size (per cent of
 * MASK_FACE_SIZE: the square root of the face hull's area, so a face twice as large gets twice the
 * margin) or, in the older spellings erode:N and blur:N, in pixels at crop scale of the hull.
 *
 * Spellings (mask_spec_parse): "face" (= MASK_DEFAULT), "face:E,F", "hull", "hull:E,F", "learned",
 * "learned:E,F" (E, F per cent of the face size, 0..50; plain hull and learned are not shaped),
 * "erode:N", "blur:N" (hull; N pixels, 0..256). */
#ifndef SL_MASK_H
#define SL_MASK_H

#include "util/util.h"

#define MASK_DEFAULT "face:0,20"
#define MASK_BROW_LIFT 0.08f
#define MASK_LEARNED_SURE 0.5f

typedef enum { MASK_SHAPE_FACE = 0, MASK_SHAPE_HULL, MASK_SHAPE_LEARNED } MaskShape;

typedef struct {
    MaskShape shape;
    int relative;        /* 1: erode/feather in per cent of the face size; 0: in crop pixels */
    float erode, feather;
    char str[32];        /* canonical spelling */
} MaskSpec;

/* Parses a spelling (above); -1 with err naming the allowed ones and ranges. */
int mask_spec_parse(const char *s, MaskSpec *m, SlErr *err);

/* The unshaped mask (size*size floats in [0,1], anti-aliased edge) of a landmark shape (face, hull;
 * not learned, which needs the decoder's mask: mask_make_learned). */
void mask_shape(MaskShape shape, const float lm[68][2], int size, float *mask);
/* The learned mask with the hull where it is unsure (above): n floats each, all in [0,1]. */
void mask_learned_blend(const float *learned, const float *hull, size_t n, float *mask);
/* The face size in pixels: the square root of the area of the face-shape hull (no forehead). */
float mask_face_size(const float lm[68][2]);
/* The mask of a spec: shape, then erosion, then feathering. A learned spec needs mask_make_learned. */
void mask_make(const MaskSpec *m, const float lm[68][2], int size, float *mask);
/* The same with the decoder's mask of the swapped face (size*size floats in [0,1]), which a learned
 * spec needs (aborts without it: a caller's bug) and the others ignore (may be NULL). */
void mask_make_learned(const MaskSpec *m, const float lm[68][2], const float *learned, int size, float *mask);
/* Erosion and feathering of an existing mask, with the face size given (pixels). */
void mask_shape_edge(const MaskSpec *m, float face_size, int size, float *mask);

#endif
