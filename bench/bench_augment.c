/* bench_augment.c — throughput of the training augmentation (data/augment.h) on one core: the
 * full default pipeline (warp + rotation/scale/shift + flip + L*a*b* jitter, input + target +
 * mask plane) at 64x64, 128x128 and 256x256. Prints the Markdown table of docs/PERFORMANCE.md
 * ("Augmentation"): images per second of one thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so a
 * loaded machine does not distort it.
 *
 *   build/bench/bench_augment [--seconds S]    (default 1 second per size) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/augment.h"
#include "util/util.h"

/* CPU time of this thread: the figure stays meaningful on a shared, loaded machine. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double run(int s, const AugmentOpts *o, double seconds, int nplanes) {
    size_t n = 3 * (size_t)s * s;
    float *img = xmalloc(n * sizeof(float)), *in = xmalloc(n * sizeof(float)), *tg = xmalloc(n * sizeof(float));
    float *pl = xmalloc(n * sizeof(float)), *po = xmalloc(n * sizeof(float));
    SlRng r;
    sl_rng_seed(&r, 7);
    for (size_t i = 0; i < n; i++) img[i] = sl_rng_uniform(&r), pl[i] = sl_rng_uniform(&r);
    Augmenter a;
    augment_init(&a, o, s);
    augment_apply(&a, &r, img, pl, nplanes, in, tg, po); /* warm-up */
    long count = 0;
    double t0 = cpu_now(), t;
    float sink = 0;
    do {
        for (int k = 0; k < 16; k++, count++) {
            augment_apply(&a, &r, img, pl, nplanes, in, tg, po);
            sink += in[count % n];
        }
        t = cpu_now() - t0;
    } while (t < seconds);
    if (sink == -1) printf(" ");
    augment_free(&a);
    free(img), free(in), free(tg), free(pl), free(po);
    return count / t;
}

int main(int argc, char **argv) {
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_augment [--seconds S]\n");
            return 2;
        }
    }
    AugmentOpts full = augment_defaults(), geo = augment_defaults();
    geo.jitter_l = geo.jitter_ab = 0;
    printf("### Augmentation (images per CPU-second of one thread)\n\n");
    printf("| crop | full pipeline + 2 mask planes | full, no planes | no colour jitter |\n| --- | --- | --- | --- |\n");
    int sizes[3] = {64, 128, 256};
    for (int i = 0; i < 3; i++) {
        int s = sizes[i];
        printf("| %dx%d | %.0f | %.0f | %.0f |\n", s, s, run(s, &full, seconds, 2), run(s, &full, seconds, 0),
               run(s, &geo, seconds, 0));
        fflush(stdout);
    }
    return 0;
}
