/* loss.cu — the training losses on the GPU with their gradients, as nn/loss.c: MSE and L1 (per-pixel
 * weight map optional), DSSIM (11x11 Gaussian window, sigma 1.5, 'valid' positions) and BCE with
 * logits. Sums are accumulated in double (block reductions, then one double atomicAdd per block);
 * the normaliser is computed on the device, so a loss costs one host synchronisation (its value).
 * https://pytorch.org/docs/stable/generated/torch.nn.MSELoss.html, .../torch.nn.L1Loss.html,
 * .../torch.nn.BCEWithLogitsLoss.html; SSIM: Wang et al. 2004, https://doi.org/10.1109/TIP.2003.819861 */
#include <math.h>
#include <stdlib.h>

#include "nn/cuda/common.cuh"

extern "C" void nn_gaussian_window(float g[11]); /* nn/loss.c */

#define WIN 11
#define RED_BLOCKS 1024u

/* scalars[slot] += sum of v over the block (thread 0 adds). */
__device__ static inline void add_block(double *scalars, int slot, double v) {
    v = block_sum(v);
    if (threadIdx.x == 0) atomicAdd(&scalars[slot], v);
}

static unsigned red_blocks(size_t n) {
    unsigned b = nn_blocks(n);
    return b < RED_BLOCKS ? b : RED_BLOCKS;
}

/* scalars[1] = sum of the weight over [B, HW] (or over the window centres for DSSIM). */
__global__ static void k_weight_sum(double *scalars, const float *weight, int B, int H, int W, int border) {
    int Hv = H - 2 * border, Wv = W - 2 * border;
    size_t total = (size_t)B * Hv * Wv;
    double s = 0;
    GRID_STRIDE(e, total) {
        int x = (int)(e % Wv), y = (int)((e / Wv) % Hv);
        size_t n = e / ((size_t)Hv * Wv);
        s += weight[(n * H + y + border) * W + x + border];
    }
    add_block(scalars, 1, s);
}

/* kind 0: MSE, 1: L1. scalars[0] += sum w*e^2 (or w*|e|); dpred from the normaliser in scalars. */
__global__ static void k_pointwise_loss(double *scalars, float *dpred, const float *pred, const float *target,
                                        const float *weight, size_t n, size_t chw, size_t hw, double count_norm,
                                        int kind) {
    double norm = weight ? scalars[1] * (double)(chw / hw) : count_norm;
    float gscale = norm == 0 ? 0.0f : (float)((kind == 0 ? 2.0 : 1.0) / norm);
    double acc = 0;
    GRID_STRIDE(i, n) {
        float w = weight ? weight[(i / chw) * hw + i % hw] : 1.0f;
        float e = pred[i] - target[i];
        if (kind == 0) {
            acc += (double)w * e * e;
            if (dpred) dpred[i] = gscale * w * e;
        } else {
            acc += (double)w * fabsf(e);
            if (dpred) dpred[i] = e > 0 ? gscale * w : e < 0 ? -gscale * w : 0.0f;
        }
    }
    add_block(scalars, 0, acc);
}

