/* score.c — a dataset's scores clean and under per-image and per-clip perturbations (score.h). */
#include "detect/score.h"

#include <stdlib.h>

#include "util/progress.h"
#include "util/rng.h"

/* Scores the m samples idx[0..m) (one piece of one clip, in order) under every perturbation. */
static int score_piece(DetModel *dm, const DetDataset *ds, const int *idx, int m, const RobustSpec *ps, int n_pert,
                       const SlRng *rng, float *scores, SlErr *err) {
    Image *im = xcalloc((size_t)m, sizeof *im), *c = xcalloc((size_t)m, sizeof *c);
    int loaded = 0, rc = 0;
    for (; loaded < m && !rc; loaded++)
        if (image_load(ds->s[idx[loaded]].path, 3, &im[loaded], err)) rc = -1;
    if (rc) loaded--;
    for (int k = 0; k < n_pert && !rc; k++) {
        for (int j = 0; j < m; j++) c[j] = image_clone(&im[j]);
        if (robust_is_per_clip(&ps[k])) {
            if (robust_h264(c, m, (int)ps[k].value, err)) {
                const DetSample *s = &ds->s[idx[0]];
                sl_failctx(err, "H.264 at CRF %d of %s %s", (int)ps[k].value, s->clip ? "clip" : "image",
                           s->clip ? s->clip : s->path);
                rc = -1;
            }
        } else {
            for (int j = 0; j < m; j++) {
                SlRng r = sl_rng_fork(rng, ((uint64_t)idx[j] << 6) | (uint64_t)k);
                robust_apply(&c[j], &ps[k], &r);
            }
        }
        for (int j = 0; j < m; j++) {
            if (!rc) scores[(size_t)k * ds->n + idx[j]] = det_model_logit(dm, &c[j]);
            image_free(&c[j]);
        }
    }
    for (int j = 0; j < loaded; j++) image_free(&im[j]);
    free(im), free(c);
    return rc;
}

int det_score_dataset(DetModel *dm, const DetDataset *ds, const RobustSpec *ps, int n_pert, uint64_t seed,
                      int progress, float *scores, SlErr *err) {
    const int n = ds->n;
    int has_clip = 0, per_clip = 0;
    for (int i = 0; i < n; i++) has_clip |= ds->s[i].clip != NULL;
    for (int k = 0; k < n_pert; k++) per_clip |= robust_is_per_clip(&ps[k]);
    /* order: the samples of each clip together, in dataset order within a clip */
    int *order, *start, n_clips;
    if (has_clip && per_clip) {
        n_clips = detds_clip_order(ds, &order, &start);
    } else {
        n_clips = n;
        order = xmalloc((size_t)(n ? n : 1) * sizeof *order), start = xmalloc(((size_t)n + 1) * sizeof *start);
        for (int i = 0; i <= n; i++) start[i] = i;
        for (int i = 0; i < n; i++) order[i] = i;
    }
    SlRng rng;
    sl_rng_seed(&rng, seed);
    SlProgress pr;
    if (progress) sl_progress_begin(&pr, "scoring", n);
    int rc = 0, done = 0;
    for (int c = 0; c < n_clips && !rc; c++)
        for (int a = start[c]; a < start[c + 1] && !rc; a += DET_SCORE_CLIP_FRAMES) {
            int m = start[c + 1] - a < DET_SCORE_CLIP_FRAMES ? start[c + 1] - a : DET_SCORE_CLIP_FRAMES;
            rc = score_piece(dm, ds, order + a, m, ps, n_pert, &rng, scores, err);
            done += m;
            if (progress) sl_progress_update(&pr, done, NULL);
        }
    if (progress) sl_progress_end(&pr, NULL);
    free(order), free(start);
    return rc;
}
