/* landmarks.h — 68-point face landmarks with dlib's shape predictor, in plain C: a reader for dlib's
 * shape_predictor .dat serialization and the ensemble-of-regression-trees predictor (Kazemi &
 * Sullivan, "One Millisecond Face Alignment with an Ensemble of Regression Trees", CVPR 2014,
 * https://doi.org/10.1109/CVPR.2014.241), reproducing dlib 19.24's shape_predictor::operator().
 *
 *   LmModel *m; SlErr err;
 *   if (lm_load(lm_default_path(), &m, &err)) { puts(err.msg); ... }
 *   uint8_t *in = lm_intensity_from_image(&img);       // dlib's (R+G+B)/3
 *   double pts[2 * 68];
 *   lm_predict(m, in, img.w, img.h, (LmRect){x, y, x + w - 1, y + h - 1}, pts);
 *
 * The model file (Debian libdlib-data: shape_predictor_68_face_landmarks.dat) was trained by dlib on
 * the iBUG 300-W data set, whose licence excludes commercial use: so does the model's. */
#ifndef SL_LANDMARKS_H
#define SL_LANDMARKS_H

#include <stddef.h>
#include <stdint.h>

#include "data/image.h"
#include "util/util.h"

typedef struct LmModel LmModel;

/* A dlib::rectangle: right and bottom are inclusive. (l,t) maps to (0,0) and (r,b) to (1,1) of
 * the model's normalised shape space. */
typedef struct {
    long l, t, r, b;
} LmRect;

/* $SWAPLAB_LANDMARKS if set, else /usr/share/dlib/shape_predictor_68_face_landmarks.dat. */
const char *lm_default_path(void);

/* Reads a dlib shape_predictor file. Hostile input (truncated, wrong counts, indices out of range,
 * non-finite numbers) gives -1 with a message naming the file. */
int lm_load(const char *path, LmModel **out, SlErr *err);
int lm_parse(const uint8_t *data, size_t len, const char *name, LmModel **out, SlErr *err);
void lm_free(LmModel *m);

int lm_num_parts(const LmModel *m);
/* Number of cascade levels and trees in total (for messages and tests). */
void lm_info(const LmModel *m, int *ncascades, int *ntrees);

/* dlib's get_pixel_intensity of the image: (R+G+B)/3 for RGB, the value for grey. w*h bytes. */
uint8_t *lm_intensity_from_image(const Image *img);

/* Predicts the shape inside box on an intensity image (w*h bytes). xy receives 2*num_parts doubles
 * (x0 y0 x1 y1 ...): the predictor's value before dlib rounds it; floor(v + 0.5) gives dlib's
 * integer points. */
void lm_predict(const LmModel *m, const uint8_t *intensity, int w, int h, LmRect box, double *xy);

/* The box whose mapping of the model's initial (mean) shape best fits the points xy (2*n doubles,
 * n = lm_num_parts; least squares per axis): the predictor starts from the mean shape placed over
 * a known face, e.g. to measure landmarks of an image whose true points are known (train/eval). */
LmRect lm_rect_fit(const LmModel *m, const double *xy);

/* How far the points xy (2*n doubles) are from a face shape: the RMS distance of the points from
 * the model's mean shape after the best similarity (rotation, scale, shift), over the fitted
 * inter-ocular distance. Faces of the 16 fixtures score at most ~0.1; extract rejects a face above
 * LM_SHAPE_MAX (docs/EXTRACT.md has the measured values). */
double lm_shape_residual(const LmModel *m, const double *xy);

/* The box to give the predictor for a Haar box (x, y, w, h) of the default frontal-face cascade:
 * dlib's model was trained on boxes of its HOG detector, which sit lower and are smaller than
 * OpenCV's. Least-squares fit on the 16 fixture faces (docs/EXTRACT.md):
 *   side = 0.8733 w,  centre x = cx + 0.0198 w,  centre y = cy + 0.0811 w. */
#define LM_HAAR_SCALE 0.8733
#define LM_HAAR_DX 0.0198
#define LM_HAAR_DY 0.0811
LmRect lm_rect_from_haar(int x, int y, int w, int h);

#endif
