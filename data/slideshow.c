/* slideshow.c — clips from still images (data/slideshow.h). */
#include "data/slideshow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/exif.h"
#include "data/image.h"
#include "data/video.h"

void slideshow_options_default(SlideshowOptions *o) {
    memset(o, 0, sizeof *o);
    o->fps = 25;
    o->hold = 25;
    o->pan = 0.08;
    o->crf = 18;
}

/* The view of frame k of hold: a window of 1 - pan of the image moving diagonally, resized to w x h
 * (bilinear, so sub-pixel motion is smooth). */
static void view(const Image *src, int k, int hold, double pan, Image *dst) {
    double s = 1 - pan, t = hold > 1 ? (double)k / (hold - 1) : 0;
    double vw = src->w * s, vh = src->h * s, x0 = (src->w - vw) * t, y0 = (src->h - vh) * (0.3 + 0.4 * t);
    for (int y = 0; y < dst->h; y++) {
        double sy = y0 + (y + 0.5) * vh / dst->h - 0.5;
        int iy = (int)floor(sy);
        double fy = sy - iy;
        int y1 = iy < 0 ? 0 : iy >= src->h ? src->h - 1 : iy, y2 = iy + 1 < 0 ? 0 : iy + 1 >= src->h ? src->h - 1 : iy + 1;
        for (int x = 0; x < dst->w; x++) {
            double sx = x0 + (x + 0.5) * vw / dst->w - 0.5;
            int ix = (int)floor(sx);
            double fx = sx - ix;
            int x1 = ix < 0 ? 0 : ix >= src->w ? src->w - 1 : ix, x2 = ix + 1 < 0 ? 0 : ix + 1 >= src->w ? src->w - 1 : ix + 1;
            for (int c = 0; c < 3; c++) {
                double a = src->px[((size_t)y1 * src->w + x1) * 3 + c], b = src->px[((size_t)y1 * src->w + x2) * 3 + c];
                double d = src->px[((size_t)y2 * src->w + x1) * 3 + c], e = src->px[((size_t)y2 * src->w + x2) * 3 + c];
                double v = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
                dst->px[((size_t)y * dst->w + x) * 3 + c] = (uint8_t)(v + 0.5);
            }
        }
    }
}

/* Turns img counter-clockwise by deg (the inverse of the display rotation a reader applies). */
static Image turn_ccw(const Image *s, int deg) {
    if (deg == 0) return image_clone(s);
    Image o = deg == 180 ? image_new(s->w, s->h, 3) : image_new(s->h, s->w, 3);
    for (int y = 0; y < s->h; y++)
        for (int x = 0; x < s->w; x++) {
            int ox, oy;
            if (deg == 90) ox = y, oy = s->w - 1 - x;
            else if (deg == 180) ox = s->w - 1 - x, oy = s->h - 1 - y;
            else ox = s->h - 1 - y, oy = x;
            memcpy(o.px + ((size_t)oy * o.w + ox) * 3, s->px + ((size_t)y * s->w + x) * 3, 3);
        }
    return o;
}

long slideshow_write(const char *const *images, int n, const char *out, const SlideshowOptions *o, SlErr *err) {
    if (n < 1) return sl_fail(err, "%s: no images for the clip", out);
    VideoWriter *vw = NULL;
    long frames = 0;
    int W = o->w, H = o->h;
    for (int i = 0; i < n; i++) {
        Image img;
        if (exif_load_image(images[i], 3, &img, NULL, err)) goto fail;
        if (!W || !H) W = img.w & ~1, H = img.h & ~1;
        if (!vw) {
            VideoWriterOptions vo;
            video_writer_options_default(&vo);
            vo.crf = o->crf;
            vo.fps = o->fps;
            vo.tone_hz = o->tone_hz;
            vo.rotation_tag = o->rotation_tag;
            int rw = o->rotation_tag == 90 || o->rotation_tag == 270 ? H : W;
            int rh = o->rotation_tag == 90 || o->rotation_tag == 270 ? W : H;
            if (video_writer_open(&vw, out, rw, rh, &vo, err)) {
                image_free(&img);
                return -1;
            }
        }
        if ((long)img.w * H != (long)img.h * W) { /* another aspect: centred on mid-grey, not stretched */
            int cw = img.w, ch = img.h;
            if ((long)img.w * H < (long)img.h * W) cw = (int)((long)img.h * W / H);
            else ch = (int)((long)img.w * H / W);
            Image canvas = image_new(cw, ch, 3);
            memset(canvas.px, 128, (size_t)cw * ch * 3);
            int ox = (cw - img.w) / 2, oy = (ch - img.h) / 2;
            for (int y = 0; y < img.h; y++)
                memcpy(canvas.px + ((size_t)(oy + y) * cw + ox) * 3, img.px + (size_t)y * img.w * 3, (size_t)img.w * 3);
            image_free(&img);
            img = canvas;
        }
        Image f = image_new(W, H, 3);
        for (int k = 0; k < o->hold; k++, frames++) {
            view(&img, k, o->hold, o->pan, &f);
            Image g = turn_ccw(&f, o->rotation_tag);
            int rc = video_writer_add(vw, &g, frames / o->fps, err);
            image_free(&g);
            if (rc) {
                image_free(&f), image_free(&img);
                goto fail;
            }
        }
        image_free(&f);
        image_free(&img);
    }
    if (video_writer_finish(vw, NULL, NULL, err)) goto fail;
    video_writer_free(vw);
    return frames;
fail:
    video_writer_free(vw);
    return -1;
}
