/* faceset.h — the face set every later command reads: one identity per directory, with
 * consent.json (data/consent.h), faces.jsonl (one JSON line per aligned face), aligned/NNNNNN.png,
 * frames/NNNNNN.png (the source frames). docs/FORMATS.md describes every file and field.
 *
 *   FaceSet fs; SlErr err;
 *   if (faceset_load("sets/synth-0001", &fs, &err)) { fprintf(stderr, "%s\n", err.msg); ... }
 *   float *x = xmalloc(3 * fs.crop * fs.crop * sizeof *x);
 *   faceset_load_face(&fs, 0, x, &err);      // CHW RGB in [0,1]
 *   faceset_free(&fs);
 *
 * Masks are not stored: they are recomputed from the landmarks in the crop (faceset_face_mask),
 * so they always match the alignment. */
#ifndef SL_FACESET_H
#define SL_FACESET_H

#include <jansson.h>

#include "data/align.h"
#include "data/image.h"
#include "util/util.h"

#define FACESET_FORMAT 1
#define FACESET_MAX_FACES 1000000
#define FACESET_MAX_LINE (1 << 20)   /* one faces.jsonl line: 1 MiB at most */
#define FACESET_MAX_JSONL (1u << 30) /* faces.jsonl: 1 GiB at most */

typedef struct {
    char file[64];     /* "aligned/000000.png", relative to the set directory */
    char source[64];   /* "frames/000000.png", or "" when the frame is not kept */
    char sha256[65];   /* of the aligned PNG file, lower-case hex */
    int crop;          /* side of the aligned crop in pixels */
    float coverage;    /* see data/align.h */
    int src_w, src_h;  /* source frame size (0 when unknown) */
    float lm_crop[ALIGN_NLM][2]; /* landmarks in the crop */
    float lm_src[ALIGN_NLM][2];  /* landmarks in the source frame */
    Affine affine;     /* source frame → crop */
    json_t *synth;     /* synthetic sets: {"render_size", "identity", "frame"} (owned), else NULL */
    /* faces extracted from a video clip ("clip" in faces.jsonl); clip[0] == 0 for photos */
    char clip[512];        /* the clip's path as given to extract */
    char clip_sha256[65];  /* SHA-256 of the clip file, lower-case hex */
    double clip_time;      /* presentation time of the frame in seconds from the clip's start */
    long clip_frame;       /* index of the frame among the clip's decoded frames (from 0) */
} FaceRecord;

typedef struct {
    char dir[SL_PATH_MAX];
    char subject[128]; /* consent.json's "subject" when readable, else the directory name */
    int crop;          /* the same for every face (checked) */
    float coverage;
    int n;
    FaceRecord *faces;
} FaceSet;

/* Loads and validates DIR/faces.jsonl: every line must parse (errors give the line and column),
 * carry every field with the right type and size, name files that exist inside the set (paths
 * may not leave it), and share one crop size; each aligned PNG's header is read to check its
 * size and its SHA-256 compared with the record's "sha256" (the consent gate, data/consent.h,
 * checks every image against the manifest as well). Returns 0, or -1 with err naming the file
 * and line. */
int faceset_load(const char *dir, FaceSet *fs, SlErr *err);
void faceset_free(FaceSet *fs);

/* Loads face i as float CHW RGB in [0,1] into chw (3*crop*crop floats). Refuses (-1) a PNG whose
 * size differs from the record. */
int faceset_load_face(const FaceSet *fs, int i, float *chw, SlErr *err);
/* The face mask and loss-weight map of face i (crop*crop floats each; either may be NULL), from its
 * landmarks (align_face_mask, align_weight_map). */
void faceset_face_mask(const FaceSet *fs, int i, float *mask, float *weights);
/* The absolute path of face i's aligned PNG / source frame (out of n bytes). */
void faceset_face_path(const FaceSet *fs, int i, char *out, size_t n);
void faceset_source_path(const FaceSet *fs, int i, char *out, size_t n);

/* ---- writing ------------------------------------------------------------------------------ */
typedef struct {
    char dir[SL_PATH_MAX];
    int crop;
    float coverage;
    int keep_frames; /* write frames/NNNNNN.png too */
    int n, cap;
    FaceRecord *faces;
} FaceSetWriter;

/* Creates DIR, DIR/aligned and DIR/frames. Refuses a DIR that already holds a faces.jsonl, or
 * aligned crops of an unfinished earlier run (they would be left over in the set). */
int faceset_writer_open(FaceSetWriter *w, const char *dir, int crop, float coverage,
                        int keep_frames, SlErr *err);
/* Aligns the face with landmarks lm in frame, writes aligned/NNNNNN.png (and frames/NNNNNN.png)
 * atomically and records it. synth (may be NULL) is stolen: the writer owns it after the call.
 * Returns the face index, or -1 with err. */
int faceset_writer_add(FaceSetWriter *w, const Image *frame, const float lm[ALIGN_NLM][2],
                       json_t *synth, SlErr *err);
/* The same for a face of a video frame: records the clip, its digest, the frame's time and index. */
typedef struct {
    const char *path, *sha256;
    double time;
    long frame;
} FaceClip;
int faceset_writer_add_clip(FaceSetWriter *w, const Image *frame, const float lm[ALIGN_NLM][2],
                            const FaceClip *clip, SlErr *err);
/* Writes faces.jsonl atomically. The sha256 hex of every aligned image (in order) is in
 * w->faces[i].sha256, for the consent manifest. */
int faceset_writer_finish(FaceSetWriter *w, SlErr *err);
void faceset_writer_free(FaceSetWriter *w);

/* One face record as the JSON object of its faces.jsonl line (new reference), and back (the
 * parser used by faceset_load; where names the line in errors). */
json_t *faceset_record_to_json(const FaceRecord *r);
int faceset_record_from_json(const json_t *j, FaceRecord *r, const char *where, SlErr *err);

/* Face i of a set of n faces is held out of training (kept for evaluation) when every > 0, the set
 * has at least `every` faces, and i % every == every - 1: the one hold-out rule of the trainer,
 * fidelity and the composited-frame evaluation. */
int faceset_is_heldout(int i, int n, int every);

#endif
