/* export.h — the pieces of `swaplab dataset` (dataset/build.c) that are worth testing alone:
 * identity splits (by identity, never by frame, deterministic from the seed), the pairs swapped
 * inside a split, the face-centred box that crops real and fake samples alike, and CSV quoting.
 * Format of the dataset: docs/FORMATS.md "Detector dataset". Layout as torchvision's ImageFolder:
 * https://pytorch.org/vision/stable/generated/torchvision.datasets.ImageFolder.html
 *
 *   double f[3]; dsx_parse_splits("70/15/15", f, &err);
 *   int split[6]; dsx_assign_splits(6, f, seed, split, &err);   // identities in sorted order
 *   int np; DsxPair *p = dsx_pairs(6, split, &np);               // both directions, same split */
#ifndef SL_DATASET_EXPORT_H
#define SL_DATASET_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "data/align.h"
#include "data/image.h"
#include "util/util.h"

enum { DSX_TRAIN = 0, DSX_VAL = 1, DSX_TEST = 2, DSX_NSPLITS = 3 };
#define DSX_MIN_PER_SPLIT 2 /* identities train and test each need at least */

/* "train", "val", "test". */
const char *dsx_split_name(int split);

/* "70/15/15" (three non-negative numbers, any scale, e.g. "0.7/0.15/0.15") -> fractions summing to
 * 1. Refuses (-1 with err) another shape, negatives, or a zero share for any split: a dataset
 * always has a validation split (the detector's threshold is chosen there). */
int dsx_parse_splits(const char *s, double frac[3], SlErr *err);

/* The split of each of n identities (given in a canonical order, e.g. sorted by subject): the order
 * is shuffled with seed, then the first identities go to test, the next to val, the rest to train.
 * Counts: test = max(2, round(frac_test * n)), val = max(2, round(frac_val * n)), train = the rest;
 * when train would get fewer than 2, val gives identities up first, then test (each down to 2).
 * Every split has >= 2 identities (one identity has no partner to swap with). Refuses (-1 with err)
 * n < 6. Deterministic: the same n, fractions and seed give the same assignment. counts (may be
 * NULL) receives the identities per split. */
int dsx_assign_splits(int n, const double frac[3], uint64_t seed, int *split, int counts[3], SlErr *err);

/* An ordered pair of identities: the frames of `from` receive the face of `to`. */
typedef struct {
    int from, to;
} DsxPair;

/* Every ordered pair (a, b), a != b, with split[a] == split[b]: both directions, never across
 * splits. Sorted by (from, to). Returns a malloc'ed array (NULL when *n is 0). */
DsxPair *dsx_pairs(int n_ids, const int *split, int *n);

/* The partner (index into the list of the other identities of its split, 0..k-2) that face number
 * j (0-based among the identity's chosen faces) of identity `id` is swapped with: round robin,
 * started at a different partner for each identity, so that each pair gets an equal share (+-1). */
int dsx_partner(int id, int j, int k_others);

/* The box of a sample: the face's frame -> crop affine (crop side `crop`) scaled to `size`, so the
 * output shows exactly what the aligned crop shows, at size x size. */
void dsx_face_box(const Affine *face, int crop, int size, Affine *box);

/* Crops frame (RGB) by box into a new size x size RGB image (bilinear, replicated border). Real and
 * fake samples both go through this, from the original / the composited frame. */
void dsx_crop(const Image *frame, const Affine *box, int size, Image *out);

/* Writes s as one CSV field (RFC 4180: quoted when it holds a comma, quote or line break). */
void dsx_csv_field(FILE *f, const char *s);

/* s with every byte outside [A-Za-z0-9._-] replaced by '_' (out of n bytes), for file names. */
void dsx_safe_name(char *out, size_t n, const char *s);

/* ---- face sets from video (faces.jsonl clip records) -------------------------------------- */
#define DSX_DEFAULT_FRAMES_PER_CLIP 32 /* DeepfakeBench's frame_num: frames sampled per video */
#define DSX_MAX_VERSIONS 4

/* k of n items evenly spaced (as DeepfakeBench samples a video's frames): out[j] =
 * floor((2j + 1) n / 2k), increasing, for j < min(k, n); all n when k <= 0 or k >= n. Returns how
 * many were written. */
int dsx_sample_evenly(int n, int k, int *out);

/* One clip of one identity: its SHA-256 (faces.jsonl "clip".sha256) and the identity's index. */
typedef struct {
    const char *sha256, *path;
    int id;
} DsxClip;

/* Refuses (-1 with err naming the clip and both subjects) a clip that belongs to identities in
 * different splits (the same video on both sides of a split, e.g. a clip with two volunteers);
 * subjects[id] names the identities. Identities follow their split, clips follow their identity. */
int dsx_check_clip_splits(const DsxClip *clips, int n, const int *split, const char *const *subjects, SlErr *err);

/* "c23,c40" (FaceForensics++'s names: cN = H.264 at CRF N, 0..51; at most DSX_MAX_VERSIONS, no
 * repeats) -> crf[]; "" or "none" -> 0 versions. Returns the count, or -1 with err. */
int dsx_parse_versions(const char *s, int crf[DSX_MAX_VERSIONS], SlErr *err);

#endif
