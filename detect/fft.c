/* fft.c — radix-2 FFT, Bluestein for other sizes, 2-D by rows and columns (see fft.h).
 * Bluestein: kn = (k² + n² - (k-n)²)/2, so X[k] = conj(w_k) · sum_n (x_n conj(w_n)) w_{k-n} with
 * w_m = e^{iπm²/N}; the sum is a convolution done with power-of-two FFTs of size M >= 2N-1. */
#include "detect/fft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct FftPlan {
    int n;
    int pow2;              /* n is a power of two */
    double *cos_t, *sin_t; /* radix-2 twiddles e^{-2πik/n}, k < n/2 (n = pow2 size) */
    /* Bluestein */
    FftPlan *sub;          /* power-of-two plan of size m */
    int m;
    double *wr, *wi;       /* chirp w_k = e^{-iπk²/n}, k < n */
    double *br, *bi;       /* FFT of the conjugate chirp, zero-padded and wrapped, length m */
    double *tr, *ti;       /* scratch, length m (plans are not shared between threads) */
};

static int is_pow2(int n) {
    return n > 0 && (n & (n - 1)) == 0;
}

static void radix2(const FftPlan *p, double *re, double *im, int inverse) {
    int n = p->n;
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = re[i];
            re[i] = re[j], re[j] = t;
            t = im[i], im[i] = im[j], im[j] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        int half = len >> 1, step = n / len;
        for (int i = 0; i < n; i += len) {
            for (int k = 0; k < half; k++) {
                double wr = p->cos_t[k * step], wi = inverse ? -p->sin_t[k * step] : p->sin_t[k * step];
                double *ar = re + i + k, *ai = im + i + k, *br = re + i + k + half, *bi = im + i + k + half;
                double xr = *br * wr - *bi * wi, xi = *br * wi + *bi * wr;
                *br = *ar - xr, *bi = *ai - xi;
                *ar += xr, *ai += xi;
            }
        }
    }
}

FftPlan *fft_plan_new(int n) {
    SL_ASSERT(n >= 1 && n <= (1 << 26));
    FftPlan *p = xcalloc(1, sizeof *p);
    p->n = n;
    if (is_pow2(n)) {
        p->pow2 = 1;
        int h = n / 2 > 0 ? n / 2 : 1;
        p->cos_t = xmalloc((size_t)h * sizeof(double));
        p->sin_t = xmalloc((size_t)h * sizeof(double));
        for (int k = 0; k < h; k++) {
            double a = -2.0 * M_PI * k / n;
            p->cos_t[k] = cos(a), p->sin_t[k] = sin(a);
        }
        return p;
    }
    int m = 1;
    while (m < 2 * n - 1) m <<= 1;
    p->m = m;
    p->sub = fft_plan_new(m);
    p->wr = xmalloc((size_t)n * sizeof(double));
    p->wi = xmalloc((size_t)n * sizeof(double));
    for (int k = 0; k < n; k++) {
        /* k² mod 2n keeps the angle exact for large k */
        long long k2 = ((long long)k * k) % (2LL * n);
        double a = -M_PI * (double)k2 / n;
        p->wr[k] = cos(a), p->wi[k] = sin(a);
    }
    p->br = xcalloc((size_t)m, sizeof(double));
    p->bi = xcalloc((size_t)m, sizeof(double));
    for (int k = 0; k < n; k++) {
        p->br[k] = p->wr[k], p->bi[k] = -p->wi[k];
        if (k) p->br[m - k] = p->wr[k], p->bi[m - k] = -p->wi[k];
    }
    fft_exec(p->sub, p->br, p->bi, 0);
    p->tr = xmalloc((size_t)m * sizeof(double));
    p->ti = xmalloc((size_t)m * sizeof(double));
    return p;
}

void fft_plan_free(FftPlan *p) {
    if (!p) return;
    free(p->cos_t), free(p->sin_t);
    fft_plan_free(p->sub);
    free(p->wr), free(p->wi), free(p->br), free(p->bi), free(p->tr), free(p->ti);
    free(p);
}

int fft_plan_size(const FftPlan *p) {
    return p->n;
}

static void bluestein(const FftPlan *p, double *re, double *im, int inverse) {
    int n = p->n, m = p->m;
    double *tr = p->tr, *ti = p->ti;
    /* the inverse is conj(FFT(conj(x))) / n */
    double sgn = inverse ? -1.0 : 1.0;
    memset(tr, 0, (size_t)m * sizeof(double));
    memset(ti, 0, (size_t)m * sizeof(double));
    for (int k = 0; k < n; k++) {
        double xr = re[k], xi = sgn * im[k];
        tr[k] = xr * p->wr[k] - xi * p->wi[k];
        ti[k] = xr * p->wi[k] + xi * p->wr[k];
    }
    fft_exec(p->sub, tr, ti, 0);
    for (int k = 0; k < m; k++) {
        double a = tr[k] * p->br[k] - ti[k] * p->bi[k];
        double b = tr[k] * p->bi[k] + ti[k] * p->br[k];
        tr[k] = a, ti[k] = b;
    }
    fft_exec(p->sub, tr, ti, 1);
    for (int k = 0; k < n; k++) {
        double yr = tr[k] * p->wr[k] - ti[k] * p->wi[k];
        double yi = tr[k] * p->wi[k] + ti[k] * p->wr[k];
        re[k] = yr, im[k] = sgn * yi;
    }
}

void fft_exec(const FftPlan *p, double *re, double *im, int inverse) {
    if (p->pow2) {
        radix2(p, re, im, inverse);
        if (inverse) {
            double s = 1.0 / p->n;
            for (int k = 0; k < p->n; k++) re[k] *= s, im[k] *= s;
        }
        return;
    }
    bluestein(p, re, im, inverse);
    if (inverse) {
        double s = 1.0 / p->n;
        for (int k = 0; k < p->n; k++) re[k] *= s, im[k] *= s;
    }
}

void fft2d(double *re, double *im, int h, int w, int inverse) {
    SL_ASSERT(h >= 1 && w >= 1);
    FftPlan *pw = fft_plan_new(w);
    for (int y = 0; y < h; y++) fft_exec(pw, re + (size_t)y * w, im + (size_t)y * w, inverse);
    fft_plan_free(pw);
    FftPlan *ph = fft_plan_new(h);
    double *cr = xmalloc((size_t)h * sizeof(double)), *ci = xmalloc((size_t)h * sizeof(double));
    for (int x = 0; x < w; x++) {
        for (int y = 0; y < h; y++) cr[y] = re[(size_t)y * w + x], ci[y] = im[(size_t)y * w + x];
        fft_exec(ph, cr, ci, inverse);
        for (int y = 0; y < h; y++) re[(size_t)y * w + x] = cr[y], im[(size_t)y * w + x] = ci[y];
    }
    free(cr), free(ci);
    fft_plan_free(ph);
}

void dft_naive(const double *re, const double *im, double *out_re, double *out_im, int n, int inverse) {
    double sgn = inverse ? 1.0 : -1.0;
    for (int k = 0; k < n; k++) {
        double sr = 0, si = 0;
        for (int j = 0; j < n; j++) {
            double a = sgn * 2.0 * M_PI * (double)(((long long)k * j) % n) / n;
            double c = cos(a), s = sin(a);
            sr += re[j] * c - im[j] * s;
            si += re[j] * s + im[j] * c;
        }
        out_re[k] = inverse ? sr / n : sr;
        out_im[k] = inverse ? si / n : si;
    }
}
