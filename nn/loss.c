/* loss.c — training losses with their gradients: MSE, L1, DSSIM (optionally weighted by a
 * per-pixel map) and binary cross-entropy with logits. Sums are accumulated in double.
 * https://pytorch.org/docs/stable/generated/torch.nn.MSELoss.html, .../torch.nn.L1Loss.html,
 * .../torch.nn.BCEWithLogitsLoss.html; SSIM: Wang et al. 2004, "Image quality assessment: from
 * error visibility to structural similarity", https://doi.org/10.1109/TIP.2003.819861 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "nn/ops/ops.h"
#include "util/util.h"

/* Sum of the weight map over the pixels (or count), times C: the loss normaliser. */
static double weight_norm(const float *weight, int B, int C, int H, int W) {
    size_t hw = (size_t)H * W;
    if (!weight) return (double)B * C * hw;
    double s = 0;
    for (size_t i = 0; i < (size_t)B * hw; i++) s += weight[i];
    return s * C;
}

float nn_loss_mse(const float *pred, const float *target, const float *weight, int B, int C, int H,
                  int W, float *dpred) {
    size_t hw = (size_t)H * W, n = (size_t)B * C * hw;
    double norm = weight_norm(weight, B, C, H, W), acc = 0;
    if (norm == 0) {
        if (dpred) memset(dpred, 0, sizeof(float) * n);
        return 0.0f;
    }
    float gscale = (float)(2.0 / norm);
NN_OMP(omp parallel for reduction(+ : acc) schedule(static) if (n > 65536))
    for (size_t i = 0; i < n; i++) {
        float w = weight ? weight[(i / (C * hw)) * hw + i % hw] : 1.0f;
        float e = pred[i] - target[i];
        acc += (double)w * e * e;
        if (dpred) dpred[i] = gscale * w * e;
    }
    return (float)(acc / norm);
}

float nn_loss_l1(const float *pred, const float *target, const float *weight, int B, int C, int H,
                 int W, float *dpred) {
    size_t hw = (size_t)H * W, n = (size_t)B * C * hw;
    double norm = weight_norm(weight, B, C, H, W), acc = 0;
    if (norm == 0) {
        if (dpred) memset(dpred, 0, sizeof(float) * n);
        return 0.0f;
    }
    float gscale = (float)(1.0 / norm);
NN_OMP(omp parallel for reduction(+ : acc) schedule(static) if (n > 65536))
    for (size_t i = 0; i < n; i++) {
        float w = weight ? weight[(i / (C * hw)) * hw + i % hw] : 1.0f;
        float e = pred[i] - target[i];
        acc += (double)w * fabsf(e);
        if (dpred) dpred[i] = e > 0 ? gscale * w : e < 0 ? -gscale * w : 0.0f;
    }
    return (float)(acc / norm);
}

float nn_loss_bce_logits(const float *logits, const float *labels, int n, float *dlogits) {
    SL_ASSERT(n > 0);
    double acc = 0;
    for (int i = 0; i < n; i++) {
        float x = logits[i], y = labels[i];
        acc += (double)fmaxf(x, 0.0f) - (double)x * y + log1p(exp(-fabs((double)x)));
        if (dlogits) dlogits[i] = (1.0f / (1.0f + expf(-x)) - y) / (float)n;
    }
    return (float)(acc / n);
}

/* ---- DSSIM --------------------------------------------------------------------------------- */
#define WIN 11
void nn_gaussian_window(float g[WIN]) {
    double s = 0, t[WIN];
    for (int k = 0; k < WIN; k++) s += t[k] = exp(-(double)(k - WIN / 2) * (k - WIN / 2) / (2 * 1.5 * 1.5));
    for (int k = 0; k < WIN; k++) g[k] = (float)(t[k] / s);
}

/* Valid separable Gaussian filter of an H x W plane into (H-10) x (W-10); tmp holds H*(W-10). */
static void blur_valid(float *out, const float *in, int H, int W, const float *g, float *tmp) {
    int Ho = H - WIN + 1, Wo = W - WIN + 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < Wo; x++) {
            float s = 0;
            for (int k = 0; k < WIN; k++) s += g[k] * in[(size_t)y * W + x + k];
            tmp[(size_t)y * Wo + x] = s;
        }
    for (int y = 0; y < Ho; y++)
        for (int x = 0; x < Wo; x++) {
            float s = 0;
            for (int k = 0; k < WIN; k++) s += g[k] * tmp[(size_t)(y + k) * Wo + x];
            out[(size_t)y * Wo + x] = s;
        }
}

