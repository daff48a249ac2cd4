/* test_fft.c — detect/fft against the O(n²) DFT for power-of-two and other sizes (primes
 * included), inverse round trips, a 2-D transform against the 2-D definition, and Parseval. */
#include "detect/fft.h"
#include "tests/test.h"
#include "util/rng.h"
#include "util/util.h"

static double max_abs_diff(const double *a, const double *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static void check_size(SlRng *r, int n) {
    double *re = xmalloc((size_t)n * sizeof(double)), *im = xmalloc((size_t)n * sizeof(double));
    double *r0 = xmalloc((size_t)n * sizeof(double)), *i0 = xmalloc((size_t)n * sizeof(double));
    double *nr = xmalloc((size_t)n * sizeof(double)), *ni = xmalloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) r0[i] = re[i] = sl_rng_normal(r), i0[i] = im[i] = sl_rng_normal(r);
    for (int inv = 0; inv < 2; inv++) {
        memcpy(re, r0, (size_t)n * sizeof(double));
        memcpy(im, i0, (size_t)n * sizeof(double));
        FftPlan *p = fft_plan_new(n);
        CHECK(fft_plan_size(p) == n);
        fft_exec(p, re, im, inv);
        dft_naive(r0, i0, nr, ni, n, inv);
        double tol = 1e-11 * n;
        double e = fmax(max_abs_diff(re, nr, n), max_abs_diff(im, ni, n));
        CHECKF(e < tol, "n=%d inverse=%d error %g", n, inv, e);
        /* and back */
        fft_exec(p, re, im, !inv);
        e = fmax(max_abs_diff(re, r0, n), max_abs_diff(im, i0, n));
        CHECKF(e < 1e-12 * n + 1e-12, "n=%d round trip error %g", n, e);
        fft_plan_free(p);
    }
    free(re), free(im), free(r0), free(i0), free(nr), free(ni);
}

static void t_1d(void) {
    SlRng r;
    sl_rng_seed(&r, 2024);
    for (int n = 1; n <= 40; n++) check_size(&r, n);
    int sizes[] = {64, 97, 100, 127, 128, 243, 256, 257, 1000};
    for (int i = 0; i < 9; i++) check_size(&r, sizes[i]);
}

static void t_2d(void) {
    SlRng r;
    sl_rng_seed(&r, 11);
    int dims[][2] = {{8, 16}, {6, 10}, {13, 7}, {32, 32}};
    for (int d = 0; d < 4; d++) {
        int h = dims[d][0], w = dims[d][1], n = h * w;
        double *re = xmalloc((size_t)n * sizeof(double)), *im = xcalloc((size_t)n, sizeof(double));
        double *x = xmalloc((size_t)n * sizeof(double));
        double energy = 0;
        for (int i = 0; i < n; i++) x[i] = re[i] = sl_rng_normal(&r), energy += x[i] * x[i];
        fft2d(re, im, h, w, 0);
        double err = 0, spec_energy = 0;
        for (int u = 0; u < h; u++)
            for (int v = 0; v < w; v++) {
                double sr = 0, si = 0;
                for (int y = 0; y < h; y++)
                    for (int xx = 0; xx < w; xx++) {
                        double a = -2 * M_PI * ((double)u * y / h + (double)v * xx / w);
                        sr += x[y * w + xx] * cos(a), si += x[y * w + xx] * sin(a);
                    }
                err = fmax(err, fmax(fabs(sr - re[u * w + v]), fabs(si - im[u * w + v])));
                spec_energy += re[u * w + v] * re[u * w + v] + im[u * w + v] * im[u * w + v];
            }
        CHECKF(err < 1e-9, "%dx%d error %g", h, w, err);
        CHECK_NEAR(spec_energy / n, energy, 1e-9 * energy); /* Parseval */
        /* a real input has a Hermitian spectrum */
        CHECK_NEAR(re[1 * w + 2], re[(h - 1) * w + (w - 2)], 1e-9);
        CHECK_NEAR(im[1 * w + 2], -im[(h - 1) * w + (w - 2)], 1e-9);
        fft2d(re, im, h, w, 1);
        CHECK(max_abs_diff(re, x, n) < 1e-12);
        free(re), free(im), free(x);
    }
}

int main(void) {
    RUN(t_1d);
    RUN(t_2d);
    return test_summary("test_fft");
}
