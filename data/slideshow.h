/* slideshow.h — a video clip made of still images (`swaplab clip`): each image held for a number
 * of frames while the view slowly pans and zooms across it (so a face moves a few pixels a frame,
 * as in real video), encoded with data/video.h. Used to make test and workshop clips from
 * consented photos or synthetic volunteers' frames without any downloaded video. */
#ifndef SL_SLIDESHOW_H
#define SL_SLIDESHOW_H

#include "util/util.h"

typedef struct {
    int w, h;         /* output size; 0 = the first image's size (made even); images of
                          another aspect are centred on mid-grey, not stretched */
    double fps;       /* frames per second (25) */
    int hold;         /* frames per image (25) */
    double pan;       /* the view moves this fraction of the image side over one image (0.08); 0 = still */
    int crf;          /* H.264 CRF (18) */
    double tone_hz;   /* > 0: an AAC tone as the audio track (0) */
    int rotation_tag; /* store a display rotation (frames stored turned the other way) (0) */
} SlideshowOptions;

void slideshow_options_default(SlideshowOptions *o);
/* Writes out (atomically) from n image files. Returns the frames written, or -1 with err naming
 * the file that failed. */
long slideshow_write(const char *const *images, int n, const char *out, const SlideshowOptions *o, SlErr *err);

#endif
