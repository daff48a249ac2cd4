/* swap.h — face swapping as a library (`swaplab swap` and the dataset exporter both use it): the
 * consent gate of a swap, the model step (encode a face, decode it with the source identity's
 * decoder) and the compositing step (mask, colour transfer, warp back into the target's frame, blend), the way
 * faceswap's convert and DeepFaceLab's merge do it.
 *
 * Words. A swap FROM face set A TO subject B keeps A's frames and puts B's face in them:
 * decoder_B(encoder(aligned face of A)). Everywhere (provenance, XMP, labels.csv, docs/FORMATS.md)
 * the face put in is the SOURCE (B) and the person in the frame the TARGET (A), as in
 * FaceForensics++ and DeepFaceLab. (In the code below, g.target is the decoder index of B, the
 * model's identity to decode with.)
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
#include "infer/mask.h"
#include "infer/provenance.h"
#include "nn/nn.h"
#include "model/run.h"
#include "model/swap_model.h"
#include "infer/frame_metrics.h"
#include "util/util.h"

typedef enum { SWAP_BLEND_ALPHA = 0, SWAP_BLEND_POISSON } SwapBlend;

typedef struct {
    MaskSpec mask;       /* infer/mask.h */
    ColourMode colour;
    float colour_amount; /* how far the transfer moves the face, 0..1 (1 = all the way; "rct:0.25") */
    SwapBlend blend;
    float detail;        /* the frame's grain kept under the face: sigma (frame pixels) of the Gaussian
                          * whose high-pass of the frame is added to the decoded face; 0 = off */
    int poisson_iters;   /* conjugate-gradient iterations at most (300) */
    float poisson_tol;   /* relative residual to stop at (1e-3) */
    /* Colour statistics to use instead of measuring them (a video path smooths them over time):
     * when both are set, the decoded face is moved from colour_from to colour_to (colour_apply);
     * NULL (the default): measured on the decoded face and the face it replaces, inside the mask. */
    const ColourStats *colour_from, *colour_to;
    char mask_str[32], colour_str[16], blend_str[16]; /* canonical names, filled by the setters */
} SwapOptions;

/* The defaults, chosen by measurement on composited frames against the ground truth
 * (docs/PERFORMANCE.md, "Swap compositing"). */
#define SWAP_DEFAULT_MASK MASK_DEFAULT
#define SWAP_DEFAULT_COLOUR "rct:0.25"
#define SWAP_DEFAULT_BLEND "alpha"
#define SWAP_DEFAULT_DETAIL 1.0f
void swap_options_default(SwapOptions *o);
/* Grain transfer, 0..4 (Gaussian sigma in frame pixels; 0 = off); -1 with err otherwise. */
int swap_options_set_detail(SwapOptions *o, double d, SlErr *err);
/* A mask spelling of infer/mask.h ("face", "face:E,F", "hull", "hull:E,F", "learned", "learned:E,F",
 * "erode:N", "blur:N"); -1 with err otherwise. A learned mask also needs a model with a mask channel
 * (swap_check_mask). */
int swap_options_set_mask(SwapOptions *o, const char *s, SlErr *err);
/* "none", "avg", "rct" (or "reinhard"), "lct", "hist", each but none optionally with ":AMOUNT", the
 * part of the transfer applied, 0.001 to 1 in thousandths (rounded; "rct:0.25": a quarter of the way
 * to the frame's colour; colour_mix); -1 with err otherwise, the options unchanged. colour_str gets
 * the canonical spelling ("rct", "rct:0.25"), which parses back to the same options. */
int swap_options_set_colour(SwapOptions *o, const char *s, SlErr *err);
/* "alpha", "poisson". */
int swap_options_set_blend(SwapOptions *o, const char *s, SlErr *err);

/* The face mask of face i's crop (C*C floats) by the options: its shape from the landmarks lm (crop
 * pixels) or, for a learned mask, the decoder's mask of the swapped face (learned, C*C floats; NULL
 * for the other masks), eroded and feathered. */
