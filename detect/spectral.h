/* spectral.h — the spectral baseline detector of Durall et al. 2019, "Unmasking DeepFakes with
 * simple Features" (https://arxiv.org/abs/1911.00686): an image's greyscale 2-D FFT magnitude, in
 * log scale, averaged azimuthally into a 1-D power spectrum, then a logistic regression on it.
 * Up-sampling layers of generators leave periodic artifacts that show up at high frequencies.
 *
 * Features: grey = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601; grey images as they are), F = FFT2,
 * shifted so DC is at (h/2, w/2); L = 20 log10(|F| + 1e-8); every frequency is put in the integer
 * radius bin round(hypot(u, v)) out to the corner, each bin averaged; the profile over radius
 * 0..R is resampled by linear interpolation to n_bins points at r = i·R/(n_bins-1), and min-max
 * normalised to [0, 1] (as in the paper's code). Any image size gives the same n_bins features.
 *
 * Classifier: L2-regularised logistic regression (loss = mean BCE + λ/2 ||w||², bias not
 * penalised) on standardised features, fitted with Newton's method (IRLS) with a backtracking line
 * search — deterministic, so the same data give the same model bit for bit.
 * The model is saved as safetensors (nn/safetensors.h): tensors "lr.weight" [1, d], "lr.bias" [1],
 * "scaler.mean" [d], "scaler.scale" [d] (F32), metadata {"arch": "durall2019-spectral-lr",
 * "n_bins", "l2", "format_version": "1"}: the same as torch.nn.Linear(d, 1) after a
 * StandardScaler, so PyTorch users can load it. */
#ifndef SL_SPECTRAL_H
#define SL_SPECTRAL_H

#include "data/image.h"
#include "util/util.h"

#define SPECTRAL_DEFAULT_BINS 64
#define SPECTRAL_MAX_BINS 4096

/* Azimuthally averaged log spectrum of a grey float image (h x w, any range), n_bins >= 2 values
 * into out. */
void spectral_features_grey(const float *grey, int h, int w, int n_bins, float *out);
/* The same from an 8-bit image (1, 3 or 4 channels). */
void spectral_features(const Image *img, int n_bins, float *out);

/* ---- logistic regression ------------------------------------------------------------------- */
typedef struct {
    int d;
    float *w;            /* [d] weights on standardised features */
    float b;
    float *mean, *scale; /* [d] standardisation: z = (x - mean) / scale */
    double l2;
} LogReg;

typedef struct {
    double l2;      /* λ, > 0 (default 1e-2) */
    int max_iter;   /* Newton iterations (default 100) */
    double tol;     /* stop when the largest gradient entry is below tol (default 1e-9) */
} LogRegOpts;

typedef struct {
    int iters;
    double loss, grad_norm; /* at the end: objective and max |gradient| */
    int converged;
} LogRegReport;

/* Fits on x [n, d] row-major with labels 0/1. -1 with err when n < 2, d < 1, a value is not
 * finite, a label is not 0/1 or a class is missing. opts may be NULL (defaults). rep may be NULL. */
int logreg_fit(LogReg *m, const float *x, const int *y, int n, int d, const LogRegOpts *opts,
               LogRegReport *rep, SlErr *err);
/* P(y = 1 | x) for one raw (unstandardised) feature row. */
float logreg_prob(const LogReg *m, const float *x);
float logreg_logit(const LogReg *m, const float *x);
void logreg_free(LogReg *m);

/* ---- the detector ------------------------------------------------------------------------------ */
typedef struct {
    int n_bins;
    LogReg lr;
} SpectralDetector;

/* Trains on precomputed features [n, n_bins] (spectral_features). */
int spectral_train(SpectralDetector *det, const float *feats, const int *labels, int n, int n_bins,
                   const LogRegOpts *opts, LogRegReport *rep, SlErr *err);
/* Probability that img is fake. */
float spectral_score(const SpectralDetector *det, const Image *img);
int spectral_save(const char *path, const SpectralDetector *det, SlErr *err);
/* The same with extra metadata (key, value pairs ending with NULL; may be NULL). */
int spectral_save_meta(const char *path, const SpectralDetector *det, const char *const *extra, SlErr *err);
/* The logistic regression's logit of img (spectral_score is its sigmoid). */
float spectral_logit(const SpectralDetector *det, const Image *img);
int spectral_load(const char *path, SpectralDetector *det, SlErr *err);
void spectral_free(SpectralDetector *det);

/* Mean spectra of each class (for the plot of real vs fake spectra): mean_real, mean_fake [n_bins]. */
void spectral_class_means(const float *feats, const int *labels, int n, int n_bins, float *mean_real,
                          float *mean_fake);

#endif
