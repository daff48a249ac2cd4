/* label.h — the visible "SYNTHETIC" label every swap output carries by default: white text on a
 * dark translucent box in the bottom-right corner, sized relative to the image, rendered with
 * stb_truetype and DejaVu Sans Bold (a built-in 5x7 bitmap font when the font file is missing).
 * https://github.com/nothings/stb/blob/master/stb_truetype.h */
#ifndef SL_LABEL_H
#define SL_LABEL_H

#include "data/image.h"

#define LABEL_TEXT "SYNTHETIC"
#define LABEL_FONT_PATH "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

typedef struct {
    int x, y, w, h; /* the box, in pixels */
} LabelBox;

/* Where the label box goes on a w x h image (a pure function of the size, so a rescaled copy of a
 * labelled image has its box at the rescaled place). */
LabelBox label_box(int w, int h);

/* Draws the label onto rgb (c = 3 or 1) in place. */
void label_draw(Image *rgb);

/* The label of one image size, rendered once (the font read, the text rasterised) and drawn on many
 * images of that size, as a clip's frames: label_stamp_draw gives exactly label_draw's pixels. */
typedef struct {
    int w, h;     /* the image size it was made for */
    LabelBox box;
    float *cover; /* text coverage 0..1 over the box, box.w x box.h */
} LabelStamp;
void label_stamp_init(LabelStamp *s, int w, int h);
void label_stamp_draw(const LabelStamp *s, Image *rgb); /* rgb: s->w x s->h, c = 1, 3 or 4 */
void label_stamp_free(LabelStamp *s);

/* Best-effort check that rgb carries the label: the box region is dark and its bright pixels
 * follow the rendered text. Returns 1 if found; *score (may be NULL) gets the text correlation. */
int label_detect(const Image *rgb, double *score);

#endif
