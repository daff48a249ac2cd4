/* facedata.c — a face set at model size, shared by the trainer and fidelity (see facedata.h). */
#include "train/facedata.h"

#include <stdio.h>
#include <string.h>

#include "train/fidelity.h"
#include "util/progress.h"

int facedata_load(FaceData *d, const FaceSet *fs, int S, SlErr *err) {
    memset(d, 0, sizeof *d);
    d->fs = fs;
    d->S = S;
    const int crop = fs->crop;
    const size_t img = 3 * (size_t)S * S, pl = (size_t)S * S;
    d->img = xmalloc(img * (size_t)(fs->n > 0 ? fs->n : 1));
    d->wmap = xmalloc(sizeof(float) * pl * (size_t)(fs->n > 0 ? fs->n : 1));
    float *tmp = xmalloc(sizeof(float) * 3 * (size_t)crop * crop);
    float *tmps = xmalloc(sizeof(float) * img);
    float *w = xmalloc(sizeof(float) * (size_t)crop * crop);
    SlProgress pr;
    char label[200];
    snprintf(label, sizeof label, "loading %s", fs->subject);
    sl_progress_begin(&pr, label, fs->n);
    int rc = 0;
    for (int i = 0; i < fs->n; i++) {
        if (faceset_load_face(fs, i, tmp, err)) {
            rc = -1;
            break;
        }
        image_resize_planes(tmp, crop, 3, tmps, S);
        for (size_t j = 0; j < img; j++) {
            float v = tmps[j] * 255.0f + 0.5f;
            d->img[img * i + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        faceset_face_mask(fs, i, NULL, w);
        image_resize_planes(w, crop, 1, d->wmap + pl * i, S);
        d->n = i + 1;
        sl_progress_update(&pr, i + 1, NULL);
    }
    sl_progress_end(&pr, NULL);
    free(tmp), free(tmps), free(w);
    if (rc) facedata_free(d);
    return rc;
}

void facedata_face(const FaceData *d, int i, float *out) {
    SL_ASSERT(i >= 0 && i < d->n);
    const size_t img = 3 * (size_t)d->S * d->S;
    const uint8_t *src = d->img + img * i;
    for (size_t j = 0; j < img; j++) out[j] = src[j] * (1.0f / 255.0f);
}

void facedata_free(FaceData *d) {
    free(d->img), free(d->wmap);
    d->img = NULL, d->wmap = NULL;
    d->n = 0;
}
