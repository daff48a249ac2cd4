/* robust.h — image degradations for robustness evaluation of detectors (JPEG, down/up-scaling, blur,
 * noise) and the training augmentation of Wang et al. 2020, "CNN-generated images are surprisingly
 * easy to spot... for now" (https://arxiv.org/abs/1912.11035): Gaussian blur σ ~ U[0, 3] with
 * probability 0.5, then JPEG quality ~ U{30..100} with probability 0.5.
 *
 * Every function works in place on an 8-bit Image (any channel count) and draws randomness only
 * from the SlRng passed in, so an evaluation is reproducible from its seed.
 * Resizing: the image is scaled down by the factor (stb_image_resize, a Mitchell filter) and back
 * up to its original size, so a detector with a fixed input size sees the lost detail at the same
 * size ("resize 0.5x and back"), which is what the reported robustness curves mean.
 * H.264 (libx264 at a CRF; 23 and 40 are the FaceForensics++ c23 / c40 levels) is per clip, not
 * per image: robust_h264 encodes a sequence of frames as one clip through data/video.* (FFmpeg's
 * libraries, no ffmpeg program; a temp file under $TMPDIR or /tmp, removed after), decodes it and
 * replaces the frames by their decoded selves, so inter-frame prediction acts as it does on video.
 * `detect eval` (score.h) feeds it the frames of each labels.csv `clip` in order, or each image
 * alone as a one-frame clip (an intra frame) when the dataset names no clips. */
#ifndef SL_ROBUST_H
#define SL_ROBUST_H

#include "data/image.h"
#include "util/rng.h"
#include "util/util.h"

typedef enum { ROBUST_NONE, ROBUST_JPEG, ROBUST_RESIZE, ROBUST_BLUR, ROBUST_NOISE, ROBUST_H264 } RobustKind;

typedef struct {
    RobustKind kind;
    double value; /* JPEG quality 1..100, resize factor (0, 1], blur σ in pixels, noise σ in 8-bit levels,
                     H.264 CRF 0..51 */
} RobustSpec;

void robust_jpeg(Image *img, int quality);
/* Down by factor (0 < factor <= 1; at least 1 pixel) and back up to the original size. */
void robust_resize(Image *img, double factor);
/* Separable Gaussian blur, kernel radius ceil(3σ), edges clamped; σ <= 0 leaves the image. */
void robust_blur(Image *img, double sigma);
/* The same on a float plane set: c planes of h x w (CHW) or interleaved when c is the pixel stride
 * (hwc = 1). */
void robust_blur_float(float *px, int w, int h, int c, int hwc, double sigma);
/* Additive Gaussian noise N(0, σ²) per channel value, rounded and clamped to 0..255. */
void robust_noise(Image *img, double sigma, SlRng *rng);

/* H.264 round trip of n frames as one clip, in order: libx264 at crf (0..51) with x264's default
 * preset (medium, as FaceForensics++ encoded c23 / c40), yuv420p, 25 fps, then decoded back; each
 * frame is replaced by its decoded self (same size and channel count: 1- and 2-channel frames go
 * through as grey RGB, a 4th channel is kept). Runs of consecutive frames of equal size are
 * encoded as separate clips; frames smaller than 16 pixels a side or of odd size are padded by
 * repeating their edge and cropped back. -1 with err (frames untouched) when no H.264 encoder is
 * available or the temp file cannot be written. */
#define ROBUST_H264_PRESET "medium"
int robust_h264(Image *frames, int n, int crf, SlErr *err);
/* 1 for the per-clip kinds (H.264), which robust_apply does not take. */
int robust_is_per_clip(const RobustSpec *spec);

/* Applies one per-image spec (noise draws from rng); a per-clip spec is a bug (use robust_h264). */
void robust_apply(Image *img, const RobustSpec *spec, SlRng *rng);
/* Parses "none", "jpeg:Q", "resize:F", "blur:S", "noise:S", "h264:CRF", or the same without the colon
 * ("jpeg75", "resize0.5", "h264:23" or "crf23"): the CLI's --perturb values; -1 with err on anything
 * else or a value out of range. */
int robust_parse(const char *s, RobustSpec *out, SlErr *err);
#define ROBUST_KINDS "jpeg:Q, resize:F, blur:SIGMA, noise:SIGMA or h264:CRF"
/* "standard": the perturbations of the FaceForensics++-style robustness table. */
#define ROBUST_STANDARD {{ROBUST_JPEG, 75}, {ROBUST_JPEG, 50}, {ROBUST_RESIZE, 0.5}, {ROBUST_H264, 23}, {ROBUST_H264, 40}}
/* Appends the specs of a comma-separated list (items as robust_parse, or "standard") to out[*n..max);
 * -1 with err on a bad item or more than max in all. */
int robust_parse_list(const char *s, RobustSpec *out, int max, int *n, SlErr *err);
/* The text of `--perturb list`: every kind, its range and its short form. */
const char *robust_list_text(void);
/* "jpeg:75" etc. into buf. */
void robust_name(const RobustSpec *spec, char *buf, int n);

/* Wang et al. 2020 training augmentation (blur p = 0.5, σ ~ U[0,3]; then JPEG p = 0.5, q ~ U{30..100}). */
void robust_augment_wang(Image *img, SlRng *rng);
/* The CRF range of the H.264 training copies (`detect train --augment-h264`, det_h264_copies in
 * detect/train.h): FaceForensics++'s c23 and c40 and around. */
#define ROBUST_AUG_CRF_LO 20
#define ROBUST_AUG_CRF_HI 45

#endif
