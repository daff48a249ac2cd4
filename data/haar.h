/* haar.h — OpenCV Haar cascade face detection in plain C: a reader for OpenCV's new-style cascade
 * XML files and a detector that reproduces OpenCV 4.6's CascadeClassifier::detectMultiScale box for
 * box (Viola & Jones 2001, https://doi.org/10.1109/CVPR.2001.990517; OpenCV's implementation:
 * https://docs.opencv.org/4.6.0/db/d28/tutorial_cascade_classifier.html).
 *
 *   HaarCascade *c; SlErr err;
 *   if (haar_load(haar_default_path(HAAR_FRONTALFACE_DEFAULT), &c, &err)) { puts(err.msg); ... }
 *   uint8_t *grey = haar_grey_from_image(&img);             // OpenCV imread's grey (libpng formula)
 *   HaarParams p = haar_params_default();                   // 1.1, 3 neighbours, 30x30
 *   HaarBox *boxes; int n = haar_detect(c, grey, img.w, img.h, &p, &boxes);
 *   free(boxes); free(grey); haar_free(c);
 *
 * What must match OpenCV exactly, and how (see docs/EXTRACT.md): the pyramid resizes the image
 * (INTER_LINEAR_EXACT fixed point, 8 fractional bits) and keeps the window fixed; 32-bit integral
 * and squared integral images; variance normalisation over the inner window (1,1,w-2,h-2); float
 * feature sums; stage thresholds minus 1e-5; window step 2 below scale 2 (and one more step after a
 * stage-0 rejection); groupRectangles with eps 0.2. */
#ifndef SL_HAAR_H
#define SL_HAAR_H

#include <stddef.h>
#include <stdint.h>

#include "data/image.h"
#include "util/util.h"

typedef struct HaarCascade HaarCascade;

typedef struct {
    int x, y, w, h;
} HaarBox;

typedef struct {
    double scale_factor; /* > 1; OpenCV's scaleFactor (default 1.1) */
    int min_neighbors;   /* groupRectangles threshold (default 3); 0 = no grouping */
    int min_w, min_h;    /* smallest window (default 30x30) */
    int max_w, max_h;    /* largest window; 0 = the image size */
    int threads;         /* pyramid levels scanned in parallel (OpenMP): 1 (default) = this thread
                            only, 0 = every OpenMP thread; the boxes are the same either way */
} HaarParams;

/* HAAR_EYE: haarcascade_eye.xml, used by extract to check that a face box holds eyes. */
typedef enum { HAAR_FRONTALFACE_DEFAULT, HAAR_FRONTALFACE_ALT2, HAAR_EYE } HaarModel;

/* The installed cascade file (Debian opencv-data), or $SWAPLAB_HAAR_DIR/<file> when that variable
 * is set. Returns a static string; the file may not exist (haar_load then says so). */
const char *haar_default_path(HaarModel m);

/* Reads a cascade XML file (at most 64 MB). Hostile or truncated files give -1 and a message
 * naming the file and what is wrong. */
int haar_load(const char *path, HaarCascade **out, SlErr *err);
/* The same from memory; name is used in messages. xml need not be NUL-terminated. */
int haar_parse(const char *xml, size_t len, const char *name, HaarCascade **out, SlErr *err);
void haar_free(HaarCascade *c);

/* Window size, stage and feature counts of a loaded cascade. */
void haar_info(const HaarCascade *c, int *win_w, int *win_h, int *nstages, int *nfeatures);

HaarParams haar_params_default(void);

/* Detects objects in an 8-bit grey image (w*h bytes, rows packed). Returns the number of boxes and
 * *boxes (malloc'ed, free it; NULL when 0), sorted by (x, y, w, h). */
int haar_detect(const HaarCascade *c, const uint8_t *grey, int w, int h, const HaarParams *p,
                HaarBox **boxes);

/* OpenCV's grey image for cv::imread(path, IMREAD_GRAYSCALE) of a PNG: libpng's rgb_to_gray,
 * Y = (9797 R + 19234 G + 3737 B) >> 15; a grey image is copied. Returns w*h malloc'ed bytes. */
uint8_t *haar_grey_from_image(const Image *img);

/* Resizes an 8-bit grey image exactly like cv::resize(..., INTER_LINEAR_EXACT) (used by the
 * pyramid; exposed for tests). dst must hold dw*dh bytes. */
void haar_resize_exact(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

/* OpenCV's groupRectangles(rects, group_threshold, eps) in place; returns the new count. */
int haar_group_rectangles(HaarBox *r, int n, int group_threshold, double eps);

#endif
