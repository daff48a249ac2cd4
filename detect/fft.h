/* fft.h — a small complex FFT in double precision for the spectral detector: iterative radix-2
 * Cooley–Tukey for power-of-two sizes, Bluestein's chirp-z algorithm (through a power-of-two
 * convolution) for every other size, and a 2-D transform by rows then columns.
 * Cooley & Tukey 1965, https://doi.org/10.1090/S0025-5718-1965-0178586-1 ; Bluestein 1970,
 * https://doi.org/10.1109/TAU.1970.1162132 . Same sign and scaling as numpy.fft.fft / ifft:
 * forward X[k] = sum_n x[n] e^{-2πi kn/N}; the inverse divides by N. */
#ifndef SL_FFT_H
#define SL_FFT_H

typedef struct FftPlan FftPlan;

/* A plan for length n >= 1 (twiddles and, for non-powers of two, the Bluestein chirp). */
FftPlan *fft_plan_new(int n);
void fft_plan_free(FftPlan *p);
int fft_plan_size(const FftPlan *p);

/* In place on re[0..n), im[0..n); inverse = 1 for the inverse transform (scaled by 1/n). */
void fft_exec(const FftPlan *p, double *re, double *im, int inverse);

/* 2-D transform of an h x w row-major array, in place. */
void fft2d(double *re, double *im, int h, int w, int inverse);

/* The O(n²) definition, for tests. */
void dft_naive(const double *re, const double *im, double *out_re, double *out_im, int n, int inverse);

#endif
