/* synth_clip.c — a synthetic volunteer's clip encoded as SET/clip.mp4 and its face set written from
 * the decoded frames (see synth_clip.h). */
#include "data/synth/synth_clip.h"

#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"
#include "util/fs.h"

int synth_clip_open(SynthClipWriter *c, const char *set_dir, int w, int h, int crf, SlErr *err) {
    memset(c, 0, sizeof *c);
    sl_path_join(c->path, sizeof c->path, set_dir, SYNTH_CLIP_NAME);
    VideoWriterOptions o;
    video_writer_options_default(&o);
    o.crf = crf;
    o.fps = SYNTH_CLIP_FPS;
    o.threads = 1; /* libx264 on one thread: same frames, same bytes (and OpenMP runs sets in parallel) */
    return video_writer_open(&c->vw, c->path, w, h, &o, err);
}

int synth_clip_add(SynthClipWriter *c, const Image *frame, const float lm[ALIGN_NLM][2], json_t *params, SlErr *err) {
    SL_ASSERT(c->vw);
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->lm = xrealloc(c->lm, (size_t)c->cap * sizeof *c->lm);
        c->params = xrealloc(c->params, (size_t)c->cap * sizeof *c->params);
    }
    memcpy(c->lm[c->n], lm, sizeof c->lm[0]);
    c->params[c->n] = params;
    c->n++; /* owned from here on, whatever happens */
    return video_writer_add(c->vw, frame, (double)(c->n - 1) / SYNTH_CLIP_FPS, err);
}

int synth_clip_finish(SynthClipWriter *c, FaceSetWriter *fw, SlErr *err) {
    SL_ASSERT(c->vw && fw->n == 0);
    if (video_writer_finish(c->vw, NULL, NULL, err)) return -1;
    char hex[65];
    if (sl_sha256_file(c->path, hex, err)) return -1;
    VideoReader *vr;
    VideoInfo vi;
    if (video_open(c->path, 1, &vr, &vi, err)) return -1;
    int rc = 0;
    for (int i = 0; i < c->n && !rc; i++) {
        Image f;
        double t;
        int k = video_read(vr, &f, &t, err);
        if (k <= 0) {
            rc = k < 0 ? -1 : sl_fail(err, "%s: decodes to %d frames, but %d were encoded", c->path, i, c->n);
            break;
        }
        FaceClip clip = {.path = SYNTH_CLIP_NAME, .sha256 = hex, .time = (double)i / SYNTH_CLIP_FPS, .frame = i};
        rc = faceset_writer_add_clip(fw, &f, (const float(*)[2])c->lm[i], &clip, err) < 0;
        image_free(&f);
        if (!rc) {
            fw->faces[fw->n - 1].synth = c->params[i];
            c->params[i] = NULL;
        }
    }
    video_close(vr);
    return rc ? -1 : 0;
}

void synth_clip_free(SynthClipWriter *c) {
    video_writer_free(c->vw);
    for (int i = 0; i < c->n; i++)
        if (c->params[i]) json_decref(c->params[i]);
    free(c->lm);
    free(c->params);
    memset(c, 0, sizeof *c);
}