void swap_face_mask(const SwapOptions *o, const float lm[68][2], const float *learned, int crop, float *mask);
/* Refuses (-1 with err naming model_path, when not NULL) a learned mask with a model that has no
 * mask channel (not trained with --learn-mask); 0 otherwise. */
int swap_check_mask(const SwapModel *m, const SwapOptions *o, const char *model_path, SlErr *err);
/* Erodes and feathers an existing mask (C*C floats) by the options; the face size for relative
 * margins is taken from the mask's own area. */
void swap_mask_apply(const SwapOptions *o, float *mask, int crop);

/* The colour statistics the compositing step measures (for a video path to smooth over time, then
 * pass back through o->colour_from/colour_to): of the decoded face (from) and of the aligned crop it
 * replaces (to), both inside mask (C*C). -1 when the mask selects no pixel. */
int swap_colour_stats(const float *orig, const float *swapped, const float *mask, int crop, ColourStats *from,
                      ColourStats *to);

/* Refuses (-1 with err) a face set whose crop is smaller than the model's input size. */
int swap_check_sizes(const SwapModel *m, const FaceSet *fs, SlErr *err);

/* The model step for n faces: in [n, 3, C, C] (aligned crops, RGB [0,1]) -> out [n, 3, C, C],
 * decoded by decoders[target]. Resizes to and from the model's size when C != S. Eval mode. */
void swap_run_model(SwapModel *m, NnCtx *ctx, int target, const float *in, int n, int crop, float *out);
/* The same, also giving the decoder's learned mask of each swapped face in mask [n, C, C] (resized
 * like the face) when mask is not NULL; the model must have a mask channel then. */
void swap_run_model_mask(SwapModel *m, NnCtx *ctx, int target, const float *in, int n, int crop, float *out,
                         float *mask);

/* The compositing step: warps the swapped crop (C*C, planar RGB) and its mask into frame with the
 * inverse of a (frame -> crop), after the colour transfer (swapped made to match orig, the
 * aligned crop of the same face, inside the mask), and blends. *out is a new image (frame's size,
 * RGB). Only the bounding box of the warped crop is touched. Returns the Poisson iterations (0 for
 * alpha). */
int swap_composite(const Image *frame, const Affine *a, int crop, const float *orig, const float *swapped,
                   const float *mask, const SwapOptions *o, Image *out);
/* The same, also giving the mask as blended into the frame (frame->w * frame->h floats, 0 outside
 * the crop's footprint) in frame_mask when it is not NULL. */
int swap_composite_mask(const Image *frame, const Affine *a, int crop, const float *orig, const float *swapped,
                        const float *mask, const SwapOptions *o, Image *out, float *frame_mask);

typedef struct {
    Image frame;   /* the composited frame (no label or watermark yet: provenance_write_png adds them) */
    Image raw;     /* the decoded face at crop size as the decoder made it (before colour transfer; RGB) */
    Image mask;    /* the mask used, at crop size (grey) */
    float *frame_mask; /* the mask as blended into the frame (frame.w * frame.h floats) */
    int iters;     /* Poisson iterations */
} SwapResult;

/* Everything for face i of fs: loads its crop and its frame, runs the model, composites. Refuses
 * (-1 with err) a face whose frame is not kept ("missing frames for compositing") or whose frame
 * does not load or has another size than recorded. */
int swap_face(SwapModel *m, NnCtx *ctx, int target, const FaceSet *fs, int i, const SwapOptions *o,
              SwapResult *r, SlErr *err);
/* The same after the model step, with the crop and the decoded face (C*C planar RGB each) given,
 * and the decoder's mask (C*C; needed by a learned mask, else NULL): the dataset exporter and the
 * CLI batch the model step and finish each face with this. */
int swap_finish_face(const FaceSet *fs, int i, const float *orig, const float *swapped, const float *learned,
                     const SwapOptions *o, SwapResult *r, SlErr *err);