/* Transpose of blur_valid: spreads an (H-10) x (W-10) map back onto H x W (written). */
static void blur_valid_t(float *out, const float *in, int H, int W, const float *g, float *tmp) {
    int Ho = H - WIN + 1, Wo = W - WIN + 1;
    memset(tmp, 0, sizeof(float) * (size_t)H * Wo);
    for (int y = 0; y < Ho; y++)
        for (int k = 0; k < WIN; k++)
            for (int x = 0; x < Wo; x++) tmp[(size_t)(y + k) * Wo + x] += g[k] * in[(size_t)y * Wo + x];
    memset(out, 0, sizeof(float) * (size_t)H * W);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < Wo; x++) {
            float v = tmp[(size_t)y * Wo + x];
            for (int k = 0; k < WIN; k++) out[(size_t)y * W + x + k] += g[k] * v;
        }
}

float nn_loss_dssim(const float *pred, const float *target, const float *weight, int B, int C,
                    int H, int W, float *dpred) {
    SL_ASSERT(H >= WIN && W >= WIN && B > 0 && C > 0);
    const float C1 = 0.01f * 0.01f, C2 = 0.03f * 0.03f;
    int Ho = H - WIN + 1, Wo = W - WIN + 1;
    size_t hw = (size_t)H * W, ohw = (size_t)Ho * Wo;
    float g[WIN];
    nn_gaussian_window(g);
    double norm = 0;
    if (weight) {
        for (int n = 0; n < B; n++)
            for (int y = 0; y < Ho; y++)
                for (int x = 0; x < Wo; x++) norm += weight[n * hw + (size_t)(y + WIN / 2) * W + x + WIN / 2];
        norm *= C;
    } else {
        norm = (double)B * C * ohw;
    }
    if (norm == 0) {
        if (dpred) memset(dpred, 0, sizeof(float) * B * C * hw);
        return 0.0f;
    }
    double ssim_sum = 0;
    /* dLoss/dS at a position = -w / (2 norm) */
    float dscale = (float)(-0.5 / norm);
NN_OMP(omp parallel reduction(+ : ssim_sum) if ((size_t)B * C * hw >= 16384))
    {
        float *buf = xmalloc(sizeof(float) * (3 * hw + 8 * ohw + (size_t)H * Wo));
        float *xx = buf, *yy = xx + hw, *xy = yy + hw, *mx = xy + hw, *my = mx + ohw, *exx = my + ohw,
              *eyy = exx + ohw, *exy = eyy + ohw, *tmp = exy + ohw;
        float *gmx = mx, *gexx = exx, *gexy = exy; /* gradient maps reuse the stat buffers */
        float *back = xx;                          /* H x W transposed-filter output */
NN_OMP(omp for schedule(dynamic))
        for (int p = 0; p < B * C; p++) {
            int n = p / C;
            const float *X = pred + (size_t)p * hw, *Y = target + (size_t)p * hw;
            for (size_t i = 0; i < hw; i++) {
                xx[i] = X[i] * X[i];
                yy[i] = Y[i] * Y[i];
                xy[i] = X[i] * Y[i];
            }
            blur_valid(mx, X, H, W, g, tmp);
            blur_valid(my, Y, H, W, g, tmp);
            blur_valid(exx, xx, H, W, g, tmp);
            blur_valid(eyy, yy, H, W, g, tmp);
            blur_valid(exy, xy, H, W, g, tmp);
            double s_plane = 0;
            for (int y = 0; y < Ho; y++)
                for (int x = 0; x < Wo; x++) {
                    size_t q = (size_t)y * Wo + x;
                    float w = weight ? weight[n * hw + (size_t)(y + WIN / 2) * W + x + WIN / 2] : 1.0f;
                    float ux = mx[q], uy = my[q];
                    float sxx = exx[q] - ux * ux, syy = eyy[q] - uy * uy, sxy = exy[q] - ux * uy;
                    float A1 = 2 * ux * uy + C1, A2 = 2 * sxy + C2;
                    float B1 = ux * ux + uy * uy + C1, B2 = sxx + syy + C2;
                    float S = A1 * A2 / (B1 * B2);
                    s_plane += (double)w * S;
                    if (dpred) {
                        float d = dscale * w;
                        float inv = 1.0f / (B1 * B2);
                        gmx[q] = d * (2 * uy * (A2 - A1) * inv + 2 * ux * S * (1.0f / B2 - 1.0f / B1));
                        gexx[q] = d * (-S / B2);
                        gexy[q] = d * (2 * A1 * inv);
                    }
                }
            ssim_sum += s_plane;
            if (dpred) {
                float *D = dpred + (size_t)p * hw;
                /* xx, yy, xy are free now: back = F^T(gmx); D = back; then the 2x and y terms. */
                blur_valid_t(back, gmx, H, W, g, tmp);
                memcpy(D, back, sizeof(float) * hw);
                blur_valid_t(back, gexx, H, W, g, tmp);
                for (size_t i = 0; i < hw; i++) D[i] += 2 * X[i] * back[i];
                blur_valid_t(back, gexy, H, W, g, tmp);
                for (size_t i = 0; i < hw; i++) D[i] += Y[i] * back[i];
            }
        }
        free(buf);
    }
    return (float)((1.0 - ssim_sum / norm) / 2.0);
}
