/* dataset.h — reading a detector dataset directory, for `swaplab detect train|eval`.
 *
 * Two layouts are accepted:
 *  1. DIR/labels.csv (as `swaplab dataset` writes it): a header row naming the columns, then one row
 *     per image. Used columns (by name, any order, others ignored): "path" (relative to DIR; no
 *     absolute paths, no ".." components), "label" (0/1 or real/fake), optional "source" (the
 *     source identity — the bootstrap group; "subject" is accepted too), optional "split"
 *     (train/val/test), optional "method" (the kind of sample, e.g. original, swap, sbi: detect train
 *     draws each kind of fake equally often), optional "clip" (for clip-level evaluation) and optional "time" (the frame's
 *     time in its clip, for detect eval --temporal). RFC 4180 quoting ("a,b", "" for a quote) is understood.
 *  2. ImageFolder: images (.png .jpg .jpeg .bmp) in DIR/real/ and DIR/fake/; every image is its own
 *     group (a warning says the intervals then treat frames as independent).
 * Groups are numbered 0..n_groups-1 in ascending order of their names. */
#ifndef SL_DETECT_DATASET_H
#define SL_DETECT_DATASET_H

#include "util/util.h"

#define DETDS_MAX_CSV (256u << 20)

typedef struct {
    char *path; /* DIR joined with the relative path */
    int label;  /* 0 real, 1 fake */
    int group;  /* index into groups */
    char split[8]; /* "train", "val", "test" or "" */
    char method[16]; /* labels.csv "method" (original, swap, sbi, ...), or "" */
    char *clip;    /* labels.csv "clip" (the video or clip the frame belongs to), or NULL */
    double time;   /* labels.csv "time" (seconds from the clip's start), NaN when absent or empty */
    int rel_off;   /* path + rel_off is the path relative to the dataset directory */
    char *frame_key; /* labels.csv "target" and "frame" (the frame a sample was cut from and whose person
                      * owns it: a real sample, its self-blended image and every swap into it share it),
                      * or NULL when either is absent or empty */
} DetSample;

typedef struct {
    DetSample *s;
    int n;
    char **groups; /* n_groups names */
    int n_groups;
    int from_csv;
} DetDataset;

/* Loads DIR; split = NULL keeps every row, else only rows of that split (ImageFolder has no splits:
 * split must be NULL or "all" there). -1 with err naming the file and line on bad input, or when
 * nothing is left. */
int detds_load(const char *dir, const char *split, DetDataset *ds, SlErr *err);
void detds_free(DetDataset *ds);
/* Scores of an external detector, for `swaplab detect eval --scores-in`: a CSV with a header naming
 * the columns "score" (P(fake) or any fake-high score), "label" (0/1/real/fake) and optionally
 * "source" or "group" (the identity, for the bootstrap; absent: every row its own group). Arrays
 * are malloc'ed; group ids are 0..n_groups-1 by ascending name. -1 with err naming file and line. */
int detds_load_scores(const char *csv, float **scores, int **labels, int **groups, int *n, int *n_groups,
                      SlErr *err);
/* For each sample i, pair[i] receives the index of a real sample with the same frame_key (the real
 * frame a fake was made from, or i itself for a real), or -1 when there is none. malloc'ed. */
int *detds_pairs(const DetDataset *ds);
/* Tries to read every image once; each unreadable one (corrupt, truncated, not an image) is
 * reported on stderr (the first few by name) and removed, so a run goes on without it. Returns the
 * number removed. */
int detds_drop_unreadable(DetDataset *ds);
/* Clip-level view: the samples grouped by clip (samples without one are their own clip). clip_of
 * [ds->n] receives each sample's clip index 0..n_clips-1 (clips in ascending name order). Returns
 * n_clips. */
int detds_clips(const DetDataset *ds, int *clip_of);
/* The samples clip by clip: order[start[c] .. start[c + 1]) are clip c's samples (clips as
 * detds_clips), in dataset order within a clip. *order [ds->n] and *start [n_clips + 1] are
 * malloc'ed. Returns n_clips. */
int detds_clip_order(const DetDataset *ds, int **order, int **start);
/* Counts of each label. */
void detds_counts(const DetDataset *ds, int *n_real, int *n_fake);

#endif