void swap_result_free(SwapResult *r);

/* ---- the one swap runner of `swap` and `dataset` ------------------------------------------------
 * Swaps the faces idx[0..n) of fs (ascending or not) to the model identity `target`: the crops go
 * through the model SWAP_BATCH at a time (on ctx's device), then each face is composited into its
 * frame with o (swap_finish_face) and handed to done(face, &r, user, err), which must not keep r
 * (it is freed after the call). A face that cannot be read or composited goes to skip(face, why,
 * user) and the run goes on; with skip NULL it stops the run (-1 with err). done returning non-zero
 * stops the run too (-1; done fills err). Returns 0 when every face went to done or skip. */
#define SWAP_BATCH 8
typedef int (*SwapFaceDone)(int face, SwapResult *r, void *user, SlErr *err);
typedef void (*SwapFaceSkip)(int face, const SlErr *why, void *user);
int swap_faces(SwapModel *m, NnCtx *ctx, int target, const FaceSet *fs, const int *idx, int n, const SwapOptions *o,
               SwapFaceDone done, SwapFaceSkip skip, void *user, SlErr *err);
/* 0 when every face in [0, n) keeps its frame, else -1 naming the first one that does not. */
int swap_check_frames(const FaceSet *fs, int n, SlErr *err);

/* Composited-frame fidelity (train/fidelity.h, FrameReport) for every ordered pair of sets (the
 * model's identities, in order; nsets = m->n_ids): each evaluation face of A (the held-out ones by
 * faceset_is_heldout, else the first ones; at most max_faces) swapped to B with the options o,
 * measured against A's own frame and, for synthetic sets, the ground-truth frame
 * (data/groundtruth.h). -1 with err for a set whose crops are smaller than the model's input, a
 * missing frame or an unreadable file. */
int swap_eval_frames(SwapModel *m, NnCtx *ctx, const FaceSet *sets, int nsets, const SwapOptions *o, int holdout_every,
                     int max_faces, FrameReport *r, SlErr *err);

/* ---- the consent gate of a swap -------------------------------------------------------------- */
typedef struct {
    int target;            /* decoder index of the --to subject in the model (the SOURCE identity) */
    ConsentInfo from;      /* the --from face set's manifest: the TARGET, its frames receive the face */
    ConsentInfo to;        /* the --to subject's face set's manifest: the SOURCE, its face is put in */
    char from_dir[SL_PATH_MAX];
    char to_dir[SL_PATH_MAX];
} SwapGate;

/* Checks, in this order, refusing with a message naming the subject and the reason:
 *  - to_subject is one of the model's identities (else the list of them);
 *  - to_subject is not revoked (consent_is_revoked: 1 = revoked, -1 = list unreadable: refused);
 *  - the --from set (the target's frames) passes consent_check(from_dir, "swap") and its subject
 *    is not revoked;
 *  - the --to subject's face set (to_faceset, else the path the model recorded at training; if
 *    neither exists: "pass --to-faceset") passes consent_check(..., "swap") and its subject is
 *    to_subject. revocations: the list's path (NULL: the default). The --to manifest must be the one
 *    the model was trained under (same SHA-256; else a copied set relabelled with the source's
 *    pseudonym could be swapped in), unless a coordinator of the lab policy signed it (a renewal:
 *    accepted with a warning); the digest the model recorded must not be revoked either. */
int swap_gate(const RunInfo *run, const char *from_dir, const char *to_subject, const char *to_faceset,
              const char *revocations, SwapGate *g, SlErr *err);

/* Fills the provenance of one output (strings point into run, g, m, o and input, which must outlive
 * pi): model digest, the face inserted (g->to) as source, the person in the frame (g->from, and its
 * kind and face set folder) as target, the preset, method strings, the frame's file name and the
 * label switch. */
void swap_provenance(ProvenanceInfo *pi, const RunInfo *run, const SwapGate *g, const SwapModel *m,
                     const SwapOptions *o, const char *input, int label);

#endif
