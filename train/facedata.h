/* facedata.h — a face set at model size, loaded once and shared by the trainer and the fidelity
 * evaluation: every aligned crop resized to the model's side S (8-bit CHW RGB) and its loss-weight
 * map (0 outside the face, 1 inside, 3 on eyes and mouth) at S. Each aligned PNG is opened once.
 *
 *   FaceData d;
 *   if (facedata_load(&d, &fs, 64, &err)) ...;
 *   facedata_face(&d, i, x);            (3*S*S floats in [0,1])
 *   facedata_free(&d); */
#ifndef SL_FACEDATA_H
#define SL_FACEDATA_H

#include <stdint.h>

#include "data/faceset.h"
#include "util/util.h"

typedef struct {
    const FaceSet *fs; /* not owned */
    int n, S;
    uint8_t *img;      /* n x 3 x S x S */
    float *wmap;       /* n x S x S */
} FaceData;

/* Loads every face of fs at side S (with a progress line "loading SUBJECT"). Returns -1 with err
 * naming the file when a PNG is unreadable or does not match the record. */
int facedata_load(FaceData *d, const FaceSet *fs, int S, SlErr *err);
/* Face i as floats in [0,1] (3*S*S). */
void facedata_face(const FaceData *d, int i, float *out);
void facedata_free(FaceData *d);

#endif
