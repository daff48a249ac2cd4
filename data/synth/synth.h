/* synth.h — synthetic volunteers: people who do not exist, rendered from a small 3-D head model
 * with exact 68-point landmarks (iBUG 300-W order). Because we own the renderer we own the right
 * answer of every swap: synth_render(outer = A, inner = B, frame of A) is what a perfect A→B swap
 * of that frame looks like.
 *
 * An identity is split in two: the *outer head* (head outline and shape, hair, ears) and the
 * *inner face* (skin tone inside the face, eyes, brows, nose, mouth). A frame carries everything
 * that is not identity: expression, pose, light, background, camera, blur and noise. */
#ifndef SL_SYNTH_H
#define SL_SYNTH_H

#include <jansson.h>
#include <stdint.h>

#include "data/image.h"
#include "util/rng.h"

typedef struct {
    /* outer head */
    float head_w, head_h, head_d;      /* ellipsoid radii (relative) */
    float jaw_width, chin_len, cheek;  /* face outline shape */
    float ear_size;
    float hair_rgb[3];
    int hair_style;                    /* 0 short, 1 long, 2 bald/shaved, 3 curly, 4 fringe */
    float hair_len, hair_volume;
    float cloth_rgb[3];                /* shirt on the shoulders (outer: it is not the face) */
    /* inner face */
    float skin_rgb[3];                 /* wide range of tones */
    float eye_spacing, eye_size, eye_slant;
    float iris_rgb[3];
    float brow_thick, brow_arch, brow_rgb[3];
    float nose_len, nose_width;
    float mouth_width, lip_thick, lip_rgb[3];
    uint32_t texture_seed;             /* skin texture noise: the outer head's skin and hair use the
                                          outer identity's seed, the inner face the inner one's */
} SynthIdentity;

typedef struct {
    float smile, mouth_open, blink, brow_raise; /* 0..1 */
    float gaze_x, gaze_y;                       /* -1..1 */
    float yaw, pitch, roll;                     /* degrees: about ±35, ±20, ±20; yaw > 0 turns the
                                                   face toward the image's right, pitch > 0 looks
                                                   up, roll > 0 tilts it counter-clockwise */
    float light_dir[3], light_intensity, light_temp; /* toward the light, camera axes (x right,
                                                   y up, z toward the camera); temp: -1 cool ..
                                                   1 warm. The camera auto-exposes the face. */
    int bg_kind;                                /* 0..SYNTH_BG_KINDS-1: vertical, diagonal and
                                                   radial gradients, blotchy texture, bokeh */
    float bg_rgb1[3], bg_rgb2[3];
    uint32_t bg_seed, noise_seed;
    float cam_scale, cam_dx, cam_dy;            /* zoom; shift in fractions of the image side */
    float blur, noise_sigma;                    /* Gaussian sigma in pixels; noise in 8-bit levels */
} SynthFrame;

#define SYNTH_HAIR_STYLES 5
#define SYNTH_BG_KINDS 5

/* Draws a random identity / frame (seeded; the same generator state gives the same result). */
void synth_identity_random(SynthIdentity *id, SlRng *rng);
/* Re-draws an identity's skin tone at position t in [0, 1] of the dark-to-light range (and its lip
 * colour, which follows the skin), with the usual undertone jitter from rng. `swaplab synth` spreads
 * the identities of one run along the range with it, so any two are told apart. */
void synth_identity_set_tone(SynthIdentity *id, float t, SlRng *rng);
void synth_frame_random(SynthFrame *fr, SlRng *rng);
/* A frontal, neutral, evenly lit frame (for contact sheets and detector checks). */
void synth_frame_neutral(SynthFrame *fr);

/* Renders a size x size RGB frame into *out (allocated here; free with image_free) and the 68
 * landmarks in its pixel coordinates (x right, y down, pixel centres at +0.5). outer supplies the
 * outer head, inner the inner face: pass the same identity twice for an ordinary frame.
 *
 * The landmarks are points of the same 3-D surface the pixels are rasterised from, projected with
 * the same camera. Jaw points 0-16 are the face contour of the neutral frontal head (evenly spaced
 * along its silhouette); where a turned head hides one of them, it is moved along the line toward
 * the face centre to the visible silhouette ("landmark marching"), as iBUG annotators mark the
 * visible outline. The inner face's skin tone fades into the outer head's over a fixed face region
 * (cheeks, chin, up to mid-forehead); everything the inner identity changes lies inside it.
 * Deterministic: the same arguments give the same bytes. size is 16..4096. */
void synth_render(const SynthIdentity *outer, const SynthIdentity *inner, const SynthFrame *fr,
                  int size, Image *out, float lm[68][2]);

/* JSON (jansson) of the parameters, for faces.jsonl / params.jsonl, and back. The *_from_json
 * functions return -1 with err on a missing or mistyped field. */
json_t *synth_identity_to_json(const SynthIdentity *id);
json_t *synth_frame_to_json(const SynthFrame *fr);
int synth_identity_from_json(const json_t *j, SynthIdentity *id, SlErr *err);
int synth_frame_from_json(const json_t *j, SynthFrame *fr, SlErr *err);

#endif
