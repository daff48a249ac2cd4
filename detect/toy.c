/* toy.c — smooth-noise "real" images and up-sampled, checkerboarded "fake" ones (toy.h). */
#include "detect/toy.h"

#include <math.h>
#include <stdlib.h>

#include "detect/robust.h"

/* A zero-mean, unit-variance smooth noise plane of w x h (white noise blurred with sigma). */
static void smooth_noise(float *dst, int w, int h, float sigma, SlRng *rng) {
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) dst[i] = sl_rng_normal(rng);
    robust_blur_float(dst, w, h, 1, 0, sigma);
    double mu = 0, var = 0;
    for (size_t i = 0; i < n; i++) mu += dst[i];
    mu /= (double)n;
    for (size_t i = 0; i < n; i++) var += (dst[i] - mu) * (dst[i] - mu);
    float s = (float)(1.0 / sqrt(var / (double)n + 1e-12));
    for (size_t i = 0; i < n; i++) dst[i] = (float)((dst[i] - mu) * s);
}

Image toy_artifact_image(int w, int h, int c, int fake, float checker_amp, SlRng *rng) {
    SL_ASSERT(w >= 2 && h >= 2 && w % 2 == 0 && h % 2 == 0 && (c == 1 || c == 3));
    Image img = image_new(w, h, c);
    float *plane = xmalloc((size_t)w * h * sizeof *plane);
    float *half = xmalloc((size_t)(w / 2) * (h / 2) * sizeof *half);
    float sigma = sl_rng_range(rng, 0.8f, 2.0f);
    float contrast = sl_rng_range(rng, 25, 45), base = sl_rng_range(rng, 90, 160);
    float tint[3] = {sl_rng_range(rng, 0.8f, 1.2f), 1.0f, sl_rng_range(rng, 0.8f, 1.2f)};
    if (fake) {
        smooth_noise(half, w / 2, h / 2, sigma / 2, rng);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                plane[y * w + x] = half[(y / 2) * (w / 2) + x / 2] * contrast + (((x + y) & 1) ? checker_amp : -checker_amp);
    } else {
        smooth_noise(plane, w, h, sigma, rng);
        for (int i = 0; i < w * h; i++) plane[i] *= contrast;
    }
    for (int i = 0; i < w * h; i++)
        for (int k = 0; k < c; k++) {
            float v = roundf(base + plane[i] * (c == 3 ? tint[k] : 1.0f));
            img.px[(size_t)i * c + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    free(plane);
    free(half);
    return img;
}
