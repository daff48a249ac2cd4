/* fuzz_labels_csv.c — libFuzzer harness: a detector dataset's labels.csv (detect/dataset.h
 * detds_load, every split and none) and the same bytes as an external detector's score CSV
 * (detds_load_scores). */
#include <stdlib.h>
#include <string.h>

#include "detect/dataset.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_write("ds/labels.csv", data, size);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ds", fuzz_dir());
    static const char *const splits[] = {NULL, "train", "test"};
    for (int s = 0; s < 3; s++) {
        DetDataset ds;
        SlErr err;
        if (detds_load(dir, splits[s], &ds, &err) == 0) {
            int r, f;
            detds_counts(&ds, &r, &f);
            if (r + f != ds.n) abort();
            for (int i = 0; i < ds.n; i++)
                if (ds.s[i].group < 0 || ds.s[i].group >= ds.n_groups) abort();
            int *pair = detds_pairs(&ds); /* a pair is a real sample with the same frame key */
            for (int i = 0; i < ds.n; i++) {
                int j = pair[i];
                if (j < -1 || j >= ds.n) abort();
                if (j >= 0 && (ds.s[j].label || !ds.s[i].frame_key || strcmp(ds.s[i].frame_key, ds.s[j].frame_key)))
                    abort();
            }
            free(pair);
            detds_free(&ds);
        }
    }
    float *scores;
    int *labels, *groups, n, ng;
    SlErr err;
    if (detds_load_scores(p, &scores, &labels, &groups, &n, &ng, &err) == 0) {
        for (int i = 0; i < n; i++)
            if (groups[i] < 0 || groups[i] >= ng || (labels[i] != 0 && labels[i] != 1)) abort();
        free(scores), free(labels), free(groups);
    }
    return 0;
}
