/* synth_clip.h — a synthetic volunteer's clip as a real video file: `synth --video` encodes the
 * rendered 25 fps frames as SET/clip.mp4 (H.264 through data/video.h, near-lossless by default, one
 * encoder thread so the same seed gives the same bytes), then decodes it and writes the face set from
 * the decoded frames with the renderer's exact landmarks and parameters (frames/NNNNNN.png,
 * aligned/NNNNNN.png, faces.jsonl), each face recording the clip as extract does (faces.jsonl
 * "clip": path, SHA-256, time, frame). The set then holds exactly what the clip shows, so `swaplab
 * swap --in SET/clip.mp4 --from SET` binds the clip to the set's consent manifest at any CRF.
 *
 *   SynthClipWriter c; SlErr err;
 *   synth_clip_open(&c, "out/synth-0001", 256, 256, SYNTH_CLIP_DEFAULT_CRF, &err);
 *   for (f = 0; ...; f++) synth_clip_add(&c, &frame, lm, params, &err);   // params: stolen
 *   synth_clip_finish(&c, &fw, &err);   // clip.mp4 appears atomically; its frames are faces 0..n-1
 *   synth_clip_free(&c);  faceset_writer_finish(&fw, &err); */
#ifndef SL_SYNTH_CLIP_H
#define SL_SYNTH_CLIP_H

#include "data/faceset.h"
#include "data/synth/composite.h"
#include "data/video.h"

#define SYNTH_CLIP_NAME "clip.mp4" /* in the set's directory; faces.jsonl records this name */
#define SYNTH_CLIP_DEFAULT_CRF 12  /* near-lossless: frames within about 1/255 (mean) of the render */
#define SYNTH_CLIP_FPS CLIP_FPS /* 25: the renderer's clips */

typedef struct {
    VideoWriter *vw;
    char path[SL_PATH_MAX];
    int n, cap;
    float (*lm)[ALIGN_NLM][2]; /* the renderer's landmarks of each frame */
    json_t **params;           /* the renderer's parameters of each frame (owned) */
} SynthClipWriter;

/* Starts SET_DIR/clip.mp4 (w x h frames; odd sides lose their last column/row) at crf 0..51. */
int synth_clip_open(SynthClipWriter *c, const char *set_dir, int w, int h, int crf, SlErr *err);
/* Encodes the next frame (RGB, the size given at open; frame i at time i / 25 s) and keeps its
 * landmarks and its parameters (stolen, may be NULL) for the face set. */
int synth_clip_add(SynthClipWriter *c, const Image *frame, const float lm[ALIGN_NLM][2], json_t *params, SlErr *err);
/* Finishes the file (atomic rename), hashes it, decodes it and adds frame i as face i of fw (an
 * empty writer) with its landmarks, parameters and the clip record. Refuses (-1) a clip that does
 * not decode to the frames encoded. */
int synth_clip_finish(SynthClipWriter *c, FaceSetWriter *fw, SlErr *err);
/* Frees c; an unfinished clip leaves no file. */
void synth_clip_free(SynthClipWriter *c);

#endif
