/* bench_extract.c — speed of face detection and landmarks on the 400x400 fixture photos
 * (tests/fixtures/faces): model loading, Haar detection (both cascades; OpenCV 4.6's parameters)
 * and the 68-point predictor per face. Prints the Markdown table of docs/PERFORMANCE.md ("Face
 * detection and landmarks"), in milliseconds of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
 * so a loaded machine does not distort it; model loading is wall time (it is mostly I/O).
 *
 * With --synth N it instead renders N synthetic volunteers (data/synth/synth.h: random identity,
 * synth_frame_neutral: frontal, neutral, even light) at 256x256 and reports how often the default
 * cascade finds the face, and the landmark error against the renderer's exact landmarks
 * (docs/PERFORMANCE.md, "Haar detection on synthetic volunteers").
 *
 *   build/bench/bench_extract [--rounds N]    (default 3 passes over the 16 photos)
 *   build/bench/bench_extract --synth N       (e.g. 200) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include "data/haar.h"
#include "data/image.h"
#include "data/landmarks.h"
#include "data/synth/synth.h"
#include "util/fs.h"
#include "util/util.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Detection rate and landmark error on frontal synthetic faces. */
static int synth_check(int n) {
    SlErr err;
    HaarCascade *hc[2];
    LmModel *lm;
    for (int m = 0; m < 2; m++)
        if (haar_load(haar_default_path((HaarModel)m), &hc[m], &err)) {
            fprintf(stderr, "bench_extract: %s\n", err.msg);
            return 1;
        }
    if (lm_load(lm_default_path(), &lm, &err)) {
        fprintf(stderr, "bench_extract: %s\n", err.msg);
        return 1;
    }
    HaarParams p = haar_params_default();
    int found[2] = {0, 0}, extra[2] = {0, 0}, nlm = 0, tone_n[3] = {0, 0, 0}, tone_hit[3] = {0, 0, 0};
    double err_sum = 0, err_io = 0;
    static const char *region[5] = {"jaw 0-16", "brows 17-26", "nose 27-35", "eyes 36-47", "mouth 48-67"};
    static const int rlo[5] = {0, 17, 27, 36, 48}, rhi[5] = {17, 27, 36, 48, 68};
    double rsum[5] = {0}, rdx[5] = {0}, rdy[5] = {0};
    int rcnt[5] = {0};
    for (int i = 0; i < n; i++) {
        SlRng rng;
        sl_rng_seed(&rng, 1000 + (uint64_t)i);
        SynthIdentity id;
        SynthFrame fr;
        synth_identity_random(&id, &rng);
        synth_frame_neutral(&fr);
        Image img;
        float gt[68][2];
        synth_render(&id, &id, &fr, 256, &img, gt);
        float x0 = 1e9f, x1 = -1e9f, y0 = 1e9f, y1 = -1e9f;
        for (int k = 0; k < 68; k++) {
            if (gt[k][0] < x0) x0 = gt[k][0];
            if (gt[k][0] > x1) x1 = gt[k][0];
            if (gt[k][1] < y0) y0 = gt[k][1];
            if (gt[k][1] > y1) y1 = gt[k][1];
        }
        uint8_t *g = haar_grey_from_image(&img);
        for (int m = 0; m < 2; m++) {
            HaarBox *b;
            int nb = haar_detect(hc[m], g, img.w, img.h, &p, &b);
            int hit = -1;
            for (int k = 0; k < nb; k++) {
                float cx = b[k].x + b[k].w / 2.f, cy = b[k].y + b[k].h / 2.f;
                if (cx > x0 && cx < x1 && cy > y0 && cy < y1 && (hit < 0 || b[k].w > b[hit].w)) hit = k;
            }
            if (hit >= 0) found[m]++;
            if (m == 0) {
                float L = 0.299f * id.skin_rgb[0] + 0.587f * id.skin_rgb[1] + 0.114f * id.skin_rgb[2];
                int t = L < 0.35f ? 0 : L < 0.6f ? 1 : 2;
                tone_n[t]++;
                tone_hit[t] += hit >= 0;
            }
            extra[m] += nb - (hit >= 0);
            if (m == 0 && hit >= 0) {
                uint8_t *in = lm_intensity_from_image(&img);
                double xy[136];
                lm_predict(lm, in, img.w, img.h, lm_rect_from_haar(b[hit].x, b[hit].y, b[hit].w, b[hit].h), xy);
                double io = hypot((gt[36][0] + gt[39][0] - gt[42][0] - gt[45][0]) / 2, (gt[36][1] + gt[39][1] - gt[42][1] - gt[45][1]) / 2);
                double e = 0;
                for (int k = 0; k < 68; k++) e += hypot(xy[2 * k] + 0.5 - gt[k][0], xy[2 * k + 1] + 0.5 - gt[k][1]);
                for (int q = 0; q < 5; q++)
                    for (int k = rlo[q]; k < rhi[q]; k++) {
                        double dx = xy[2 * k] + 0.5 - gt[k][0], dy = xy[2 * k + 1] + 0.5 - gt[k][1];
                        rsum[q] += hypot(dx, dy), rdx[q] += dx, rdy[q] += dy, rcnt[q]++;
                    }
                err_sum += e / 68;
                err_io += e / 68 / io;
                nlm++;
                free(in);
            }
            free(b);
        }
        free(g);
        image_free(&img);
    }
    printf("| synthetic volunteers (frontal, neutral, 256x256) | default cascade | alt2 cascade |\n| --- | ---: | ---: |\n");
    printf("| faces found | %d/%d (%.0f%%) | %d/%d (%.0f%%) |\n", found[0], n, 100.0 * found[0] / n, found[1], n, 100.0 * found[1] / n);
    printf("| other boxes (false positives) | %d | %d |\n", extra[0], extra[1]);
    printf("\nby skin tone (default cascade; luminance of skin_rgb): dark (< 0.35) %d/%d, medium %d/%d, light (>= 0.6) %d/%d\n",
           tone_hit[0], tone_n[0], tone_hit[1], tone_n[1], tone_hit[2], tone_n[2]);
    for (int q = 0; nlm && q < 5; q++)
        printf("  %-12s mean %.2f px, bias dx %+.2f dy %+.2f px\n", region[q], rsum[q] / rcnt[q], rdx[q] / rcnt[q], rdy[q] / rcnt[q]);
    if (nlm)
        printf("\nlandmarks on the found faces (default cascade, calibrated box) vs the renderer's: mean %.2f px, %.1f%% of the inter-ocular distance\n",
               err_sum / nlm, 100 * err_io / nlm);
    haar_free(hc[0]);
    haar_free(hc[1]);
    lm_free(lm);
    return 0;
}

int main(int argc, char **argv) {
    int rounds = 3;
    if (argc == 3 && strcmp(argv[1], "--rounds") == 0) rounds = atoi(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--synth") == 0) return synth_check(atoi(argv[2]) > 0 ? atoi(argv[2]) : 100);
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
    double c_lm = cpu_now();
    if (lm_load(lm_default_path(), &lm, &err)) {
        fprintf(stderr, "bench_extract: %s\n", err.msg);
        return 1;
    }
    double t_lm_load = sl_now() - t0;
    c_lm = cpu_now() - c_lm;

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
    printf("| load shape_predictor_68_face_landmarks.dat (wall; CPU) | %.0f ms; %.0f ms |\n", 1e3 * t_lm_load, 1e3 * c_lm);
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
