/* swap.h — face swapping as a library (`swaplab swap` and the dataset exporter both use it): the
 * consent gate of a swap, the model step (encode a face, decode it with the target's decoder) and
 * the compositing step (mask, colour transfer, warp back into the source frame, blend), the way
 * faceswap's convert and DeepFaceLab's merge do it.
 *
 * Words. A swap FROM face set A TO subject B keeps A's frames and puts B's face in them:
 * decoder_B(encoder(aligned face of A)). In provenance records (infer/provenance.h) the face put
 * in is the "source" (B) and the frame that receives it the "target" (A): swap_provenance fills
 * them that way.
 *
 *   SwapGate g;  swap_gate(&run, "sets/a", "synth-0002", NULL, NULL, &g, &err);   (refusal = -1)
 *   SwapOptions o; swap_options_default(&o);
 *   SwapResult r; swap_face(model, &ctx, g.target, &fs, i, &o, &r, &err);
 *   ProvenanceInfo pi; swap_provenance(&pi, &run, &g, model, &o, fs.faces[i].source, 1);
 *   provenance_write_png(path, &r.frame, &pi, &key, &err);  swap_result_free(&r);
 *
 * Sizes: the face set's crop C and the model's input S. C > S: the crop is resized down to S for
 * the model and the decoded face back up to C (the trainer fed the model the same resized crops).
 * C < S is refused (swap_check_sizes): the model would only see an upsampled, blurred face. */
#ifndef SL_SWAP_H
#define SL_SWAP_H

#include "data/consent.h"
#include "data/faceset.h"
#include "infer/colour.h"
#include "infer/provenance.h"
#include "nn/nn.h"
#include "train/run.h"
#include "train/swap_model.h"
#include "util/util.h"

typedef enum { SWAP_MASK_HULL = 0, SWAP_MASK_ERODE, SWAP_MASK_BLUR } SwapMaskMode;
typedef enum { SWAP_BLEND_ALPHA = 0, SWAP_BLEND_POISSON } SwapBlend;

typedef struct {
    SwapMaskMode mask;
    float mask_px;       /* N of erode:N / blur:N, pixels at crop scale */
    ColourMode colour;
    SwapBlend blend;
    int poisson_iters;   /* conjugate-gradient iterations at most (300) */
    float poisson_tol;   /* relative residual to stop at (1e-3) */
    char mask_str[32], blend_str[16]; /* canonical names, filled by the setters */
} SwapOptions;

#define SWAP_DEFAULT_MASK "blur:4"
/* mask blur:4, colour avg, blend alpha. */
void swap_options_default(SwapOptions *o);
/* "hull", "erode:N", "blur:N" (N a number 0..256); -1 with err otherwise. */
int swap_options_set_mask(SwapOptions *o, const char *s, SlErr *err);
/* "none", "avg", "reinhard", "hist". */
int swap_options_set_colour(SwapOptions *o, const char *s, SlErr *err);
/* "alpha", "poisson". */
int swap_options_set_blend(SwapOptions *o, const char *s, SlErr *err);

/* The face mask of a crop (C*C floats) shaped by the options: the landmark hull mask, eroded or
 * feathered. */
void swap_mask_apply(const SwapOptions *o, float *mask, int crop);

/* Refuses (-1 with err) a face set whose crop is smaller than the model's input size. */
int swap_check_sizes(const SwapModel *m, const FaceSet *fs, SlErr *err);

/* The model step for n faces: in [n, 3, C, C] (aligned crops, RGB [0,1]) -> out [n, 3, C, C],
 * decoded by decoders[target]. Resizes to and from the model's size when C != S. Eval mode. */
void swap_run_model(SwapModel *m, NnCtx *ctx, int target, const float *in, int n, int crop, float *out);

/* The compositing step: warps the swapped crop (C*C, planar RGB) and its mask into frame with the
 * inverse of a (frame -> crop), after the colour transfer (swapped made to match orig, the
 * aligned crop of the same face, inside the mask), and blends. *out is a new image (frame's size,
 * RGB). Only the bounding box of the warped crop is touched. Returns the Poisson iterations (0 for
 * alpha). */
int swap_composite(const Image *frame, const Affine *a, int crop, const float *orig, const float *swapped,
                   const float *mask, const SwapOptions *o, Image *out);

typedef struct {
    Image frame;   /* the composited frame (no label or watermark yet: provenance_write_png adds them) */
    Image raw;     /* the decoded face at crop size as the decoder made it (before colour transfer; RGB) */
    Image mask;    /* the mask used, at crop size (grey) */
    int iters;     /* Poisson iterations */
} SwapResult;

/* Everything for face i of fs: loads its crop and its frame, runs the model, composites. Refuses
 * (-1 with err) a face whose frame is not kept ("missing frames for compositing") or whose frame
 * does not load or has another size than recorded. */
int swap_face(SwapModel *m, NnCtx *ctx, int target, const FaceSet *fs, int i, const SwapOptions *o,
              SwapResult *r, SlErr *err);
/* The same after the model step, with the crop and the decoded face (C*C planar RGB each) given:
 * the dataset exporter and the CLI batch the model step and finish each face with this. */
int swap_finish_face(const FaceSet *fs, int i, const float *orig, const float *swapped, const SwapOptions *o,
                     SwapResult *r, SlErr *err);
void swap_result_free(SwapResult *r);
/* 0 when every face in [0, n) keeps its frame, else -1 naming the first one that does not. */
int swap_check_frames(const FaceSet *fs, int n, SlErr *err);

/* ---- the consent gate of a swap -------------------------------------------------------------- */
typedef struct {
    int target;            /* decoder index of the target subject in the model */
    ConsentInfo from;      /* the source face set's manifest (its frames receive the face) */
    ConsentInfo to;        /* the target subject's face set's manifest (its face is put in) */
    char from_dir[4096];
    char to_dir[4096];
} SwapGate;

/* Checks, in this order, refusing with a message naming the subject and the reason:
 *  - to_subject is one of the model's identities (else the list of them);
 *  - to_subject is not revoked (consent_is_revoked: 1 = revoked, -1 = list unreadable: refused);
 *  - the source set passes consent_check(from_dir, "swap") and its subject is not revoked;
 *  - the target's face set (to_faceset, else the path the model recorded at training; if neither
 *    exists: "pass --to-faceset") passes consent_check(..., "swap") and its subject is to_subject.
 * revocations: the list's path (NULL: the default). The target manifest must be the one the model
 * was trained under (same SHA-256; else a copied set relabelled with the target's pseudonym could
 * be swapped in), unless a coordinator of the lab policy signed it (a renewal: accepted with a
 * warning); the digest the model recorded must not be revoked either. */
int swap_gate(const RunInfo *run, const char *from_dir, const char *to_subject, const char *to_faceset,
              const char *revocations, SwapGate *g, SlErr *err);

/* Fills the provenance of one output (strings point into run, g, m, o and input, which must outlive
 * pi): model digest, face (g->to) as source, frame owner (g->from) as target, the preset, method
 * strings, the input frame's file name and the label switch. */
void swap_provenance(ProvenanceInfo *pi, const RunInfo *run, const SwapGate *g, const SwapModel *m,
                     const SwapOptions *o, const char *input, int label);

#endif
