/* bench_extract.c — speed of face detection and landmarks on the 400x400 fixture photos
 * (tests/fixtures/faces): model loading, Haar detection (both cascades; OpenCV 4.6's parameters)
 * and the 68-point predictor per face. Prints the Markdown table of docs/PERFORMANCE.md ("Face
 * detection and landmarks"), in milliseconds of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
 * so a loaded machine does not distort it; model loading is wall time (it is mostly I/O).
 *
 *   build/bench/bench_extract [--rounds N]    (default 3 passes over the 16 photos) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/haar.h"
#include "data/image.h"
#include "data/landmarks.h"
#include "util/fs.h"
#include "util/util.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    int rounds = 3;
    if (argc == 3 && strcmp(argv[1], "--rounds") == 0) rounds = atoi(argv[2]);
    if (rounds < 1) rounds = 1;
    SlErr err;
    const char *dir = "tests/fixtures/faces";
    Image imgs[16];
    uint8_t *grey[16], *inten[16];
    int n = 0;
    for (int i = 1; i <= 8; i++)
        for (int s = 0; s < 2; s++) {
            char p[256];
            snprintf(p, sizeof p, "%s/london_%03d_%s.png", dir, i, s ? "smiling" : "neutral");
            if (image_load(p, 3, &imgs[n], &err)) {
                fprintf(stderr, "bench_extract: %s (run from the repository root)\n", err.msg);
                return 1;
            }
            grey[n] = haar_grey_from_image(&imgs[n]);
            inten[n] = lm_intensity_from_image(&imgs[n]);
            n++;
        }
    HaarCascade *hc[2];
    double t0 = sl_now();
    for (int m = 0; m < 2; m++)
        if (haar_load(haar_default_path((HaarModel)m), &hc[m], &err)) {
            fprintf(stderr, "bench_extract: %s\n", err.msg);
            return 1;
        }
    double t_haar_load = (sl_now() - t0) / 2;
    LmModel *lm;
    t0 = sl_now();
    if (lm_load(lm_default_path(), &lm, &err)) {
        fprintf(stderr, "bench_extract: %s\n", err.msg);
        return 1;
    }
    double t_lm_load = sl_now() - t0;

    HaarParams p = haar_params_default();
    double t_det[2] = {0, 0}, t_lm = 0;
    long nfaces = 0;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            HaarBox *b[2];
            int nb[2];
            for (int m = 0; m < 2; m++) {
                double c0 = cpu_now();
                nb[m] = haar_detect(hc[m], grey[i], imgs[i].w, imgs[i].h, &p, &b[m]);
                t_det[m] += cpu_now() - c0;
            }
            double xy[136];
            double c0 = cpu_now();
            for (int k = 0; k < nb[0]; k++) {
                LmRect box = lm_rect_from_haar(b[0][k].x, b[0][k].y, b[0][k].w, b[0][k].h);
                lm_predict(lm, inten[i], imgs[i].w, imgs[i].h, box, xy);
                nfaces++;
            }
            t_lm += cpu_now() - c0;
            free(b[0]);
            free(b[1]);
        }
    long nimg = (long)rounds * n;
    double det0 = 1e3 * t_det[0] / nimg, det1 = 1e3 * t_det[1] / nimg, lmf = 1e3 * t_lm / nfaces;
    printf("| step (400x400 photo, one thread) | time |\n| --- | ---: |\n");
    printf("| load haarcascade_frontalface_default.xml / alt2 (mean, wall) | %.0f ms |\n", 1e3 * t_haar_load);
    printf("| load shape_predictor_68_face_landmarks.dat (wall) | %.0f ms |\n", 1e3 * t_lm_load);
    printf("| Haar detection, default cascade | %.1f ms/image |\n", det0);
    printf("| Haar detection, alt2 cascade | %.1f ms/image |\n", det1);
    printf("| 68 landmarks | %.2f ms/face |\n", lmf);
    printf("| detection (default) + landmarks of every face | %.1f ms/image |\n", det0 + 1e3 * t_lm / nimg);
    printf("\n%ld images, %ld faces, %d rounds\n", nimg, nfaces, rounds);
    for (int i = 0; i < n; i++) {
        image_free(&imgs[i]);
        free(grey[i]);
        free(inten[i]);
    }
    haar_free(hc[0]);
    haar_free(hc[1]);
    lm_free(lm);
    return 0;
}