/* Sets scalars to 0, runs the weight sum if needed, returns the pinned host mirror after the sync. */
static void scalars_zero(NnCtx *ctx) {
    NnCudaState *st = cuda_state(ctx);
    CUDA_CHECK(cudaMemsetAsync(st->scalars, 0, NN_CUDA_SCALARS * sizeof(double), (cudaStream_t)st->stream));
}
static const double *scalars_fetch(NnCtx *ctx) {
    NnCudaState *st = cuda_state(ctx);
    cudaStream_t s = (cudaStream_t)st->stream;
    CUDA_CHECK(cudaMemcpyAsync(st->host_scalars, st->scalars, NN_CUDA_SCALARS * sizeof(double),
                               cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    return st->host_scalars;
}

static float pointwise(const float *pred, const float *target, const float *weight, int B, int C, int H, int W,
                       float *dpred, NnCtx *ctx, int kind) {
    size_t hw = (size_t)H * W, n = (size_t)B * C * hw;
    if (!n) sl_die_at(__FILE__, __LINE__, "loss over an empty tensor");
    NnCudaState *st = cuda_state(ctx);
    double *sc = (double *)st->scalars;
    cudaStream_t s = (cudaStream_t)st->stream;
    scalars_zero(ctx);
    if (weight) {
        k_weight_sum<<<red_blocks((size_t)B * hw), NN_THREADS, 0, s>>>(sc, weight, B, H, W, 0);
        LAUNCH_CHECK();
    }
    k_pointwise_loss<<<red_blocks(n), NN_THREADS, 0, s>>>(sc, dpred, pred, target, weight, n, (size_t)C * hw, hw,
                                                          (double)n, kind);
    LAUNCH_CHECK();
    const double *h = scalars_fetch(ctx);
    double norm = weight ? h[1] * C : (double)n;
    return norm == 0 ? 0.0f : (float)(h[0] / norm);
}

extern "C" float nn_cuda_loss_mse(const float *pred, const float *target, const float *weight, int B, int C, int H,
                                  int W, float *dpred, NnCtx *ctx) {
    return pointwise(pred, target, weight, B, C, H, W, dpred, ctx, 0);
}

extern "C" float nn_cuda_loss_l1(const float *pred, const float *target, const float *weight, int B, int C, int H,
                                 int W, float *dpred, NnCtx *ctx) {
    return pointwise(pred, target, weight, B, C, H, W, dpred, ctx, 1);
}

/* ---- BCE with logits ------------------------------------------------------------------------- */
__global__ static void k_bce(double *scalars, float *dlogits, const float *logits, const float *labels, int n) {
    double acc = 0;
    GRID_STRIDE(i, (size_t)n) {
        float x = logits[i], y = labels[i];
        acc += (double)fmaxf(x, 0.0f) - (double)x * y + log1p(exp(-fabs((double)x)));
        if (dlogits) dlogits[i] = (1.0f / (1.0f + expf(-x)) - y) / (float)n;
    }
    add_block(scalars, 0, acc);
}

extern "C" float nn_cuda_loss_bce_logits(const float *logits, const float *labels, int n, float *dlogits,
                                         NnCtx *ctx) {
    if (n <= 0) sl_die_at(__FILE__, __LINE__, "bce over %d values", n);
    NnCudaState *st = cuda_state(ctx);
    scalars_zero(ctx);
    k_bce<<<red_blocks((size_t)n), NN_THREADS, 0, (cudaStream_t)st->stream>>>((double *)st->scalars, dlogits, logits,
                                                                             labels, n);
    LAUNCH_CHECK();
    return (float)(scalars_fetch(ctx)[0] / n);
}

/* ---- DSSIM ------------------------------------------------------------------------------------ */
typedef struct {
    float g[WIN];
} Window;

/* Per valid position e = p*ohw + q of plane p: the five Gaussian-weighted moments (direct 11x11
 * window), SSIM, and (gmaps not NULL) the three gradient maps times w (the -1/(2 norm) factor comes
 * later): gmx = dS/dmu_x, gexx = dS/dE[x^2], gexy = dS/dE[xy], as nn/loss.c. Returns w*S. */
__host__ __device__ static inline double ssim_at(size_t e, float *gmaps, const float *pred, const float *target,
                                                 const float *weight, int B, int C, int H, int W, const Window *win) {
    const float C1 = 0.01f * 0.01f, C2 = 0.03f * 0.03f;
    int Ho = H - WIN + 1, Wo = W - WIN + 1;
    size_t ohw = (size_t)Ho * Wo, total = (size_t)B * C * ohw, hw = (size_t)H * W;
    size_t p = e / ohw, q = e % ohw;
    int y = (int)(q / Wo), x = (int)(q % Wo);
    const float *X = pred + p * hw, *Y = target + p * hw;
    float mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
    for (int ky = 0; ky < WIN; ky++) {
        const float *xr = X + (size_t)(y + ky) * W + x, *yr = Y + (size_t)(y + ky) * W + x;
        for (int kx = 0; kx < WIN; kx++) {
            float wk = win->g[ky] * win->g[kx], a = xr[kx], b = yr[kx];
            mx += wk * a;
            my += wk * b;
            exx += wk * a * a;
            eyy += wk * b * b;
            exy += wk * a * b;
        }
    }
    size_t n = p / C;
    float w = weight ? weight[n * hw + (size_t)(y + WIN / 2) * W + x + WIN / 2] : 1.0f;
    float sxx = exx - mx * mx, syy = eyy - my * my, sxy = exy - mx * my;
    float A1 = 2 * mx * my + C1, A2 = 2 * sxy + C2;
    float B1 = mx * mx + my * my + C1, B2 = sxx + syy + C2;
    float S = A1 * A2 / (B1 * B2);
    if (gmaps) {
        float inv = 1.0f / (B1 * B2);
        gmaps[e] = w * (2 * my * (A2 - A1) * inv + 2 * mx * S * (1.0f / B2 - 1.0f / B1));
        gmaps[total + e] = w * (-S / B2);
        gmaps[2 * total + e] = w * (2 * A1 * inv);
    }
    return (double)w * S;
}

/* dpred at input element e = dscale * (F^T gmx + 2 X F^T gexx + Y F^T gexy), F the valid Gaussian
 * filter: a gather over the window positions that cover the pixel. */
__host__ __device__ static inline float ssim_grad_at(size_t e, const float *gmaps, const float *pred,
                                                     const float *target, int B, int C, int H, int W,
                                                     const Window *win, float dscale) {
    int Ho = H - WIN + 1, Wo = W - WIN + 1;
    size_t ohw = (size_t)Ho * Wo, total_o = (size_t)B * C * ohw, hw = (size_t)H * W;
    size_t p = e / hw, r = e % hw;
    int y = (int)(r / W), x = (int)(r % W);
    const float *gm = gmaps + p * ohw, *gxx = gm + total_o, *gxy = gm + 2 * total_o;
    float a = 0, b = 0, c = 0;
    for (int ky = 0; ky < WIN; ky++) {
        int qy = y - ky;
        if (qy < 0 || qy >= Ho) continue;
        for (int kx = 0; kx < WIN; kx++) {
            int qx = x - kx;
            if (qx < 0 || qx >= Wo) continue;
            float wk = win->g[ky] * win->g[kx];
            size_t q = (size_t)qy * Wo + qx;
            a += wk * gm[q];
            b += wk * gxx[q];
            c += wk * gxy[q];
        }
    }
    return dscale * (a + 2 * pred[e] * b + target[e] * c);
}

__global__ static void k_ssim(double *scalars, float *gmaps, const float *pred, const float *target,
                              const float *weight, int B, int C, int H, int W, Window win) {
    size_t total = (size_t)B * C * (H - WIN + 1) * (W - WIN + 1);
    double acc = 0;
    GRID_STRIDE(e, total) { acc += ssim_at(e, gmaps, pred, target, weight, B, C, H, W, &win); }
    add_block(scalars, 0, acc);
}

/* dscale = -1/(2 norm), norm from scalars[1] (the weight sum) or the position count. */
__global__ static void k_ssim_grad(float *dpred, const double *scalars, const float *gmaps, const float *pred,
                                   const float *target, const float *weight, int B, int C, int H, int W, Window win) {
    size_t total_o = (size_t)B * C * (H - WIN + 1) * (W - WIN + 1), total = (size_t)B * C * H * W;
    double norm = weight ? scalars[1] * C : (double)total_o;
    float dscale = norm == 0 ? 0.0f : (float)(-0.5 / norm);
    GRID_STRIDE(e, total) { dpred[e] = ssim_grad_at(e, gmaps, pred, target, B, C, H, W, &win, dscale); }
}

extern "C" float nn_cuda_loss_dssim(const float *pred, const float *target, const float *weight, int B, int C, int H,
                                    int W, float *dpred, NnCtx *ctx) {
    if (H < WIN || W < WIN || B <= 0 || C <= 0)
        sl_die_at(__FILE__, __LINE__, "dssim needs H, W >= %d (got %dx%d, B %d, C %d)", WIN, H, W, B, C);
    NnCudaState *st = cuda_state(ctx);
    cudaStream_t s = (cudaStream_t)st->stream;
    double *sc = (double *)st->scalars;
    Window win;
    nn_gaussian_window(win.g);
    size_t total_o = (size_t)B * C * (H - WIN + 1) * (W - WIN + 1), total = (size_t)B * C * H * W;
    float *gmaps = NULL;
    if (dpred) CUDA_CHECK(cudaMallocAsync((void **)&gmaps, 3 * total_o * sizeof(float), s));
    scalars_zero(ctx);
    if (weight) {
        k_weight_sum<<<red_blocks((size_t)B * (H - WIN + 1) * (W - WIN + 1)), NN_THREADS, 0, s>>>(sc, weight, B, H, W,
                                                                                                 WIN / 2);
        LAUNCH_CHECK();
    }
    k_ssim<<<red_blocks(total_o), NN_THREADS, 0, s>>>(sc, gmaps, pred, target, weight, B, C, H, W, win);
    LAUNCH_CHECK();
    if (dpred) {
        k_ssim_grad<<<nn_blocks(total), NN_THREADS, 0, s>>>(dpred, sc, gmaps, pred, target, weight, B, C, H, W, win);
        LAUNCH_CHECK();
        CUDA_CHECK(cudaFreeAsync(gmaps, s));
    }
    const double *h = scalars_fetch(ctx);
    double norm = weight ? h[1] * C : (double)total_o;
    if (norm == 0) return 0.0f;
    return (float)((1.0 - h[0] / norm) / 2.0);
}

extern "C" float nn_cuda_loss_dssim_emulate(const float *pred, const float *target, const float *weight, int B, int C,
                                           int H, int W, float *dpred) {
    if (H < WIN || W < WIN || B <= 0 || C <= 0)
        sl_die_at(__FILE__, __LINE__, "dssim needs H, W >= %d (got %dx%d, B %d, C %d)", WIN, H, W, B, C);
    Window win;
    nn_gaussian_window(win.g);
    int Ho = H - WIN + 1, Wo = W - WIN + 1;
    size_t total_o = (size_t)B * C * Ho * Wo, total = (size_t)B * C * H * W;
    double norm = (double)total_o;
    if (weight) {
        double ws = 0;
        for (size_t e = 0; e < (size_t)B * Ho * Wo; e++) {
            int x = (int)(e % Wo), y = (int)((e / Wo) % Ho);
            size_t n = e / ((size_t)Ho * Wo);
            ws += weight[(n * H + y + WIN / 2) * W + x + WIN / 2];
        }
        norm = ws * C;
    }
    float *gmaps = dpred ? (float *)malloc(3 * total_o * sizeof(float)) : NULL;
    if (dpred && !gmaps) sl_die_at(__FILE__, __LINE__, "out of memory");
    double acc = 0;
    for (size_t e = 0; e < total_o; e++) acc += ssim_at(e, gmaps, pred, target, weight, B, C, H, W, &win);
    if (dpred) {
        float dscale = norm == 0 ? 0.0f : (float)(-0.5 / norm);
        for (size_t e = 0; e < total; e++) dpred[e] = ssim_grad_at(e, gmaps, pred, target, B, C, H, W, &win, dscale);
        free(gmaps);
    }
    return norm == 0 ? 0.0f : (float)((1.0 - acc / norm) / 2.0);
}
